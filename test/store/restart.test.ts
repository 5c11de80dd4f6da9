import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Long } from 'mongodb';
import mongoose, { Schema } from 'mongoose';

// An instance of its own: the app sets global mongoose options (sanitizeFilter) in other tests.
const odm = new mongoose.Mongoose();
import { startStore } from '../../src/store/index.js';
import { onRealMongo } from './helpers.js';

const Member = new Schema({
  name: { type: String, required: true },
  email: { type: String, unique: true },
  visits: Number,
  big: Schema.Types.BigInt,
  removed: Boolean,
});

describe('store: data survives a restart (file persistence)', () => {
  let dir: string;
  before(function () {
    if (onRealMongo) this.skip();
    dir = mkdtempSync(path.join(tmpdir(), 'tsunagu-store-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function withStore<T>(fn: (conn: mongoose.Connection) => Promise<T>): Promise<T> {
    const store = await startStore({ dataDir: dir });
    const conn = await odm.createConnection(`${store.uri}/app`).asPromise();
    try {
      return await fn(conn);
    } finally {
      await conn.close();
      await store.close();
    }
  }

  it('keeps documents, updates, deletes, indexes and types through mongoose', async () => {
    await withStore(async (conn) => {
      const M = conn.model('Member', Member);
      await M.init();
      await M.create([
        { name: 'A', email: 'a@example.jp', visits: 1, big: 9007199254740993n },
        { name: 'B', email: 'b@example.jp', visits: 2 },
        { name: 'C', email: 'c@example.jp', visits: 3 },
      ]);
      await M.updateOne({ name: 'A' }, { $inc: { visits: 10 } });
      await M.deleteOne({ name: 'C' });
    });

    await withStore(async (conn) => {
      const M = conn.model('Member', Member);
      const members = await M.find().sort({ name: 1 }).lean();
      expect(members.map((m) => [m.name, m.visits])).to.deep.equal([
        ['A', 11],
        ['B', 2],
      ]);
      expect(String(members[0].big)).to.equal('9007199254740993');
      const raw = await conn.collection('members').findOne({ name: 'A' }, { promoteLongs: false });
      expect(raw!.big).to.be.instanceOf(Long);
      const indexes = await conn.collection('members').listIndexes().toArray();
      expect(indexes.find((i) => i.name === 'email_1')).to.include({ unique: true });
      const dup = await M.create({ name: 'D', email: 'b@example.jp' }).catch((e: unknown) => e);
      expect((dup as { code?: number }).code).to.equal(11000);
      await conn.dropCollection('members');
    });

    await withStore(async (conn) => {
      const names = (await conn.listCollections()).map((c) => c.name);
      expect(names).to.not.include('members');
    });
  });
});
