import { readFileSync } from 'node:fs';
import { URL } from 'node:url';

/**
 * Part of a file as Stryker takes it (`file:firstLine-lastLine`): from the line that starts with
 * `from` to the end of the declaration whose first line starts with `to` (the next line closing a
 * block at the left margin), found in the file as it is now, so that the range follows its code
 * when lines above it come or go.
 */
function declarations(file, from, to) {
  const lines = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8').split('\n');
  const first = lines.findIndex((line) => line.startsWith(from));
  const last = lines.findIndex((line, i) => i >= first && line.startsWith(to));
  const end = lines.findIndex((line, i) => i > last && /^[}\]]/.test(line));
  if (first < 0 || last < 0 || end < 0)
    throw new Error(`mutation modules: no "${from}" … "${to}" in ${file}`);
  return `${file}:${first + 1}-${end + 1}`;
}

/**
 * The modules under mutation testing (issue #18): where a silent bug costs most. Each names the
 * source it mutates (a file, or part of one) and the focused test files that exercise it, so a
 * module's run stays short. `npm run test:mutation -- <name>` runs one.
 */
export const MODULES = [
  {
    name: 'suppression',
    mutate: ['src/tracking/suppression.ts'],
    spec: ['test/tracking/suppression.test.ts', 'test/tracking/suppression-rules.test.ts'],
  },
  {
    name: 'numbering',
    mutate: ['src/certificates/numbering.ts'],
    spec: ['test/certificates/numbering.test.ts'],
  },
  {
    name: 'markdown',
    mutate: ['src/courses/markdown.ts'],
    spec: ['test/courses/markdown-sanitiser.test.ts'],
  },
  {
    name: 'quiz-grading',
    // checkAnswers, gradeAnswers and secondsCounted: the rules submitAttempt records.
    mutate: [
      declarations(
        'src/learning/quiz.service.ts',
        'export type AnswerCheck',
        'export function secondsCounted',
      ),
    ],
    spec: ['test/learning/quiz-grading-rules.test.ts'],
  },
  {
    name: 'csv-import',
    mutate: ['src/admin/import/validate.ts'],
    spec: ['test/admin/import-rows.test.ts'],
  },
  {
    name: 'passwords',
    mutate: ['src/auth/password.ts', 'src/auth/tokens.ts'],
    spec: ['test/auth/password.test.ts', 'test/auth/tokens.test.ts'],
  },
  {
    name: 'throttle',
    mutate: ['src/auth/throttle.ts'],
    // The rules called directly (test/auth/throttle.test.ts and test/security/signin.test.ts
    // check the same through sign-in over HTTP, too slow to run for each mutant).
    spec: ['test/auth/throttle-rules.test.ts'],
  },
  {
    name: 'policy',
    mutate: ['src/auth/policy.ts'],
    spec: ['test/auth/policy-rules.test.ts'],
  },
  {
    name: 'anonymisation',
    mutate: ['src/case-studies/anonymisation*.ts'],
    spec: [
      'test/case-studies/anonymisation.test.ts',
      'test/case-studies/anonymisation-rules.test.ts',
    ],
  },
  {
    name: 'review-release',
    // decide (recording the decision and releasing the round), saveAnswers, decidedRounds.
    mutate: [
      declarations(
        'src/reviews/review.service.ts',
        'export type DecideOutcome',
        'export function decidedRounds',
      ),
    ],
    // Called directly against the store (test/reviews/flow.test.ts walks the same pages over
    // HTTP, too slow to run for each mutant).
    spec: ['test/reviews/review-release-rules.test.ts'],
  },
  {
    name: 'read-caches',
    mutate: ['src/cache/*.ts'],
    spec: ['test/cache/*.test.ts'],
  },
  {
    name: 'journal',
    mutate: ['src/store/durability/journal-writer.ts', 'src/store/durability/index.ts'],
    // The writer on a watched file, and the data directory's opening and defaults
    // (test/store/durability*.test.ts reopen a directory at every byte of a frame: too slow to
    // run for each mutant).
    spec: ['test/store/journal-writer.test.ts', 'test/store/data-directory.test.ts'],
  },
];
