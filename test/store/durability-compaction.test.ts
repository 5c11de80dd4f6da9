import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  readdirSync,
  statSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { openFilePersistence } from '../../src/store/durability/index.js';
import { compiled } from '../helpers/compiled.js';
import type { Persistence } from '../../src/store/persistence.js';
import {
  applyAll,
  capturingLogger,
  loadAll,
  stateRecords,
  tempDir,
} from './fixtures/crash-helpers.js';

async function openLoaded(dir: string, compactAfterBytes?: number) {
  const persistence = await openFilePersistence(dir, { compactAfterBytes });
  const state = applyAll(await loadAll(persistence));
  return { persistence, state };
}

/** Appends { k, v } and applies it, as the engine does. */
function write(p: Persistence, state: Map<string, unknown>, k: string, v: unknown) {
  state.set(k, v);
  return p.append([{ k, v }]);
}

async function stateOf(dir: string): Promise<Map<string, unknown>> {
  const { persistence, state } = await openLoaded(dir);
  await persistence.close();
  return state;
}

function copyDir(from: string, names: string[], to = tempDir()): string {
  for (const name of names) copyFileSync(path.join(from, name), path.join(to, name));
  return to;
}

const J1 = 'journal-000000000001.log';
const J2 = 'journal-000000000002.log';
const SNAP = 'snapshot.bson';

describe('store durability: compaction', () => {
  it('rebuilds the same state from the snapshot and the new journal', async () => {
    const dir = tempDir();
    const { persistence, state } = await openLoaded(dir, 200);
    for (let i = 0; i < 20; i++) await write(persistence, state, `k${i % 5}`, i);
    expect(persistence.wantsCompaction()).to.equal(true);
    const journalBefore = persistence.stats().journalBytes;
    await persistence.compact(stateRecords(state));
    expect(persistence.wantsCompaction()).to.equal(false);
    expect(persistence.stats().journalBytes).to.be.within(1, journalBefore / 10);
    await write(persistence, state, 'k0', 'after');
    const stats = persistence.stats();
    expect(stats.records).to.equal(6);
    expect(stats.snapshotBytes).to.be.greaterThan(0);
    await persistence.close();
    expect(readdirSync(dir).sort()).to.deep.equal([J2, SNAP]);
    expect(await stateOf(dir)).to.deep.equal(state);
  });

  it('neither loses nor reorders appends made while compacting', async () => {
    const dir = tempDir();
    const { persistence, state } = await openLoaded(dir);
    for (let i = 0; i < 50; i++) await write(persistence, state, `k${i}`, i);
    const compaction = persistence.compact(stateRecords(state));
    const during = Array.from({ length: 50 }, (_, i) => write(persistence, state, `k${i % 7}`, -i));
    const second = persistence.compact(stateRecords(state));
    const later = Array.from({ length: 20 }, (_, i) => write(persistence, state, `k${i}`, `x${i}`));
    await Promise.all([compaction, second, ...during, ...later]);
    await persistence.close();
    expect(await stateOf(dir)).to.deep.equal(state);
  });

  it('loses nothing and replays nothing twice when killed at any step of a compaction', async () => {
    const before = tempDir();
    let { persistence, state } = await openLoaded(before);
    for (let i = 0; i < 10; i++) await write(persistence, state, `k${i}`, i);
    await persistence.close();
    const expectedBefore = new Map(state);

    const after = copyDir(before, [J1]);
    ({ persistence, state } = await openLoaded(after));
    await persistence.compact(stateRecords(state));
    await write(persistence, state, 'k1', 'new');
    await persistence.close();
    const expectedAfter = state;

    // Killed while the temp snapshot was written: the temp file is ignored and removed.
    const tempLeft = copyDir(before, [J1]);
    writeFileSync(path.join(tempLeft, 'snapshot.bson.tmp'), Buffer.alloc(100, 7));
    expect(await stateOf(tempLeft)).to.deep.equal(expectedBefore);
    expect(existsSync(path.join(tempLeft, 'snapshot.bson.tmp'))).to.equal(false);

    // Killed after the new journal took appends but before the rename: both journals replay.
    const beforeRename = copyDir(before, [J1]);
    copyDir(after, [J2], beforeRename);
    copyFileSync(path.join(after, SNAP), path.join(beforeRename, 'snapshot.bson.tmp'));
    expect(await stateOf(beforeRename)).to.deep.equal(expectedAfter);

    // Killed after the rename, before the old journal was deleted: it is not replayed again.
    const afterRename = copyDir(after, [SNAP, J2]);
    copyDir(before, [J1], afterRename);
    expect(await stateOf(afterRename)).to.deep.equal(expectedAfter);
    expect(existsSync(path.join(afterRename, J1))).to.equal(false);
  });

  it('refuses to start when a damaged journal is followed by a later journal with records', async () => {
    const dir = tempDir();
    const { persistence, state } = await openLoaded(dir);
    for (let i = 0; i < 3; i++) await write(persistence, state, `k${i}`, i);
    await persistence.compact(stateRecords(state));
    await write(persistence, state, 'k9', 9);
    await persistence.close();
    // As if killed before the rename: no snapshot, journals 1 and 2; then damage journal 1's tail.
    const crashed = copyDir(dir, [J2]);
    const previous = tempDir();
    const { persistence: p1 } = await openLoaded(previous);
    for (let i = 0; i < 3; i++) await p1.append([{ k: `k${i}`, v: i }]);
    await p1.close();
    copyDir(previous, [J1], crashed);
    truncateSync(path.join(crashed, J1), statSync(path.join(crashed, J1)).size - 1);
    const reopened = await openFilePersistence(crashed);
    const error = await loadAll(reopened).catch((e: Error) => e.message);
    await reopened.close();
    expect(error).to.contain(`${path.join(crashed, J1)} is damaged at byte`);
    expect(error).to.contain('later journal files hold records');
  });

  it('refuses to start on a damaged snapshot', async () => {
    const dir = tempDir();
    const { persistence, state } = await openLoaded(dir);
    await write(persistence, state, 'a', 1);
    await persistence.compact(stateRecords(state));
    await persistence.close();
    const file = path.join(dir, SNAP);
    truncateSync(file, statSync(file).size - 3);
    const reopened = await openFilePersistence(dir);
    const error = await loadAll(reopened).catch((e: Error) => e.message);
    await reopened.close();
    expect(error).to.contain(`store snapshot ${file} is damaged at byte`);
  });
});

describe('store durability: lock and disk errors', () => {
  it('refuses a second opener of the same directory', async () => {
    const dir = tempDir();
    const first = await openFilePersistence(dir);
    const error = await openFilePersistence(dir).catch((e: Error) => e.message);
    expect(error).to.contain(`data directory ${dir} is in use by process ${process.pid}`);
    await first.close();
    const second = await openFilePersistence(dir);
    await second.close();
  });

  /** Starts the lock holder fixture on `dir` and resolves once it holds the lock. */
  async function startLockHolder(dir: string, exitAfterMs?: number) {
    const args = [compiled(path.join(import.meta.dirname, 'fixtures/crash-lock-holder.ts')), dir];
    if (exitAfterMs) args.push(String(exitAfterMs));
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
      child.once('exit', () => reject(new Error('lock holder exited early')));
    });
    return { child, exited };
  }

  it('refuses while another process holds the lock after waiting for it, and takes it over once that one is killed', async () => {
    const dir = tempDir();
    const { child, exited } = await startLockHolder(dir);
    const started = Date.now();
    const refused = await openFilePersistence(dir, { lockOwnerWaitMs: 800 }).catch(
      (e: Error) => e.message,
    );
    expect(refused).to.contain(`is in use by process ${child.pid}`);
    expect(Date.now() - started).to.be.at.least(800);
    child.kill('SIGKILL');
    await exited;
    const { logger, lines } = capturingLogger();
    const persistence = await openFilePersistence(dir, { logger });
    expect(await loadAll(persistence)).to.deep.equal([{ holder: child.pid }]);
    await persistence.close();
    expect(lines.some((l) => l.msg.includes('stale data directory lock'))).to.equal(true);
  });

  it('waits for a lock holder that exits within the wait, then takes the directory over', async () => {
    const dir = tempDir();
    const { child } = await startLockHolder(dir, 1500);
    const { logger, lines } = capturingLogger();
    const started = Date.now();
    const persistence = await openFilePersistence(dir, { logger, lockOwnerWaitMs: 5000 });
    const waited = Date.now() - started;
    expect(await loadAll(persistence)).to.deep.equal([{ holder: child.pid }]);
    await persistence.close();
    expect(waited).to.be.within(300, 5000);
    expect(lines.some((l) => l.msg.includes('waiting for it to exit'))).to.equal(true);
    expect(lines.some((l) => l.msg.includes('stale data directory lock'))).to.equal(true);
  });

  it('refuses a lock another host touched recently, and takes over one left untouched', async () => {
    const dir = tempDir();
    const lock = path.join(dir, 'LOCK');
    const owner = { pid: 4242, host: 'other-host', procStart: '1', since: '2026-01-01T00:00:00Z' };
    writeFileSync(lock, JSON.stringify(owner));
    const refused = await openFilePersistence(dir).catch((e: Error) => e.message);
    expect(refused).to.contain(`is in use by process 4242 on host other-host`);
    const old = new Date(Date.now() - 5 * 60_000);
    utimesSync(lock, old, old);
    const persistence = await openFilePersistence(dir);
    await persistence.close();
    expect(existsSync(lock)).to.equal(false);
  });

  it('says clearly when the directory cannot be created', async () => {
    const file = path.join(tempDir(), 'a-file');
    writeFileSync(file, 'x');
    const error = await openFilePersistence(path.join(file, 'data')).catch((e: Error) => e.message);
    expect(error).to.match(/cannot use the data directory: creating .*a-file\/data failed/);
  });

  it('says clearly, without hanging, when the directory lies under a dangling symlink', async () => {
    const link = path.join(tempDir(), 'unmounted');
    symlinkSync(path.join(tempDir(), 'gone'), link);
    const error = await openFilePersistence(path.join(link, 'data')).catch((e: Error) => e.message);
    expect(error).to.match(
      /cannot use the data directory: creating .*unmounted\/data failed.*ENOENT/,
    );
  });

  it('rejects a failed write clearly and refuses every later append until reopened', async () => {
    const dir = tempDir();
    let full = false;
    const persistence = await openFilePersistence(dir, {
      wrapJournalFile: (file) => ({
        write: (buffer, offset, length, position) =>
          full
            ? Promise.reject(
                Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }),
              )
            : file.write(buffer, offset, length, position),
        datasync: () => file.datasync(),
        truncate: (length) => file.truncate(length),
        close: () => file.close(),
      }),
    });
    await loadAll(persistence);
    await persistence.append([{ k: 'kept' }]);
    full = true;
    const failed = await persistence.append([{ k: 'lost' }]).catch((e: Error) => e.message);
    expect(failed).to.match(/appending to the store journal .* failed \(the disk is full\)/);
    full = false;
    const refused = await persistence.append([{ k: 'later' }]).catch((e: Error) => e.message);
    expect(refused).to.contain('refuses to append after a failed write');
    expect(persistence.wantsCompaction()).to.equal(false);
    await persistence.close();
    expect(await stateOf(dir)).to.deep.equal(new Map([['kept', undefined]]));
  });
});

describe('store durability: a long journal', () => {
  // How fast it replays is measured by `npm run bench:store` (start-up with a 100k journal), not
  // here: a time limit in a test depends on the machine and on what else it runs.
  it('replays 100k small records written in 100 groups, each once and in order', async function () {
    this.timeout(60_000);
    const dir = tempDir();
    const writer = await openFilePersistence(dir, { fsync: 'never' });
    await loadAll(writer);
    for (let batch = 0; batch < 100; batch++) {
      const records = Array.from({ length: 1000 }, (_, i) => ({
        op: 'insert',
        ns: 'tsunagu.users',
        doc: { _id: batch * 1000 + i, name: `user ${i}`, at: new Date() },
      }));
      await writer.append(records);
    }
    await writer.close();
    const reader = await openFilePersistence(dir);
    let count = 0;
    let inOrder = true;
    for await (const record of reader.load()) {
      const id = (record as { doc?: { _id?: number } }).doc?._id;
      if (id !== count) inOrder = false;
      count++;
    }
    await reader.close();
    expect(count).to.equal(100_000);
    expect(inOrder).to.equal(true);
  });
});
