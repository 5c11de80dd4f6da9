import { expect } from 'chai';
import {
  checkAnswers,
  gradeAnswers,
  secondsCounted,
  type ShownQuestion,
} from '../../src/learning/quiz.service.js';

/**
 * The grading rules as functions (quiz-grading.test.ts checks the same edges through the quiz
 * pages): the answer check, right and wrong answers, rounding, the pass mark and the time cap.
 */
function question(
  id: string,
  type: 'single' | 'multiple',
  options: string[],
  answer: string[],
): ShownQuestion {
  return {
    id,
    type,
    text: `問 ${id}`,
    options: options.map((o) => ({ id: o, text: o })),
    answer,
    explanation: '',
  };
}
const m1 = question('m1', 'multiple', ['a', 'b', 'c', 'd'], ['a', 'b']);
const s1 = question('s1', 'single', ['a', 'b'], ['a']);
const s2 = question('s2', 'single', ['a', 'b', 'c'], ['c']);

describe('quiz grading rules', () => {
  describe('checkAnswers', () => {
    const attempt = { questions: [m1, s1] };

    it('accepts one option of a single-choice question and several of a multiple-choice one', () => {
      expect(checkAnswers(attempt, { q_m1: ['b', 'a'], q_s1: 'a' })).to.deep.equal({
        kind: 'ok',
        answers: new Map([
          ['m1', ['b', 'a']],
          ['s1', ['a']],
        ]),
      });
    });

    it('counts an option chosen twice once', () => {
      const check = checkAnswers(attempt, { q_m1: ['a', 'a', 'b'], q_s1: ['a', 'a'] });
      expect(check).to.deep.equal({
        kind: 'ok',
        answers: new Map([
          ['m1', ['a', 'b']],
          ['s1', ['a']],
        ]),
      });
    });

    it('asks again for unanswered questions, keeping the other answers', () => {
      expect(checkAnswers(attempt, { q_s1: 'b' })).to.deep.equal({
        kind: 'incomplete',
        fields: { q_m1: '当てはまる選択肢をすべて選んでください。' },
        answers: new Map([
          ['m1', []],
          ['s1', ['b']],
        ]),
      });
      expect(checkAnswers(attempt, { q_m1: 'a', q_s1: [] })).to.deep.equal({
        kind: 'incomplete',
        fields: { q_s1: '選択肢を1つ選んでください。' },
        answers: new Map([
          ['m1', ['a']],
          ['s1', []],
        ]),
      });
    });

    it('refuses what the form cannot send: unknown questions, other questions’ options, two answers to a single, non-text values', () => {
      expect(checkAnswers(attempt, { q_m1: 'a', q_s1: 'a', q_x9: 'a' })).to.deep.equal({
        kind: 'foreign',
        message: 'この確認テストにない問題への回答が含まれています。',
      });
      expect(checkAnswers(attempt, { q_m1: 'a', q_s1: 'c' })).to.deep.equal({
        kind: 'foreign',
        message: '問2の回答に、その問題の選択肢にないものが含まれています。',
      });
      expect(checkAnswers(attempt, { q_m1: 'a', q_s1: ['a', 'b'] })).to.deep.equal({
        kind: 'foreign',
        message: '問2は選択肢を1つだけ選ぶ問題です。',
      });
      expect(checkAnswers(attempt, { q_m1: [{ $ne: 'x' }], q_s1: 'a' })).to.deep.equal({
        kind: 'foreign',
        message: '回答の形式が正しくありません。',
      });
    });

    it('ignores form fields that are not answers (the CSRF token, the attempt id)', () => {
      expect(
        checkAnswers(attempt, { _csrf: 't', attemptId: 'x', q_m1: 'c', q_s1: 'b' }),
      ).to.deep.equal({
        kind: 'ok',
        answers: new Map([
          ['m1', ['c']],
          ['s1', ['b']],
        ]),
      });
    });
  });

  describe('gradeAnswers', () => {
    const attempt = { questions: [m1, s1, s2], total: 3, passPercent: 66 };
    const grade = (answers: Record<string, string[]>, passPercent = 66) =>
      gradeAnswers({ ...attempt, passPercent }, new Map(Object.entries(answers)));

    it('counts a question right only when exactly its right options are chosen', () => {
      const { answers } = grade({ m1: ['b', 'a'], s1: ['b'], s2: ['c'] });
      expect(answers).to.deep.equal([
        { questionId: 'm1', optionIds: ['b', 'a'], correct: true },
        { questionId: 's1', optionIds: ['b'], correct: false },
        { questionId: 's2', optionIds: ['c'], correct: true },
      ]);
      for (const wrong of [['a'], ['a', 'b', 'c'], ['a', 'c'], ['c', 'd'], []])
        expect(grade({ m1: wrong }).answers[0].correct, wrong.join()).to.equal(false);
    });

    it('counts a question with no answer given as wrong, with no options', () => {
      expect(grade({}).answers[1]).to.deep.equal({
        questionId: 's1',
        optionIds: [],
        correct: false,
      });
    });

    it('rounds the score down and passes at exactly the pass mark', () => {
      // 2 of 3 = 66.67 points: 66, which passes at 66 and fails at 67.
      expect(grade({ m1: ['a', 'b'], s2: ['c'] }, 66)).to.deep.include({
        correctCount: 2,
        score: 66,
        passed: true,
      });
      expect(grade({ m1: ['a', 'b'], s2: ['c'] }, 67)).to.deep.include({
        score: 66,
        passed: false,
      });
      expect(grade({ m1: ['a', 'b'], s1: ['a'], s2: ['c'] }, 100)).to.deep.include({
        correctCount: 3,
        score: 100,
        passed: true,
      });
      expect(grade({ s1: ['a'] })).to.deep.include({ correctCount: 1, score: 33, passed: false });
    });

    it('scores against the number of questions the attempt was given', () => {
      // An attempt of 4 questions of which 3 are shown here: 3 right of 4 = 75 points.
      const graded = gradeAnswers(
        { questions: [m1, s1, s2], total: 4, passPercent: 80 },
        new Map([
          ['m1', ['a', 'b']],
          ['s1', ['a']],
          ['s2', ['c']],
        ]),
      );
      expect(graded).to.deep.include({ correctCount: 3, score: 75, passed: false });
    });

    it('gives an empty quiz 0 points', () => {
      expect(gradeAnswers({ questions: [], total: 0, passPercent: 0 }, new Map())).to.deep.equal({
        answers: [],
        correctCount: 0,
        score: 0,
        passed: true,
      });
    });
  });

  describe('secondsCounted', () => {
    const start = new Date('2026-12-01T10:00:00Z');
    const after = (ms: number) => secondsCounted(start, new Date(start.getTime() + ms));

    it('counts the whole seconds between start and submission, rounded', () => {
      expect(after(0)).to.equal(0);
      expect(after(1499)).to.equal(1);
      expect(after(1500)).to.equal(2);
      expect(after(10 * 60_000)).to.equal(600);
    });

    it('counts at most 30 minutes, and nothing for a clock that went back', () => {
      expect(after(30 * 60_000)).to.equal(1800);
      expect(after(30 * 60_000 + 1000)).to.equal(1800);
      expect(after(2 * 60 * 60_000)).to.equal(1800);
      expect(after(-5000)).to.equal(0);
    });
  });
});
