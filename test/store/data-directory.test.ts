/**
 * Opening the store's data directory (openFilePersistence): what it creates and with which modes,
 * what it tidies, what it refuses, and its defaults (fsync 'always', compaction at 64 MiB, int64
 * read back as bigint). Quick checks on a fresh temporary directory each; the crash, replay and
 * compaction tests are in durability*.test.ts.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { deserialize } from 'bson';
import { expect } from 'chai';
import { openFilePersistence, type JournalFile } from '../../src/store/durability/index.js';
import type { Persistence } from '../../src/store/persistence.js';
import { WARN, capturingLogger, loadAll, tempDir } from './fixtures/crash-helpers.js';

const J1 = 'journal-000000000001.log';
const J2 = 'journal-000000000002.log';
const J3 = 'journal-000000000003.log';
const J4 = 'journal-000000000004.log';

const modeOf = (file: string) => statSync(file).mode & 0o777;

async function withPersistence<T>(
  persistence: Persistence,
  use: (p: Persistence) => T | Promise<T>,
): Promise<T> {
  try {
    await loadAll(persistence);
    return await use(persistence);
  } finally {
    await persistence.close();
  }
}

/** A directory holding journals 1 and 2 (one record each) and a snapshot of generation 2. */
async function compactedDirectory(): Promise<string> {
  const dir = tempDir();
  const persistence = await openFilePersistence(dir, { compactAfterBytes: 1 });
  await loadAll(persistence);
  await persistence.append([{ k: 'a' }]);
  expect(persistence.wantsCompaction()).to.equal(true);
  await persistence.compact([{ k: 'a' }]);
  await persistence.append([{ k: 'b' }]);
  await persistence.close();
  return dir;
}

describe('store durability: the data directory', () => {
  it('creates missing parent directories, private (0700), and a first journal (0600)', async () => {
    const dir = path.join(tempDir(), 'one', 'two', 'data');
    const persistence = await openFilePersistence(dir);
    await withPersistence(persistence, (p) => p.append([{ k: 'a' }]));
    for (const at of [dir, path.dirname(dir), path.dirname(path.dirname(dir))])
      expect(modeOf(at), at).to.equal(0o700);
    expect(readdirSync(dir)).to.deep.equal([J1]);
    expect(modeOf(path.join(dir, J1))).to.equal(0o600);
    // The journal opens with its meta frame (no records): format and generation.
    const journal = readFileSync(path.join(dir, J1));
    expect(journal.readUInt32LE(8)).to.equal(0);
    const meta = deserialize(journal.subarray(20, 20 + journal.readUInt32LE(4)));
    expect(meta).to.include({ format: 'tsunagu-journal', generation: 1 });
    const reopened = await openFilePersistence(dir);
    expect((await loadAll(reopened)).map((r) => r.k as string)).to.deep.equal(['a']);
    await reopened.close();
  });

  it('opens a directory given by a relative path', async () => {
    const dir = tempDir();
    const relative = path.relative(process.cwd(), path.join(dir, 'data'));
    const persistence = await openFilePersistence(relative);
    await withPersistence(persistence, (p) => p.append([{ k: 'a' }]));
    expect(readdirSync(path.join(dir, 'data'))).to.deep.equal([J1]);
  });

  it('refuses a path that is a file, or lies under one, saying so', async () => {
    const file = path.join(tempDir(), 'a-file');
    writeFileSync(file, 'x');
    const refusal = (dir: string) =>
      openFilePersistence(dir).then(
        () => null,
        (e: Error) => e,
      );
    const itself = await refusal(file);
    expect(itself?.message).to.equal(
      `cannot use the data directory: creating ${file} failed: ${file} is not a directory`,
    );
    expect((itself?.cause as NodeJS.ErrnoException).code).to.equal('ENOTDIR');
    const under = await refusal(path.join(file, 'data', 'deeper'));
    expect(under?.message).to.match(
      /^cannot use the data directory: creating .*a-file\/data\/deeper failed: ENOTDIR/,
    );
  });

  it('makes a directory open to others private again, and its files, saying so', async () => {
    const dir = tempDir();
    const first = await openFilePersistence(dir);
    await withPersistence(first, (p) => p.append([{ k: 'a' }]));
    writeFileSync(path.join(dir, 'notes.txt'), 'x');
    chmodSync(path.join(dir, 'notes.txt'), 0o644);
    mkdirSync(path.join(dir, 'sub'), { mode: 0o755 });
    chmodSync(path.join(dir, J1), 0o640);
    chmodSync(dir, 0o755);
    const { logger, lines } = capturingLogger();
    const persistence = await openFilePersistence(dir, { logger });
    await persistence.close();
    expect(modeOf(dir)).to.equal(0o700);
    expect(modeOf(path.join(dir, J1))).to.equal(0o600);
    expect(modeOf(path.join(dir, 'notes.txt'))).to.equal(0o600);
    expect(modeOf(path.join(dir, 'sub'))).to.equal(0o755); // not a file of the store
    const warnings = lines.filter((l) => l.level === WARN);
    expect(warnings.map((l) => l.msg)).to.deep.equal([
      'store: the data directory was open to other accounts; it is now 0700',
      'store: files made 0600',
    ]);
    expect(warnings[0]).to.include({ dir, was: '755' });
    expect(warnings[1]).to.include({ dir, files: 2 });
  });

  it('says nothing about a directory that is already private', async () => {
    const dir = tempDir();
    chmodSync(dir, 0o700);
    const first = await openFilePersistence(dir);
    await withPersistence(first, (p) => p.append([{ k: 'a' }]));
    const { logger, lines } = capturingLogger();
    const persistence = await openFilePersistence(dir, { logger });
    await persistence.close();
    expect(lines.filter((l) => l.level === WARN)).to.deep.equal([]);
  });

  it('removes a snapshot left half-written, and journals the snapshot already covers', async () => {
    const dir = await compactedDirectory();
    expect(readdirSync(dir).sort()).to.deep.equal([J2, 'snapshot.bson']);
    // What a crash right after the snapshot's rename leaves: the old journal, and a temp file.
    writeFileSync(path.join(dir, J1), readFileSync(path.join(dir, J2)));
    writeFileSync(path.join(dir, 'snapshot.bson.tmp'), 'half');
    const persistence = await openFilePersistence(dir);
    expect((await loadAll(persistence)).map((r) => r.k as string)).to.deep.equal(['a', 'b']);
    await persistence.close();
    expect(readdirSync(dir).sort()).to.deep.equal([J2, 'snapshot.bson']);
  });

  it('refuses to start when a journal between the snapshot and the newest is missing', async () => {
    const dir = await compactedDirectory();
    writeFileSync(path.join(dir, J4), readFileSync(path.join(dir, J2)));
    const error = await openFilePersistence(dir).catch((e: Error) => e.message);
    expect(error).to.equal(
      `store journal ${J3} is missing from ${dir} (found ${J2}, ${J4}); restore the data directory from a backup`,
    );
    // The lock was given back: without the stray journal, the directory opens.
    rmSync(path.join(dir, J4));
    const persistence = await openFilePersistence(dir);
    expect((await loadAll(persistence)).map((r) => r.k as string)).to.deep.equal(['a', 'b']);
    await persistence.close();
  });

  it('replays every journal after the snapshot, in order', async () => {
    // What a crash before a compaction's rename leaves: the old snapshot, its journal and the next.
    const dir = await compactedDirectory();
    const next = tempDir();
    for (const name of [J2, 'snapshot.bson'])
      writeFileSync(path.join(next, name), readFileSync(path.join(dir, name)));
    const compacting = await openFilePersistence(next, { compactAfterBytes: 1 });
    await loadAll(compacting);
    await compacting.compact([{ k: 'a' }, { k: 'b' }]);
    await compacting.append([{ k: 'c' }]);
    await compacting.close();
    writeFileSync(path.join(dir, J3), readFileSync(path.join(next, J3)));
    const persistence = await openFilePersistence(dir);
    expect((await loadAll(persistence)).map((r) => r.k as string)).to.deep.equal(['a', 'b', 'c']);
    await persistence.close();
  });

  it('creates the journal of the snapshot’s generation when there is none', async () => {
    const dir = await compactedDirectory();
    rmSync(path.join(dir, J2));
    const persistence = await openFilePersistence(dir);
    expect((await loadAll(persistence)).map((r) => r.k as string)).to.deep.equal(['a']);
    await persistence.append([{ k: 'c' }]);
    await persistence.close();
    expect(readdirSync(dir).sort()).to.deep.equal([J2, 'snapshot.bson']);
    const again = await openFilePersistence(dir);
    expect((await loadAll(again)).map((r) => r.k as string)).to.deep.equal(['a', 'c']);
    await again.close();
  });

  it('waits only as long as asked for a live owner of the lock on this host', async () => {
    const dir = tempDir();
    // The parent of this test process: alive, on this host, and not us.
    const owner = { pid: process.ppid, host: hostname(), since: new Date().toISOString() };
    writeFileSync(path.join(dir, 'LOCK'), JSON.stringify(owner));
    const started = Date.now();
    const error = await openFilePersistence(dir, { lockOwnerWaitMs: 300 }).catch(
      (e: Error) => e.message,
    );
    expect(error).to.contain(`is in use by process ${process.ppid}`);
    expect(Date.now() - started).to.be.within(300, 3000);
    expect(existsSync(path.join(dir, J1))).to.equal(false);
  });

  describe('defaults', () => {
    /** A persistence whose journal fsyncs wait until released. */
    async function heldFsync(fsync?: 'always' | 'batch' | 'never') {
      let release = () => {};
      const released = new Promise<void>((resolve) => (release = resolve));
      let holding = false;
      const persistence = await openFilePersistence(tempDir(), {
        ...(fsync && { fsync }),
        wrapJournalFile: (file): JournalFile => ({
          write: (buffer, offset, length, position) => file.write(buffer, offset, length, position),
          datasync: async () => {
            if (holding) await released;
            return file.datasync();
          },
          truncate: (length) => file.truncate(length),
          close: () => file.close(),
        }),
      });
      await loadAll(persistence);
      holding = true;
      return { persistence, release };
    }

    async function acknowledgedWhileHeld(fsync?: 'always' | 'never'): Promise<boolean> {
      const { persistence, release } = await heldFsync(fsync);
      let acknowledged = false;
      const append = persistence.append([{ k: 'a' }]).then(() => (acknowledged = true));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const result = acknowledged;
      release();
      await append;
      await persistence.close();
      return result;
    }

    it('acknowledges an append only after its fsync, unless told otherwise', async () => {
      expect(await acknowledgedWhileHeld()).to.equal(false);
      expect(await acknowledgedWhileHeld('never')).to.equal(true);
    });

    it('asks for a compaction only past 64 MiB of journal, unless told otherwise', async () => {
      const dir = tempDir();
      const persistence = await openFilePersistence(dir);
      await withPersistence(persistence, async (p) => {
        await p.append([{ k: 'x'.repeat(1000) }]);
        expect(p.wantsCompaction()).to.equal(false);
      });
      const small = await openFilePersistence(dir, { compactAfterBytes: 500 });
      await withPersistence(small, (p) => {
        expect(p.wantsCompaction()).to.equal(true);
      });
    });

    it('reads an int64 back as a bigint, unless told otherwise', async () => {
      const dir = tempDir();
      const first = await openFilePersistence(dir);
      await withPersistence(first, (p) => p.append([{ big: 2n ** 40n, small: 7 }]));
      const persistence = await openFilePersistence(dir);
      const [record] = await loadAll(persistence);
      await persistence.close();
      expect(record).to.deep.include({ big: 2n ** 40n, small: 7 });
      const asked = await openFilePersistence(dir, { deserializeOptions: { promoteLongs: true } });
      const [promoted] = await loadAll(asked);
      await asked.close();
      expect(promoted.big).to.equal(2 ** 40);
    });
  });
});
