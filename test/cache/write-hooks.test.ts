import { expect } from 'chai';
import { MongoClient, type Db } from 'mongodb';
import type { Types } from 'mongoose';
import type { ChangeFeed } from '../../src/cache/change-feed.js';
import { DocumentCache } from '../../src/cache/document-cache.js';
import { readCaches } from '../../src/cache/read-caches.js';
import { LearnerProgress } from '../../src/learning/learner-progress.model.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, testServerUri, testStore, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { eventually } from '../helpers/eventually.js';
import { buildUser } from '../helpers/factories.js';

const LESSON = '/learn/basic-training/understanding/numbers';
const READ_MARK = 'このレッスンは読了しています';

/**
 * The models' write hooks, alone: the change feed stays live but delivers nothing, so a test
 * passes only if this process's own writes drop the cached entries themselves (with the feed
 * delivering, the tests in read-caches.test.ts can pass by racing it).
 */
describe('read caches: this process’s writes, with the change feed live but silent', function () {
  let t: TestApp;
  let other: MongoClient;
  let otherDb: Db;
  let trainee: SignedIn;
  let userId: Types.ObjectId;
  let feed: ChangeFeed;
  let deliver: unknown;

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
    const silent = feed as unknown as { apply: unknown };
    deliver = silent.apply;
    silent.apply = () => undefined;
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
    await new Promise((resolve) => setTimeout(resolve, 300));
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
});

describe('DocumentCache: a read overtaken by a change is not kept', () => {
  /** A feed object with only what the cache uses: live and subscribe. */
  const fakeFeed = () => ({ live: true, subscribe: () => undefined });
  const newCache = (feed: ReturnType<typeof fakeFeed>) =>
    new DocumentCache<{ v: number }>('things', feed as unknown as ChangeFeed, {
      max: 10,
      ttlMs: 60_000,
    });

  /**
   * Reads key "a" (document id "id-a") once while `change` happens on the way, then again: returns
   * how many loads the three reads made (2 when the first read was not kept, 1 when it was).
   */
  async function loadsAfter(change: (cache: DocumentCache<{ v: number }>) => void) {
    const cache = newCache(fakeFeed());
    let loads = 0;
    const overtaken = async () => {
      loads++;
      await Promise.resolve();
      change(cache); // the change arrives while the read is on its way
      return { id: 'id-a', value: { v: loads } };
    };
    expect(await cache.get('a', overtaken)).to.deep.equal({ v: 1 });
    const plain = () => Promise.resolve({ id: 'id-a', value: { v: ++loads } });
    await cache.get('a', plain);
    await cache.get('a', plain);
    return loads;
  }

  it('reads again after a load during which its document changed (by key, by _id, or all)', async () => {
    expect(await loadsAfter((cache) => cache.forget('a'))).to.equal(2);
    expect(await loadsAfter((cache) => cache.forgetId('id-a'))).to.equal(2);
    expect(await loadsAfter((cache) => cache.clear())).to.equal(2);
  });

  it('keeps a load during which only other documents changed', async () => {
    expect(
      await loadsAfter((cache) => {
        cache.forget('b');
        cache.forgetId('id-b');
      }),
    ).to.equal(1);
  });

  it('does not keep a load overtaken while other loads were in flight before and after it', async () => {
    const cache = newCache(fakeFeed());
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    // A long read of "b" keeps reads in flight throughout.
    const longRead = cache.get('b', async () => {
      await slow;
      return { id: 'id-b', value: { v: 0 } };
    });
    cache.forgetId('id-a'); // a change before the read of "a" starts does not matter to it
    let loads = 0;
    await cache.get('a', () => Promise.resolve({ id: 'id-a', value: { v: ++loads } }));
    await cache.get('a', () => Promise.resolve({ id: 'id-a', value: { v: ++loads } }));
    expect(loads).to.equal(1);
    cache.forget('a');
    await cache.get('a', async () => {
      loads++;
      await Promise.resolve();
      cache.forgetId('id-a');
      return { id: 'id-a', value: { v: loads } };
    });
    await cache.get('a', () => Promise.resolve({ id: 'id-a', value: { v: ++loads } }));
    expect(loads).to.equal(3);
    release();
    await longRead;
  });

  it('compares cluster times: keeps what already holds a change, drops what does not', async () => {
    const cache = newCache(fakeFeed());
    let loads = 0;
    const readAt = { t: 100, i: 5 };
    const load = () => Promise.resolve({ id: 'id-a', value: { v: ++loads }, at: readAt });
    await cache.get('a', load);
    // The echo of a change the read already holds (at or before its time): kept.
    cache.forgetId('id-a', { t: 100, i: 5 });
    cache.forgetId('id-a', { t: 99, i: 9 });
    await cache.get('a', load);
    expect(loads).to.equal(1);
    // A later change, or one of unknown time: dropped.
    cache.forgetId('id-a', { t: 100, i: 6 });
    await cache.get('a', load);
    expect(loads).to.equal(2);
    cache.forgetId('id-a', null);
    await cache.get('a', load);
    expect(loads).to.equal(3);
    // A read without a time is dropped by any change.
    const untimed = () => Promise.resolve({ id: 'id-a', value: { v: ++loads } });
    cache.clear();
    await cache.get('a', untimed);
    cache.forgetId('id-a', { t: 1, i: 1 });
    await cache.get('a', untimed);
    expect(loads).to.equal(5);
  });

  it('keeps a read during which only changes it already holds arrived', async () => {
    const readAt = { t: 100, i: 5 };
    const keptWith = async (changes: ({ t: number; i: number } | null)[]) => {
      const cache = newCache(fakeFeed());
      let loads = 0;
      await cache.get('a', async () => {
        loads++;
        await Promise.resolve();
        for (const at of changes) cache.forgetId('id-a', at);
        return { id: 'id-a', value: { v: loads }, at: readAt };
      });
      await cache.get('a', () =>
        Promise.resolve({ id: 'id-a', value: { v: ++loads }, at: readAt }),
      );
      return loads === 1;
    };
    expect(
      await keptWith([
        { t: 100, i: 4 },
        { t: 100, i: 5 },
      ]),
    ).to.equal(true);
    expect(
      await keptWith([
        { t: 100, i: 4 },
        { t: 101, i: 1 },
      ]),
    ).to.equal(false);
    expect(await keptWith([{ t: 100, i: 4 }, null])).to.equal(false);
    expect(await keptWith([null, { t: 100, i: 4 }])).to.equal(false);
  });

  it('neither serves nor keeps entries while the feed is down', async () => {
    const feed = fakeFeed();
    const cache = newCache(feed);
    let loads = 0;
    const load = () => Promise.resolve({ id: 'a', value: { v: ++loads } });
    await cache.get('a', load);
    feed.live = false;
    expect(await cache.get('a', load)).to.deep.equal({ v: 2 });
    expect(await cache.get('a', load)).to.deep.equal({ v: 3 });
  });
});
