import { randomInt, randomUUID } from 'node:crypto';
import mongoose from 'mongoose';
import type { Module, Program, Quiz } from '../courses/catalog.types.js';
import { readCaches } from '../cache/read-caches.js';
import { findOneLoaded, writtenLoaded, type DocumentCache } from '../cache/document-cache.js';
import type { Learner } from './learner.js';
import { getProgress, writeSummary } from './progress.service.js';
import { QuizAttempt } from './quiz-attempt.model.js';

/** An unsubmitted attempt is reused when the learner opens the quiz again within this time. */
const REUSE_OPEN_ATTEMPT_MS = 24 * 60 * 60 * 1000;
/** Time counted for a quiz between start and submission. */
export const QUIZ_TIME_CAP_SECONDS = 30 * 60;

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Starts an attempt with questions and options in a fresh random order, stored server-side. Opening
 * the quiz again before submitting returns the same attempt (same order), unless the quiz changed.
 *
 * One command finds the open attempt to reuse or stores a new one: an upsert whose filter matches
 * the learner's latest unsubmitted attempt of this quiz version started within the reuse time, and
 * whose insert writes the attempt exactly as QuizAttempt.create would (the schema's defaults,
 * timestamps and version key), through the driver: building and validating a mongoose document
 * for a quiz's questions and options took most of a quiz start's time (bench:load phase 0: 9.7 ms
 * of CPU per start, of which about 3 ms for the document, against 1 ms for the insert). Every value
 * comes from the course content, checked when it loads, and from the signed-in learner;
 * test/learning/quiz.test.ts checks a stored attempt against the schema. Two starts at the same
 * moment may both store one (as a read then an insert could); the later is the one shown.
 */
export async function startAttempt(
  learner: Learner,
  program: Program,
  module: Module,
  quiz: Quiz,
): Promise<string> {
  const now = new Date();
  const open = {
    userId: learner.userId,
    programId: program.id,
    quizId: quiz.id,
    fingerprint: quiz.fingerprint,
    submittedAt: null,
  };
  const create = async () =>
    asLoaded(
      await QuizAttempt.collection.findOneAndUpdate(
        { ...open, startedAt: { $gt: new Date(now.getTime() - REUSE_OPEN_ATTEMPT_MS) } },
        {
          // The filter's fields are the new attempt's too; these are the rest, in the model's order.
          $setOnInsert: {
            attemptId: randomUUID(),
            moduleId: module.id,
            passPercent: quiz.passPercent,
            municipalityId: learner.municipalityId,
            regionId: learner.regionId,
            questions: shuffled(quiz.questions).map((q) => ({
              id: q.id,
              type: q.type,
              text: q.text,
              options: shuffled(q.options).map((o) => ({ id: o.id, text: o.text })),
              answer: [...q.answer],
              explanation: q.explanation,
            })),
            score: null,
            correctCount: null,
            total: quiz.questions.length,
            passed: null,
            startedAt: now,
            createdAt: now,
            updatedAt: now,
            __v: 0,
          },
        },
        {
          upsert: true,
          sort: { startedAt: -1 },
          returnDocument: 'after',
          // The reply, with the attempt as value and the write's operationTime.
          includeResultMetadata: true,
        },
      ),
    );
  // Kept in the attempts cache: the attempt page that follows reads it from memory.
  const cache = attemptCache();
  const attempt = cache
    ? await cache.keepCreated((value) => value.attemptId, create)
    : ((await create())?.value ?? null);
  const attemptId = attempt!.attemptId;
  // The module counts as opened; nearly always it is already (its lessons came first), and the
  // summary is then left alone (no write, and the summary stays in the read cache).
  const summary = await getProgress(learner, program.id);
  if (!summary.openedModules.includes(module.id)) {
    await writeSummary(learner, program.id, {
      $addToSet: { openedModules: module.id },
      $setOnInsert: { municipalityId: learner.municipalityId, regionId: learner.regionId },
    });
  }
  return attemptId;
}

export interface ShownQuestion {
  id: string;
  type: 'single' | 'multiple';
  text: string;
  options: { id: string; text: string }[];
  answer: string[];
  explanation: string;
}

export interface AttemptView {
  attemptId: string;
  programId: string;
  moduleId: string;
  quizId: string;
  fingerprint: string;
  passPercent: number;
  questions: ShownQuestion[];
  answers?: { questionId: string; optionIds: string[]; correct: boolean }[];
  score: number | null;
  correctCount: number | null;
  total: number;
  passed: boolean | null;
  startedAt: Date;
  submittedAt: Date | null;
}

/** An attempt as stored: what the pages show, and whose it is. */
type StoredAttempt = AttemptView & { _id: unknown; userId: unknown };

function attemptCache(): DocumentCache<StoredAttempt> | undefined {
  return readCaches()?.attempts as DocumentCache<StoredAttempt> | undefined;
}

/** What the cache keeps of a findAndModify reply with the attempt as written (or null). */
const asLoaded = (reply: { value: unknown }) => writtenLoaded(reply, (doc: StoredAttempt) => doc);

/**
 * The learner's own attempt, or null (someone else's attempt is as good as missing). From the
 * attempts cache while the change feed is live — the attempt page, its submission and the result
 * each read it — otherwise one `find` command sent through the driver. The attempt is shared
 * between requests: treat it as read-only.
 */
export async function findAttempt(
  learner: Learner,
  attemptId: string,
): Promise<AttemptView | null> {
  const load = () =>
    findOneLoaded(
      QuizAttempt.db.db!,
      QuizAttempt.collection.collectionName,
      { attemptId: { $eq: attemptId } },
      (doc: StoredAttempt) => doc,
    );
  const cache = attemptCache();
  const attempt = cache ? await cache.get(attemptId, load) : ((await load())?.value ?? null);
  return attempt && String(attempt.userId) === String(learner.userId) ? attempt : null;
}

export type RawAnswers = Record<string, unknown>;

export type AnswerCheck =
  | { kind: 'ok'; answers: Map<string, string[]> }
  /** Values that cannot come from the form: options of other questions, unknown questions, two answers to a single. */
  | { kind: 'foreign'; message: string }
  /** Some questions not answered: show the form again with these messages and the choices kept. */
  | { kind: 'incomplete'; fields: Record<string, string>; answers: Map<string, string[]> };

export const answerField = (questionId: string) => `q_${questionId}`;

/** Checks submitted answers against the questions of the attempt. */
export function checkAnswers(
  attempt: Pick<AttemptView, 'questions'>,
  body: RawAnswers,
): AnswerCheck {
  const answers = new Map<string, string[]>();
  const fields: Record<string, string> = {};
  const known = new Set(attempt.questions.map((q) => answerField(q.id)));
  for (const key of Object.keys(body)) {
    if (key.startsWith('q_') && !known.has(key)) {
      return { kind: 'foreign', message: 'この確認テストにない問題への回答が含まれています。' };
    }
  }
  for (const [index, question] of attempt.questions.entries()) {
    const raw = body[answerField(question.id)];
    const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    if (values.some((value) => typeof value !== 'string')) {
      return { kind: 'foreign', message: '回答の形式が正しくありません。' };
    }
    const chosen = [...new Set(values as string[])];
    const optionIds = new Set(question.options.map((o) => o.id));
    if (chosen.some((id) => !optionIds.has(id))) {
      return {
        kind: 'foreign',
        message: `問${index + 1}の回答に、その問題の選択肢にないものが含まれています。`,
      };
    }
    if (question.type === 'single' && chosen.length > 1) {
      return { kind: 'foreign', message: `問${index + 1}は選択肢を1つだけ選ぶ問題です。` };
    }
    answers.set(question.id, chosen);
    if (chosen.length === 0) {
      fields[answerField(question.id)] =
        question.type === 'single'
          ? '選択肢を1つ選んでください。'
          : '当てはまる選択肢をすべて選んでください。';
    }
  }
  if (Object.keys(fields).length > 0) return { kind: 'incomplete', fields, answers };
  return { kind: 'ok', answers };
}

export type SubmitResult =
  { kind: 'submitted'; passed: boolean; score: number } | { kind: 'already_submitted' };

export interface Grading {
  answers: { questionId: string; optionIds: string[]; correct: boolean }[];
  correctCount: number;
  /** Whole points out of 100, rounded down. */
  score: number;
  passed: boolean;
}

/**
 * Grades answers: a question counts as right when exactly its right options are chosen (every
 * right one and nothing else). The score is rounded down, and the pass mark itself passes.
 */
export function gradeAnswers(
  attempt: Pick<AttemptView, 'questions' | 'total' | 'passPercent'>,
  answers: ReadonlyMap<string, string[]>,
): Grading {
  const graded = attempt.questions.map((question) => {
    const chosen = answers.get(question.id) ?? [];
    const correct =
      chosen.length === question.answer.length &&
      question.answer.every((id) => chosen.includes(id));
    return { questionId: question.id, optionIds: chosen, correct };
  });
  const correctCount = graded.filter((g) => g.correct).length;
  const score = attempt.total === 0 ? 0 : Math.floor((correctCount * 100) / attempt.total);
  return { answers: graded, correctCount, score, passed: score >= attempt.passPercent };
}

/** Study time counted for an attempt: from start to submission, at most QUIZ_TIME_CAP_SECONDS. */
export function secondsCounted(startedAt: Date, submittedAt: Date): number {
  return Math.min(
    QUIZ_TIME_CAP_SECONDS,
    Math.max(0, Math.round((submittedAt.getTime() - startedAt.getTime()) / 1000)),
  );
}

/**
 * Grades and records a submission exactly once: the update only matches while submittedAt is null,
 * so a second (or concurrent) submission records nothing.
 */
export async function submitAttempt(
  learner: Learner,
  attempt: AttemptView,
  answers: Map<string, string[]>,
): Promise<SubmitResult> {
  const { answers: graded, correctCount, score, passed } = gradeAnswers(attempt, answers);
  const now = new Date();
  // Through the driver, as the model would write it (the answers are plain values made by
  // gradeAnswers; updatedAt is the schema's timestamp): casting the answers through the schema
  // cost a few milliseconds per submission. test/learning/quiz.test.ts compares the two.
  const write = async () =>
    asLoaded(
      await QuizAttempt.collection.findOneAndUpdate(
        { attemptId: attempt.attemptId, userId: learner.userId, submittedAt: null },
        {
          $set: {
            answers: graded,
            correctCount,
            score,
            passed,
            submittedAt: now,
            updatedAt: now,
          },
        },
        // The attempt as submitted, kept in the attempts cache for the result page.
        { returnDocument: 'after', includeResultMetadata: true },
      ),
    );
  const cache = attemptCache();
  const updated = cache
    ? await cache.writeThrough(attempt.attemptId, write)
    : ((await write())?.value ?? null);
  if (!updated) return { kind: 'already_submitted' };

  const seconds = secondsCounted(attempt.startedAt, now);
  const path = `quizzes.${attempt.quizId}`;
  await writeSummary(learner, attempt.programId, {
    $inc: { [`${path}.attempts`]: 1, secondsSpent: seconds },
    $max: { [`${path}.bestScore`]: score },
    $set: { [`${path}.lastScore`]: score, ...(passed ? { [`${path}.passed`]: true } : {}) },
    ...(passed ? { $min: { [`${path}.passedAt`]: now } } : {}),
    $addToSet: { openedModules: attempt.moduleId },
    $setOnInsert: { municipalityId: learner.municipalityId, regionId: learner.regionId },
  });
  return { kind: 'submitted', passed, score };
}

export interface AttemptSummary {
  attemptId: string;
  quizId: string;
  moduleId: string;
  score: number;
  correctCount: number;
  total: number;
  passed: boolean;
  passPercent: number;
  fingerprint: string;
  startedAt: Date;
  submittedAt: Date;
}

/** Submitted attempts, newest first: of one quiz, or (quizId omitted) of the whole program. */
export function listAttempts(
  learner: Learner,
  programId: string,
  quizId?: string,
): Promise<AttemptSummary[]> {
  return QuizAttempt.find(
    {
      userId: { $eq: learner.userId },
      programId: { $eq: programId },
      ...(quizId ? { quizId: { $eq: quizId } } : {}),
      submittedAt: mongoose.trusted({ $ne: null }),
    },
    {
      attemptId: 1,
      quizId: 1,
      moduleId: 1,
      score: 1,
      correctCount: 1,
      total: 1,
      passed: 1,
      passPercent: 1,
      fingerprint: 1,
      startedAt: 1,
      submittedAt: 1,
    },
  )
    .sort({ submittedAt: -1 })
    .lean<AttemptSummary[]>();
}
