import { expect } from 'chai';
import { readCaches } from '../../src/cache/read-caches.js';
import { Types } from 'mongoose';
import { LearnerProgress } from '../../src/learning/learner-progress.model.js';
import { writeSummary } from '../../src/learning/progress.service.js';
import { createTestApp, testStore, type TestApp } from '../helpers/app.js';
import { commandsDuring } from '../helpers/commands.js';
import { signIn } from '../helpers/auth.js';
import { eventually } from '../helpers/eventually.js';
import { buildUser } from '../helpers/factories.js';

const LESSON = '/learn/basic-training/understanding/numbers';
const QUIZ = '/learn/basic-training/understanding/quiz';

describe('database round trips of opening a lesson and marking it read (bench:load’s busiest requests)', function () {
  let t: TestApp;
  before(async function () {
    if (!testStore()) this.skip(); // counts commands of the embedded store
    t = await createTestApp();
    await eventually(() => readCaches()?.feed.live === true, 'the change feed is live');
  });
  after(async () => {
    await t?.close();
  });

  it('writes the lesson and the summary, and neither reads the case study nor touches the session', async () => {
    const { user, password } = await buildUser({ roles: ['trainee'] });
    const me = await signIn(t.app, user, password);
    await me.get(LESSON).expect(200);
    let location = '';
    const commands = await commandsDuring(async () => {
      const read = await me.post(`${LESSON}/read`).expect(303);
      location = read.headers.location;
      const page = await me.get(location).expect(200);
      expect(page.text).to.contain('を読了にしました。');
    });
    expect(commands).to.deep.equal({
      // The summary written and returned in one command (for the completion check), and kept in
      // the cache as written, as the opening's was: neither the mark nor the page after it reads
      // the summary, nor the lesson record.
      'findAndModify learner_progress': 1,
      'update lesson_progress': 1,
    });
    expect(commands['find lesson_progress'] ?? 0, 'lesson record reads').to.equal(0);
    // The program needs an approved case study, but its modules are far from done.
    expect(commands['find case_studies'] ?? 0, 'case-study reads').to.equal(0);
    const session = Object.keys(commands).filter((key) => key.endsWith(' sessions'));
    expect(session, 'session reads and writes').to.deep.equal([]);
  });

  it('opens a new lesson with one write (the summary, returned as written) and no read', async () => {
    const { user, password } = await buildUser({ roles: ['trainee'] });
    const me = await signIn(t.app, user, password);
    await me.get(LESSON).expect(200);
    const next = '/learn/basic-training/understanding/municipalities';
    expect(await commandsDuring(() => me.get(next).expect(200))).to.deep.equal({
      'findAndModify learner_progress': 1,
    });
    // Reloaded at once: the summary the opening wrote is in the cache; nothing to write.
    expect(await commandsDuring(() => me.get(next).expect(200))).to.deep.equal({});
  });

  it('writes the summary as the model would: same fields, values and types on insert and update', async () => {
    const now = new Date('2026-12-02T09:00:00Z');
    const place = new Types.ObjectId();
    // An opening, a mark, a quiz submission (as the services send them), each first on a new
    // summary, then on an existing one.
    const updates = [
      () => ({
        $set: { position: { moduleId: 'm1', lessonId: 'l1', at: now }, 'lessonOpenedAt.l1': now },
        $addToSet: { openedModules: 'm1' },
        $setOnInsert: { municipalityId: place, regionId: null },
      }),
      () => ({
        $addToSet: { readLessons: 'l1', openedModules: 'm1' },
        $inc: { secondsSpent: 42 },
        $setOnInsert: { municipalityId: place, regionId: place },
      }),
      () => ({
        $inc: { 'quizzes.q1.attempts': 1, secondsSpent: 7 },
        $max: { 'quizzes.q1.bestScore': 80 },
        $set: { 'quizzes.q1.lastScore': 80, 'quizzes.q1.passed': true },
        $min: { 'quizzes.q1.passedAt': now },
        $addToSet: { openedModules: 'm1' },
        $setOnInsert: { municipalityId: null, regionId: place },
      }),
    ];
    /** A stored summary without what differs between two learners and two moments. */
    const comparable = async (userId: Types.ObjectId) => {
      const doc = (await LearnerProgress.collection.findOne({ userId }))!;
      const { _id, userId: _user, createdAt, updatedAt, ...rest } = doc;
      expect(createdAt, 'createdAt').to.be.instanceOf(Date);
      expect(updatedAt, 'updatedAt').to.be.instanceOf(Date);
      return rest;
    };
    for (const [index, update] of updates.entries()) {
      const ours = new Types.ObjectId();
      const model = new Types.ObjectId();
      const learner = { userId: ours, municipalityId: place, regionId: place };
      for (const round of [1, 2]) {
        await writeSummary(learner, 'p', update());
        await LearnerProgress.findOneAndUpdate({ userId: model, programId: 'p' }, update(), {
          upsert: true,
        });
        const [written, reference] = [await comparable(ours), await comparable(model)];
        expect(written, `update ${index}, round ${round}`).to.deep.equal(reference);
        const doc = (await LearnerProgress.collection.findOne({ userId: ours }))!;
        await LearnerProgress.hydrate(doc).validate();
      }
    }
  });

  it('starts a quiz without writing the summary when the module is already opened', async () => {
    const { user, password } = await buildUser({ roles: ['trainee'] });
    const me = await signIn(t.app, user, password);
    await me.get(LESSON).expect(200);
    await me.get(LESSON).expect(200);
    const commands = await commandsDuring(() =>
      me.post('/learn/basic-training/understanding/quiz/start').expect(303),
    );
    // The open attempt to reuse found, or a new one stored, in one upsert.
    expect(commands).to.deep.equal({ 'findAndModify quiz_attempts': 1 });
  });

  it('takes a quiz in three writes: the start, then the attempt and the summary on submission', async () => {
    const { user, password } = await buildUser({ roles: ['trainee'] });
    const me = await signIn(t.app, user, password);
    await me.get(LESSON).expect(200);
    await me.get(LESSON).expect(200);
    let attemptUrl = '';
    expect(
      await commandsDuring(async () => {
        attemptUrl = (await me.post(`${QUIZ}/start`).expect(303)).headers.location;
      }),
      'start',
    ).to.deep.equal({ 'findAndModify quiz_attempts': 1 });
    // The attempt the start wrote is in the attempts cache: the page reads nothing.
    let form = '';
    expect(
      await commandsDuring(async () => {
        form = (await me.get(attemptUrl).expect(200)).text;
      }),
      'the attempt page',
    ).to.deep.equal({});
    const answers = Object.fromEntries(
      [...form.matchAll(/name="(q_[\w-]+)" value="([\w-]+)"/g)].map((m) => [m[1], m[2]]),
    );
    expect(Object.keys(answers)).to.not.be.empty;
    expect(
      await commandsDuring(() => me.post(attemptUrl).type('form').send(answers).expect(303)),
      'submission',
    ).to.deep.equal({ 'findAndModify quiz_attempts': 1, 'findAndModify learner_progress': 1 });
    // The attempt as submitted was kept: the result page reads nothing either.
    let result = '';
    expect(
      await commandsDuring(async () => {
        result = (await me.get(attemptUrl).expect(200)).text;
      }),
      'the result page',
    ).to.deep.equal({});
    expect(result).to.contain('result-box__score');
  });

  it('marks the module opened when its quiz is the first thing started', async () => {
    const { user, password } = await buildUser({ roles: ['trainee'] });
    const me = await signIn(t.app, user, password);
    await me.post('/learn/basic-training/understanding/quiz/start').expect(303);
    const summary = await LearnerProgress.findOne({ userId: user._id }).lean();
    expect(summary!.openedModules).to.deep.equal(['understanding']);
  });
});
