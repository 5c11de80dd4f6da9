import { expect } from 'chai';
import type { Program } from '../../src/courses/catalog.types.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';
import {
  PROGRAM,
  completeModule,
  correctForm,
  quizUrl,
  realCatalog,
  startQuiz,
} from './helpers.js';

/** The primary action on each learning page leads on to what comes next. */
describe('next steps after a passed quiz and at the end of the modules', () => {
  let t: TestApp;
  let program: Program;

  before(async () => {
    t = await createTestApp();
    program = (await realCatalog()).program(PROGRAM)!;
  });
  after(async () => {
    await t.close();
  });

  async function newLearner(): Promise<SignedIn> {
    const { user, password } = await buildUser();
    return signIn(t.app, user, password);
  }

  const lessonsOf = (index: number) => program.modules[index].lessons.map((l) => l.id);

  it('offers the next module as the primary button once a module is done, retaking as a quiet one', async () => {
    const me = await newLearner();
    const [first, second] = program.modules;
    await completeModule(me, first.id, lessonsOf(0));
    const quizPage = await me.get(quizUrl(first.id)).expect(200);
    const nextHref = `/learn/${PROGRAM}/${second.id}/${second.lessons[0].id}`;
    expect(quizPage.text).to.contain(
      `<a class="button" href="${nextHref}">次の単元へ進む：${second.title}</a>`,
    );
    expect(quizPage.text).to.contain('class="button button--quiet">もう一度受験する');

    // The result page of the passing attempt says the same.
    const history = /href="([^"]+\/attempts\/[^"]+)">結果を見る/.exec(quizPage.text)![1];
    const result = await me.get(history).expect(200);
    expect(result.text).to.contain('合格です');
    expect(result.text).to.contain(
      `<a class="button" href="${nextHref}">次の単元へ進む：${second.title}</a>`,
    );
  });

  it('leads back to the unread lessons of the same module when the quiz was passed first', async () => {
    const me = await newLearner();
    const first = program.modules[0];
    const { url, attempt } = await startQuiz(me, first.id);
    await me.post(url, correctForm(attempt.questions)).expect(303);
    const result = await me.get(url).expect(200);
    expect(result.text).to.contain(
      `<a class="button" href="/learn/${PROGRAM}/${first.id}/${first.lessons[0].id}">続きから：${first.lessons[0].title}</a>`,
    );
  });

  it('keeps 「もう一度受験する」 as the primary button while the quiz is not passed', async () => {
    const me = await newLearner();
    const first = program.modules[0];
    const { url, attempt } = await startQuiz(me, first.id);
    const wrong = Object.fromEntries(
      attempt.questions.map((q) => [
        `q_${q.id}`,
        [q.options.find((o) => !q.answer.includes(o.id))!.id],
      ]),
    );
    await me.post(url, wrong).expect(303);
    const result = await me.get(url).expect(200);
    expect(result.text).to.contain('今回は合格に届きませんでした');
    expect(result.text).to.contain('<button type="submit" class="button">もう一度受験する');
    expect(result.text).not.to.contain('次の単元へ進む');
  });

  it('after the last module, leads to the case study and says plainly that only it is left', async function () {
    this.timeout(120_000);
    const me = await newLearner();
    for (let index = 0; index < program.modules.length; index++) {
      await completeModule(me, program.modules[index].id, lessonsOf(index));
    }
    const last = program.modules[program.modules.length - 1];
    const quizPage = await me.get(quizUrl(last.id)).expect(200);
    expect(quizPage.text).to.contain(
      `<a class="button" href="/learn/${PROGRAM}/case-study">${program.caseStudy!.title}に取り組む</a>`,
    );
    const plain = `単元はすべて修了しました。残りは「${program.caseStudy!.title}」だけです。`;
    for (const page of [`/learn/${PROGRAM}`, '/learn/me']) {
      const res = await me.get(page).expect(200);
      expect(res.text, page).to.contain(plain);
    }
    const home = await me.get('/').expect(200);
    expect(home.text).to.contain('単元はすべて修了しました。残りは事例検討レポートだけです。');
  });
});
