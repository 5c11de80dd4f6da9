import { expect } from 'chai';
import { MongoClient, type Db } from 'mongodb';
import type { Types } from 'mongoose';
import {
  currentFeed,
  readCaches,
  startReadCaches,
  stopReadCaches,
} from '../../src/cache/read-caches.js';
import { silentLogger } from '../../src/lib/logger.js';
import { LearnerProgress } from '../../src/learning/learner-progress.model.js';
import { User } from '../../src/users/user.model.js';
import {
  createTestApp,
  scratchDatabase,
  testServerUri,
  testStore,
  type TestApp,
} from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { eventually } from '../helpers/eventually.js';
import { buildUser } from '../helpers/factories.js';

const LESSON = '/learn/basic-training/understanding/numbers';

/** Reads of the cached collections the store has answered so far. */
async function cachedReads(): Promise<number> {
  const counts = (await testStore()!).commandCounts();
  return (
    (counts['find sessions'] ?? 0) +
    (counts['find users'] ?? 0) +
    (counts['find learner_progress'] ?? 0)
  );
}

describe('read caches (sessions, users, progress, quiz attempts) kept coherent by the change feed', function () {
  let t: TestApp;
  /** Another app process's view of the same database: a client of its own. */
  let other: MongoClient;
  let otherDb: Db;
  let trainee: SignedIn;
  let userId: Types.ObjectId;

  before(async function () {
    if (!testStore()) this.skip(); // counts commands of the embedded store
    t = await createTestApp();
    await eventually(() => readCaches()?.feed.live === true, 'the change feed is live');
    other = await MongoClient.connect(await testServerUri());
    otherDb = other.db(t.database.name);
  });
  after(async () => {
    await other?.close();
    await t?.close();
  });

  beforeEach(async () => {
    const { user, password } = await buildUser({ roles: ['trainee'] });
    userId = user._id;
    trainee = await signIn(t.app, user, password);
  });

  it('serves a signed-in page again without reading the session, the user or the progress', async () => {
    // The first opening records the position (a write), the second reads the record back.
    await trainee.get(LESSON).expect(200);
    await trainee.get(LESSON).expect(200);
    const before = await cachedReads();
    await trainee.get(LESSON).expect(200);
    await trainee.get('/learn').expect(200);
    await trainee.get('/').expect(200);
    expect(await cachedReads()).to.equal(before);
  });

  it('passes each change’s cluster time on to the caches (the embedded store: times comparable)', async () => {
    const seen: unknown[] = [];
    readCaches()!.feed.subscribe({
      collection: 'users',
      forget: () => undefined,
      forgetId: (id, at) => {
        if (String(id) === String(userId)) seen.push(at);
      },
      clear: () => undefined,
    });
    await otherDb.collection('users').updateOne({ _id: userId }, { $set: { phone: '0260000000' } });
    await eventually(() => seen.length > 0, 'the change event');
    const at = seen[0] as { t?: unknown; i?: unknown } | null;
    expect(at?.t).to.be.a('number');
    expect(at?.i).to.be.a('number');
  });

  it('signs a user out at once when this process suspends the account', async () => {
    await trainee.get('/').expect(200);
    await User.updateOne({ _id: userId }, { $set: { status: 'suspended' } });
    const res = await trainee.get('/learn');
    expect(res.status).to.equal(302);
    expect(res.headers.location).to.match(/^\/login/);
  });

  it('signs a user out when another process suspends the account', async () => {
    await trainee.get('/').expect(200);
    await otherDb.collection('users').updateOne({ _id: userId }, { $set: { status: 'suspended' } });
    await eventually(async () => (await trainee.get('/learn')).status === 302, 'signed out');
  });

  it('follows a role change made by another process', async () => {
    const before = await trainee.get('/').expect(200);
    expect(before.text).not.to.contain('href="/admin/users"');
    await otherDb.collection('users').updateOne({ _id: userId }, { $set: { roles: ['admin'] } });
    await eventually(
      async () => (await trainee.get('/')).text.includes('href="/admin/users"'),
      'the admin menu appears',
    );
  });

  it('ends a session deleted by another process (sign-out elsewhere)', async () => {
    await trainee.get('/').expect(200);
    await otherDb.collection('sessions').deleteMany({});
    await eventually(async () => (await trainee.get('/learn')).status === 302, 'signed out');
  });

  it('shows progress recorded by another process', async () => {
    await trainee.get(LESSON).expect(200); // opening the lesson creates the progress record
    const page = await trainee.get(LESSON).expect(200);
    expect(page.text).not.to.contain('このレッスンは読了しています');
    await otherDb
      .collection('learner_progress')
      .updateOne(
        { userId, programId: 'basic-training' },
        { $addToSet: { readLessons: 'numbers' } },
      );
    await eventually(
      async () => (await trainee.get(LESSON)).text.includes('このレッスンは読了しています'),
      'the lesson shows as read',
    );
  });

  it('shows a quiz submission recorded by another process', async () => {
    await trainee.get(LESSON).expect(200);
    const start = await trainee.post('/learn/basic-training/understanding/quiz/start').expect(303);
    const attemptUrl = start.headers.location;
    // The start kept the attempt in the cache; the page is the form.
    expect((await trainee.get(attemptUrl).expect(200)).text).to.contain('name="_csrf"');
    expect(readCaches()!.attempts.size).to.be.at.least(1);
    await otherDb.collection('quiz_attempts').updateOne(
      { attemptId: attemptUrl.split('/').pop() },
      {
        $set: {
          answers: [],
          score: 0,
          correctCount: 0,
          passed: false,
          submittedAt: new Date(),
        },
      },
    );
    await eventually(
      async () => (await trainee.get(attemptUrl)).text.includes('result-box__score'),
      'the result shows',
    );
  });

  it("shows this process's own progress writes on the very next request", async () => {
    // The first opening creates the record; the next two read it into the cache and from it.
    for (let i = 0; i < 3; i++) await trainee.get(LESSON).expect(200);
    expect(readCaches()!.progress.size).to.be.at.least(1);
    await LearnerProgress.updateOne(
      { userId, programId: 'basic-training' },
      { $addToSet: { readLessons: 'numbers' } },
    );
    const page = await trainee.get(LESSON).expect(200);
    expect(page.text).to.contain('このレッスンは読了しています');
  });

  it("drops only the touched entry when this process writes one user's records", async () => {
    const { user: otherUser, password } = await buildUser({ roles: ['trainee'] });
    const other = await signIn(t.app, otherUser, password);
    for (const agent of [trainee, other]) {
      await agent.get(LESSON).expect(200);
      await agent.get(LESSON).expect(200);
    }
    const caches = readCaches()!;
    const before = await cachedReads();
    await User.updateOne({ _id: userId }, { $set: { name: '改名 花子' } });
    await LearnerProgress.updateOne(
      { userId, programId: 'basic-training' },
      { $addToSet: { readLessons: 'numbers' } },
    );
    // The other learner's user and progress stay cached: no read for them.
    await other.get(LESSON).expect(200);
    expect(await cachedReads()).to.equal(before);
    expect(caches.users.size).to.be.at.least(1);
    // This learner's are read again, and show the change.
    const page = await trainee.get(LESSON).expect(200);
    expect(page.text).to.contain('改名 花子').and.contain('このレッスンは読了しています');
    expect((await cachedReads()) - before).to.equal(2);
  });

  it('forgets everything of a collection that is dropped, and stays live', async () => {
    await trainee.get(LESSON).expect(200);
    await trainee.get(LESSON).expect(200);
    const caches = readCaches()!;
    expect(caches.progress.size).to.be.at.least(1);
    await otherDb.collection('learner_progress').drop();
    await eventually(() => caches.progress.size === 0, 'the progress cache is emptied');
    expect(caches.feed.live).to.equal(true);
    await trainee.get(LESSON).expect(200);
  });

  it('reads from the database while the feed is down, and caches again once it is back', async () => {
    const caches = readCaches()!;
    await trainee.get(LESSON).expect(200);
    // The stream breaks (as on a lost connection): caches are emptied and bypassed.
    await (caches.feed as unknown as { stream: { close(): Promise<void> } }).stream.close();
    await eventually(() => !caches.feed.live, 'the feed is down');
    expect(caches.sessions.size + caches.users.size + caches.progress.size).to.equal(0);
    await otherDb.collection('users').updateOne({ _id: userId }, { $set: { status: 'suspended' } });
    // No waiting: with the feed down the next request reads the account itself.
    expect((await trainee.get('/learn')).status).to.equal(302);
    await eventually(() => caches.feed.live, 'the feed reopens');
  });
});

describe('READ_CACHES=false', () => {
  let t: TestApp;
  before(async function () {
    if (!testStore()) this.skip();
    t = await createTestApp({ READ_CACHES: 'false' });
  });
  after(async () => {
    await t?.close();
  });

  it('reads the session, the user and the progress from the database on every request', async () => {
    const { user, password } = await buildUser({ roles: ['trainee'] });
    const trainee = await signIn(t.app, user, password);
    await trainee.get(LESSON).expect(200);
    await trainee.get(LESSON).expect(200);
    const before = await cachedReads();
    await trainee.get(LESSON).expect(200);
    expect((await cachedReads()) - before).to.equal(3);
    const admin = await buildUser({ roles: ['admin'] });
    const health = await (
      await signIn(t.app, admin.user, admin.password)
    )
      .get('/healthz')
      .expect(200);
    expect(
      (health.body as { database: { readCaches: unknown } }).database.readCaches,
    ).to.deep.equal({ live: false, off: true });
  });
});

describe('startReadCaches and stopReadCaches', () => {
  const scratch = scratchDatabase('caches', { storeOnly: true });

  it('starts the sessions, users, progress and attempts caches on one live feed, each dropping what changes in its collection', async () => {
    const caches = startReadCaches(scratch.db, silentLogger, true);
    try {
      expect(readCaches()).to.equal(caches);
      expect(currentFeed()).to.equal(caches.feed);
      await eventually(() => caches.feed.live, 'the feed is live');
      for (const [cache, collection] of [
        [caches.sessions, 'sessions'],
        [caches.users, 'users'],
        [caches.progress, 'learner_progress'],
        [caches.attempts, 'quiz_attempts'],
      ] as const) {
        await cache.get('k', () => Promise.resolve({ id: 'k', value: { json: '{}' } as never }));
        expect(cache.size).to.equal(1);
        await scratch.db.collection<{ _id: string }>(collection).insertOne({ _id: 'k' });
        await eventually(() => cache.size === 0, `the ${collection} cache drops the entry`);
      }
    } finally {
      await stopReadCaches(caches);
    }
    expect(caches.feed.live).to.equal(false);
    expect(readCaches()).to.equal(null);
    expect(currentFeed()).to.equal(null);
  });

  it('stopping caches that are no longer current leaves the current ones', async () => {
    const first = startReadCaches(scratch.db, silentLogger, true);
    const second = startReadCaches(scratch.db, silentLogger, true);
    await stopReadCaches(first);
    expect(readCaches()).to.equal(second);
    await stopReadCaches(second);
    expect(readCaches()).to.equal(null);
  });
});
