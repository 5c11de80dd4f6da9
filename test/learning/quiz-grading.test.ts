import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { LearnerProgress } from '../../src/learning/learner-progress.model.js';
import { QuizAttempt } from '../../src/learning/quiz-attempt.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';
import { copyCourses, startQuiz } from './helpers.js';

/**
 * The grading rule at its edges, on a quiz written here (so the numbers are the test's own, not
 * read from src/ or from the content): five questions, pass mark 80 points, one multiple-choice
 * question with two right options out of four.
 */
const QUIZ = `id: understanding-quiz
title: 採点の確認
passPercent: 80
questions:
  - id: m1
    type: multiple
    text: 正しいものをすべて選んでください。
    options:
      - { id: a, text: 正しい一 }
      - { id: b, text: 正しい二 }
      - { id: c, text: 誤り一 }
      - { id: d, text: 誤り二 }
    answer: [a, b]
    explanation: 一と二が正しく、誤り一と誤り二は誤りです。
${[2, 3, 4, 5]
  .map(
    (n) => `  - id: s${n}
    type: single
    text: 問${n}の正しいものはどれですか。
    options:
      - { id: a, text: 正しい }
      - { id: b, text: 誤り }
    answer: [a]
    explanation: 「正しい」が正解です。`,
  )
  .join('\n')}
`;

type Form = Record<string, string[]>;
const allRight = (): Form => ({
  q_m1: ['a', 'b'],
  q_s2: ['a'],
  q_s3: ['a'],
  q_s4: ['a'],
  q_s5: ['a'],
});

describe('quiz grading at the edges', () => {
  let coursesDir: string;
  let t: TestApp;

  before(async () => {
    coursesDir = copyCourses();
    writeFileSync(
      path.join(coursesDir, 'basic-training', 'modules', '01-understanding', 'quiz.yaml'),
      QUIZ,
    );
    t = await createTestApp({ COURSES_DIR: coursesDir });
  });
  after(async () => {
    await t?.close();
    rmSync(coursesDir, { recursive: true, force: true });
  });

  async function submit(form: Form, startedMinutesAgo = 0) {
    const { user, password } = await buildUser({ roles: ['trainee'] });
    const me = await signIn(t.app, user, password);
    const { url, attemptId } = await startQuiz(me);
    if (startedMinutesAgo > 0)
      await QuizAttempt.updateOne(
        { attemptId },
        { $set: { startedAt: new Date(Date.now() - startedMinutesAgo * 60_000) } },
      );
    await me.post(url, form).expect(303);
    const attempt = await QuizAttempt.findOne({ attemptId }).lean();
    const progress = await LearnerProgress.findOne({ userId: user._id }).lean();
    return { attempt: attempt!, progress: progress! };
  }

  it('counts a multiple-choice answer wrong when a wrong option is chosen beside every right one', async () => {
    const { attempt } = await submit({ ...allRight(), q_m1: ['a', 'b', 'c'] });
    const m1 = attempt.answers!.find((a) => a.questionId === 'm1')!;
    expect(m1.correct).to.equal(false);
    expect(attempt).to.include({ correctCount: 4, score: 80 });
  });

  it('counts a multiple-choice answer wrong when only some of the right options are chosen', async () => {
    const { attempt } = await submit({ ...allRight(), q_m1: ['a'] });
    expect(attempt.answers!.find((a) => a.questionId === 'm1')!.correct).to.equal(false);
  });

  it('passes at exactly the pass mark (4 of 5 = 80 points) and fails one below (3 of 5 = 60)', async () => {
    const atMark = await submit({ ...allRight(), q_s5: ['b'] });
    expect(atMark.attempt).to.include({ score: 80, passed: true });
    expect(atMark.progress.quizzes['understanding-quiz']).to.include({ passed: true });

    const below = await submit({ ...allRight(), q_s4: ['b'], q_s5: ['b'] });
    expect(below.attempt).to.include({ score: 60, passed: false });
    expect(below.progress.quizzes['understanding-quiz']).to.not.have.property('passed', true);
  });

  it('counts at most 30 minutes of study time for an attempt left open for two hours', async () => {
    const { progress } = await submit(allRight(), 120);
    expect(progress.secondsSpent).to.equal(1800);
  });

  it('counts the real time of an attempt under 30 minutes', async () => {
    const { progress } = await submit(allRight(), 10);
    expect(progress.secondsSpent).to.be.within(600, 605);
  });
});
