/* eslint-disable @typescript-eslint/no-unsafe-return -- events read through the driver are untyped */
import { once } from 'node:events';
import { expect } from 'chai';
import {
  MongoClient,
  MongoServerError,
  Timestamp,
  type ChangeStream,
  type Document,
  type ResumeToken,
} from 'mongodb';
import mongoose, { Schema } from 'mongoose';
import { pino } from 'pino';
import { CHANGE_GATHER_MS } from '../../src/store/cursors.js';
import { MemoryPersistence } from '../../src/store/persistence.js';
import { connectTestDb, onRealMongo, type TestDb } from './helpers.js';

// An instance of its own: the app sets global mongoose options in other tests.
const odm = new mongoose.Mongoose();

/**
 * Events a stream delivers, gathered as they come; resolves once the stream is live. The
 * driver (7.8) does not forward its cursor's 'init' to the ChangeStream; 'resumeTokenChanged'
 * fires when the first (empty) batch brings its postBatchResumeToken.
 */
async function listen(stream: ChangeStream<Document>): Promise<Document[]> {
  const events: Document[] = [];
  const live = once(stream, 'resumeTokenChanged');
  stream.on('change', (e: Document) => events.push(e));
  stream.on('error', () => undefined);
  await live;
  return events;
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const types = (events: Document[]) => events.map((e) => e.operationType as string);

describe('store: change streams', function () {
  let t: TestDb;
  const streams: ChangeStream<Document>[] = [];
  const watch = (s: ChangeStream<Document>) => {
    streams.push(s);
    return s;
  };

  before(async function () {
    t = await connectTestDb();
    const hello = await t.db.admin().command({ hello: 1 });
    if (onRealMongo && !hello.setName && hello.msg !== 'isdbgrid') this.skip();
  });
  afterEach(async () => {
    await Promise.all(streams.splice(0).map((s) => s.close()));
  });
  after(async () => {
    await t?.close();
  });

  it("is live once opened: the cursor's 'init' and the stream's 'resumeTokenChanged' fire", async () => {
    const stream = watch(t.db.watch([], { maxAwaitTimeMS: 100 }));
    const cursor = (stream as unknown as { cursor: NodeJS.EventEmitter }).cursor;
    const init = once(cursor, 'init');
    const token = once(stream, 'resumeTokenChanged');
    stream.on('change', () => undefined);
    const [response] = (await init) as [{ postBatchResumeToken?: unknown }];
    expect(response.postBatchResumeToken).to.have.property('_data');
    await token;
  });

  it('answers a find with the operationTime of the data it read: changes it holds are at or before it, later ones after', async function () {
    if (onRealMongo) this.skip(); // MongoDB's read times need not order against oplog holes
    const stream = watch(t.db.watch([], { maxAwaitTimeMS: 100 }));
    const events = await listen(stream);
    const c = t.db.collection('read_times');
    await c.insertOne({ _id: 'x' as never, v: 1 });
    await c.updateOne({ _id: 'x' as never }, { $set: { v: 2 } });
    const reply = await t.db.command({ find: 'read_times', filter: { _id: 'x' } });
    expect(reply.cursor.firstBatch).to.deep.equal([{ _id: 'x', v: 2 }]);
    const readAt = reply.operationTime as Timestamp;
    expect(readAt).to.be.instanceOf(Timestamp);
    await c.updateOne({ _id: 'x' as never }, { $set: { v: 3 } });
    await until(() => events.length >= 3);
    const [insert, held, later] = events.map((e) => e.clusterTime as Timestamp);
    expect(insert.lte(readAt) && held.lte(readAt), 'changes the reply holds').to.equal(true);
    expect(later.gt(readAt), 'the change after it').to.equal(true);
  });

  it('answers each write with the operationTime of its own change, even among writes committed together', async function () {
    if (onRealMongo) this.skip(); // (MongoDB's are its oplog times)
    // Appends made within 20 ms become durable together, as a group commit's fsync makes them:
    // their writes then commit one after another in one turn, so a time taken once a later one
    // had committed would be too late.
    class GroupCommit extends MemoryPersistence {
      private batch: Promise<void> | null = null;
      override append(): Promise<void> {
        this.batch ??= new Promise((resolve) =>
          setTimeout(() => {
            this.batch = null;
            resolve();
          }, 20),
        );
        return this.batch;
      }
    }
    const own = await connectTestDb({ persistence: new GroupCommit() });
    try {
      const c = own.db.collection('write_times');
      await c.insertMany(Array.from({ length: 8 }, (_, i) => ({ _id: `d${i}` as never, v: 0 })));
      const stream = c.watch([], { maxAwaitTimeMS: 100 });
      streams.push(stream);
      const events = await listen(stream);
      const replies = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          i % 2
            ? own.db.command({
                findAndModify: 'write_times',
                query: { _id: `d${i}` },
                update: { $set: { v: i } },
                new: true,
              })
            : own.db.command({
                update: 'write_times',
                updates: [{ q: { _id: `d${i}` }, u: { $inc: { v: 1 } } }],
              }),
        ),
      );
      await until(() => events.length >= 8);
      const timeOf = new Map(
        events.map((e) => [(e.documentKey as { _id: string })._id, e.clusterTime as Timestamp]),
      );
      expect(new Set([...timeOf.values()].map(String)).size, 'distinct times').to.equal(8);
      replies.forEach((reply, i) => {
        const changed = timeOf.get(`d${i}`)!;
        expect(reply.operationTime, `d${i}`).to.be.instanceOf(Timestamp);
        expect(
          (reply.operationTime as Timestamp).equals(changed),
          `d${i}: its reply's time against its change's`,
        ).to.equal(true);
      });
      // A write that changes nothing answers the time of the state it read.
      const last = [...timeOf.values()].reduce((a, b) => (a.gt(b) ? a : b));
      const none = await own.db.command({
        findAndModify: 'write_times',
        query: { _id: 'absent' },
        update: { $set: { v: 1 } },
      });
      expect((none.operationTime as Timestamp).equals(last)).to.equal(true);
    } finally {
      await own.close();
    }
  });

  it('db.watch reports insert, update, replace and delete in order, shaped as MongoDB does', async () => {
    const stream = watch(t.db.watch([], { maxAwaitTimeMS: 100 }));
    const events = await listen(stream);
    const c = t.db.collection('shapes');
    await c.insertOne({ _id: 'a' as never, v: 1, gone: true });
    await c.updateOne({ _id: 'a' as never }, { $set: { v: 2, w: 'x' }, $unset: { gone: '' } });
    await c.replaceOne({ _id: 'a' as never }, { v: 3 });
    await c.deleteOne({ _id: 'a' as never });
    await until(() => events.length >= 4);
    expect(types(events)).to.deep.equal(['insert', 'update', 'replace', 'delete']);
    const [ins, upd, rep, del] = events;
    for (const e of events) {
      expect(e._id).to.have.property('_data').that.is.a('string');
      expect(e.clusterTime).to.be.instanceOf(Timestamp);
      expect(e.wallTime).to.be.instanceOf(Date);
      expect(e.ns).to.deep.equal({ db: t.dbName, coll: 'shapes' });
      expect(e.documentKey).to.deep.equal({ _id: 'a' });
    }
    expect(ins.fullDocument).to.deep.equal({ _id: 'a', v: 1, gone: true });
    expect(upd.updateDescription).to.deep.equal({
      updatedFields: { v: 2, w: 'x' },
      removedFields: ['gone'],
      truncatedArrays: [],
    });
    expect(upd).to.not.have.property('fullDocument');
    expect(rep.fullDocument).to.deep.equal({ _id: 'a', v: 3 });
    expect(del).to.not.have.property('fullDocument');
    // Tokens and cluster times grow with commit order.
    const data = events.map((e) => (e._id as { _data: string })._data);
    expect([...data].sort()).to.deep.equal(data);
    for (let i = 1; i < events.length; i++) {
      expect(
        (events[i].clusterTime as Timestamp).gt(events[i - 1].clusterTime as Timestamp),
      ).to.equal(true);
    }
  });

  it('collection.watch sees only its collection; a drop ends it with invalidate', async () => {
    const c = t.db.collection('mine');
    const stream = watch(c.watch([], { maxAwaitTimeMS: 100 }));
    const events = await listen(stream);
    await t.db.collection('other').insertOne({ x: 1 });
    await c.insertOne({ x: 2 });
    await c.drop();
    await until(() => events.length >= 3);
    expect(types(events)).to.deep.equal(['insert', 'drop', 'invalidate']);
    expect(events[0].fullDocument).to.include({ x: 2 });
    expect(events[1].ns).to.deep.equal({ db: t.dbName, coll: 'mine' });
    await until(() => stream.closed);
  });

  it("filters on ns.coll with $match (the app's pipeline)", async () => {
    const stream = watch(
      t.db.watch([{ $match: { 'ns.coll': { $in: ['sessions', 'users'] } } }], {
        maxAwaitTimeMS: 100,
      }),
    );
    const events = await listen(stream);
    await t.db.collection('noise').insertOne({ n: 1 });
    await t.db.collection('users').insertOne({ name: 'u' });
    await t.db.collection('noise').insertOne({ n: 2 });
    await t.db.collection('sessions').insertOne({ s: 1 });
    await until(() => events.length >= 2);
    await new Promise((r) => setTimeout(r, 150));
    expect(events.map((e) => e.ns.coll)).to.deep.equal(['users', 'sessions']);
  });

  it('applies $project and refuses stages MongoDB does not allow', async () => {
    const stream = watch(
      t.db.collection('proj').watch([{ $project: { operationType: 1, 'fullDocument.a': 1 } }], {
        maxAwaitTimeMS: 100,
      }),
    );
    const events = await listen(stream);
    await t.db.collection('proj').insertOne({ a: 1, b: 2 });
    await until(() => events.length >= 1);
    expect(events[0]).to.have.keys(['_id', 'operationType', 'fullDocument']);
    expect(events[0].fullDocument).to.deep.equal({ a: 1 });

    const bad = t.db.collection('proj').watch([{ $group: { _id: null } }]);
    const err = (await bad.tryNext().catch((e: unknown) => e)) as MongoServerError;
    expect(err).to.be.instanceOf(MongoServerError);
    await bad.close();
    const pre = t.db.collection('proj').watch([], { fullDocumentBeforeChange: 'required' });
    const err2 = (await pre.tryNext().catch((e: unknown) => e)) as MongoServerError;
    expect(err2).to.be.instanceOf(MongoServerError);
    await pre.close();
  });

  it('reports a mongoose updateOne as an update with its documentKey', async () => {
    const conn = await odm.createConnection(t.uri).asPromise();
    try {
      const User = conn.model('User', new Schema({ name: String, visits: Number }));
      const stream = watch(t.db.collection('users').watch([], { maxAwaitTimeMS: 100 }));
      const events = await listen(stream);
      const u = await User.create({ name: 'Aiko', visits: 0 });
      await User.updateOne({ _id: u._id }, { $inc: { visits: 1 } });
      await until(() => events.length >= 2);
      expect(types(events)).to.deep.equal(['insert', 'update']);
      expect(String(events[1].documentKey._id)).to.equal(String(u._id));
      expect(events[1].updateDescription.updatedFields).to.deep.equal({ visits: 1 });
    } finally {
      await conn.close();
    }
  });

  it('returns the current document with fullDocument: updateLookup', async () => {
    const c = t.db.collection('lookup');
    const stream = watch(c.watch([], { fullDocument: 'updateLookup', maxAwaitTimeMS: 100 }));
    const events = await listen(stream);
    await c.insertOne({ _id: 1 as never, v: 1 });
    await c.updateOne({ _id: 1 as never }, { $set: { v: 2 } });
    await until(() => events.length >= 2);
    expect(events[1].fullDocument).to.deep.equal({ _id: 1, v: 2 });
  });

  it('emits nothing for a write that fails (duplicate key)', async () => {
    const c = t.db.collection('dups');
    await c.insertOne({ _id: 'k' as never });
    const stream = watch(c.watch([], { maxAwaitTimeMS: 100 }));
    const events = await listen(stream);
    const err = await c.insertOne({ _id: 'k' as never }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(MongoServerError);
    await c.insertOne({ _id: 'after' as never });
    await until(() => events.length >= 1);
    await new Promise((r) => setTimeout(r, 150));
    expect(events.map((e) => e.documentKey._id)).to.deep.equal(['after']);
  });

  it('client.watch (allChangesForCluster) sees every database', async () => {
    const stream = watch(t.client.watch([], { maxAwaitTimeMS: 100 }));
    const events = await listen(stream);
    const otherDb = t.client.db(`${t.dbName}_b`);
    await t.db.collection('cl').insertOne({ a: 1 });
    await otherDb.collection('cl').insertOne({ b: 1 });
    await until(() => events.length >= 2);
    expect(events.map((e) => e.ns.db)).to.deep.equal([t.dbName, `${t.dbName}_b`]);
    await otherDb.dropDatabase();
  });

  it('two streams both get every event', async () => {
    const c = t.db.collection('twice');
    const a = await listen(watch(c.watch([], { maxAwaitTimeMS: 100 })));
    const b = await listen(watch(t.db.watch([], { maxAwaitTimeMS: 100 })));
    await c.insertMany([{ i: 1 }, { i: 2 }, { i: 3 }]);
    await until(() => a.length >= 3 && b.length >= 3);
    expect(a.map((e) => e.fullDocument.i)).to.deep.equal([1, 2, 3]);
    expect(b.map((e) => e.fullDocument.i)).to.deep.equal([1, 2, 3]);
  });

  it('resumes after a token inside the history and replays what was missed', async () => {
    const c = t.db.collection('resume');
    const first = watch(c.watch([], { maxAwaitTimeMS: 100 }));
    const seen = await listen(first);
    await c.insertOne({ i: 1 });
    await until(() => seen.length >= 1);
    const token = seen[0]._id as ResumeToken;
    await first.close();
    await c.insertMany([{ i: 2 }, { i: 3 }]);
    await c.deleteMany({ i: 2 });
    const again = watch(c.watch([], { resumeAfter: token, maxAwaitTimeMS: 100 }));
    const replay = await listen(again);
    await until(() => replay.length >= 3);
    expect(types(replay)).to.deep.equal(['insert', 'insert', 'delete']);
    expect(replay[0].fullDocument.i).to.equal(2);

    // startAtOperationTime within the history replays from that time.
    const at = watch(
      c.watch([], { startAtOperationTime: seen[0].clusterTime as Timestamp, maxAwaitTimeMS: 100 }),
    );
    const fromTime = await listen(at);
    await until(() => fromTime.length >= 4);
    expect(types(fromTime)).to.deep.equal(['insert', 'insert', 'insert', 'delete']);
  });

  it('getMore waits about maxAwaitTimeMS when idle instead of spinning', async function () {
    if (!t.store) this.skip();
    const stream = watch(t.db.collection('idle').watch([], { maxAwaitTimeMS: 200 }));
    const events = await listen(stream);
    const count = () => t.store?.commandCounts()['getMore'] ?? 0;
    const before = count();
    await new Promise((r) => setTimeout(r, 1000));
    const n = count() - before;
    expect(events).to.have.length(0);
    expect(n).to.be.within(3, 7);
  });

  it('a wait ends when a write arrives, not at maxAwaitTimeMS', async () => {
    const c = t.db.collection('prompt');
    const stream = watch(c.watch([], { maxAwaitTimeMS: 5000 }));
    const events = await listen(stream);
    await new Promise((r) => setTimeout(r, 100)); // a getMore is waiting now
    const t0 = Date.now();
    await c.insertOne({ now: true });
    await until(() => events.length >= 1);
    expect(Date.now() - t0).to.be.below(1000);
  });

  it('stream.close() ends a waiting getMore quickly', async () => {
    const stream = t.db.collection('closing').watch([], { maxAwaitTimeMS: 10_000 });
    await listen(stream);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await stream.close();
    expect(Date.now() - t0).to.be.below(1000);
  });
});

describe('store: a woken change-stream getMore gathers the changes that follow', function () {
  /** A raw change stream on `coll`: its cursor id, and the next getMore's events. */
  async function rawStream(db: TestDb['db'], coll: string) {
    const opened = await db.command({
      aggregate: coll,
      pipeline: [{ $changeStream: {} }],
      cursor: {},
    });
    const id = (opened.cursor as { id: unknown }).id;
    return () =>
      db
        .command({ getMore: id, collection: coll, maxTimeMS: 5000 })
        .then((reply) => (reply.cursor as { nextBatch: Document[] }).nextBatch);
  }

  it('answers the writes made within its window together, and waits no longer than the window', async function () {
    if (onRealMongo) this.skip();
    const t = await connectTestDb({ changeGatherMs: 400 });
    try {
      const c = t.db.collection('gathered');
      const next = await rawStream(t.db, 'gathered');
      const waiting = next();
      await new Promise((r) => setTimeout(r, 100)); // the getMore waits now
      const t0 = Date.now();
      for (let n = 0; n < 3; n++) await c.insertOne({ n });
      const batch = await waiting;
      expect(batch.map((e) => (e.fullDocument as { n: number }).n)).to.deep.equal([0, 1, 2]);
      expect(Date.now() - t0, 'answered after the window, not the 5 s wait').to.be.below(2000);
    } finally {
      await t.close();
    }
  });

  it('gathers 10 ms by default', function () {
    if (onRealMongo) this.skip();
    expect(CHANGE_GATHER_MS).to.equal(10);
  });
});

describe('store: change stream history and shutdown', function () {
  it('answers ChangeStreamHistoryLost (286) for a token older than the history or from an earlier run', async function () {
    if (onRealMongo) this.skip();
    const t = await connectTestDb({ changeHistory: { maxEvents: 5 } });
    try {
      const c = t.db.collection('hist');
      const s = c.watch([], { maxAwaitTimeMS: 50 });
      const events = await listen(s);
      await c.insertOne({ i: 0 });
      await until(() => events.length >= 1);
      const old = events[0]._id as ResumeToken;
      await s.close();
      await c.insertMany(Array.from({ length: 10 }, (_, i) => ({ i: i + 1 })));
      const stale = c.watch([], { resumeAfter: old });
      const err = (await stale.tryNext().catch((e: unknown) => e)) as MongoServerError;
      expect(err).to.be.instanceOf(MongoServerError);
      expect(err.code).to.equal(286);
      await stale.close();

      // A token of another run of the store.
      const other = await connectTestDb();
      try {
        const foreign = other.db.collection('hist').watch([], { resumeAfter: old });
        const err2 = (await foreign.tryNext().catch((e: unknown) => e)) as MongoServerError;
        expect(err2.code).to.equal(286);
        await foreign.close();
      } finally {
        await other.close();
      }
    } finally {
      await t.close();
    }
  });

  it('emits nothing for a write the journal refused (undone)', async function () {
    if (onRealMongo) this.skip();
    let failing = false;
    class Flaky extends MemoryPersistence {
      override append(records: Document[]): Promise<void> {
        return failing ? Promise.reject(new Error('disk full')) : super.append(records);
      }
    }
    const t = await connectTestDb({ persistence: new Flaky() });
    try {
      const c = t.db.collection('flaky');
      await c.insertOne({ _id: 'base' as never });
      const s = c.watch([], { maxAwaitTimeMS: 50 });
      const events = await listen(s);
      failing = true;
      expect(await c.insertOne({ _id: 'lost' as never }).catch((e: unknown) => e)).to.be.instanceOf(
        MongoServerError,
      );
      failing = false;
      await c.insertOne({ _id: 'kept' as never });
      await until(() => events.length >= 1);
      await new Promise((r) => setTimeout(r, 100));
      expect(events.map((e) => e.documentKey._id)).to.deep.equal(['kept']);
      await s.close();
    } finally {
      await t.close();
    }
  });

  it('store.close() with a stream waiting in getMore resolves promptly', async function () {
    if (onRealMongo) this.skip();
    const t = await connectTestDb();
    const client = await MongoClient.connect(t.uri, {
      serverSelectionTimeoutMS: 500,
      retryReads: false,
    });
    const stream = client.db(t.dbName).watch([], { maxAwaitTimeMS: 10_000 });
    await listen(stream);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await t.store?.close();
    expect(Date.now() - t0).to.be.below(1000);
    await stream.close().catch(() => undefined);
    await client.close(true);
    await t.client.close(true);
  });

  it('does not report a waiting getMore as a slow operation', async function () {
    if (onRealMongo) this.skip();
    const warnings: string[] = [];
    const logger = pino(
      { level: 'warn' },
      {
        write: (line: string) => warnings.push(line),
      },
    );
    const t = await connectTestDb({ logger });
    try {
      const stream = t.db.watch([], { maxAwaitTimeMS: 300 });
      await listen(stream);
      await new Promise((r) => setTimeout(r, 800));
      await stream.close();
      expect(warnings.join('')).not.to.contain('slow operation');
    } finally {
      await t.close();
    }
  });
});
