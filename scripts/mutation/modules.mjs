/**
 * The modules under mutation testing (issue #18): where a silent bug costs most. Each names the
 * source it mutates (a file, or `file:firstLine-lastLine` for part of one) and the focused test
 * files that exercise it, so a module's run stays short. `npm run test:mutation -- <name>` runs one.
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
    mutate: ['src/learning/quiz.service.ts:128-209'],
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
    mutate: ['src/reviews/review.service.ts:90-219'],
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
