import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import type { ChangeStream, Db } from 'mongodb';
import { pino } from 'pino';
import { ChangeFeed, type FeedSubscriber } from '../../src/cache/change-feed.js';
import { DocumentCache } from '../../src/cache/document-cache.js';
import { silentLogger } from '../../src/lib/logger.js';
import { scratchDatabase } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';

const OPTIONS = { max: 10, ttlMs: 60_000 };

/** A subscriber that writes down what the feed tells it. */
function recorder(collection: string) {
  const seen = {
    forgotten: [] as string[],
    changed: [] as { id: string; at: unknown }[],
    cleared: 0,
  };
  const subscriber: FeedSubscriber = {
    collection,
    forget: (key) => seen.forgotten.push(key),
    forgetId: (id, at) => seen.changed.push({ id: String(id), at }),
    clear: () => seen.cleared++,
  };
  return { subscriber, seen };
}

/** A logger whose lines the test reads (pino's JSON: level 20 debug, 30 info, 40 warn). */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const at = (level: number) => lines.filter((line) => line.level === level);
  return { logger, debug: () => at(20), info: () => at(30), warn: () => at(40) };
}

/** Counts the lookups that load: a cached entry is served without one. */
function counted(cache: DocumentCache<{ v: number }>) {
  let loads = 0;
  return {
    get: (key: string) => cache.get(key, () => Promise.resolve({ id: key, value: { v: ++loads } })),
    get loads() {
      return loads;
    },
  };
}

describe('ChangeFeed: this process’s own changes', () => {
  it('passes them to the caches of that collection only', () => {
    const feed = new ChangeFeed({} as Db, silentLogger);
    const users = recorder('users');
    const sessions = recorder('sessions');
    feed.subscribe(users.subscriber);
    feed.subscribe(sessions.subscriber);
    feed.changingKey('users', 'k');
    feed.changing('users');
    expect(users.seen).to.deep.include({ forgotten: ['k'], cleared: 1 });
    expect(sessions.seen).to.deep.include({ forgotten: [], cleared: 0 });
  });
});

describe('ChangeFeed on the embedded store', () => {
  // The store's change streams; a real MongoDB may have none.
  const scratch = scratchDatabase('feed', { storeOnly: true });

  it('goes live with the first answer, and tells the caches of a collection which document changed', async () => {
    const feed = new ChangeFeed(scratch.db, silentLogger); // times not compared: none passed on
    const users = recorder('users');
    const sessions = recorder('sessions');
    feed.subscribe(users.subscriber);
    feed.subscribe(sessions.subscriber);
    try {
      feed.start();
      await eventually(() => feed.live, 'the feed is live');
      const collection = scratch.db.collection<{ _id: string }>('users');
      await collection.insertOne({ _id: 'u1' });
      await collection.deleteOne({ _id: 'u1' });
      await eventually(() => users.seen.changed.length === 2, 'both changes');
      expect(users.seen.changed).to.deep.equal([
        { id: 'u1', at: null },
        { id: 'u1', at: null },
      ]);
      expect(sessions.seen.changed).to.deep.equal([]);
    } finally {
      await feed.close();
    }
  });

  it('watches only the collections of its caches: dropping another one leaves them', async () => {
    const feed = new ChangeFeed(scratch.db, silentLogger);
    const cache = counted(new DocumentCache<{ v: number }>('users', feed, OPTIONS));
    const users = recorder('users');
    feed.subscribe(users.subscriber);
    try {
      feed.start();
      await eventually(() => feed.live, 'the feed is live');
      await cache.get('a');
      await scratch.db.collection('other').insertOne({ n: 1 });
      await scratch.db.collection('other').drop();
      // Changes arrive in order: once this one is seen, the drop has been seen too.
      await scratch.db.collection<{ _id: string }>('users').insertOne({ _id: 'marker' });
      await eventually(() => users.seen.changed.some((c) => c.id === 'marker'), 'the marker');
      await cache.get('a');
      expect(cache.loads).to.equal(1);
    } finally {
      await feed.close();
    }
  });

  it('opens one stream however often it is started, and none once closed; closing takes it off and empties its caches', async () => {
    const opened: ChangeStream[] = [];
    const counting = {
      watch: (...args: Parameters<Db['watch']>) => {
        const stream = scratch.db.watch(...args);
        opened.push(stream);
        return stream;
      },
    } as unknown as Db;
    const feed = new ChangeFeed(counting, silentLogger);
    const documents = new DocumentCache<{ v: number }>('users', feed, OPTIONS);
    feed.start();
    feed.start();
    expect(opened).to.have.length(1);
    await eventually(() => feed.live, 'the feed is live');
    await counted(documents).get('a');
    expect(documents.size).to.equal(1);
    await feed.close();
    expect(feed.live).to.equal(false);
    expect(documents.size).to.equal(0);
    expect(opened[0].closed).to.equal(true);
    feed.start();
    expect(opened).to.have.length(1);
  });
});

/**
 * A change stream that does what the test says: answers (resumeTokenChanged), fails (error), and
 * emits 'close' once when closed, as the driver's does. For what the store cannot be made to do
 * on cue: fail, or answer late on a stream already given up; and a MongoDB without change
 * streams (a standalone mongod answers 40573), which the test suite has no way to run.
 */
class ScriptedStream extends EventEmitter {
  closed = false;
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.emit('close');
    }
    return Promise.resolve();
  }
}

function scriptedDb() {
  const opened: ScriptedStream[] = [];
  const db = {
    watch() {
      const stream = new ScriptedStream();
      opened.push(stream);
      return stream;
    },
  } as unknown as Db;
  return { db, opened };
}

/**
 * Runs `act` with setTimeout held: returns the timers it set (the feed's reopening), to be run by
 * hand. Nothing else runs meanwhile: `act` is synchronous.
 */
function heldTimers(act: () => void): { ms: number; run: () => void }[] {
  const held: { ms: number; run: () => void }[] = [];
  const real = globalThis.setTimeout;
  globalThis.setTimeout = ((run: () => void, ms: number) => {
    held.push({ run, ms });
    return { unref: () => undefined };
  }) as unknown as typeof setTimeout;
  try {
    act();
  } finally {
    globalThis.setTimeout = real;
  }
  return held;
}

const lostConnection = () => Object.assign(new Error('connection reset'), { code: 6 });

describe('ChangeFeed when its stream fails', () => {
  it('goes off at once, empties the caches, and reopens after 1, 2, 4 … s, at most 60 s apart', async () => {
    const { db, opened } = scriptedDb();
    const log = capturingLogger();
    const feed = new ChangeFeed(db, log.logger);
    const documents = new DocumentCache<{ v: number }>('users', feed, OPTIONS);
    feed.start();
    opened[0].emit('resumeTokenChanged'); // the first answer
    opened[0].emit('resumeTokenChanged'); // a later batch
    expect(feed.live).to.equal(true);
    expect(log.debug()).to.have.length(1);
    expect(log.debug()[0]).to.deep.include({ collections: ['users'] });
    expect(log.debug()[0].msg).to.match(/change feed live/);
    await counted(documents).get('a');
    expect(documents.size).to.equal(1);

    let timers = heldTimers(() => opened[0].emit('error', lostConnection()));
    expect(feed.live).to.equal(false);
    expect(documents.size).to.equal(0);
    expect(opened[0].closed).to.equal(true);
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 8; attempt++) {
      expect(timers).to.have.length(1);
      delays.push(timers[0].ms);
      timers[0].run();
      expect(opened).to.have.length(attempt + 1);
      timers = heldTimers(() => opened[attempt].emit('error', lostConnection()));
    }
    expect(delays).to.deep.equal([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    expect(log.warn()).to.have.length(9);
    expect(log.warn()[0]).to.deep.include({ err: 'connection reset', retryMs: 1000 });
    expect(log.warn()[0].msg).to.match(/change feed lost, reopening/);

    // Live again, the delay starts over; a stream closed without an error counts as lost.
    timers[0].run();
    const current = opened[opened.length - 1];
    current.emit('resumeTokenChanged');
    expect(feed.live).to.equal(true);
    timers = heldTimers(() => void current.close());
    expect(feed.live).to.equal(false);
    expect(timers.map((timer) => timer.ms)).to.deep.equal([1000]);
    expect(log.warn()).to.have.length(10);
    expect(log.warn()[9]).to.deep.include({ err: 'closed', retryMs: 1000 });
    expect(log.info()).to.deep.equal([]);
    await feed.close();
  });

  it('pays no attention to a stream it has given up: its late answers and failures change nothing', async () => {
    const { db, opened } = scriptedDb();
    const feed = new ChangeFeed(db, silentLogger);
    const documents = new DocumentCache<{ v: number }>('users', feed, OPTIONS);
    feed.start();
    opened[0].emit('resumeTokenChanged');
    const timers = heldTimers(() => opened[0].emit('error', lostConnection()));
    opened[0].emit('resumeTokenChanged'); // a batch that was on its way
    expect(feed.live).to.equal(false);
    timers[0].run();
    opened[1].emit('resumeTokenChanged');
    expect(feed.live).to.equal(true);
    await counted(documents).get('a');
    const late = heldTimers(() => opened[0].emit('error', new Error('late')));
    expect(late).to.deep.equal([]);
    expect(feed.live).to.equal(true);
    expect(documents.size).to.equal(1);
    await feed.close();
    expect(opened[1].closed).to.equal(true);
  });

  for (const code of [40573, 115, 40324]) {
    it(`leaves the caches off without change streams (code ${code}), says so once, and does not reopen`, async () => {
      const { db, opened } = scriptedDb();
      const log = capturingLogger();
      const feed = new ChangeFeed(db, log.logger);
      const documents = counted(new DocumentCache<{ v: number }>('users', feed, OPTIONS));
      feed.start();
      const error = Object.assign(new Error('not supported'), { code });
      const timers = heldTimers(() => opened[0].emit('error', error));
      expect(timers).to.deep.equal([]);
      expect(feed.live).to.equal(false);
      expect(log.info()).to.have.length(1);
      expect(log.info()[0]).to.deep.include({ code });
      expect(log.info()[0].msg).to.match(/read caches off/);
      expect(log.warn()).to.deep.equal([]);
      // Every read goes to the loader; nothing is kept.
      await documents.get('a');
      await documents.get('a');
      expect(documents.loads).to.equal(2);
      await feed.close();
      expect(opened).to.have.length(1);
    });
  }
});
