import { expect } from 'chai';
import request from 'supertest';
import type { Types } from 'mongoose';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';
import { LearnerProgress } from '../../src/learning/learner-progress.model.js';
import { LessonProgress } from '../../src/learning/lesson-progress.model.js';
import { User } from '../../src/users/user.model.js';
import type { Module, Program } from '../../src/courses/catalog.types.js';
import { MODULE, PROGRAM, completeModule, lessonUrl, realCatalog, realModule } from './helpers.js';

describe('learning pages', () => {
  let t: TestApp;
  let program: Program;
  let first: Module;
  let lessonIds: string[];
  before(async () => {
    t = await createTestApp();
    program = (await realCatalog()).program(PROGRAM)!;
    first = await realModule();
    lessonIds = first.lessons.map((l) => l.id);
  });
  after(async () => {
    await t.close();
  });

  async function newLearner(roles: ('trainee' | 'supervisor' | 'coordinator')[] = ['trainee']) {
    const { user, password } = await buildUser({ roles });
    return { user, me: await signIn(t.app, user, password) };
  }

  describe('access', () => {
    it('sends anonymous visitors to the login page', async () => {
      const res = await request(t.app).get('/learn').expect(302);
      expect(res.headers.location).to.equal('/login?next=%2Flearn');
      await request(t.app).get(lessonUrl('numbers')).expect(302);
    });

    it('lets any signed-in user learn, e.g. a supervisor', async () => {
      const { me } = await newLearner(['supervisor']);
      await me.get(lessonUrl('numbers')).expect(200);
    });

    it('shows 研修 and 学習の記録 in the menu', async () => {
      const { me } = await newLearner();
      const res = await me.get('/learn').expect(200);
      expect(res.text).to.match(/href="\/learn"[^>]*>研修</);
      expect(res.text).to.match(/href="\/learn\/me"[^>]*>学習の記録</);
    });

    it('answers 404 for programs, modules and lessons that do not exist', async () => {
      const { user, me } = await newLearner();
      for (const url of [
        '/learn/no-such-program',
        `/learn/${PROGRAM}/no-such-module`,
        `/learn/${PROGRAM}/${MODULE}/no-such-lesson`,
        `/learn/no-such-program/${MODULE}/numbers`,
        `/learn/${PROGRAM}/principles/numbers`, // a lesson of another module
        `/learn/${PROGRAM}/no-such-module/quiz`,
        `/learn/${PROGRAM}/${MODULE}/quiz/attempts/not-an-id`,
      ]) {
        const res = await me.get(url);
        expect(res.status, url).to.equal(404);
        expect(res.text).to.contain('見つかりませんでした');
      }
      const post = await me.post(`/learn/${PROGRAM}/${MODULE}/no-such-lesson/read`);
      expect(post.status).to.equal(404);
      expect(await LessonProgress.countDocuments({ userId: user._id })).to.equal(0);
    });
  });

  describe('GET /learn (program overview)', () => {
    it('lists every module as not started, with a button to begin', async () => {
      const { me } = await newLearner();
      const res = await me.get('/learn').expect(200);
      expect(res.text).to.contain('ひきこもり支援者 多職種基礎研修');
      for (const title of [
        'ひきこもりの理解と長野県の現状',
        '支援の基本的な考え方',
        '事例検討とスーパービジョン',
      ]) {
        expect(res.text).to.contain(title);
      }
      expect(res.text.match(/status status--not_started">未着手/g)).to.have.length(8);
      expect(res.text).to.contain(
        `href="${lessonUrl('numbers')}">学習を始める：${first.lessons[0].title}`,
      );
      expect(res.text).to.match(/<progress class="learn-progress" max="100" value="0"/);
    });

    it('moves progress, status and the next step as the learner goes', async () => {
      const { me } = await newLearner();
      await me.get(lessonUrl('numbers')).expect(200);
      let res = await me.get('/learn').expect(200);
      expect(res.text).to.contain('status status--in_progress">学習中');
      expect(res.text).to.contain(
        `href="${lessonUrl('numbers')}">続きから読む：${first.lessons[0].title}`,
      );

      await me.post(`${lessonUrl('numbers')}/read`).expect(303);
      res = await me.get('/learn').expect(200);
      expect(res.text).to.contain(`レッスン 1 / ${lessonIds.length} 読了`);
      expect(res.text).to.contain(`href="${lessonUrl('municipalities')}">続きから：`);

      await completeModule(me, MODULE, lessonIds);
      res = await me.get('/learn').expect(200);
      expect(res.text).to.contain('status status--completed">修了');
      expect(res.text).to.contain(`レッスン ${lessonIds.length} / ${lessonIds.length} 読了`);
      expect(res.text).to.contain('確認テスト <strong class="ok">合格</strong>');
      // The first module's lessons and quiz, over all lessons, quizzes and the case study.
      const total = program.totals.lessons + program.totals.quizzes + 1;
      const percent = Math.floor(((lessonIds.length + 1) * 100) / total);
      expect(res.text).to.contain(`learn-summary__percent">${percent}<small>`);
      expect(res.text).to.contain(
        `href="/learn/basic-training/${program.modules[1].id}/${program.modules[1].lessons[0].id}">続きから：`,
      );
    });
  });

  describe('lesson pages', () => {
    it('shows the lesson with its estimate, sources, read button and neighbours', async () => {
      const { me } = await newLearner();
      const res = await me.get(lessonUrl('municipalities')).expect(200);
      expect(res.text).to.contain('<meta name="viewport"');
      expect(res.text).to.match(/読む目安 約\d+分/);
      expect(res.text).to.contain('<h2 id="sources-title">出典</h2>');
      expect(res.text).to.contain('長野県「長野県における今後のひきこもり支援のあり方【概要】」');
      expect(res.text).to.contain('>読了にする</button>');
      expect(res.text).to.contain(`class="pager__prev" href="${lessonUrl('numbers')}"`);
      expect(res.text).to.contain(`class="pager__next" href="${lessonUrl('social-issue')}"`);
      expect(res.text).not.to.match(/<script(?! src="\/public\/js\/app.js")/);
    });

    it('leads from the last lesson of a module to its quiz', async () => {
      const { me } = await newLearner();
      const res = await me.get(lessonUrl(lessonIds[lessonIds.length - 1])).expect(200);
      expect(res.text).to.contain(`class="pager__next" href="/learn/${PROGRAM}/${MODULE}/quiz"`);
    });

    it('keeps an opening in the learner’s summary with one write; the lesson’s record comes with reading', async () => {
      const { user, me } = await newLearner();
      const before = Date.now();
      await me.get(lessonUrl('numbers')).expect(200);
      expect(await LessonProgress.countDocuments({ userId: user._id })).to.equal(0);
      const summary = await LearnerProgress.findOne({ userId: user._id }).lean();
      expect(summary!.position).to.include({ moduleId: MODULE, lessonId: 'numbers' });
      const openedAt = (summary!.lessonOpenedAt as Record<string, Date>).numbers;
      expect(openedAt.getTime()).to.be.within(before, Date.now());

      await me.post(`${lessonUrl('numbers')}/read`).expect(303);
      const record = await LessonProgress.findOne({ userId: user._id, lessonId: 'numbers' }).lean();
      expect(record).to.include({ programId: PROGRAM, moduleId: MODULE });
      expect(record!.readAt).to.be.instanceOf(Date);
      expect(record!.firstOpenedAt.getTime()).to.equal(openedAt.getTime());
      expect(String(record!.municipalityId)).to.equal(String(user.municipalityId));
      expect(String(record!.regionId)).to.equal(String(user.regionId));
    });
    it('writes nothing when the same lesson is reloaded within a minute', async () => {
      const { user, me } = await newLearner();
      await me.get(lessonUrl('numbers')).expect(200);
      const summaryBefore = await LearnerProgress.findOne({ userId: user._id }).lean();
      await me.get(lessonUrl('numbers')).expect(200);
      const summaryAfter = await LearnerProgress.findOne({ userId: user._id }).lean();
      expect(summaryAfter!.updatedAt.getTime()).to.equal(summaryBefore!.updatedAt.getTime());
      // Another lesson moves the position at once.
      await me.get(lessonUrl('municipalities')).expect(200);
      const moved = await LearnerProgress.findOne({ userId: user._id }).lean();
      expect(moved!.position).to.include({ lessonId: 'municipalities' });
    });
  });

  /**
   * The record of the lesson "numbers" as a crash left it (read, the summary not yet written) or
   * an earlier version did (opened, not read).
   */
  const numbersRecord = (
    userId: Types.ObjectId,
    openedAt: Date,
    reading: { readAt?: Date; secondsSpent?: number } = {},
  ) =>
    LessonProgress.create({
      userId,
      programId: PROGRAM,
      moduleId: MODULE,
      lessonId: 'numbers',
      firstOpenedAt: openedAt,
      lastOpenedAt: openedAt,
      ...reading,
    });

  describe('POST /learn/:program/:module/:lesson/read', () => {
    it('marks the lesson as read once, shows the mark, and counts time spent', async () => {
      const { user, me } = await newLearner();
      await me.get(lessonUrl('numbers')).expect(200);
      // Pretend the learner opened it 3 minutes ago.
      await LearnerProgress.updateOne(
        { userId: user._id },
        { $set: { 'lessonOpenedAt.numbers': new Date(Date.now() - 180_000) } },
      );
      const res = await me.post(`${lessonUrl('numbers')}/read`).expect(303);
      expect(res.headers.location).to.equal(`${lessonUrl('numbers')}#read`);
      const page = await me.get(lessonUrl('numbers')).expect(200);
      expect(page.text).to.contain(`「${first.lessons[0].title}」を読了にしました。`);
      expect(page.text).to.contain('このレッスンは読了しています。');
      expect(page.text).not.to.contain('>読了にする</button>');

      const again = await me.post(`${lessonUrl('numbers')}/read`).expect(303);
      expect(again.headers.location).to.equal(`${lessonUrl('numbers')}#read`);
      expect((await me.get(lessonUrl('numbers'))).text).to.contain(
        'このレッスンはすでに読了しています。',
      );

      const records = await LessonProgress.find({ userId: user._id, lessonId: 'numbers' }).lean();
      expect(records).to.have.length(1);
      expect(records[0].readAt).to.be.instanceOf(Date);
      expect(records[0].secondsSpent).to.be.within(175, 200);
      const summary = await LearnerProgress.findOne({ userId: user._id }).lean();
      expect(summary!.readLessons).to.deep.equal(['numbers']);
      expect(summary!.secondsSpent).to.equal(records[0].secondsSpent);

      const modulePage = await me.get(`/learn/${PROGRAM}/${MODULE}`).expect(200);
      expect(modulePage.text).to.match(/lesson-list__item--read">\s*<a href="[^"]+numbers">/);
      expect(modulePage.text).to.contain('✓ 読了');
    });

    it('completes a mark a crash left half-written when the learner presses again', async () => {
      const { user, me } = await newLearner();
      await me.get(lessonUrl('numbers')).expect(200);
      // The first of the two writes happened, the process died before the second.
      const now = new Date();
      await numbersRecord(user._id, now, { readAt: now, secondsSpent: 120 });
      const before = await me.get(lessonUrl('numbers')).expect(200);
      expect(before.text).to.contain('>読了にする</button>');

      await me.post(`${lessonUrl('numbers')}/read`).expect(303);
      const page = await me.get(lessonUrl('numbers')).expect(200);
      expect(page.text).to.contain(`「${first.lessons[0].title}」を読了にしました。`);
      expect(page.text).to.contain('このレッスンは読了しています。');
      const summary = await LearnerProgress.findOne({ userId: user._id }).lean();
      expect(summary!.readLessons).to.deep.equal(['numbers']);
      expect(summary!.secondsSpent).to.equal(120);

      // Pressing once more counts nothing twice.
      await me.post(`${lessonUrl('numbers')}/read`).expect(303);
      expect((await me.get(lessonUrl('numbers'))).text).to.contain(
        'このレッスンはすでに読了しています。',
      );
      const after = await LearnerProgress.findOne({ userId: user._id }).lean();
      expect(after!.readLessons).to.deep.equal(['numbers']);
      expect(after!.secondsSpent).to.equal(120);
    });

    it('completes a half-written mark when the learner has no summary yet', async () => {
      const { user, me } = await newLearner();
      const now = new Date();
      await numbersRecord(user._id, now, { readAt: now, secondsSpent: 30 });
      expect(await LearnerProgress.countDocuments({ userId: user._id })).to.equal(0);
      await me.post(`${lessonUrl('numbers')}/read`).expect(303);
      const summary = await LearnerProgress.findOne({ userId: user._id }).lean();
      expect(summary!.readLessons).to.deep.equal(['numbers']);
      expect(summary!.secondsSpent).to.equal(30);
      const overview = await me.get(`/learn/${PROGRAM}/${MODULE}`).expect(200);
      expect(overview.text).to.match(/lesson-list__item--read">\s*<a href="[^"]+numbers">/);
    });

    it('writes the summary first: a mark stopped before its summary leaves nothing half-marked', async () => {
      const { user, me } = await newLearner();
      await me.get(lessonUrl('numbers')).expect(200);
      // The process dies as the summary is written (the first write of a mark, sent through the
      // driver): the collection's findOneAndUpdate (from its prototype) is shadowed for one request.
      Object.defineProperty(LearnerProgress.collection, 'findOneAndUpdate', {
        configurable: true,
        value: () => {
          throw new Error('the process stopped here');
        },
      });
      try {
        await me.post(`${lessonUrl('numbers')}/read`).expect(500);
      } finally {
        delete (LearnerProgress.collection as { findOneAndUpdate?: unknown }).findOneAndUpdate;
      }
      // Nothing of the mark was written: not the lesson's record either.
      const record = await LessonProgress.findOne({ userId: user._id, lessonId: 'numbers' }).lean();
      expect(record?.readAt ?? null).to.equal(null);
      expect((await me.get(lessonUrl('numbers')).expect(200)).text).to.contain(
        '>読了にする</button>',
      );
      await me.post(`${lessonUrl('numbers')}/read`).expect(303);
      const summary = await LearnerProgress.findOne({ userId: user._id }).lean();
      expect(summary!.readLessons).to.deep.equal(['numbers']);
    });

    it('shows a lesson read when a mark stopped before the lesson’s record (read, no date)', async () => {
      const { user, me } = await newLearner();
      await me.get(lessonUrl('numbers')).expect(200);
      // The summary took the lesson; the process died before the lesson's record got its date.
      await LearnerProgress.updateOne(
        { userId: user._id },
        { $addToSet: { readLessons: 'numbers' }, $inc: { secondsSpent: 90 } },
      );
      const page = await me.get(lessonUrl('numbers')).expect(200);
      expect(page.text).to.contain('このレッスンは読了しています。');
      const record = await me.get('/learn/me').expect(200);
      expect(record.text).to.contain('読了したレッスン（1）');
      expect(record.text).to.contain(`${first.lessons[0].title}</a> <span class="small muted">（`);
      // Pressing again counts nothing twice.
      await me.post(`${lessonUrl('numbers')}/read`).expect(303);
      const summary = await LearnerProgress.findOne({ userId: user._id }).lean();
      expect(summary!.readLessons).to.deep.equal(['numbers']);
      expect(summary!.secondsSpent).to.equal(90);
    });

    it('caps the time counted for a lesson left open for hours', async () => {
      const { user, me } = await newLearner();
      await me.get(lessonUrl('numbers')).expect(200);
      await LearnerProgress.updateOne(
        { userId: user._id },
        { $set: { 'lessonOpenedAt.numbers': new Date(Date.now() - 5 * 3600_000) } },
      );
      await me.post(`${lessonUrl('numbers')}/read`).expect(303);
      const record = await LessonProgress.findOne({ userId: user._id, lessonId: 'numbers' }).lean();
      // Twice the lesson's estimate, at least 10 and at most 60 minutes.
      const lesson = first.lessons.find((l) => l.id === 'numbers')!;
      const cap = Math.min(Math.max(lesson.estimatedMinutes * 2, 10), 60) * 60;
      expect(record!.secondsSpent).to.equal(cap);
    });

    it('counts the time of a lesson opened before this version (a record without readAt)', async () => {
      const { user, me } = await newLearner();
      const openedAt = new Date(Date.now() - 240_000);
      await numbersRecord(user._id, openedAt);
      await me.post(`${lessonUrl('numbers')}/read`).expect(303);
      const records = await LessonProgress.find({ userId: user._id, lessonId: 'numbers' }).lean();
      expect(records).to.have.length(1);
      expect(records[0].secondsSpent).to.be.within(235, 260);
      const summary = await LearnerProgress.findOne({ userId: user._id }).lean();
      expect(summary!.readLessons).to.deep.equal(['numbers']);
    });

    it('goes on to the next lesson when asked', async () => {
      const { me } = await newLearner();
      const res = await me.post(`${lessonUrl('numbers')}/read`, { then: 'next' }).expect(303);
      expect(res.headers.location).to.equal(lessonUrl('municipalities'));
    });

    it('refuses a POST without the CSRF token', async () => {
      const { me } = await newLearner();
      await me.agent
        .post(`${lessonUrl('numbers')}/read`)
        .type('form')
        .send({})
        .expect(403);
    });
  });

  describe('resume', () => {
    it('offers to continue where the learner left off, across sign-ins', async () => {
      const { user, me } = await newLearner();
      await me.get(lessonUrl('social-issue')).expect(200);
      const summary = await LearnerProgress.findOne({ userId: user._id }).lean();
      expect(summary!.position).to.include({ moduleId: MODULE, lessonId: 'social-issue' });

      const password = 'correct-horse-battery-staple';
      const again = await signIn(t.app, (await User.findById(user._id))!, password);
      const res = await again.get('/learn').expect(200);
      expect(res.text).to.contain(`href="${lessonUrl('social-issue')}">続きから読む：`);
    });
  });

  describe('GET /learn/me', () => {
    it('shows what is done, what is next, quiz results and time spent', async () => {
      const { me }: { me: SignedIn } = await newLearner();
      let res = await me.get('/learn/me').expect(200);
      expect(res.text).to.contain('学習の記録');
      expect(res.text).to.contain('まだ受験していません。');
      await completeModule(me, MODULE, lessonIds);
      res = await me.get('/learn/me').expect(200);
      expect(res.text).to.contain(`読了したレッスン（${lessonIds.length}）`);
      expect(res.text).to.contain(first.lessons[0].title);
      expect(res.text).to.match(
        new RegExp(
          `${first.quiz!.title}</a></td>\\s*<td class="num" data-label="得点">100点</td>\\s*<td data-label="結果">合格</td>`,
        ),
      );
      expect(res.text).to.contain('学習時間（目安）');
      expect(res.text).to.contain('修了した単元');
      expect(res.text).to.contain('続きから：');
      expect(res.text).not.to.contain('学習を始める：');
    });
  });
});
