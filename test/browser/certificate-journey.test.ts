import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import type { Module, Program } from '../../src/courses/catalog.types.js';
import type { Learner } from '../../src/learning/learner.js';
import { markLessonRead } from '../../src/learning/progress.service.js';
import { findAttempt, startAttempt, submitAttempt } from '../../src/learning/quiz.service.js';
import { findIdentifiers } from '../../src/case-studies/anonymisation.js';
import { CaseStudy } from '../../src/case-studies/case-study.model.js';
import { Certificate } from '../../src/certificates/certificate.model.js';
import type { UserDocument } from '../../src/users/user.model.js';
import { decodeQrOnPage, pdfText } from '../certificates/helpers.js';
import { testCatalog } from '../helpers/app.js';
import { buildUser } from '../helpers/factories.js';
import { displayOf, Journey, signInAs, useBrowserRun, WIDTHS } from './harness.js';

/** A 1×1 PNG: a small real attachment (the type is read from the bytes). */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

const squeeze = (text: string) => text.replace(/\s+/g, '');

/** Anonymised filler of at least `length` characters (nothing the guard flags). */
const filler = (
  length: number,
  seed = 'Aさんは支援開始から3か月ほどで少しずつ話をするようになった。',
) => seed.repeat(Math.ceil(length / seed.length) + 1);

/** The place name the trainee writes first (the anonymisation guard flags it) and the fix. */
const PLACE = '松本市';
const PLACE_SENTENCE = `Aさんは${PLACE}で生まれ育った。`;
const GENERAL_SENTENCE = 'Aさんは県内の市部で生まれ育った。';

/**
 * Learning done before the journey starts, through the services the pages use: every module but
 * the last, and the last module's lessons but its last one.
 */
async function learnAllButTheLastSteps(user: UserDocument, program: Program): Promise<void> {
  const learner: Learner = {
    userId: user._id,
    municipalityId: user.municipalityId ?? null,
    regionId: user.regionId ?? null,
  };
  const modules = program.modules;
  for (const module of modules) {
    const last = module === modules[modules.length - 1];
    const lessons = last ? module.lessons.slice(0, -1) : module.lessons;
    for (const lesson of lessons) await markLessonRead(learner, program, module, lesson);
    if (!last && module.quiz) await passQuiz(learner, program, module);
  }
}

async function passQuiz(learner: Learner, program: Program, module: Module): Promise<void> {
  const attemptId = await startAttempt(learner, program, module, module.quiz!);
  const attempt = (await findAttempt(learner, attemptId))!;
  const answers = new Map(attempt.questions.map((q) => [q.id, [...q.answer]]));
  const result = await submitAttempt(learner, attempt, answers);
  expect(result).to.include({ kind: 'submitted', passed: true });
}

/** Checks every anonymisation confirmation on the page; returns how many there were. */
async function confirmFindings(page: Page): Promise<number> {
  const boxes = page.locator('input[name="confirm"][type="checkbox"]');
  const count = await boxes.count();
  for (let i = 0; i < count; i++) await boxes.nth(i).check();
  return count;
}

/**
 * The trainee's journey after the quizzes, at a phone's and a desktop's width: the last module,
 * the case study with an attachment and the anonymisation check, a supervisor's request for
 * revision, the revised version approved, the certificate downloaded and verified on the public
 * page. Four people, each in their own browser context; axe on every page.
 *
 * Both widths share one app, one Chromium and the anonymisation dictionary (loaded once): that
 * set-up was a fifth of a width's CPU time when each width was a file of its own.
 */
describe('browser journey: from the last module to the certificate', function () {
  // About thirty pages per width: a minute or two on a quiet machine, more under load.
  this.timeout(900_000);
  // The anonymisation check's dictionary loads on first use (seconds on a busy machine): here,
  // not inside a step's wait.
  const run = useBrowserRun(120_000, () => findIdentifiers('Aさんは県内の市部に住んでいる。'));

  for (const width of WIDTHS) {
    it(`a trainee writes the case study, revises it and gets the certificate (${width} px)`, async () => {
      const catalog = await testCatalog(run().testApp.config);
      const program = catalog.programs[0];
      const assignment = program.caseStudy!;
      const lastModule = program.modules[program.modules.length - 1];
      const lastLesson = lastModule.lessons[lastModule.lessons.length - 1];
      const traineeName = width < 600 ? '修了 花子' : '修了 一郎';
      // The trainee's region (長野) has no supervisor: the case waits for an administrator.
      const [trainee, supervisor, admin] = await Promise.all([
        buildUser({ municipality: '長野市', name: traineeName, nameKana: 'しゅうりょう' }),
        buildUser({ roles: ['supervisor'], municipality: '松本市', name: `指導 次郎${width}` }),
        buildUser({ roles: ['admin'], name: `管理 三郎${width}` }),
      ]);
      await learnAllButTheLastSteps(trainee.user, program);

      const learner = await Journey.open(run(), 'certificate-trainee', width);
      const allocator = await Journey.open(run(), 'certificate-admin', width);
      const reviewer = await Journey.open(run(), 'certificate-supervisor', width);
      const visitor = await Journey.open(run(), 'certificate-verify', width);
      let caseStudyId = '';
      try {
        // ── The last module, in the browser ─────────────────────────────────────────────────
        await learner.step('signed-in', async (page) => {
          await signInAs(page, trainee.user.email, trainee.password);
        });
        await learner.step('last-lesson', async (page) => {
          await page.goto(`/learn/${program.id}/${lastModule.id}/${lastLesson.id}`);
          await learner.clickAndWait(page, '読了にする');
        });
        await learner.step('last-quiz', async (page) => {
          await page.goto(`/learn/${program.id}/${lastModule.id}/quiz`);
          await learner.clickAndWait(page, '受験を始める');
          for (const question of lastModule.quiz!.questions) {
            for (const optionId of question.answer) {
              await page.locator(`input[name="q_${question.id}"][value="${optionId}"]`).check();
            }
          }
        });
        await learner.step('last-quiz-passed', async (page) => {
          await learner.clickAndWait(page, '回答を提出する');
          expect(await page.locator('.result-box__verdict').textContent()).to.equal('合格です');
        });

        // ── The case study: written, attached, checked, submitted ──────────────────────────
        await learner.step('case-study', async (page) => {
          // Every module is done: the primary button leads to the case study.
          await Promise.all([page.waitForNavigation(), page.locator('a.button').first().click()]);
          expect(new URL(page.url()).pathname).to.equal(`/learn/${program.id}/case-study`);
          for (const section of assignment.sections) {
            const text =
              section === assignment.sections[0]
                ? PLACE_SENTENCE + filler(section.minLength)
                : filler(section.minLength);
            await page.locator(`#field-${section.id}`).fill(text);
          }
          await page.locator('#field-attachments').setInputFiles({
            name: 'ジェノグラム.png',
            mimeType: 'image/png',
            buffer: PNG,
          });
        });
        await learner.step('case-study-saved', async (page) => {
          await learner.clickAndWait(page, '下書きを保存');
          expect(await page.getByRole('status').first().textContent()).to.match(/^保存しました/);
          expect(await page.locator('.case-files').textContent()).to.contain('ジェノグラム.png');
        });
        await learner.step('case-study-findings', async (page) => {
          await learner.clickAndWait(page, '提出する');
          // The place name is flagged before anything is submitted.
          expect(await page.locator('#findings-title').textContent()).to.contain(
            '確認が必要な記述',
          );
          expect(await page.locator('.case-findings').textContent()).to.contain(PLACE);
          expect(await confirmFindings(page)).to.be.greaterThan(0);
        });
        await learner.step('case-study-submitted', async (page) => {
          await learner.clickAndWait(page, '提出する');
          expect(await page.getByRole('status').first().textContent()).to.contain(
            '第1版として提出しました',
          );
        });
        const submitted = await CaseStudy.findOne({ userId: trainee.user._id }).lean();
        expect(submitted?.assignedSupervisorIds ?? []).to.have.length(0);
        caseStudyId = String(submitted!._id);

        // ── No supervisor covers the region: an administrator assigns one ──────────────────
        await allocator.step('signed-in', async (page) => {
          await signInAs(page, admin.user.email, admin.password);
        });
        await allocator.step('unassigned', async (page) => {
          await page.goto('/admin/review');
          const row = page.locator(`tr[data-case-study="${caseStudyId}"]`);
          expect(await row.textContent()).to.contain('担当者なし');
          await row
            .locator('select[name="supervisorId"]')
            .selectOption(String(supervisor.user._id));
        });
        await allocator.step('assigned', async (page) => {
          const row = page.locator(`tr[data-case-study="${caseStudyId}"]`);
          await Promise.all([
            page.waitForNavigation(),
            row.getByRole('button', { name: '変更する' }).click(),
          ]);
          expect(await page.getByRole('status').first().textContent()).to.contain(
            '担当のスーパーバイザーを変更しました。',
          );
        });

        // ── The supervisor reads it and asks for a revision ────────────────────────────────
        await reviewer.step('signed-in', async (page) => {
          await signInAs(page, supervisor.user.email, supervisor.password);
        });
        await reviewer.step('queue', async (page) => {
          await page.goto('/review');
          expect(
            await page.locator(`tr[data-case-study="${caseStudyId}"]`).textContent(),
          ).to.contain(traineeName);
        });
        await reviewer.step('version-1', async (page) => {
          await Promise.all([
            page.waitForNavigation(),
            page.getByRole('link', { name: traineeName }).click(),
          ]);
          expect(await page.locator('.review-case').textContent()).to.contain(PLACE_SENTENCE);
          expect(await page.locator('.review-case').textContent()).to.contain('ジェノグラム.png');
          for (const criterion of assignment.rubric.criteria) {
            await page.locator(`input[name="level:${criterion.id}"]`).first().check();
          }
          await page.locator('#commentSection-0').selectOption(assignment.sections[0].id);
          await page.locator('#commentQuote-0').fill(PLACE);
          await page
            .locator('#commentText-0')
            .fill('市町村名は書かず、「県内の市部」のように一般化してください。');
          await page
            .locator('#field-overall')
            .fill('よくまとまっています。匿名化を一か所直してください。');
          await page.locator('input[name="decision"][value="revision_requested"]').check();
        });
        await reviewer.step('revision-requested', async (page) => {
          await reviewer.clickAndWait(page, '結果を決定して研修生に知らせる');
          expect(await page.getByRole('status').first().textContent()).to.contain(
            '修正を依頼しました。',
          );
        });

        // ── The trainee answers, revises and submits again ─────────────────────────────────
        await learner.step('feedback', async (page) => {
          await page.goto(`/learn/${program.id}/case-study`);
          expect(await page.locator('.review-feedback').textContent()).to.contain(
            '市町村名は書かず',
          );
          await page
            .locator('textarea[name^="answer:"]')
            .first()
            .fill('「県内の市部」に書き直しました。');
        });
        await learner.step('answered', async (page) => {
          await learner.clickAndWait(page, '回答を保存する');
          expect(await page.getByRole('status').first().textContent()).to.contain(
            'コメントへの回答を保存しました。',
          );
          const first = page.locator(`#field-${assignment.sections[0].id}`);
          await first.fill((await first.inputValue()).replace(PLACE_SENTENCE, GENERAL_SENTENCE));
        });
        await learner.step('resubmitted', async (page) => {
          await learner.clickAndWait(page, '提出する');
          expect(await page.getByRole('status').first().textContent()).to.contain(
            '第2版として提出しました',
          );
        });

        // ── The supervisor sees what changed and approves ─────────────────────────────────
        await reviewer.step('version-2', async (page) => {
          await page.goto(`/review/${caseStudyId}`);
          expect(await page.getByRole('heading', { level: 1 }).textContent()).to.contain('第2版');
          expect(await page.locator('.review-diff').textContent()).to.contain('県内の市部');
          await page.locator('input[name^="addressed:"][value="yes"]').first().check();
          for (const criterion of assignment.rubric.criteria) {
            await page.locator(`input[name="level:${criterion.id}"]`).last().check();
          }
          await page.locator('input[name="decision"][value="approved"]').check();
        });
        await reviewer.step('approved', async (page) => {
          await reviewer.clickAndWait(page, '結果を決定して研修生に知らせる');
          expect(await page.getByRole('status').first().textContent()).to.contain('承認しました。');
        });

        // ── The certificate: on /learn/me, downloaded, verified without signing in ────────
        let verifyPath = '';
        await learner.step('certificate', async (page) => {
          await page.goto('/learn/me');
          expect(await page.locator('.learn-complete').first().textContent()).to.contain(
            'すべての課程を修了しました',
          );
          const link = page.getByRole('link', { name: /^修了証書（.+）をダウンロード（PDF）$/ });
          const number = /修了証書（([^）]+)）/.exec((await link.textContent()) ?? '')![1];
          const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
          const pdf = await readFile(await download.path());
          expect(pdf.subarray(0, 5).toString('latin1')).to.equal('%PDF-');
          const text = squeeze(await pdfText(pdf));
          expect(text).to.contain(squeeze(traineeName)).and.to.contain(number);
          // The QR code printed on it leads to the public verification page.
          const url = await decodeQrOnPage(pdf);
          expect(url).to.match(/\/verify\/[\w-]+$/);
          verifyPath = new URL(url!).pathname;
        });
        // ── The administrator's list of certificates, on screen and on paper ──────────────
        await allocator.step('certificates', async (page) => {
          await page.goto(`/admin/certificates?q=${encodeURIComponent(traineeName)}`);
          expect(await page.locator('tbody tr').first().textContent()).to.contain(traineeName);
        });
        await allocator.step('certificates-print', async (page) => {
          await page.emulateMedia({ media: 'print' });
          expect(await displayOf(page, '.site-header')).to.equal('none');
          expect(await displayOf(page, 'form.filters')).to.equal('none');
          // The download links are for the screen.
          expect(await displayOf(page, 'tbody td.no-print')).to.equal('none');
          expect(await page.locator('.print-only').textContent()).to.match(
            new RegExp(`^氏名：管理 三郎${width}\u3000印刷日：\\d{4}年`),
          );
          await allocator.savePrintout('certificates.pdf');
        });
        await visitor.step('verified', async (page) => {
          await page.goto(verifyPath);
          expect(await page.getByRole('status').textContent()).to.contain('有効');
          expect(await page.locator('.details').textContent()).to.contain(traineeName);
          // Nobody is signed in here.
          expect(await page.getByRole('link', { name: 'ログイン' }).count()).to.equal(1);
        });
      } finally {
        await Promise.all([learner, allocator, reviewer, visitor].map((j) => j.close()));
      }
      const certificate = await Certificate.findOne({ userId: trainee.user._id }).lean();
      expect(certificate?.valid).to.equal(true);
      expect((await CaseStudy.findById(caseStudyId).lean())?.state).to.equal('approved');
    });
  }
});
