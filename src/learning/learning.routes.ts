import { Router, type Request, type Response } from 'express';
import { requireAuth } from '../auth/middleware.js';
import type { Catalog, Lesson, Module, Program } from '../courses/catalog.types.js';
import { formatDateTime } from '../lib/dates.js';
import { printHeadingOf } from '../http/print-heading.js';
import { notFound } from '../lib/errors.js';
import { emitIfProgramCompleted } from './program-completion.js';
import { learnerOf } from './learner.js';
import {
  computeModuleProgress,
  lessonHref,
  loadProgramProgress,
  markLessonRead,
  moduleHref,
  quizHref,
  recordLessonOpened,
} from './progress.service.js';
import { quizRoutes } from './quiz.routes.js';
import { resolveModule, type Resolved } from './resolve.js';
import { myLearning } from './my-learning.js';
import { formatMinutes } from './format.js';

function resolveLesson(catalog: Catalog, req: Request): Resolved & { lesson: Lesson } {
  const resolved = resolveModule(catalog, req);
  const lesson = catalog.lesson(
    resolved.program.id,
    resolved.module.id,
    (req.params as { lesson: string }).lesson,
  );
  if (!lesson) throw notFound('お探しのレッスンは見つかりませんでした。');
  return { ...resolved, lesson };
}

/**
 * The learner's pages: /learn (program overview), module, lesson and quiz pages, /learn/me.
 * Mounted at /learn (app.ts): the paths below are relative to it. Every signed-in user may learn;
 * each sees and changes only their own progress.
 */
export function learningRouter(catalog: Catalog): Router {
  const router = Router();
  router.use(requireAuth);
  router.use((_req, res, next) => {
    res.locals.formatMinutes = formatMinutes;
    res.locals.formatDateTime = formatDateTime;
    next();
  });

  const renderOverview = async (req: Request, res: Response, program: Program) => {
    const progress = await loadProgramProgress(learnerOf(req.user!), program);
    res.render('learning/overview', {
      title: program.title,
      progress,
      programs: catalog.programs,
      moduleHref,
      quizHref,
    });
  };

  router.get('/', async (req, res) => {
    if (catalog.programs.length === 1) return renderOverview(req, res, catalog.programs[0]);
    const learner = learnerOf(req.user!);
    const progresses = await Promise.all(
      catalog.programs.map((p) => loadProgramProgress(learner, p)),
    );
    res.render('learning/programs', { title: '研修', progresses });
  });

  router.get('/me', async (req, res) => {
    const user = req.user!;
    const [learning, printHeading] = await Promise.all([
      myLearning(catalog, learnerOf(user)),
      // The printed record's heading: whose it is and when it was printed.
      printHeadingOf(user),
    ]);
    res.render('learning/me', { title: '学習の記録', ...learning, printHeading });
  });

  router.get('/:program', async (req, res) => {
    const program = catalog.program(req.params.program);
    if (!program) throw notFound('お探しの研修は見つかりませんでした。');
    await renderOverview(req, res, program);
  });

  router.use('/:program/:module/quiz', quizRoutes(catalog));

  router.get('/:program/:module', async (req, res) => {
    const { program, module } = resolveModule(catalog, req);
    const progress = await loadProgramProgress(learnerOf(req.user!), program);
    const moduleProgress = computeModuleProgress(program, module, progress.summary);
    res.render('learning/module', {
      title: module.title,
      program,
      module,
      moduleProgress,
      lessonHref,
      quizHref,
      previousModule: program.modules[module.index - 1] ?? null,
      nextModule: program.modules[module.index + 1] ?? null,
      moduleHref,
    });
  });

  router.get('/:program/:module/:lesson', async (req, res) => {
    const { program, module, lesson } = resolveLesson(catalog, req);
    const summary = await recordLessonOpened(learnerOf(req.user!), program, module, lesson);
    res.render('learning/lesson', {
      title: `${lesson.title}（${module.title}）`,
      program,
      module,
      lesson,
      isRead: summary.readLessons.includes(lesson.id),
      previous: neighbour(program, module, lesson, -1),
      next: neighbour(program, module, lesson, +1),
      moduleHref,
    });
  });

  router.post('/:program/:module/:lesson/read', async (req, res) => {
    const { program, module, lesson } = resolveLesson(catalog, req);
    const summary = await markLessonRead(learnerOf(req.user!), program, module, lesson);
    const changed = summary !== null;
    if (changed) await emitIfProgramCompleted(learnerOf(req.user!), program, summary);
    req.flash(
      changed ? 'success' : 'info',
      changed ? `「${lesson.title}」を読了にしました。` : 'このレッスンはすでに読了しています。',
    );
    const next = neighbour(program, module, lesson, +1);
    const goNext = (req.body as Record<string, unknown> | undefined)?.then === 'next' && next;
    if (goNext) return res.redirect(303, next.href);
    res.redirect(303, lessonHref(program, module, lesson) + '#read');
  });

  return router;
}

interface Neighbour {
  href: string;
  label: string;
  title: string;
}

/** The lesson before or after, across module boundaries (after the last lesson: the module's quiz). */
function neighbour(
  program: Program,
  module: Module,
  lesson: Lesson,
  step: -1 | 1,
): Neighbour | null {
  const sibling = module.lessons[lesson.index + step];
  if (sibling)
    return {
      href: lessonHref(program, module, sibling),
      label: step < 0 ? '前のレッスン' : '次のレッスン',
      title: sibling.title,
    };
  if (step > 0 && module.quiz)
    return { href: quizHref(program, module), label: '確認テストへ', title: module.quiz.title };
  const otherModule = program.modules[module.index + step];
  if (!otherModule) return null;
  if (step < 0) {
    const last = otherModule.lessons[otherModule.lessons.length - 1];
    return {
      href: lessonHref(program, otherModule, last),
      label: '前のレッスン',
      title: last.title,
    };
  }
  return { href: moduleHref(program, otherModule), label: '次の単元へ', title: otherModule.title };
}
