import { expect } from 'chai';
import { User } from '../../src/users/user.model.js';
import { buildUser } from '../helpers/factories.js';
import { displayOf, Journey, signInAs, useBrowserRun, WIDTHS } from './harness.js';

/**
 * A coordinator's daily work in a real browser, at a phone's and a desktop's width, with axe on
 * every page: approving, inviting, importing, reading their municipality's users and report (a CSV
 * export) and printing it. Screenshots: test-results/browser/coordinator-<width>/.
 */
describe('browser journey: a coordinator and their municipality', function () {
  // A minute or so per width on a quiet machine; several under load (shared CI runners).
  this.timeout(300_000);
  const run = useBrowserRun();

  for (const width of WIDTHS) {
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

      const journey = await Journey.open(run(), 'coordinator', width);
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
          await journey.savePrintout('report.pdf');
        });
      } finally {
        await journey.close();
      }
      expect((await User.findById(applicant._id).lean())?.status).to.equal('active');
    });
  }
});
