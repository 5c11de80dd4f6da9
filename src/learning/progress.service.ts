import type { Lesson, Module, Program } from '../courses/catalog.types.js';
import { findOneLoaded, writtenLoaded, type DocumentCache } from '../cache/document-cache.js';
import { readCaches } from '../cache/read-caches.js';
import { caseStudyApproved } from './case-study-hook.js';
import { LearnerProgress, type QuizSummary } from './learner-progress.model.js';
import { LessonProgress } from './lesson-progress.model.js';
import { isDuplicateKey, upsertWithRetry, type Learner } from './learner.js';

export type ModuleStatus = 'not_started' | 'in_progress' | 'completed';
export const MODULE_STATUS_LABELS: Record<ModuleStatus, string> = {
  not_started: '未着手',
  in_progress: '学習中',
  completed: '修了',
};

/** The summary read for every learning page: one document per learner and program. */
export interface ProgressSummary {
  readLessons: string[];
  openedModules: string[];
  quizzes: Record<string, QuizSummary>;
  secondsSpent: number;
  position: { moduleId: string | null; lessonId: string | null; at: Date | null } | null;
  /** lessonId → when the learner last opened that lesson (the time counted when it is marked read). */
  lessonOpenedAt: Record<string, Date>;
}

const EMPTY: ProgressSummary = {
  readLessons: [],
  openedModules: [],
  quizzes: {},
  secondsSpent: 0,
  position: null,
  lessonOpenedAt: {},
};

/** The fields of LearnerProgress that make a ProgressSummary. */
const SUMMARY_FIELDS = {
  readLessons: 1,
  openedModules: 1,
  quizzes: 1,
  secondsSpent: 1,
  position: 1,
  lessonOpenedAt: 1,
} as const;

function toSummary(doc: Partial<ProgressSummary> | null | undefined): ProgressSummary {
  if (!doc) return EMPTY;
  return {
    readLessons: doc.readLessons ?? [],
    openedModules: doc.openedModules ?? [],
    quizzes: doc.quizzes ?? {},
    secondsSpent: doc.secondsSpent ?? 0,
    position: doc.position ?? null,
    lessonOpenedAt: doc.lessonOpenedAt ?? {},
  };
}

/**
 * The learner's summary of a program, read by every learning page: from the progress cache while
 * the change feed is live, otherwise one `find` command sent through the driver directly (the
 * plain document `findOne(…).lean()` would give, without the query building and casting). The
 * summary is shared between requests: treat it as read-only.
 */
export async function getProgress(learner: Learner, programId: string): Promise<ProgressSummary> {
  const load = () =>
    findOneLoaded(
      LearnerProgress.db.db!,
      LearnerProgress.collection.collectionName,
      { userId: { $eq: learner.userId }, programId: { $eq: programId } },
      (doc: Partial<ProgressSummary> & { _id: unknown }) => toSummary(doc),
      SUMMARY_FIELDS,
    );
  const cache = progressCache();
  const summary = cache
    ? await cache.get(summaryKey(learner, programId), load)
    : ((await load())?.value ?? null);
  return summary ?? EMPTY;
}

function progressCache(): DocumentCache<ProgressSummary> | undefined {
  return readCaches()?.progress as DocumentCache<ProgressSummary> | undefined;
}

/** The progress cache's key of a learner's summary (the model's write hooks name the same). */
function summaryKey(learner: Learner, programId: string): string {
  return `${String(learner.userId)}/${programId}`;
}

/**
 * What the model adds to an upsert of the summary besides the dates and the version key
 * (mongoose's setDefaultsOnInsert): each field's default, read from the schema once (not _id,
 * which the database gives). Shared by every write: sent, never changed.
 */
const SUMMARY_DEFAULTS: Record<string, unknown> = (() => {
  const defaults: Record<string, unknown> = {};
  LearnerProgress.schema.eachPath((path, type) => {
    if (path === '_id') return;
    const value = (
      type as unknown as { getDefault(scope?: unknown, init?: boolean): unknown }
    ).getDefault(undefined, true);
    if (value !== undefined) defaults[path] = value;
  });
  return defaults;
})();

type SummaryUpdate = Record<string, Record<string, unknown> | undefined>;

function asTheModelWrites(update: SummaryUpdate, now: Date): SummaryUpdate {
  const touched = Object.values(update).flatMap((fields) => Object.keys(fields ?? {}));
  const clash = (path: string) =>
    touched.some(
      (field) => field === path || field.startsWith(`${path}.`) || path.startsWith(`${field}.`),
    );
  const defaults = Object.entries(SUMMARY_DEFAULTS).filter(([path]) => !clash(path));
  return {
    ...update,
    $set: { ...update.$set, updatedAt: now },
    $setOnInsert: {
      ...update.$setOnInsert,
      createdAt: now,
      __v: 0,
      ...Object.fromEntries(defaults),
    },
  };
}

/**
 * Changes the learner's summary of a program (created if missing) in one findAndModify, and
 * returns it as written. When `condition` excludes the existing summary, the insert collides with
 * the unique index: the duplicate-key error is thrown (after one retry) for the caller to read as
 * "nothing to change" (see addToSummary). While the change feed
 * is live, the summary written stays in the progress cache (DocumentCache.writeThrough): the page
 * after a mark or an opening reads it from memory, not from the database.
 *
 * Sent through the driver, as the model would write it (asTheModelWrites; the values are plain
 * strings, numbers, dates and ids, nothing to cast): through the model the same write cost
 * 0.8 ms more CPU (2.1 against 1.3 ms), and the summary is written by every opening, mark and
 * quiz. test/learning/round-trips.test.ts compares what both write.
 */
export async function writeSummary(
  learner: Learner,
  programId: string,
  update: SummaryUpdate,
  condition: Record<string, unknown> = {},
): Promise<ProgressSummary | null> {
  const write = async () => {
    const reply = await upsertWithRetry(() =>
      LearnerProgress.collection.findOneAndUpdate(
        { userId: learner.userId, programId, ...condition },
        asTheModelWrites(update, new Date()),
        {
          upsert: true,
          returnDocument: 'after',
          projection: SUMMARY_FIELDS,
          // The reply, with the new document as value and the write's operationTime.
          includeResultMetadata: true,
        },
      ),
    );
    return writtenLoaded(reply, (doc: Partial<ProgressSummary> & { _id: unknown }) =>
      toSummary(doc),
    );
  };
  const cache = progressCache();
  return cache
    ? cache.writeThrough(summaryKey(learner, programId), write)
    : ((await write())?.value ?? null);
}

export interface ModuleProgress {
  module: Module;
  status: ModuleStatus;
  statusLabel: string;
  readCount: number;
  lessonCount: number;
  read: ReadonlySet<string>;
  quiz: QuizSummary | null;
  quizPassed: boolean;
  /** 0–100: lessons read and quiz passed, over all lessons and the quiz. */
  percent: number;
}

export interface NextStep {
  kind: 'resume' | 'lesson' | 'quiz' | 'caseStudy' | 'done';
  label: string;
  href: string | null;
  module?: Module;
  lesson?: Lesson;
}

export interface ProgramProgress {
  program: Program;
  modules: ModuleProgress[];
  percent: number;
  doneItems: number;
  totalItems: number;
  completed: boolean;
  caseStudyRequired: boolean;
  caseStudyApproved: boolean;
  /** Every module is done and only the case study is left (say so, rather than "97 %"). */
  onlyCaseStudyLeft: boolean;
  next: NextStep;
  summary: ProgressSummary;
}

export const lessonHref = (program: Program, module: Module, lesson: Lesson) =>
  `/learn/${program.id}/${module.id}/${lesson.id}`;
export const quizHref = (program: Program, module: Module) =>
  `/learn/${program.id}/${module.id}/quiz`;
export const moduleHref = (program: Program, module: Module) => `/learn/${program.id}/${module.id}`;

/**
 * Module and program status from the summary, following the program's completion rule. Only
 * lessons and quizzes present in the current content count: read marks of removed lessons stay
 * in the database but no longer count.
 */
export function computeModuleProgress(
  program: Program,
  module: Module,
  summary: ProgressSummary,
): ModuleProgress {
  const readAll = new Set(summary.readLessons);
  const read = new Set(module.lessons.filter((l) => readAll.has(l.id)).map((l) => l.id));
  const quiz = module.quiz ? (summary.quizzes[module.quiz.id] ?? null) : null;
  const quizPassed = !!quiz?.passed;
  const lessonsDone = program.completion.lessons === 'none' || read.size === module.lessons.length;
  const quizDone = program.completion.quizzes === 'none' || !module.quiz || quizPassed;
  const started =
    read.size > 0 || (quiz?.attempts ?? 0) > 0 || summary.openedModules.includes(module.id);
  const status: ModuleStatus =
    lessonsDone && quizDone ? 'completed' : started ? 'in_progress' : 'not_started';
  const total = module.lessons.length + (module.quiz ? 1 : 0);
  const done = read.size + (module.quiz && quizPassed ? 1 : 0);
  return {
    module,
    status,
    statusLabel: MODULE_STATUS_LABELS[status],
    readCount: read.size,
    lessonCount: module.lessons.length,
    read,
    quiz,
    quizPassed,
    percent: total === 0 ? 100 : Math.floor((done * 100) / total),
  };
}

export function computeProgramProgress(
  program: Program,
  summary: ProgressSummary,
  caseStudyIsApproved: boolean,
): ProgramProgress {
  const modules = program.modules.map((module) => computeModuleProgress(program, module, summary));
  const caseStudyRequired = program.completion.caseStudy === 'approved';
  let doneItems = 0;
  let totalItems = 0;
  for (const m of modules) {
    totalItems += m.lessonCount + (m.module.quiz ? 1 : 0);
    doneItems += m.readCount + (m.module.quiz && m.quizPassed ? 1 : 0);
  }
  if (caseStudyRequired) {
    totalItems += 1;
    doneItems += caseStudyIsApproved ? 1 : 0;
  }
  const modulesDone = modules.every((m) => m.status === 'completed');
  const completed = modulesDone && (!caseStudyRequired || caseStudyIsApproved);
  return {
    program,
    modules,
    percent: totalItems === 0 ? 0 : Math.floor((doneItems * 100) / totalItems),
    doneItems,
    totalItems,
    completed,
    caseStudyRequired,
    caseStudyApproved: caseStudyIsApproved,
    onlyCaseStudyLeft: modulesDone && caseStudyRequired && !caseStudyIsApproved,
    next: nextStep(program, modules, summary, caseStudyRequired && !caseStudyIsApproved),
    summary,
  };
}

function nextStep(
  program: Program,
  modules: ModuleProgress[],
  summary: ProgressSummary,
  caseStudyPending: boolean,
): NextStep {
  const position = summary.position;
  if (position?.moduleId && position.lessonId) {
    const module = program.modules.find((m) => m.id === position.moduleId);
    const lesson = module?.lessons.find((l) => l.id === position.lessonId);
    if (module && lesson && !summary.readLessons.includes(lesson.id)) {
      return {
        kind: 'resume',
        label: `続きから読む：${lesson.title}`,
        href: lessonHref(program, module, lesson),
        module,
        lesson,
      };
    }
  }
  // 「学習を始める」 only before anything at all is done in the program; after that 「続きから」.
  const begun =
    summary.readLessons.length > 0 ||
    summary.openedModules.length > 0 ||
    Object.keys(summary.quizzes).length > 0;
  for (const m of modules) {
    const lesson = m.module.lessons.find((l) => !m.read.has(l.id));
    if (lesson) {
      return {
        kind: 'lesson',
        label: `${begun ? '続きから' : '学習を始める'}：${lesson.title}`,
        href: lessonHref(program, m.module, lesson),
        module: m.module,
        lesson,
      };
    }
    if (m.module.quiz && !m.quizPassed) {
      return {
        kind: 'quiz',
        label: `確認テストを受ける：${m.module.title}`,
        href: quizHref(program, m.module),
        module: m.module,
      };
    }
  }
  if (caseStudyPending && program.caseStudy) {
    return { kind: 'caseStudy', label: `${program.caseStudy.title}に取り組む`, href: null };
  }
  return { kind: 'done', label: 'すべての学習を終えました', href: null };
}

/** Reads the summary and the case-study hook, and computes the program's progress. */
export async function loadProgramProgress(
  learner: Learner,
  program: Program,
): Promise<ProgramProgress> {
  const needsCaseStudy = program.completion.caseStudy === 'approved';
  const [summary, approved] = await Promise.all([
    getProgress(learner, program.id),
    needsCaseStudy ? caseStudyApproved(String(learner.userId), program.id) : Promise.resolve(false),
  ]);
  return computeProgramProgress(program, summary, approved);
}

/** Time counted for a lesson between opening and marking read: twice the estimate, 10–60 minutes. */
export function lessonTimeCapSeconds(lesson: Lesson): number {
  return Math.min(Math.max(lesson.estimatedMinutes * 2, 10), 60) * 60;
}

/**
 * Reopening the lesson the learner is already on within this time writes nothing (like the
 * session store's touchAfter): a reload or a quick back-and-forth costs one read, not two writes.
 */
export const REOPEN_WRITE_AFTER_MS = 60_000;

/**
 * A lesson page was opened: remember the opening (for the time counted when the lesson is marked
 * read) and the position for "resume", both in the learner's summary. Returns the summary. One
 * read, and one write only when the position changes or has gone stale; the lesson's own record
 * (lesson_progress) is written when it is marked read.
 */
export async function recordLessonOpened(
  learner: Learner,
  program: Program,
  module: Module,
  lesson: Lesson,
): Promise<ProgressSummary> {
  const now = new Date();
  const summary = await getProgress(learner, program.id);
  const position = summary.position;
  if (
    position?.lessonId === lesson.id &&
    position.moduleId === module.id &&
    position.at &&
    now.getTime() - new Date(position.at).getTime() < REOPEN_WRITE_AFTER_MS
  ) {
    return summary;
  }
  const written = await writeSummary(learner, program.id, {
    // Lesson ids are checked against ID_PATTERN ([a-z0-9-]) when the content loads, so one is a
    // safe field name.
    $set: {
      position: { moduleId: module.id, lessonId: lesson.id, at: now },
      [`lessonOpenedAt.${lesson.id}`]: now,
    },
    $addToSet: { openedModules: module.id },
    $setOnInsert: { municipalityId: learner.municipalityId, regionId: learner.regionId },
  });
  // (An upsert without a condition always matches or inserts.)
  return written ?? EMPTY;
}

/**
 * Marks a lesson as read, once: a second mark changes nothing. Time spent is the time since the
 * lesson was last opened, capped. Returns the learner's summary after the mark, or null when the
 * lesson was already read.
 *
 * Two writes, the one that counts first: the learner's summary (which the pages, completion and
 * reports read) takes the lesson in one atomic update, and only then the lesson's own record gets
 * its reading time and date (shown on the learning record page). A process killed between the two
 * leaves the lesson read everywhere, its record without the date (the learning record page lists
 * it from the summary all the same); never read in its record but unread on the pages.
 *
 * Records written by earlier versions, which wrote the lesson's record first: a lesson read there
 * but missing from the summary (a crash between the writes) is completed by the next mark, with
 * the time the record holds.
 */
export async function markLessonRead(
  learner: Learner,
  program: Program,
  module: Module,
  lesson: Lesson,
): Promise<ProgressSummary | null> {
  const now = new Date();
  const summary = await getProgress(learner, program.id);
  if (summary.readLessons.includes(lesson.id)) return null;
  const record = {
    userId: { $eq: learner.userId },
    programId: { $eq: program.id },
    lessonId: { $eq: lesson.id },
  };
  const readRecord = () =>
    LessonProgress.findOne(record, { lastOpenedAt: 1, readAt: 1, secondsSpent: 1 }).lean();
  let openedAt: Date | null = summary.lessonOpenedAt[lesson.id] ?? null;
  if (!openedAt) {
    // Opened before openings were kept in the summary (a record without readAt), or read by an
    // earlier version that a crash stopped before the summary.
    const existing = await readRecord();
    if (existing?.readAt)
      return addToSummary(learner, program, module, lesson, existing.secondsSpent);
    openedAt = existing?.lastOpenedAt ?? null;
  }
  const seconds = openedAt
    ? Math.min(
        lessonTimeCapSeconds(lesson),
        Math.max(0, Math.round((now.getTime() - new Date(openedAt).getTime()) / 1000)),
      )
    : 0;
  // The summary's filter on readLessons makes the mark atomic: a concurrent second mark matches
  // nothing, writes nothing and gets null.
  const after = await addToSummary(learner, program, module, lesson, seconds);
  if (!after) return null;
  try {
    await LessonProgress.updateOne(
      { ...record, readAt: { $eq: null } },
      {
        $set: { readAt: now, secondsSpent: seconds, moduleId: module.id },
        $setOnInsert: {
          firstOpenedAt: openedAt ?? now,
          lastOpenedAt: openedAt ?? now,
          municipalityId: learner.municipalityId,
          regionId: learner.regionId,
        },
      },
      { upsert: true },
    );
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    // The record was read already: by an earlier version that a crash stopped before the
    // summary. Its time is the one that counts; the summary just counted this mark's instead.
    const existing = await readRecord();
    if (!existing?.readAt) throw error;
    const difference = existing.secondsSpent - seconds;
    if (difference === 0) return after;
    const corrected = await LearnerProgress.findOneAndUpdate(
      { userId: { $eq: learner.userId }, programId: { $eq: program.id } },
      { $inc: { secondsSpent: difference } },
      { returnDocument: 'after', projection: SUMMARY_FIELDS },
    ).lean<Partial<ProgressSummary>>();
    return corrected ? toSummary(corrected) : after;
  }
  return after;
}

/**
 * Adds a read lesson and its time to the learner's summary and returns the summary after it,
 * unless the summary has the lesson already (then it writes nothing and returns null): the filter
 * on readLessons makes it idempotent, so time is never counted twice. When the summary holds the
 * lesson the upsert collides with the unique index; the retry covers a summary inserted
 * concurrently without it.
 */
async function addToSummary(
  learner: Learner,
  program: Program,
  module: Module,
  lesson: Lesson,
  seconds: number,
): Promise<ProgressSummary | null> {
  try {
    return await writeSummary(
      learner,
      program.id,
      {
        $addToSet: { readLessons: lesson.id, openedModules: module.id },
        $inc: { secondsSpent: seconds },
        $setOnInsert: { municipalityId: learner.municipalityId, regionId: learner.regionId },
      },
      { readLessons: { $ne: lesson.id } },
    );
  } catch (error) {
    if (isDuplicateKey(error)) return null;
    throw error;
  }
}

/** The learner's lesson records of a program (for "My learning"). */
export function listLessonProgress(learner: Learner, programId: string) {
  return LessonProgress.find(
    { userId: { $eq: learner.userId }, programId: { $eq: programId } },
    { lessonId: 1, moduleId: 1, readAt: 1, secondsSpent: 1, firstOpenedAt: 1, lastOpenedAt: 1 },
  ).lean();
}
