import { expect } from 'chai';
import { Timestamp } from 'mongodb';
import type { ChangeFeed } from '../../src/cache/change-feed.js';
import { DocumentCache, firstOfReply } from '../../src/cache/document-cache.js';

/** A feed object with only what the cache uses: live and subscribe. */
const fakeFeed = () => ({ live: true, subscribe: () => undefined });
const newCache = (feed: ReturnType<typeof fakeFeed>) =>
  new DocumentCache<{ v: number }>('things', feed as unknown as ChangeFeed, {
    max: 10,
    ttlMs: 60_000,
  });

/** A load of document `id` that counts itself in `counter`. */
const loadOf =
  (id: string, counter: { loads: number }) => (): Promise<{ id: string; value: { v: number } }> =>
    Promise.resolve({ id, value: { v: ++counter.loads } });

/** A read whose load waits until `finish()` is called. */
function pendingRead(cache: DocumentCache<{ v: number }>, key: string, id: string) {
  let finish!: () => void;
  const done = cache.get(
    key,
    () => new Promise((resolve) => (finish = () => resolve({ id, value: { v: 0 } }))),
  );
  return { finish, done };
}

/** Changes of `count` documents nobody reads (ids `${prefix}0`, `${prefix}1`, …). */
function changeOthers(cache: DocumentCache<{ v: number }>, prefix: string, count: number) {
  for (let n = 0; n < count; n++) cache.forgetId(`${prefix}${n}`);
}

describe('DocumentCache: a read overtaken by a change is not kept', () => {
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
    // The later of two changes counts, whichever arrives first.
    expect(
      await keptWith([
        { t: 101, i: 1 },
        { t: 100, i: 4 },
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

  it('does not keep a read overtaken while another read ended before it', async () => {
    const cache = newCache(fakeFeed());
    const x = pendingRead(cache, 'x', 'id-x');
    const y = pendingRead(cache, 'y', 'id-y');
    cache.forgetId('id-y'); // y's document changes while both reads are on their way
    x.finish();
    await x.done;
    y.finish();
    await y.done;
    const counter = { loads: 0 };
    await cache.get('x', loadOf('id-x', counter));
    await cache.get('y', loadOf('id-y', counter));
    expect(counter.loads).to.equal(1); // y only
  });

  it('forgets the changes it tracked once no read is in flight', async () => {
    const cache = newCache(fakeFeed());
    const counter = { loads: 0 };
    // Two reads one after the other, each while 6 000 other documents change: each is kept
    // (the changes during the first do not count against the second).
    for (const key of ['a', 'b']) {
      await cache.get(key, async () => {
        counter.loads++;
        await Promise.resolve();
        changeOthers(cache, `${key}-other-`, 6_000);
        return { id: `id-${key}`, value: { v: counter.loads } };
      });
    }
    await cache.get('a', loadOf('id-a', counter));
    await cache.get('b', loadOf('id-b', counter));
    expect(counter.loads).to.equal(2);
  });

  it('does not track changes while no read is in flight', async () => {
    const cache = newCache(fakeFeed());
    changeOthers(cache, 'before-', 10_000);
    const counter = { loads: 0 };
    await cache.get('a', async () => {
      counter.loads++;
      await Promise.resolve();
      cache.forgetId('id-b');
      return { id: 'id-a', value: { v: counter.loads } };
    });
    await cache.get('a', loadOf('id-a', counter));
    expect(counter.loads).to.equal(1);
  });

  it('tracks up to 10 000 changed documents per read; beyond, it treats the read as overtaken', async () => {
    const keptAfter = async (changes: number) => {
      const cache = newCache(fakeFeed());
      const counter = { loads: 0 };
      await cache.get('a', async () => {
        counter.loads++;
        await Promise.resolve();
        changeOthers(cache, 'other-', changes);
        return { id: 'id-a', value: { v: counter.loads } };
      });
      await cache.get('a', loadOf('id-a', counter));
      return counter.loads === 1;
    };
    expect(await keptAfter(10_000)).to.equal(true);
    expect(await keptAfter(10_001)).to.equal(false);
  });
});

describe('DocumentCache: writes through', () => {
  const writtenAt = { t: 200, i: 3 };
  /** A write of document "id-a" returning { v } at writtenAt; `during` runs while it is on its way. */
  const writeOf =
    (v: number, during: () => void = () => undefined) =>
    async () => {
      await Promise.resolve();
      during();
      return { id: 'id-a', value: { v }, at: writtenAt };
    };
  const never = () => Promise.reject(new Error('read the database'));

  it('keeps what the write returns: the next lookup reads nothing', async () => {
    const cache = newCache(fakeFeed());
    const counter = { loads: 0 };
    await cache.get('a', loadOf('id-a', counter));
    expect(await cache.writeThrough('a', writeOf(7))).to.deep.equal({ v: 7 });
    expect(await cache.get('a', never)).to.deep.equal({ v: 7 });
    expect(counter.loads).to.equal(1);
    // Its own change reported by the feed (during or after the write) keeps it; a later one drops it.
    await cache.writeThrough(
      'a',
      writeOf(8, () => cache.forgetId('id-a', writtenAt)),
    );
    cache.forgetId('id-a', writtenAt);
    expect(await cache.get('a', never)).to.deep.equal({ v: 8 });
    cache.forgetId('id-a', { t: 200, i: 4 });
    expect(await cache.get('a', loadOf('id-a', counter))).to.deep.equal({ v: 2 });
  });

  it('keeps nothing when another change of the document overtook the write', async () => {
    const overtaken = async (during: (cache: DocumentCache<{ v: number }>) => void) => {
      const cache = newCache(fakeFeed());
      await cache.writeThrough(
        'a',
        writeOf(1, () => during(cache)),
      );
      const counter = { loads: 0 };
      await cache.get('a', loadOf('id-a', counter));
      return counter.loads === 1;
    };
    // Another write of this process (its model hook), a later change reported by the feed, one
    // of unknown time, a clearing.
    expect(await overtaken((cache) => cache.forget('a'))).to.equal(true);
    expect(await overtaken((cache) => cache.forgetId('id-a', { t: 200, i: 4 }))).to.equal(true);
    expect(await overtaken((cache) => cache.forgetId('id-a', null))).to.equal(true);
    expect(await overtaken((cache) => cache.clear())).to.equal(true);
    expect(await overtaken(() => undefined)).to.equal(false);
  });

  it('drops the entry as the write starts, and a read begun before it is not kept', async () => {
    const cache = newCache(fakeFeed());
    await cache.get('a', () => Promise.resolve({ id: 'id-a', value: { v: 1 } }));
    let served: { v: number } | null = null;
    await cache.writeThrough('a', async () => {
      served = await cache.get('a', () => Promise.resolve({ id: 'id-a', value: { v: 2 } }));
      return { id: 'id-a', value: { v: 3 }, at: writtenAt };
    });
    expect(served, 'read while the write is on its way').to.deep.equal({ v: 2 });
    expect(await cache.get('a', never)).to.deep.equal({ v: 3 });

    const fresh = newCache(fakeFeed());
    const before = pendingRead(fresh, 'a', 'id-a');
    await fresh.writeThrough('a', writeOf(4));
    before.finish(); // the read from before the write ends last: what it read is older
    await before.done;
    expect(await fresh.get('a', never)).to.deep.equal({ v: 4 });
  });

  it('keepCreated keeps a read-or-create under the key its document names, unless overtaken', async () => {
    const cache = newCache(fakeFeed());
    const keyOf = (value: { v: number }) => `k${value.v}`;
    expect(await cache.keepCreated(keyOf, writeOf(6))).to.deep.equal({ v: 6 });
    expect(await cache.get('k6', never)).to.deep.equal({ v: 6 });
    // Its own insert reported by the feed keeps it; a later change drops it.
    cache.forgetId('id-a', writtenAt);
    expect(await cache.get('k6', never)).to.deep.equal({ v: 6 });
    cache.forgetId('id-a', { t: 200, i: 4 });
    expect(cache.size).to.equal(0);
    // Overtaken by a change of the document it names, or by one of its _id: not kept.
    await cache.keepCreated(
      keyOf,
      writeOf(7, () => cache.forget('k7')),
    );
    await cache.keepCreated(
      keyOf,
      writeOf(8, () => cache.forgetId('id-a', null)),
    );
    expect(cache.size).to.equal(0);
    expect(await cache.keepCreated(keyOf, () => Promise.resolve(null))).to.equal(null);
  });

  it('keeps nothing, and stays coherent, while the feed is down', async () => {
    const feed = fakeFeed();
    const cache = newCache(feed);
    feed.live = false;
    expect(await cache.writeThrough('a', writeOf(5))).to.deep.equal({ v: 5 });
    feed.live = true;
    const counter = { loads: 0 };
    await cache.get('a', loadOf('id-a', counter));
    expect(counter.loads).to.equal(1);
    expect(await cache.writeThrough('a', () => Promise.resolve(null))).to.equal(null);
  });
});

describe('DocumentCache: keys and documents', () => {
  it('drops a document cached under a second key when it changes, after the first key is gone', async () => {
    const cache = newCache(fakeFeed());
    const counter = { loads: 0 };
    await cache.get('a', loadOf('id-1', counter));
    await cache.get('b', loadOf('id-1', counter));
    cache.forget('a');
    cache.forgetId('id-1');
    await cache.get('b', loadOf('id-1', counter));
    expect(counter.loads).to.equal(3);
  });

  it('keeps what a key holds now when the document it held before changes', async () => {
    const cache = newCache(fakeFeed());
    const counter = { loads: 0 };
    await cache.get('a', loadOf('id-1', counter));
    cache.forget('a');
    // The key now reads another document (e.g. a record deleted and created again).
    await cache.get('a', loadOf('id-2', counter));
    cache.forgetId('id-1');
    await cache.get('a', loadOf('id-2', counter));
    expect(counter.loads).to.equal(2);
  });

  it('counts lookups answered from memory and those that read the database', async () => {
    const feed = fakeFeed();
    const cache = newCache(feed);
    const counter = { loads: 0 };
    for (let n = 0; n < 3; n++) await cache.get('a', loadOf('id-a', counter));
    feed.live = false;
    await cache.get('a', loadOf('id-a', counter));
    expect({ hits: cache.hits, misses: cache.misses }).to.deep.equal({ hits: 2, misses: 2 });
  });
});

describe('firstOfReply: what a find reply holds for the caches', () => {
  it('takes the first document and the operationTime', () => {
    const reply = {
      cursor: { firstBatch: [{ _id: 'a' }], id: 0, ns: 'db.users' },
      operationTime: new Timestamp({ t: 1_700_000_000, i: 3 }),
      ok: 1,
    };
    expect(firstOfReply(reply)).to.deep.equal({
      doc: { _id: 'a' },
      at: { t: 1_700_000_000, i: 3 },
    });
  });

  it('gives no time when the reply has no complete operationTime (a standalone MongoDB)', () => {
    const doc = { _id: 'a' };
    const cursor = { firstBatch: [doc] };
    expect(firstOfReply({ cursor, ok: 1 }).at).to.equal(null);
    expect(firstOfReply({ cursor, operationTime: { t: 5 } }).at).to.equal(null);
    expect(firstOfReply({ cursor, operationTime: { i: 5 } }).at).to.equal(null);
    expect(firstOfReply({ cursor, ok: 1 }).doc).to.equal(doc);
  });

  it('gives no document for an empty batch, or a reply without one', () => {
    expect(firstOfReply({ cursor: { firstBatch: [] }, ok: 1 }).doc).to.equal(null);
    expect(firstOfReply({ cursor: {}, ok: 1 }).doc).to.equal(null);
    expect(firstOfReply({ ok: 1 }).doc).to.equal(null);
  });
});
