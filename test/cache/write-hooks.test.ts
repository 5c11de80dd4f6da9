import { expect } from 'chai';
import { MongoClient, type ChangeStreamDocument, type Db } from 'mongodb';
import type { Types } from 'mongoose';
import type { ChangeFeed } from '../../src/cache/change-feed.js';
import { readCaches } from '../../src/cache/read-caches.js';
import { LearnerProgress } from '../../src/learning/learner-progress.model.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, testServerUri, testStore, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { eventually } from '../helpers/eventually.js';
import { buildUser } from '../helpers/factories.js';

const LESSON = '/learn/basic-training/understanding/numbers';
const READ_MARK = 'このレッスンは読了しています';

/** Reads of each cached collection the store has answered so far. */
async function reads(): Promise<{ sessions: number; users: number; progress: number }> {
  const counts = (await testStore()!).commandCounts();
  return {
    sessions: counts['find sessions'] ?? 0,
    users: counts['find users'] ?? 0,
    progress: counts['find learner_progress'] ?? 0,
  };
}

/** The reads made since `before`, per collection. */
async function readsSince(before: Awaited<ReturnType<typeof reads>>) {
  const now = await reads();
  return {
    sessions: now.sessions - before.sessions,
    users: now.users - before.users,
    progress: now.progress - before.progress,
  };
}

/** The event is a change of document `id` in `collection`. */
const isChangeOf = (event: ChangeStreamDocument, collection: string, id: unknown) =>
  'documentKey' in event &&
  (event.ns as { coll?: string }).coll === collection &&
  String((event.documentKey as { _id: unknown })._id) === String(id);

/**
 * The models' write hooks, alone: the change feed stays live but delivers nothing (it holds the
 * events back), so a test passes only if this process's own writes drop the cached entries
 * themselves (with the feed delivering, the tests in read-caches.test.ts can pass by racing it).
 */
describe('read caches: this process’s writes, with the change feed live but silent', function () {
  let t: TestApp;
  let other: MongoClient;
  let otherDb: Db;
  let trainee: SignedIn;
  let userId: Types.ObjectId;
  let feed: ChangeFeed;
  let deliver: (event: ChangeStreamDocument) => void;
  /** The events the feed received and held back. */
  let held: ChangeStreamDocument[];

  before(async function () {
    if (!testStore()) this.skip();
    t = await createTestApp();
    await eventually(() => readCaches()?.feed.live === true, 'the change feed is live');
    feed = readCaches()!.feed;
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
    // Fill the caches: the first opening creates the progress record, the next two read it.
    for (let i = 0; i < 3; i++) await trainee.get(LESSON).expect(200);
    const silent = feed as unknown as { apply: (event: ChangeStreamDocument) => void };
    deliver = silent.apply;
    held = [];
    silent.apply = (event) => held.push(event);
  });
  afterEach(() => {
    (feed as unknown as { apply: unknown }).apply = deliver;
  });

  it('keeps serving a change made by another process (the feed is really silent)', async () => {
    const cached = readCaches()!.progress.size;
    expect(cached).to.be.at.least(1);
    await otherDb
      .collection('learner_progress')
      .updateOne(
        { userId, programId: 'basic-training' },
        { $addToSet: { readLessons: 'numbers' } },
      );
    const { _id } = (await LearnerProgress.findOne({ userId }).lean())!;
    await eventually(
      () => held.some((event) => isChangeOf(event, 'learner_progress', _id)),
      'the change reaches the feed',
    );
    expect(feed.live).to.equal(true);
    expect((await trainee.get(LESSON)).text).not.to.contain(READ_MARK);
  });

  it('shows its own progress write on the very next request', async () => {
    await LearnerProgress.updateOne(
      { userId, programId: 'basic-training' },
      { $addToSet: { readLessons: 'numbers' } },
    );
    expect((await trainee.get(LESSON)).text).to.contain(READ_MARK);
  });

  it('shows its own change of the user (save and findOneAndUpdate) on the very next request', async () => {
    const user = await User.findById(userId);
    user!.name = '保存 花子';
    await user!.save();
    expect((await trainee.get(LESSON)).text).to.contain('保存 花子');
    await User.findOneAndUpdate({ _id: userId }, { $set: { status: 'suspended' } });
    expect((await trainee.get('/learn')).status).to.equal(302);
  });

  it('empties the collection’s cache for a write it cannot name (by e-mail address), and only that one', async () => {
    const user = (await User.findById(userId).lean())!;
    const before = await reads();
    await User.updateOne({ email: user.email }, { $set: { name: '宛先 花子' } });
    expect((await trainee.get(LESSON)).text).to.contain('宛先 花子');
    expect(await readsSince(before)).to.deep.equal({ sessions: 0, users: 1, progress: 0 });
  });

  it('drops only the entry of a write that names its document with $eq', async () => {
    const { user: otherUser, password } = await buildUser({ roles: ['trainee'] });
    const otherTrainee = await signIn(t.app, otherUser, password);
    for (let i = 0; i < 3; i++) await otherTrainee.get(LESSON).expect(200);
    const before = await reads();
    await User.updateOne({ _id: { $eq: userId } }, { $set: { name: '等号 花子' } });
    await LearnerProgress.updateOne(
      { userId: { $eq: userId }, programId: { $eq: 'basic-training' } },
      { $addToSet: { readLessons: 'numbers' } },
    );
    await otherTrainee.get(LESSON).expect(200);
    expect(await readsSince(before)).to.deep.equal({ sessions: 0, users: 0, progress: 0 });
    const page = await trainee.get(LESSON).expect(200);
    expect(page.text).to.contain('等号 花子').and.contain(READ_MARK);
    expect(await readsSince(before)).to.deep.equal({ sessions: 0, users: 1, progress: 1 });
  });

  it('keeps what it read back after its own write when the echo of the write arrives later', async () => {
    const { _id } = (await LearnerProgress.findOne({ userId }).lean())!;
    await LearnerProgress.updateOne(
      { userId, programId: 'basic-training' },
      { $addToSet: { readLessons: 'numbers' } },
    );
    expect((await trainee.get(LESSON)).text).to.contain(READ_MARK); // read back
    await eventually(
      () => held.some((event) => isChangeOf(event, 'learner_progress', _id)),
      'the echo of the write',
    );
    // The feed catches up: the echo holds a time the read back already holds.
    for (const event of held.splice(0)) deliver.call(feed, event);
    const before = await reads();
    expect((await trainee.get(LESSON)).text).to.contain(READ_MARK);
    expect((await readsSince(before)).progress).to.equal(0);
  });
});
