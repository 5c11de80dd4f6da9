import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { MongoClient, MongoServerError, type Document } from 'mongodb';
import { pino } from 'pino';
import { openFilePersistence } from '../../src/store/durability/index.js';
import { startStore } from '../../src/store/index.js';
import { MemoryPersistence } from '../../src/store/persistence.js';
import { decodeOptions } from '../../src/store/wire.js';
import { onRealMongo } from './helpers.js';

describe('store: journal integration (compaction, write failures) (embedded store only)', () => {
  let dir: string;
  before(function () {
    if (onRealMongo) this.skip();
    dir = mkdtempSync(path.join(tmpdir(), 'tsunagu-compact-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('compacts the journal into a snapshot and reopens with the same state and indexes', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const open = () =>
      openFilePersistence(dir, { compactAfterBytes: 20_000, deserializeOptions: decodeOptions });
    const store = await startStore({ persistence: await open(), logger });
    const client = await MongoClient.connect(store.uri);
    const c = client.db('app').collection('records');
    await c.createIndex({ code: 1 }, { unique: true });
    for (let round = 0; round < 6; round++) {
      await c.insertMany(Array.from({ length: 50 }, (_, i) => ({ code: `r${round}-${i}`, round })));
      await c.updateMany({ round }, { $set: { touched: true } });
      await c.deleteMany({ round: round - 1, code: /-1\d$/ });
    }
    const expected = await c
      .find({}, { projection: { _id: 0 } })
      .sort({ code: 1 })
      .toArray();
    await client.close();
    await store.close();
    expect(lines.some((l) => l.includes('store: compacted journal'))).to.equal(true);
    expect(lines.join('\n')).to.not.contain('r0-1');

    const reopened = await startStore({ persistence: await open() });
    const client2 = await MongoClient.connect(reopened.uri);
    try {
      const c2 = client2.db('app').collection('records');
      expect(
        await c2
          .find({}, { projection: { _id: 0 } })
          .sort({ code: 1 })
          .toArray(),
      ).to.deep.equal(expected);
      const dup = await c2.insertOne({ code: 'r5-0' }).catch((e: unknown) => e);
      expect((dup as { code?: number }).code).to.equal(11000);
    } finally {
      await client2.close();
      await reopened.close();
    }
  });

  it('answers an error and keeps memory unchanged when the journal cannot be written', async () => {
    class FailingPersistence extends MemoryPersistence {
      failing = false;
      override append(records: Document[]): Promise<void> {
        return this.failing
          ? Promise.reject(new Error('ENOSPC: no space left on device'))
          : super.append(records);
      }
    }
    const persistence = new FailingPersistence();
    const store = await startStore({ persistence });
    const client = await MongoClient.connect(store.uri);
    try {
      const c = client.db('app').collection('things');
      await c.insertOne({ _id: 'a' as never, v: 1 });
      persistence.failing = true;
      const err = (await c
        .insertOne({ _id: 'b' as never })
        .catch((e: unknown) => e)) as MongoServerError;
      expect(err).to.be.instanceOf(MongoServerError);
      expect(err.message).to.match(/could not write to the journal/);
      const err2 = (await c
        .updateOne({ _id: 'a' as never }, { $set: { v: 2 } })
        .catch((e: unknown) => e)) as Error;
      expect(err2).to.be.instanceOf(MongoServerError);
      persistence.failing = false;
      expect(await c.find().toArray()).to.deep.equal([{ _id: 'a', v: 1 }]);
      await c.insertOne({ _id: 'b' as never });
      expect(await c.countDocuments()).to.equal(2);
    } finally {
      await client.close();
      await store.close();
    }
  });
});
