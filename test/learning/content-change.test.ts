import { appendFileSync, rmSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { Express } from 'express';
import { createApp } from '../../src/app.js';
import { loadCatalog } from '../../src/courses/loader.js';
import { LessonProgress } from '../../src/learning/lesson-progress.model.js';
import { QuizAttempt } from '../../src/learning/quiz-attempt.model.js';
import { silentLogger } from '../../src/lib/logger.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';
import {
  MODULE,
  completeModule,
  copyCourses,
  editFile,
  lessonUrl,
  quizUrl,
  realModule,
  startQuiz,
} from './helpers.js';

/**
 * The rule in courses/README.md, "Stable ids and changes": progress is kept by id; editing text
 * keeps it; a removed lesson's read mark stays stored but no longer counts; a changed quiz gets a
 * new fingerprint, earlier passes stay valid, and new attempts use the new questions.
 */
describe('content changes after learners have progress (restart with edited files)', () => {
  let coursesDir: string;
  let t: TestApp;
  const moduleDir = () => path.join(coursesDir, 'basic-training', 'modules', '01-understanding');

  before(async () => {
    coursesDir = copyCourses();
    t = await createTestApp({ COURSES_DIR: coursesDir });
  });
  after(async () => {
    await t.close();
    rmSync(coursesDir, { recursive: true, force: true });
  });

  /** "Restart": a new app on the same database with the content read again from the files. */
  async function restart(): Promise<Express> {
    const catalog = await loadCatalog(coursesDir);
    return createApp({ config: t.config, logger: silentLogger, database: t.database, catalog });
  }

  it('keeps read marks, quiz passes and open attempts sensible across edits', async () => {
    const { user, password } = await buildUser({ roles: ['trainee'] });
    const before = await signIn(t.app, user, password);
    await completeModule(
      before,
      MODULE,
      (await realModule()).lessons.map((l) => l.id),
    );
    const passed = await QuizAttempt.findOne({ userId: user._id, passed: true }).lean();
    // An attempt started before the change and never submitted.
    const open = await startQuiz(before);

    // The center edits a lesson's text and changes a quiz question, then restarts.
    appendFileSync(
      path.join(moduleDir(), '01-numbers.md'),
      '\n\n追記：この段落は改訂で加えられました。\n',
    );
    editFile(
      path.join(moduleDir(), 'quiz.yaml'),
      /(- id: q1\n\s+type: single\n\s+text: )(.*)\n/,
      '$1改訂された問題文です。$2\n',
    );
    const app2 = await restart();
    const me = await signIn(app2, user, password);

    const lesson = await me.get(lessonUrl('numbers')).expect(200);
    expect(lesson.text).to.contain('追記：この段落は改訂で加えられました。');
    expect(lesson.text).to.contain('このレッスンは読了しています。');

    const overview = await me.get('/learn').expect(200);
    expect(overview.text).to.contain('status status--completed">修了');
    expect(overview.text).to.contain('確認テスト <strong class="ok">合格</strong>');

    // The earlier result still reads as it was, marked as from the older version.
    const oldResult = await me.get(`${quizUrl()}/attempts/${passed!.attemptId}`).expect(200);
    expect(oldResult.text).to.contain('確認テストの内容が更新されました');
    expect(oldResult.text).to.contain('この合格は引き続き有効です。');
    const history = await me.get(quizUrl()).expect(200);
    expect(history.text).to.contain('旧版');

    // The attempt opened before the change cannot be submitted; nothing is recorded.
    const stale = await me.post(open.url, {}).expect(303);
    expect(stale.headers.location).to.equal(quizUrl());
    expect((await me.get(quizUrl())).text).to.contain(
      '確認テストの内容が更新されたため、新しい問題でもう一度受験してください。',
    );
    expect((await QuizAttempt.findOne({ attemptId: open.attemptId }).lean())!.submittedAt).to.equal(
      null,
    );

    // A new attempt uses the new questions and fingerprint.
    const fresh = await startQuiz(me);
    expect(fresh.attemptId).not.to.equal(open.attemptId);
    expect(fresh.attempt.fingerprint).not.to.equal(passed!.fingerprint);
    expect(fresh.attempt.questions.find((q) => q.id === 'q1')!.text).to.match(
      /^改訂された問題文です。/,
    );
  });

  it('stops counting a removed lesson but keeps its read mark in the database', async () => {
    const { user, password } = await buildUser({ roles: ['trainee'] });
    const me1 = await signIn(await restart(), user, password);
    await me1.get(lessonUrl('numbers')).expect(200);
    await me1.post(`${lessonUrl('numbers')}/read`).expect(303);
    await me1.get(lessonUrl('prefecture-measures')).expect(200);
    await me1.post(`${lessonUrl('prefecture-measures')}/read`).expect(303);
    const beforePage = await me1.get(`/learn/basic-training/${MODULE}`).expect(200);
    expect(beforePage.text).to.contain('レッスン 2 / 4 読了');

    unlinkSync(path.join(moduleDir(), '04-prefecture-measures.md'));
    editFile(path.join(moduleDir(), 'module.md'), /,\s*prefecture-measures\]/, ']');
    const me = await signIn(await restart(), user, password);
    const page = await me.get(`/learn/basic-training/${MODULE}`).expect(200);
    expect(page.text).to.contain('レッスン 1 / 3 読了');
    await me.get(lessonUrl('prefecture-measures')).expect(404);
    expect(
      await LessonProgress.countDocuments({ userId: user._id, lessonId: 'prefecture-measures' }),
    ).to.equal(1);
  });
});
