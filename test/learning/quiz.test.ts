import { expect } from 'chai';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';
import { LearnerProgress } from '../../src/learning/learner-progress.model.js';
import { QuizAttempt } from '../../src/learning/quiz-attempt.model.js';
import type { Quiz } from '../../src/courses/catalog.types.js';
import { MODULE, correctForm, quizUrl, realModule, startQuiz, wrongForm } from './helpers.js';

describe('module quizzes', () => {
  let t: TestApp;
  let quiz: Quiz;
  before(async () => {
    t = await createTestApp();
    quiz = (await realModule()).quiz!;
  });
  after(async () => {
    await t.close();
  });

  /** Each field of a stored document with the type of its value. */
  const shape = (doc: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(doc)
        .map(([key, value]): [string, string] => [
          key,
          value === null
            ? 'null'
            : Array.isArray(value)
              ? 'array'
              : (value?.constructor?.name ?? typeof value),
        ])
        .sort(),
    );

  async function newLearner() {
    const { user, password } = await buildUser({ roles: ['trainee'] });
    return { user, me: await signIn(t.app, user, password) };
  }

  describe('GET …/quiz and POST …/quiz/start', () => {
    it('shows the pass mark and no attempts yet', async () => {
      const { me } = await newLearner();
      const res = await me.get(quizUrl()).expect(200);
      expect(res.text).to.contain(quiz.title);
      expect(res.text).to.contain(`問題数：${quiz.questions.length}問`);
      expect(res.text).to.contain(`${quiz.passPercent}%以上`);
      expect(res.text).to.contain('受験を始める');
      expect(res.text).to.contain('まだ受験していません。');
    });

    it('starts an attempt with every question and option stored in a shuffled order', async () => {
      const { user, me } = await newLearner();
      const { url, attempt } = await startQuiz(me);
      expect(url).to.match(new RegExp(`^${quizUrl()}/attempts/[0-9a-f-]{36}$`));
      expect(String(attempt.userId)).to.equal(String(user._id));
      expect(attempt).to.include({
        programId: 'basic-training',
        moduleId: MODULE,
        quizId: 'understanding-quiz',
        total: quiz.questions.length,
        submittedAt: null,
        passPercent: quiz.passPercent,
      });
      expect(attempt.fingerprint).to.match(/^[0-9a-f]{16}$/);
      expect(attempt.questions.map((q) => q.id).sort()).to.deep.equal(
        quiz.questions.map((q) => q.id).sort(),
      );
      for (const question of quiz.questions) {
        const stored = attempt.questions.find((q) => q.id === question.id)!;
        expect(stored.options.map((o) => o.id).sort()).to.deep.equal(
          question.options.map((o) => o.id).sort(),
        );
        expect(stored.answer).to.deep.equal([...question.answer]);
      }

      const page = await me.get(url).expect(200);
      // The form shows questions in the stored order.
      const shown = [...page.text.matchAll(/<fieldset class="question" id="q_([\w-]+)"/g)].map(
        (m) => m[1],
      );
      expect(shown).to.deep.equal(attempt.questions.map((q) => q.id));
      expect(page.text).to.contain('name="_csrf"');
    });

    it('stores the attempt as the model would: the schema validates it, same fields and types as create()', async () => {
      const { user, me } = await newLearner();
      const { attempt } = await startQuiz(me);
      const stored = (await QuizAttempt.collection.findOne({ attemptId: attempt.attemptId }))!;
      // The schema's own checks, on the stored document as mongoose would load it.
      await QuizAttempt.hydrate(stored).validate();
      // The same attempt made through the model: the same fields, each of the same type.
      const { _id, createdAt, updatedAt, ...values } = stored;
      const reference = await QuizAttempt.create({
        ...values,
        attemptId: `${values.attemptId}-ref`,
      });
      const made = (await QuizAttempt.collection.findOne({ _id: reference._id }))!;
      expect(shape(stored)).to.deep.equal(shape(made));
      expect(stored.questions).to.deep.equal(made.questions);
      expect(String(stored.userId)).to.equal(String(user._id));
      expect(stored).to.include({
        score: null,
        correctCount: null,
        passed: null,
        submittedAt: null,
        __v: 0,
      });
      expect(_id).to.not.equal(undefined);
      expect(createdAt).to.be.instanceOf(Date);
      expect(updatedAt).to.deep.equal(createdAt);
    });

    it('shuffles: across attempts, the order of questions varies', async () => {
      const { me } = await newLearner();
      const orders = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const { url, attempt } = await startQuiz(me);
        orders.add(attempt.questions.map((q) => q.id).join(','));
        await me.post(url, wrongForm(attempt.questions)).expect(303);
      }
      expect(orders.size).to.be.greaterThan(1);
    });

    it('starts an attempt only on POST: GET …/start goes back to the quiz page', async () => {
      const { user, me } = await newLearner();
      const res = await me.get(`${quizUrl()}/start`).expect(303);
      expect(res.headers.location).to.equal(quizUrl());
      expect(await QuizAttempt.countDocuments({ userId: user._id })).to.equal(0);

      const page = await me.get(quizUrl()).expect(200);
      expect(page.text).to.match(
        new RegExp(
          `<form method="post" action="${quizUrl()}/start">\\s*<input type="hidden" name="_csrf"`,
        ),
      );
      await me.agent.post(`${quizUrl()}/start`).type('form').send({}).expect(403);
      expect(await QuizAttempt.countDocuments({ userId: user._id })).to.equal(0);

      await startQuiz(me);
      expect(await QuizAttempt.countDocuments({ userId: user._id })).to.equal(1);
    });

    it('returns the same open attempt when the quiz is opened again before submitting', async () => {
      const { user, me } = await newLearner();
      const first = await startQuiz(me);
      const second = await startQuiz(me);
      expect(second.attemptId).to.equal(first.attemptId);
      expect(await QuizAttempt.countDocuments({ userId: user._id })).to.equal(1);
    });

    it('reuses the latest open attempt of this quiz version started within a day, and no other', async () => {
      const { user, me } = await newLearner();
      const first = await startQuiz(me);
      const HOUR = 60 * 60 * 1000;
      const startedBefore = (hours: number) => new Date(Date.now() - hours * HOUR);
      const setStarted = (attemptId: string, hours: number) =>
        QuizAttempt.updateOne({ attemptId }, { $set: { startedAt: startedBefore(hours) } });
      await QuizAttempt.updateOne(
        { attemptId: first.attemptId },
        { $set: { submittedAt: new Date() } },
      );
      const later = await startQuiz(me);
      expect(later.attemptId, 'a submitted attempt is never reused').to.not.equal(first.attemptId);
      // Two open attempts: the one started last is reused, whichever it is.
      await QuizAttempt.updateOne({ attemptId: first.attemptId }, { $set: { submittedAt: null } });
      await setStarted(first.attemptId, 2);
      await setStarted(later.attemptId, 1);
      expect((await startQuiz(me)).attemptId).to.equal(later.attemptId);
      await setStarted(first.attemptId, 0.5);
      expect((await startQuiz(me)).attemptId).to.equal(first.attemptId);
      // Older than a day: a new attempt.
      await QuizAttempt.updateMany(
        { userId: user._id },
        { $set: { startedAt: startedBefore(25) } },
      );
      const fresh = await startQuiz(me);
      expect([first.attemptId, later.attemptId]).to.not.include(fresh.attemptId);
      // Started on another version of the quiz: a new attempt too.
      await QuizAttempt.updateOne(
        { attemptId: fresh.attemptId },
        { $set: { fingerprint: '0000000000000000' } },
      );
      const again = await startQuiz(me);
      expect([first.attemptId, later.attemptId, fresh.attemptId]).to.not.include(again.attemptId);
      expect(await QuizAttempt.countDocuments({ userId: user._id })).to.equal(4);
    });
  });

  describe('POST …/quiz/attempts/:attemptId', () => {
    it('passes with every answer right: score, feedback with explanations, history', async () => {
      const { user, me } = await newLearner();
      const { url, attempt } = await startQuiz(me);
      const res = await me.post(url, correctForm(attempt.questions)).expect(303);
      expect(res.headers.location).to.equal(url);

      const result = await me.get(url).expect(200);
      expect(result.text).to.contain('合格です');
      expect(result.text).to.match(/result-box__number">100<\/span>点/);
      const n = quiz.questions.length;
      expect(result.text).to.contain(`${n}問中 ${n}問正解・合格は${quiz.passPercent}点以上`);
      expect(result.text.match(/○ 正解/g)).to.have.length(n);
      for (const question of quiz.questions) expect(result.text).to.contain(question.explanation);

      const stored = await QuizAttempt.findOne({ attemptId: attempt.attemptId }).lean();
      expect(stored).to.include({ score: 100, correctCount: n, passed: true });
      expect(stored!.submittedAt).to.be.instanceOf(Date);
      const summary = await LearnerProgress.findOne({ userId: user._id }).lean();
      expect(summary!.quizzes['understanding-quiz']).to.include({
        passed: true,
        bestScore: 100,
        lastScore: 100,
        attempts: 1,
      });

      const quizPage = await me.get(quizUrl()).expect(200);
      expect(quizPage.text).to.contain('status status--completed">合格</span> 最高 100点');
      expect(quizPage.text).to.match(
        new RegExp(`<td class="num">100点</td>\\s*<td class="num">${n} / ${n}</td>`),
      );
      expect(quizPage.text).to.contain('もう一度受験する');
    });

    it('fails with wrong answers, showing the correct answer and explanation; a retake can pass', async () => {
      const { user, me } = await newLearner();
      const first = await startQuiz(me);
      const form = correctForm(first.attempt.questions);
      const wrong = wrongForm(first.attempt.questions);
      // The fewest wrong answers that fail: k wrong of n.
      const n = quiz.questions.length;
      let k = 1;
      while (Math.floor(((n - k) * 100) / n) >= quiz.passPercent) k++;
      const score = Math.floor(((n - k) * 100) / n);
      const wrongOnes = first.attempt.questions.slice(0, k).map((q) => `q_${q.id}`);
      await me
        .post(first.url, { ...form, ...Object.fromEntries(wrongOnes.map((f) => [f, wrong[f]])) })
        .expect(303);
      const result = await me.get(first.url).expect(200);
      expect(result.text).to.contain('今回は合格に届きませんでした');
      expect(result.text).to.contain(`result-box__number">${score}</span>点`);
      expect(result.text.match(/× 不正解/g)).to.have.length(k);
      expect(result.text).to.match(/is-correct[^"]*">[\s\S]*?<span class="badge">正解<\/span>/);
      expect(result.text).to.contain('あなたの回答');
      expect(result.text).to.contain('<strong>解説</strong>');

      let summary = await LearnerProgress.findOne({ userId: user._id }).lean();
      expect(summary!.quizzes['understanding-quiz']).to.include({ bestScore: score, attempts: 1 });
      expect(summary!.quizzes['understanding-quiz'].passed).to.equal(undefined);

      const retake = await startQuiz(me);
      expect(retake.attemptId).not.to.equal(first.attemptId);
      await me.post(retake.url, correctForm(retake.attempt.questions)).expect(303);
      summary = await LearnerProgress.findOne({ userId: user._id }).lean();
      expect(summary!.quizzes['understanding-quiz']).to.include({
        passed: true,
        bestScore: 100,
        attempts: 2,
      });

      // A later failure does not take the pass away.
      const third = await startQuiz(me);
      await me.post(third.url, wrongForm(third.attempt.questions)).expect(303);
      summary = await LearnerProgress.findOne({ userId: user._id }).lean();
      expect(summary!.quizzes['understanding-quiz']).to.include({
        passed: true,
        bestScore: 100,
        lastScore: 0,
        attempts: 3,
      });
      const history = await me.get(quizUrl()).expect(200);
      expect(history.text.match(/結果を見る/g)).to.have.length(3);
    });

    it('records a submission as the model would: the schema validates it, same fields and types', async () => {
      const { me } = await newLearner();
      const { url, attempt } = await startQuiz(me);
      // A copy of the attempt, submitted through the model with the same grading.
      const { _id, ...copy } = (await QuizAttempt.collection.findOne({
        attemptId: attempt.attemptId,
      }))!;
      const referenceId = `${copy.attemptId}-ref`;
      await QuizAttempt.collection.insertOne({ ...copy, attemptId: referenceId });
      // Every answer right but the first question's.
      const form = {
        ...correctForm(attempt.questions),
        ...wrongForm(attempt.questions.slice(0, 1)),
      };
      await me.post(url, form).expect(303);
      const stored = (await QuizAttempt.collection.findOne({ _id }))!;
      await QuizAttempt.hydrate(stored).validate();
      await QuizAttempt.findOneAndUpdate(
        { attemptId: referenceId },
        {
          $set: {
            answers: stored.answers,
            correctCount: stored.correctCount,
            score: stored.score,
            passed: stored.passed,
            submittedAt: stored.submittedAt,
          },
        },
      );
      const reference = (await QuizAttempt.collection.findOne({ attemptId: referenceId }))!;
      expect(shape(stored)).to.deep.equal(shape(reference));
      expect(stored.answers).to.deep.equal(reference.answers);
      expect(stored.answers.filter((a: { correct: boolean }) => !a.correct)).to.have.length(1);
      expect(stored.updatedAt.getTime()).to.be.above(stored.createdAt.getTime() - 1);
      expect(stored.updatedAt).to.deep.equal(stored.submittedAt);
    });

    it('refuses a second submission of the same attempt and records nothing twice', async () => {
      const { user, me } = await newLearner();
      const { url, attempt } = await startQuiz(me);
      await me.post(url, correctForm(attempt.questions)).expect(303);
      const again = await me.post(url, wrongForm(attempt.questions)).expect(409);
      expect(again.text).to.contain('この受験の回答はすでに提出され、採点されています。');
      expect(again.text).to.contain(`href="${url}">結果を見る`);
      const stored = await QuizAttempt.findOne({ attemptId: attempt.attemptId }).lean();
      expect(stored).to.include({ score: 100, passed: true });
      const summary = await LearnerProgress.findOne({ userId: user._id }).lean();
      expect(summary!.quizzes['understanding-quiz'].attempts).to.equal(1);
    });

    it('records only one of two concurrent submissions', async () => {
      const { user, me } = await newLearner();
      const { url, attempt } = await startQuiz(me);
      const [a, b] = await Promise.all([
        me.post(url, correctForm(attempt.questions)),
        me.post(url, correctForm(attempt.questions)),
      ]);
      expect([a.status, b.status].sort()).to.deep.equal([303, 409]);
      const summary = await LearnerProgress.findOne({ userId: user._id }).lean();
      expect(summary!.quizzes['understanding-quiz'].attempts).to.equal(1);
    });

    const foreignCases: [
      string,
      (q: { id: string; type: string; options: { id: string }[] }[]) => Record<string, string[]>,
      string,
    ][] = [
      [
        'an option id that no question has',
        (qs) => ({ [`q_${qs[0].id}`]: ['zz'] }),
        'その問題の選択肢にないもの',
      ],
      [
        'two answers to a single-choice question',
        (qs) => {
          const single = qs.find((q) => q.type === 'single')!;
          return { [`q_${single.id}`]: single.options.slice(0, 2).map((o) => o.id) };
        },
        '1つだけ選ぶ問題です',
      ],
      [
        'an answer to a question that is not in the quiz',
        () => ({ q_q99: ['a'] }),
        'この確認テストにない問題',
      ],
    ];
    for (const [name, build, message] of foreignCases) {
      it(`answers 400 for ${name}, recording nothing`, async () => {
        const { me } = await newLearner();
        const { url, attempt } = await startQuiz(me);
        const form = { ...correctForm(attempt.questions), ...build(attempt.questions) };
        const res = await me.post(url, form).expect(400);
        expect(res.text).to.contain(message);
        const stored = await QuizAttempt.findOne({ attemptId: attempt.attemptId }).lean();
        expect(stored!.submittedAt).to.equal(null);
        expect(stored!.answers).to.equal(undefined);
      });
    }

    it('shows the form again for unanswered questions, with messages and the choices kept', async () => {
      const { me } = await newLearner();
      const { url, attempt } = await startQuiz(me);
      const form = correctForm(attempt.questions);
      const missing1 = attempt.questions.find((q) => q.type === 'single')!;
      const missing2 = attempt.questions.find((q) => q.type === 'multiple')!;
      delete form[`q_${missing1.id}`];
      delete form[`q_${missing2.id}`];
      const res = await me.post(url, form).expect(422);
      expect(res.text).to.contain('まだ答えていない問題が2問あります。');
      expect(res.text).to.contain('選択肢を1つ選んでください。');
      expect(res.text).to.contain('当てはまる選択肢をすべて選んでください。');
      expect(res.text).to.contain(
        `<fieldset class="question question--error" id="q_${missing1.id}">`,
      );
      // A kept answer: another single-choice question has its chosen option checked.
      const kept = attempt.questions.find((q) => q.type === 'single' && q.id !== missing1.id)!;
      expect(res.text).to.contain(`name="q_${kept.id}" value="${kept.answer[0]}" checked`);
      const stored = await QuizAttempt.findOne({ attemptId: attempt.attemptId }).lean();
      expect(stored!.submittedAt).to.equal(null);
    });

    it('answers 404 for another learner’s attempt, on GET and POST', async () => {
      const owner = await newLearner();
      const { url, attempt } = await startQuiz(owner.me);
      const other: { me: SignedIn } = await newLearner();
      await other.me.get(url).expect(404);
      await other.me.post(url, correctForm(attempt.questions)).expect(404);
      const stored = await QuizAttempt.findOne({ attemptId: attempt.attemptId }).lean();
      expect(stored!.submittedAt).to.equal(null);
    });

    it('answers 404 for an attempt addressed under another module', async () => {
      const { me } = await newLearner();
      const { attemptId } = await startQuiz(me);
      await me.get(`${quizUrl('principles')}/attempts/${attemptId}`).expect(404);
    });
  });
});
