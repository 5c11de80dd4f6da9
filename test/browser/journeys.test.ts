import path from 'node:path';
import { expect } from 'chai';
import { Types } from 'mongoose';
import type { Page } from 'playwright-core';
import { Organisation } from '../../src/organisations/organisation.model.js';
import { createInvitation } from '../../src/users/invitations.service.js';
import { User } from '../../src/users/user.model.js';
import { testCatalog } from '../helpers/app.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';
import {
  displayOf,
  Journey,
  signInAs,
  startBrowserRun,
  WIDTHS,
  type BrowserRun,
} from './harness.js';

/**
 * Each role's daily work in a real browser (Debian's Chromium through playwright-core), at a
 * phone's and a desktop's width, with axe on every page. Screenshots: test-results/browser/.
 */
describe('browser journeys', function () {
  // A minute or so per journey on a quiet machine; several under load (shared CI runners).
  this.timeout(300_000);
  let run: BrowserRun;

  before(async function () {
    this.timeout(60_000);
    run = await startBrowserRun();
  });

  after(async () => {
    await run?.close();
  });

  for (const width of WIDTHS) {
    it(`a trainee goes from the invitation to a passed quiz (${width} px)`, async () => {
      const { user: coordinator } = await buildUser({ roles: ['coordinator'] });
      const email = `trainee-${width}-${new Types.ObjectId().toHexString()}@example.jp`;
      const { token } = await createInvitation({
        email,
        roles: ['trainee'],
        municipalityId: String(coordinator.municipalityId),
        invitedBy: String(coordinator._id),
      });
      const catalog = await testCatalog(run.testApp.config);
      const program = catalog.programs[0];
      const module = program.modules[0];
      const quiz = module.quiz!;

      const journey = await Journey.open(run, 'trainee', width);
      try {
        await journey.step('invitation', async (page) => {
          await page.goto(`/invitations/accept?token=${token}`);
          expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal(
            'アカウントの登録',
          );
        });
        await journey.step('registered', async (page) => {
          await page.locator('#field-name').fill('安曇 花子');
          await page.locator('#field-nameKana').fill('あずみ はなこ');
          await page.locator('#field-profession').selectOption({ index: 1 });
          await page.locator('#field-password').fill('blue-mountain-river-2026');
          await page.locator('#field-passwordConfirm').fill('blue-mountain-river-2026');
          await journey.clickAndWait(page, '登録する');
          expect(new URL(page.url()).pathname).to.equal('/');
          expect(await page.getByRole('status').first().textContent()).to.contain('安曇 花子');
        });
        await journey.step('program', async (page) => {
          await page.goto(`/learn/${program.id}`);
          expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal(
            program.title,
          );
        });
        await journey.step('first-lesson', async (page) => {
          await Promise.all([
            page.waitForNavigation(),
            page.locator('.learn-next__button').click(),
          ]);
          expect(new URL(page.url()).pathname).to.equal(
            `/learn/${program.id}/${module.id}/${module.lessons[0].id}`,
          );
        });
        await journey.step('lesson-read', async (page) => {
          await journey.clickAndWait(page, '読了にする');
          expect(await page.content()).to.contain('読了');
        });
        await journey.step('quiz', async (page) => {
          await page.goto(`/learn/${program.id}/${module.id}/quiz`);
          await journey.clickAndWait(page, '受験を始める');
          expect(await page.locator('fieldset.question').count()).to.equal(quiz.questions.length);
        });
        await journey.step('quiz-passed', async (page) => {
          for (const question of quiz.questions) {
            for (const optionId of question.answer) {
              await page.locator(`input[name="q_${question.id}"][value="${optionId}"]`).check();
            }
          }
          await journey.clickAndWait(page, '回答を提出する');
          expect(await page.locator('.result-box__verdict').textContent()).to.equal('合格です');
          // The primary button leads on (here: back to the module's unread lessons).
          expect(await page.locator('a.button').first().textContent()).to.match(/^続きから：/);
        });
        await journey.step('print-record', async (page) => {
          await page.goto('/learn/me');
          await page.emulateMedia({ media: 'print' });
          expect(await displayOf(page, '.site-header')).to.equal('none');
          // The next steps are an on-screen prompt, not part of the record.
          expect(await displayOf(page, '.my-next')).to.equal('none');
          expect(await page.locator('.print-only').first().isVisible()).to.equal(true);
          expect(await page.locator('.print-only').first().textContent()).to.contain('安曇 花子');
          await page.pdf({ path: path.join(journey.dir, 'record.pdf'), format: 'A4' });
        });
        await journey.step('home', async (page) => {
          await page.emulateMedia({ media: 'screen' });
          await page.goto('/');
          expect(await page.locator('.home-progress__percent').first().textContent()).not.to.equal(
            '0%',
          );
          expect(await page.locator('.home-part a.button').first().textContent()).to.match(
            /^続きから：/,
          );
        });
      } finally {
        await journey.close();
      }
      const user = await User.findOne({ email: { $eq: email } }).lean();
      expect(user?.status).to.equal('active');
    });

    it(`a coordinator approves, invites, imports and reads their municipality (${width} px)`, async () => {
      const { user: coordinator, password } = await buildUser({
        roles: ['coordinator'],
        email: `coordinator-${width}@example.jp`,
      });
      const { user: applicant } = await buildUser({
        status: 'pending',
        name: `申請 太郎${width}`,
        nameKana: 'しんせい たろう',
      });
      const invitee = `invitee-${width}@example.jp`;
      const imported = `imported-${width}@example.jp`;

      const journey = await Journey.open(run, 'coordinator', width);
      try {
        await journey.step('signed-in', async (page) => {
          await signInAs(page, coordinator.email, password);
        });
        await journey.step('home', async (page) => {
          await page.goto('/');
          expect(await page.getByRole('heading', { level: 2 }).first().textContent()).to.contain(
            'の担当業務',
          );
        });
        await journey.step('approvals', async (page) => {
          await page.getByRole('link', { name: '承認待ちの利用登録' }).click();
          await page.waitForURL('**/approvals');
          expect(await page.content()).to.contain(applicant.name);
        });
        await journey.step('approved', async (page) => {
          await journey.clickAndWait(page, new RegExp(`^承認する.*${applicant.name}`));
          expect(await page.getByRole('status').first().textContent()).to.contain(applicant.name);
        });
        await journey.step('invite-form', async (page) => {
          await page.goto('/invitations/new');
          await page.locator('#field-email').fill(invitee);
        });
        await journey.step('invited', async (page) => {
          await journey.clickAndWait(page, '招待メールを送る');
          expect(new URL(page.url()).pathname).to.equal('/invitations');
          expect(await page.content()).to.contain(invitee);
        });
        await journey.step('import-form', async (page) => {
          await page.goto('/admin/users/import');
          await page.locator('#field-file').setInputFiles({
            name: 'roster.csv',
            mimeType: 'text/csv',
            buffer: Buffer.from(
              `氏名,ふりがな,メールアドレス,市町村,所属機関,職種,役割\n更埴 次郎,こうしょく じろう,${imported},長野市,,保健師,受講者\n`,
            ),
          });
        });
        await journey.step('import-preview', async (page) => {
          await journey.clickAndWait(page, '読み込んで内容を確認する');
          expect(await page.content()).to.contain(imported);
        });
        await journey.step('imported', async (page) => {
          await journey.clickAndWait(page, /^登録する/);
          expect(await page.content()).to.contain('招待');
        });
        await journey.step('municipality-users', async (page) => {
          await page.goto('/admin/users');
          expect(await page.content()).to.contain(applicant.name);
          // The imported person is listed as 招待中 until they accept.
          const row = page.locator('tr', { hasText: imported });
          expect(await row.textContent()).to.contain('招待中');
        });
        await journey.step('report', async (page) => {
          await page.goto('/reports');
          // A coordinator's /reports is their municipality's report.
          expect(new URL(page.url()).pathname).to.equal(
            `/reports/municipalities/${String(coordinator.municipalityId)}`,
          );
          expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal(
            '長野市の研修の実施状況',
          );
          const figures = page.locator('.report-figures li');
          expect(await figures.allTextContents()).to.have.length(4);
          expect(await figures.first().textContent()).to.match(/^登録者(\d+|\d+未満)$/);
          const sectors = page.locator('#table-sectors + div table');
          expect(await sectors.locator('tbody tr').last().locator('th').textContent()).to.equal(
            '合計',
          );
          // The approved applicant is among the municipality's trainees.
          expect(await page.locator('#members ~ .report-members').textContent()).to.contain(
            applicant.name,
          );
        });
        await journey.step('report-export', async (page) => {
          const link = page
            .locator('#table-sectors')
            .locator('xpath=ancestor::section[1]')
            .getByRole('link', { name: 'CSV（UTF-8）' });
          const response = await page.request.get((await link.getAttribute('href'))!);
          expect(response.status()).to.equal(200);
          expect(response.headers()['content-type']).to.match(/^text\/csv/);
          expect(response.headers()['content-disposition']).to.match(/^attachment;/);
          expect((await response.text()).split('\n').length).to.be.greaterThan(2);
        });
        await journey.step('report-print', async (page) => {
          await page.emulateMedia({ media: 'print' });
          expect(await displayOf(page, '.site-header')).to.equal('none');
          expect(await displayOf(page, '.report-print')).to.equal('none');
          expect(await displayOf(page, 'form.filters')).to.equal('none');
          const heading = page.locator('.print-only');
          expect(await heading.isVisible()).to.equal(true);
          expect(await heading.textContent()).to.match(
            new RegExp(`^氏名：${coordinator.name}\u3000市町村：長野市\u3000印刷日：\\d{4}年`),
          );
          await page.pdf({ path: path.join(journey.dir, 'report.pdf'), format: 'A4' });
        });
      } finally {
        await journey.close();
      }
      expect((await User.findById(applicant._id).lean())?.status).to.equal('active');
    });

    it(`an administrator edits a person (${width} px)`, async () => {
      const { user: admin, password } = await buildUser({
        roles: ['admin'],
        email: `admin-${width}@example.jp`,
      });
      await buildMunicipality('松本市');
      const { user: person } = await buildUser({ name: `異動 三郎${width}` });

      const journey = await Journey.open(run, 'admin', width);
      try {
        await journey.step('signed-in', async (page) => {
          await signInAs(page, admin.email, password);
        });
        await journey.step('menu', async (page) => {
          const toggle = page.getByRole('button', { name: 'メニュー' });
          const users = page.getByRole('navigation').getByRole('link', { name: '利用者' });
          if (width < 600) {
            // A phone: the long administrator menu folds behind one button.
            expect(await users.isVisible()).to.equal(false);
            await toggle.click();
            expect(await toggle.getAttribute('aria-expanded')).to.equal('true');
          } else {
            expect(await toggle.isVisible()).to.equal(false);
          }
          expect(await users.isVisible()).to.equal(true);
        });
        await journey.step('users', async (page) => {
          await page.goto(`/admin/users?q=${encodeURIComponent(person.name)}`);
          expect(await page.content()).to.contain(person.name);
        });
        await journey.step('person', async (page) => {
          await Promise.all([
            page.waitForNavigation(),
            page.getByRole('link', { name: person.name }).first().click(),
          ]);
          expect(await page.getByRole('heading', { level: 1 }).textContent()).to.contain(
            person.name,
          );
        });
        await journey.step('edit-form', async (page) => {
          await Promise.all([
            page.waitForURL('**/edit'),
            page.getByRole('link', { name: '登録内容を変更する' }).click(),
          ]);
          await page.locator('#field-name').fill(`異動 三朗${width}`);
          await page.locator('#field-municipalityId').selectOption({ label: '松本市' });
          await page.locator('#field-profession').selectOption('社会福祉士');
        });
        await journey.step('edited', async (page) => {
          await journey.clickAndWait(page, '変更を保存する');
          expect(await page.getByRole('status').first().textContent()).to.contain(
            '登録内容を変更しました。',
          );
          expect(await page.locator('main').textContent()).to.contain('松本市');
        });
        await journey.step('audit', async (page) => {
          await page.goto('/admin/audit');
        });
      } finally {
        await journey.close();
      }
      const after = await User.findById(person._id).lean();
      expect(after).to.include({ name: `異動 三朗${width}`, profession: '社会福祉士' });
    });
  }

  it('a regional viewer reads their region and one of its municipalities (1280 px)', async () => {
    const { user: viewer, password } = await buildUser({
      roles: ['regional_viewer'],
      municipality: '須坂市',
      name: '圏域 四郎',
    });
    await buildMunicipality('長野市');

    const journey = await Journey.open(run, 'regional-viewer', 1280);
    try {
      await journey.step('signed-in', async (page) => {
        await signInAs(page, viewer.email, password);
      });
      await journey.step('region-report', async (page) => {
        await page.goto('/reports');
        expect(new URL(page.url()).pathname).to.equal(
          `/reports/regions/${String(viewer.regionId)}`,
        );
        expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal(
          '長野圏域の研修の実施状況',
        );
        const rows = page.locator('.report-table tbody th');
        expect(await rows.allTextContents()).to.include.members(['長野市', '須坂市']);
      });
      await journey.step('region-print', async (page) => {
        await page.emulateMedia({ media: 'print' });
        expect(await displayOf(page, '.site-header')).to.equal('none');
        expect(await displayOf(page, 'section[aria-labelledby="municipality-links"]')).to.equal(
          'none',
        );
        expect(await page.locator('.print-only').textContent()).to.contain('氏名：圏域 四郎');
        await page.pdf({ path: path.join(journey.dir, 'region.pdf'), format: 'A4' });
      });
      await journey.step('municipality-report', async (page) => {
        await page.emulateMedia({ media: 'screen' });
        await Promise.all([
          page.waitForNavigation(),
          page.locator('.report-links').getByRole('link', { name: '長野市' }).click(),
        ]);
        expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal(
          '長野市の研修の実施状況',
        );
      });
    } finally {
      await journey.close();
    }
  });

  it('the register page narrows the organisations to the chosen municipality (390 px)', async () => {
    const nagano = await buildMunicipality('長野市');
    const matsumoto = await buildMunicipality('松本市');
    const ueda = await buildMunicipality('上田市');
    await Organisation.create([
      { name: '長野の相談室', sector: '福祉', municipalityId: nagano._id },
      { name: '松本の相談室', sector: '福祉', municipalityId: matsumoto._id },
    ]);
    const labels = (page: Page) => page.locator('#field-organisationId option').allTextContents();

    const journey = await Journey.open(run, 'applicant', 390);
    try {
      await journey.step('register', async (page) => {
        await page.goto('/register');
        // No municipality yet: every municipality's organisations, grouped.
        expect(await labels(page)).to.include.members(['長野の相談室', '松本の相談室']);
      });
      await journey.step('municipality-chosen', async (page) => {
        await page.locator('#field-organisationId').selectOption({ label: '長野の相談室' });
        await page.locator('#field-municipalityId').selectOption(String(matsumoto._id));
        const shown = await labels(page);
        expect(shown).to.include('松本の相談室').and.not.to.include('長野の相談室');
        // The organisation of the municipality left behind is no longer chosen.
        expect(await page.locator('#field-organisationId').inputValue()).to.equal('');
      });
      await journey.step('municipality-without-organisations', async (page) => {
        await page.locator('#field-municipalityId').selectOption(String(ueda._id));
        expect(await labels(page)).to.deep.equal([
          '選択してください',
          'この市町村の機関はまだ登録されていません',
        ]);
      });
    } finally {
      await journey.close();
    }
  });
});
