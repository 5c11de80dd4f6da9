import net from 'node:net';
import { expect } from 'chai';
import { MongoServerError } from 'mongodb';
import { pino } from 'pino';
import { connectTestDb, onRealMongo, type TestDb } from './helpers.js';

function rawExchange(
  socketPath: string,
  bytes: Buffer,
): Promise<{ closed: boolean; data: Buffer }> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closed: false, data: Buffer.concat(chunks) });
    }, 1000);
    socket.on('data', (c) => chunks.push(c));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, data: Buffer.concat(chunks) });
    });
    socket.on('error', () => undefined);
    socket.write(bytes);
  });
}

function opMsgHeader(payload: Buffer, declaredLength = 16 + payload.length): Buffer {
  const h = Buffer.alloc(16);
  h.writeInt32LE(declaredLength, 0);
  h.writeInt32LE(1, 4);
  h.writeInt32LE(0, 8);
  h.writeInt32LE(2013, 12);
  return Buffer.concat([h, payload]);
}

describe('store: protocol, errors and refusals', () => {
  let t: TestDb;
  const warnings: string[] = [];
  before(async () => {
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
    t = await connectTestDb({ logger });
  });
  after(async () => {
    await t.close();
  });

  it('answers an unknown command with CommandNotFound (59)', async () => {
    const err = (await t.db
      .command({ frobnicate: 1 })
      .catch((e: unknown) => e)) as MongoServerError;
    expect(err).to.be.instanceOf(MongoServerError);
    expect(err.code).to.equal(59);
    expect(err.codeName).to.equal('CommandNotFound');
    expect(err.message).to.match(/no such command: 'frobnicate'/);
  });

  it('refuses transactions with code 20 and leaves the data unchanged', async function () {
    const hello = await t.db.admin().command({ hello: 1 });
    if (hello.setName || hello.msg === 'isdbgrid') this.skip();
    const c = t.db.collection('txn');
    await c.insertOne({ _id: 'k' as never, v: 1 });
    const session = t.client.startSession();
    try {
      const err = (await session
        .withTransaction(async () => {
          await c.updateOne({ _id: 'k' as never }, { $set: { v: 2 } }, { session });
          await c.insertOne({ _id: 'k2' as never }, { session });
        })
        .catch((e: unknown) => e)) as MongoServerError;
      // The driver wraps the server's answer as it does with a standalone MongoDB.
      const server =
        (err as MongoServerError & { originalError?: MongoServerError }).originalError ?? err;
      expect(server).to.be.instanceOf(MongoServerError);
      expect(server.code).to.equal(20);
      expect(server.codeName).to.equal('IllegalOperation');
      expect(server.message).to.match(
        /Transaction numbers are only allowed on a replica set member or mongos/,
      );
    } finally {
      await session.endSession();
    }
    expect(await c.find().toArray()).to.deep.equal([{ _id: 'k', v: 1 }]);
  });

  it('refuses unsupported features clearly instead of answering wrongly', async () => {
    const c = t.db.collection('geo');
    await c.insertOne({ loc: { type: 'Point', coordinates: [0, 0] }, body: 'hello world' });
    const codes = async (p: Promise<unknown>) =>
      ((await p.catch((e: unknown) => e)) as MongoServerError).code;
    const refusal = [2, 17007, 27, 115, 291, 40324];
    expect(await codes(c.find({ $text: { $search: 'hello' } }).toArray())).to.be.oneOf(refusal);
    expect(
      await codes(
        c.find({ loc: { $near: { $geometry: { type: 'Point', coordinates: [0, 0] } } } }).toArray(),
      ),
    ).to.be.oneOf([2, 115, 291]);
    if (!onRealMongo) {
      expect(
        await codes(c.find({ body: 'hello world' }, { collation: { locale: 'fr' } }).toArray()),
      ).to.equal(115);
      // $changeStream only as the first stage (see change-streams.test.ts for change streams).
      expect(
        await codes(c.aggregate([{ $match: {} }, { $changeStream: {} }]).toArray()),
      ).to.be.oneOf([115, 40602]);
    }
  });

  it('answers getMore on an unknown cursor with code 43 and honours killCursors', async () => {
    const c = t.db.collection('cursors');
    await c.insertMany(Array.from({ length: 30 }, (_, i) => ({ i })));
    // The id as the server sent it, an int64: promoted to a JS number (as the driver does for ids
    // below 2^53, about one in a thousand), it would go back as a double and name no cursor.
    const first = await t.db.command({ find: 'cursors', batchSize: 5 }, { promoteLongs: false });
    const id = first.cursor.id;
    expect(first.cursor.firstBatch).to.have.length(5);
    const killed = await t.db.command({ killCursors: 'cursors', cursors: [id] });
    expect(killed.cursorsKilled).to.have.length(1);
    const err = (await t.db
      .command({ getMore: id, collection: 'cursors' })
      .catch((e: unknown) => e)) as MongoServerError;
    expect(err.code).to.equal(43);
  });

  describe('malformed messages (embedded store only)', () => {
    before(function () {
      if (onRealMongo) this.skip();
    });

    it('closes the connection on a bad length and keeps serving others', async () => {
      const before = warnings.length;
      const res = await rawExchange(t.store!.socketPath, opMsgHeader(Buffer.alloc(0), 3));
      expect(res.closed).to.equal(true);
      expect(warnings.length).to.equal(before + 1);
      expect(warnings[before]).to.match(/malformed message/);
      expect((await t.db.command({ ping: 1 })).ok).to.equal(1);
    });

    it('closes the connection on bad BSON and on an oversized message', async () => {
      const badBson = Buffer.concat([
        Buffer.from([0, 0, 0, 0, 0]),
        Buffer.from([50, 0, 0, 0, 1, 2, 3]),
      ]);
      expect((await rawExchange(t.store!.socketPath, opMsgHeader(badBson))).closed).to.equal(true);
      const oversized = opMsgHeader(Buffer.alloc(8), 200 * 1024 * 1024);
      expect((await rawExchange(t.store!.socketPath, oversized)).closed).to.equal(true);
      const unknownOp = opMsgHeader(Buffer.alloc(8));
      unknownOp.writeInt32LE(9999, 12);
      expect((await rawExchange(t.store!.socketPath, unknownOp)).closed).to.equal(true);
      expect(await t.db.collection('cursors').countDocuments()).to.equal(30);
    });

    it('expires idle cursors after the configured timeout', async () => {
      const short = await connectTestDb({ cursorTimeoutMs: 50 });
      try {
        await short.db.collection('c').insertMany(Array.from({ length: 10 }, (_, i) => ({ i })));
        const first = await short.db.command(
          { find: 'c', batchSize: 2 },
          { promoteLongs: false }, // the id stays an int64 (see above)
        );
        expect(short.store!.stats().openCursors).to.equal(1);
        await new Promise((r) => setTimeout(r, 120));
        const err = (await short.db
          .command({ getMore: first.cursor.id, collection: 'c' })
          .catch((e: unknown) => e)) as MongoServerError;
        expect(err.code).to.equal(43);
      } finally {
        await short.close();
      }
    });
  });
});
