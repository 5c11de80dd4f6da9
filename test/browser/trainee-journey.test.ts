import { expect } from 'chai';
import { Types } from 'mongoose';
import { createInvitation } from '../../src/users/invitations.service.js';
import { User } from '../../src/users/user.model.js';
import { testCatalog } from '../helpers/app.js';
import { buildUser } from '../helpers/factories.js';
import { displayOf, Journey, useBrowserRun, WIDTHS } from './harness.js';

/**
 * A trainee in a real browser (Debian's Chromium through playwright-core), at a phone's and a
 * desktop's width, with axe on every page: from the invitation to a passed quiz and the printed
 * record. Screenshots: test-results/browser/trainee-<width>/.
 */
describe('browser journey: a trainee from the invitation to a passed quiz', function () {
  // A minute or so per width on a quiet machine; several under load (shared CI runners).
  this.timeout(300_000);
  const run = useBrowserRun();

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
      const catalog = await testCatalog(run().testApp.config);
      const program = catalog.programs[0];
      const module = program.modules[0];
      const quiz = module.quiz!;

      const journey = await Journey.open(run(), 'trainee', width);
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
          await journey.savePrintout('record.pdf');
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
  }
});
