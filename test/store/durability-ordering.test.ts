import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import { loadConfig } from '../../src/config.js';
import { startStore, type RunningStore } from '../../src/store/index.js';
import type { JournalFile } from '../../src/store/durability/index.js';

/**
 * Power loss: a write must not be acknowledged before the journal's fsync returned. SIGKILL
 * cannot show this (the data survives in the OS cache), so the fsync is held here and the
 * acknowledgement watched. These pin the defaults too: the app's STORE_FSYNC and the store's own.
 */
describe('store durability: acknowledged only after the fsync', () => {
  const dirs: string[] = [];
  const stores: RunningStore[] = [];
  const clients: MongoClient[] = [];
  after(async () => {
    for (const client of clients) await client.close();
    for (const store of stores) await store.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** A store in a fresh data directory whose journal fsyncs wait while `held` is true. */
  async function storeWithHeldFsync(fsync?: 'always' | 'batch' | 'never') {
    const dir = mkdtempSync(path.join(tmpdir(), 'tsunagu-fsync-'));
    dirs.push(dir);
    const gate = { held: false, release: () => {}, syncs: 0 };
    let waiting: Promise<void> = Promise.resolve();
    const hold = (file: JournalFile): JournalFile => ({
      write: (buffer, offset, length, position) => file.write(buffer, offset, length, position),
      datasync: async () => {
        if (gate.held) await waiting;
        gate.syncs++;
        return file.datasync();
      },
      truncate: (length) => file.truncate(length),
      close: () => file.close(),
    });
    const store = await startStore({
      dataDir: dir,
      wrapJournalFile: hold,
      ...(fsync && { fsync }),
    });
    stores.push(store);
    const client = await MongoClient.connect(store.uri);
    clients.push(client);
    const items = client.db('ordering').collection('items');
    await items.insertOne({ warmUp: true });
    gate.held = true;
    waiting = new Promise((resolve) => {
      gate.release = () => {
        gate.held = false;
        resolve();
      };
    });
    return { items, gate };
  }

  /** Whether the promise settles within `ms`. */
  async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
    let settled = false;
    void promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((resolve) => setTimeout(resolve, ms));
    return settled;
  }

  it('the app asks for fsync before acknowledging unless STORE_FSYNC says otherwise', () => {
    expect(loadConfig({ SESSION_SECRET: 'x'.repeat(40) }).storeFsync).to.equal('always');
  });

  it('by default the store does not acknowledge an insert until its fsync has returned', async () => {
    const { items, gate } = await storeWithHeldFsync();
    const insert = items.insertOne({ n: 1 });
    expect(await settlesWithin(insert, 300), 'acknowledged while the fsync is held').to.equal(
      false,
    );
    gate.release();
    await insert;
    expect(gate.syncs).to.be.greaterThan(1);
    expect(await items.countDocuments({ n: 1 })).to.equal(1);
  });

  it('nor an update, with fsync: always', async () => {
    const { items, gate } = await storeWithHeldFsync('always');
    const update = items.updateOne({ warmUp: true }, { $set: { seen: true } });
    expect(await settlesWithin(update, 300)).to.equal(false);
    gate.release();
    expect((await update).modifiedCount).to.equal(1);
  });

  it('acknowledges at once with fsync: never (what the held fsync tells apart)', async () => {
    const { items, gate } = await storeWithHeldFsync('never');
    const insert = items.insertOne({ n: 2 });
    expect(await settlesWithin(insert, 300)).to.equal(true);
    gate.release();
  });
});
