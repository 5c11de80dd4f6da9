import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { SignedIn } from '../helpers/auth.js';
import type { Catalog, Module } from '../../src/courses/catalog.types.js';
import { loadCatalog } from '../../src/courses/loader.js';
import { QuizAttempt } from '../../src/learning/quiz-attempt.model.js';

export const PROGRAM = 'basic-training';
export const MODULE = 'understanding';

let real: Promise<Catalog> | undefined;
/** The real content, so tests follow the content author's edits (titles, counts, pass marks). */
export function realCatalog(): Promise<Catalog> {
  real ??= loadCatalog('courses');
  return real;
}
/** A module of the real program (default: the first, "understanding"). */
export async function realModule(id = MODULE): Promise<Module> {
  return (await realCatalog()).module(PROGRAM, id)!;
}
export const lessonUrl = (lesson: string, module = MODULE) =>
  `/learn/${PROGRAM}/${module}/${lesson}`;
export const quizUrl = (module = MODULE) => `/learn/${PROGRAM}/${module}/quiz`;

/** A private copy of the real content, to edit or break. */
export function copyCourses(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsunagu-courses-'));
  cpSync(path.resolve('courses'), dir, { recursive: true });
  return dir;
}

/** Replaces text in a file of a content copy; fails when the text is not there. */
export function editFile(file: string, from: string | RegExp, to: string): void {
  const before = readFileSync(file, 'utf8');
  const after = before.replace(from, to);
  expect(after, `edit of ${file}`).not.to.equal(before);
  writeFileSync(file, after);
}

/** Starts (or resumes) an attempt; returns its URL and the stored attempt. */
export async function startQuiz(me: SignedIn, module = MODULE) {
  const res = await me.post(`${quizUrl(module)}/start`).expect(303);
  const url = res.headers.location;
  const attemptId = url.split('/').pop()!;
  const attempt = await QuizAttempt.findOne({ attemptId }).lean();
  expect(attempt).to.not.equal(null);
  return { url, attemptId, attempt: attempt! };
}

type Questions = { id: string; type: string; options: { id: string }[]; answer: string[] }[];

export function correctForm(questions: Questions): Record<string, string[]> {
  return Object.fromEntries(questions.map((q) => [`q_${q.id}`, [...q.answer]]));
}

/** Every question answered wrongly (an option that is not the answer, or a wrong subset). */
export function wrongForm(questions: Questions): Record<string, string[]> {
  return Object.fromEntries(
    questions.map((q) => {
      const wrong = q.options.find((o) => !q.answer.includes(o.id))!;
      return [`q_${q.id}`, [wrong.id]];
    }),
  );
}

/** Marks every lesson of a module as read and passes its quiz. */
export async function completeModule(me: SignedIn, module: string, lessons: readonly string[]) {
  for (const lesson of lessons) {
    await me.get(lessonUrl(lesson, module)).expect(200);
    await me.post(`${lessonUrl(lesson, module)}/read`).expect(303);
  }
  const { url, attempt } = await startQuiz(me, module);
  await me.post(url, correctForm(attempt.questions)).expect(303);
}
