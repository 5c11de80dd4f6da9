import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { Organisation } from '../../src/organisations/organisation.model.js';
import { User } from '../../src/users/user.model.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';
import { displayOf, Journey, signInAs, useBrowserRun, WIDTHS } from './harness.js';

/**
 * The shorter journeys in a real browser, with axe on every page: an administrator editing a person
 * (390 px and 1280 px), a regional viewer reading and printing their region's report (1280 px),
 * and the register page narrowing the organisations to the chosen municipality (390 px).
 * Screenshots: test-results/browser/<journey>-<width>/.
 */
describe('browser journeys: an administrator, a regional viewer, an applicant', function () {
  // Under a minute per journey on a quiet machine; several under load (shared CI runners).
  this.timeout(300_000);
  const run = useBrowserRun();

  for (const width of WIDTHS) {
    it(`an administrator edits a person (${width} px)`, async () => {
      const { user: admin, password } = await buildUser({
        roles: ['admin'],
        email: `admin-${width}@example.jp`,
      });
      await buildMunicipality('松本市');
      const { user: person } = await buildUser({ name: `異動 三郎${width}` });

      const journey = await Journey.open(run(), 'admin', width);
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
            // The long menu has the full width under the logo; ログアウト sits on the logo's row
            // rather than on a row of its own below the menu.
            const box = async (locator: ReturnType<Page['locator']>) =>
              (await locator.boundingBox())!;
            const logo = await box(page.locator('.brand'));
            const logout = await box(page.getByRole('button', { name: 'ログアウト' }));
            const menu = await box(
              page.getByRole('navigation', { name: 'メインメニュー' }).locator('ul'),
            );
            expect(logout.y, 'ログアウト on the logo’s row').to.be.below(logo.y + logo.height);
            expect(menu.y, 'the menu below the logo').to.be.at.least(logo.y + logo.height);
            expect(logout.y + logout.height, 'ログアウト above the menu').to.be.at.most(menu.y + 1);
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

    const journey = await Journey.open(run(), 'regional-viewer', 1280);
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
        await journey.savePrintout('region.pdf');
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

    const journey = await Journey.open(run(), 'applicant', 390);
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
