import { Router, type Request, type Response } from 'express';
import type { Catalog, Module, Program, Quiz } from '../courses/catalog.types.js';
import { AppError, notFound } from '../lib/errors.js';
import { formatDateTime } from '../lib/dates.js';
import { emitIfProgramCompleted } from './program-completion.js';
import { learnerOf } from './learner.js';
import { resolveModule } from './resolve.js';
import { moduleHref, quizHref } from './progress.service.js';
import {
  answerField,
  checkAnswers,
  findAttempt,
  listAttempts,
  startAttempt,
  submitAttempt,
  type AttemptView,
  type RawAnswers,
} from './quiz.service.js';
import { getProgress, loadProgramProgress } from './progress.service.js';
import type { Learner } from './learner.js';

const ATTEMPT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** ア, イ, ウ … : option labels in the order shown. */
export const OPTION_LABELS = ['ア', 'イ', 'ウ', 'エ', 'オ', 'カ', 'キ', 'ク', 'ケ', 'コ'];

function resolveQuiz(
  catalog: Catalog,
  req: Request,
): { program: Program; module: Module; quiz: Quiz } {
  const { program, module } = resolveModule(catalog, req);
  if (!module.quiz) throw notFound('この単元には確認テストがありません。');
  return { program, module, quiz: module.quiz };
}

/** The attempt in the URL, the learner's own and of this quiz, or 404. */
async function resolveAttempt(catalog: Catalog, req: Request) {
  const resolved = resolveQuiz(catalog, req);
  const attemptId = (req.params as { attemptId: string }).attemptId;
  if (!ATTEMPT_ID.test(attemptId)) throw notFound('お探しの受験記録は見つかりませんでした。');
  const attempt = await findAttempt(learnerOf(req.user!), attemptId);
  if (
    !attempt ||
    attempt.programId !== resolved.program.id ||
    attempt.quizId !== resolved.quiz.id
  ) {
    throw notFound('お探しの受験記録は見つかりませんでした。');
  }
  return { ...resolved, attempt };
}

const attemptHref = (program: Program, module: Module, attemptId: string) =>
  `${quizHref(program, module)}/attempts/${attemptId}`;

/** Where a learner who has passed this module's quiz goes on to: the primary button. */
export async function nextAfterPassing(
  learner: Learner,
  program: Program,
  module: Module,
): Promise<{ href: string; label: string }> {
  const { next } = await loadProgramProgress(learner, program);
  if (next.kind === 'done') return { href: '/learn/me', label: '学習の記録を見る' };
  if (next.kind === 'caseStudy')
    return { href: `/learn/${program.id}/case-study`, label: next.label };
  if (next.module && next.module.index > module.index && next.href)
    return { href: next.href, label: `次の単元へ進む：${next.module.title}` };
  return { href: next.href ?? `/learn/${program.id}`, label: next.label };
}

/**
 * Quiz pages: status and history, start (new attempt, shuffled), answer form, submission, result.
 * Mounted at /learn/:program/:module/quiz (learning.routes.ts); the program and module come from
 * the mount path (mergeParams).
 */
export function quizRoutes(catalog: Catalog): Router {
  const router = Router({ mergeParams: true });
  const common = { moduleHref, quizHref, attemptHref, formatDateTime, OPTION_LABELS, answerField };

  router.get('/', async (req, res) => {
    const { program, module, quiz } = resolveQuiz(catalog, req);
    const learner = learnerOf(req.user!);
    const [summary, attempts] = await Promise.all([
      getProgress(learner, program.id),
      listAttempts(learner, program.id, quiz.id),
    ]);
    const quizSummary = summary.quizzes[quiz.id] ?? null;
    res.render('learning/quiz', {
      title: quiz.title,
      program,
      module,
      quiz,
      quizSummary,
      next: quizSummary?.passed ? await nextAfterPassing(learner, program, module) : null,
      attempts,
      ...common,
    });
  });

  // Starting creates an attempt, so it is a POST (with the CSRF token). A GET of the old link
  // (a bookmark, the browser's history) creates nothing and shows the quiz page with its button.
  router.get('/start', (req, res) => {
    const { program, module } = resolveQuiz(catalog, req);
    res.redirect(303, quizHref(program, module));
  });

  router.post('/start', async (req, res) => {
    const { program, module, quiz } = resolveQuiz(catalog, req);
    const attemptId = await startAttempt(learnerOf(req.user!), program, module, quiz);
    res.redirect(303, attemptHref(program, module, attemptId));
  });

  const renderForm = (
    res: Response,
    resolved: { program: Program; module: Module; quiz: Quiz; attempt: AttemptView },
    chosen: Map<string, string[]>,
    errors: Record<string, string>,
  ) =>
    res.render('learning/attempt', {
      title: resolved.quiz.title,
      ...resolved,
      chosen,
      errors,
      ...common,
    });

  router.get('/attempts/:attemptId', async (req, res) => {
    const resolved = await resolveAttempt(catalog, req);
    const { attempt } = resolved;
    if (!attempt.submittedAt) return renderForm(res, resolved, new Map(), {});
    res.render('learning/result', {
      title: `結果：${resolved.quiz.title}`,
      ...resolved,
      next: attempt.passed
        ? await nextAfterPassing(learnerOf(req.user!), resolved.program, resolved.module)
        : null,
      answers: new Map((attempt.answers ?? []).map((a) => [a.questionId, a])),
      outdated: attempt.fingerprint !== resolved.quiz.fingerprint,
      ...common,
    });
  });

  router.post('/attempts/:attemptId', async (req, res) => {
    const resolved = await resolveAttempt(catalog, req);
    const { program, module, quiz, attempt } = resolved;
    if (attempt.submittedAt) return renderAlreadySubmitted(res, resolved);
    if (attempt.fingerprint !== quiz.fingerprint) {
      // The quiz changed since this attempt started: its questions no longer apply.
      req.flash('info', '確認テストの内容が更新されたため、新しい問題でもう一度受験してください。');
      return res.redirect(303, quizHref(program, module));
    }
    const check = checkAnswers(attempt, (req.body ?? {}) as RawAnswers);
    if (check.kind === 'foreign')
      throw new AppError(check.message, { status: 400, code: 'foreign_answer' });
    if (check.kind === 'incomplete') {
      res.status(422);
      return renderForm(res, resolved, check.answers, check.fields);
    }
    const result = await submitAttempt(learnerOf(req.user!), attempt, check.answers);
    if (result.kind === 'already_submitted') return renderAlreadySubmitted(res, resolved);
    if (result.passed) await emitIfProgramCompleted(learnerOf(req.user!), program);
    res.redirect(303, attemptHref(program, module, attempt.attemptId));
  });

  return router;
}

/** A second submission of the same attempt: nothing is recorded; say so and link to the result. */
function renderAlreadySubmitted(
  res: Response,
  resolved: { program: Program; module: Module; quiz: Quiz; attempt: AttemptView },
) {
  res.status(409).render('learning/already-submitted', {
    title: 'この回答は提出済みです',
    ...resolved,
    resultHref: attemptHref(resolved.program, resolved.module, resolved.attempt.attemptId),
    quizHref,
  });
}
