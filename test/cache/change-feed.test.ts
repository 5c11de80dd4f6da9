import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import type { Db } from 'mongodb';
import { ChangeFeed } from '../../src/cache/change-feed.js';
import { DocumentCache } from '../../src/cache/document-cache.js';
import { silentLogger } from '../../src/lib/logger.js';

/**
 * A database whose change streams fail the way a deployment answers: the real driver and store
 * are covered by read-caches.test.ts; this stands in for a MongoDB that has no change streams
 * (a standalone mongod answers 40573), which the test suite has no way to run.
 */
function failingDb(error: Error & { code?: number }) {
  const opened: EventEmitter[] = [];
  const db = {
    watch() {
      const stream = Object.assign(new EventEmitter(), { close: () => Promise.resolve() });
      opened.push(stream);
      setImmediate(() => stream.emit('error', error));
      return stream;
    },
  } as unknown as Db;
  return { db, opened };
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('change feed without change streams', () => {
  it('leaves the caches off on a standalone MongoDB, and does not keep retrying', async () => {
    const { db, opened } = failingDb(
      Object.assign(new Error('The $changeStream stage is only supported on replica sets'), {
        code: 40573,
      }),
    );
    const feed = new ChangeFeed(db, silentLogger);
    const cache = new DocumentCache<{ n: number }>('users', feed, { max: 10, ttlMs: 60_000 });
    feed.start();
    await wait(1_200);
    expect(feed.live).to.equal(false);
    expect(opened).to.have.length(1);
    // Every read goes to the loader; nothing is kept.
    let loads = 0;
    const load = () => Promise.resolve({ id: 'a', value: { n: ++loads } });
    expect(await cache.get('a', load)).to.deep.equal({ n: 1 });
    expect(await cache.get('a', load)).to.deep.equal({ n: 2 });
    expect(cache.size).to.equal(0);
    await feed.close();
  });

  it('reopens the stream after a failure that may pass (e.g. a lost connection)', async () => {
    const { db, opened } = failingDb(Object.assign(new Error('connection reset'), { code: 6 }));
    const feed = new ChangeFeed(db, silentLogger);
    feed.start();
    await wait(1_300);
    expect(opened.length).to.be.at.least(2);
    expect(feed.live).to.equal(false);
    await feed.close();
  });
});
