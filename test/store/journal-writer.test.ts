/**
 * The journal writer on its own, on a real file: group commit, when an append is acknowledged
 * under each fsync policy, partial writes, and what a failed write or fsync leaves behind. The
 * file is wrapped to watch (and hold, or break) the writes and fsyncs, as the store's
 * wrapJournalFile hook does. test/store/durability*.test.ts check the same through the store.
 */
import { open } from 'node:fs/promises';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import {
  JournalWriter,
  type FsyncPolicy,
  type JournalFile,
} from '../../src/store/durability/journal-writer.js';
import { tempDir } from './fixtures/crash-helpers.js';

const HEADER = 20;
const PREAMBLE = Buffer.from('preamble'); // stands for the journal's meta frame

/** A gate a test opens later: wait() resolves once open() was called. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { wait: () => opened, open };
}

interface Watch {
  writes: { length: number; position: number }[];
  syncs: number;
  closes: number;
  truncates: number[];
  /** While set, each datasync waits for it. */
  holdSync: { wait(): Promise<void> } | null;
  /** Bytes at most per write call (a short write), when set. */
  maxWrite: number | null;
  failWrite: ((call: number) => Error | 'zero' | null) | null;
  failSync: Error | null;
}

async function writerOn(policy: FsyncPolicy, file = path.join(tempDir(), 'journal.log')) {
  const handle = await open(file, 'w+');
  await handle.write(PREAMBLE, 0, PREAMBLE.length, 0);
  const watch: Watch = {
    writes: [],
    syncs: 0,
    closes: 0,
    truncates: [],
    holdSync: null,
    maxWrite: null,
    failWrite: null,
    failSync: null,
  };
  const wrapped: JournalFile = {
    async write(buffer, offset, length, position) {
      const failure = watch.failWrite?.(watch.writes.length);
      if (failure === 'zero') {
        watch.writes.push({ length: 0, position });
        return { bytesWritten: 0 };
      }
      if (failure) {
        // Half of it reaches the file before the error, as a full disk may do.
        await handle.write(buffer, offset, Math.floor(length / 2), position);
        throw failure;
      }
      const part = Math.min(length, watch.maxWrite ?? length);
      watch.writes.push({ length: part, position });
      return handle.write(buffer, offset, part, position);
    },
    async datasync() {
      await watch.holdSync?.wait();
      if (watch.failSync) throw watch.failSync;
      watch.syncs++;
      return handle.datasync();
    },
    truncate(length) {
      watch.truncates.push(length);
      return handle.truncate(length);
    },
    close() {
      watch.closes++;
      return handle.close();
    },
  };
  const failures: Error[] = [];
  const writer = new JournalWriter(
    file,
    Promise.resolve({ handle: wrapped, size: PREAMBLE.length }),
    policy,
    (error) => failures.push(error),
  );
  return { writer, watch, failures, file };
}

/** The frames after the preamble: record count and payload of each. */
function framesOf(file: string): { records: number; payload: string }[] {
  const bytes = readFileSync(file);
  const frames = [];
  for (let at = PREAMBLE.length; at < bytes.length;) {
    const length = bytes.readUInt32LE(at + 4);
    frames.push({
      records: bytes.readUInt32LE(at + 8),
      payload: bytes.subarray(at + HEADER, at + HEADER + length).toString(),
    });
    at += HEADER + length;
  }
  return frames;
}

const bytes = (text: string) => Buffer.from(text);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether the promise settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await sleep(ms);
  return settled;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: Error) => error,
  );
}

describe('store journal writer', () => {
  it('appends each batch as one frame after what the file held, counting bytes and records', async () => {
    const { writer, watch, file } = await writerOn('always');
    await writer.ready();
    expect(writer.size).to.equal(PREAMBLE.length);
    await writer.append([bytes('a1')], 1);
    await writer.append([bytes('b1'), bytes('b2')], 2);
    expect(framesOf(file)).to.deep.equal([
      { records: 1, payload: 'a1' },
      { records: 2, payload: 'b1b2' },
    ]);
    expect(watch.writes.map((w) => w.position)).to.deep.equal([
      PREAMBLE.length,
      PREAMBLE.length + HEADER + 2,
    ]);
    expect(writer.size).to.equal(statSync(file).size);
    expect(writer.records).to.equal(3);
    await writer.close();
    expect(watch.closes).to.equal(1);
  });

  it("with fsync 'always', acknowledges an append only once its fsync has returned", async () => {
    const { writer, watch } = await writerOn('always');
    const held = gate();
    watch.holdSync = held;
    const append = writer.append([bytes('x')], 1);
    expect(await settlesWithin(append, 100)).to.equal(false);
    held.open();
    await append;
    expect(watch.syncs).to.equal(1);
    watch.holdSync = null;
    await writer.flush();
    await writer.close();
    expect(watch.syncs).to.equal(1); // nothing left unsynced
  });

  it('writes the appends that arrive during an fsync together: one frame, one fsync, in call order', async () => {
    const { writer, watch, file } = await writerOn('always');
    const held = gate();
    watch.holdSync = held;
    const first = writer.append([bytes('1')], 1);
    await sleep(20);
    const rest = [2, 3, 4].map((n) => writer.append([bytes(String(n))], 1));
    await sleep(20);
    expect(watch.writes).to.have.length(1);
    held.open();
    await Promise.all([first, ...rest]);
    expect(framesOf(file)).to.deep.equal([
      { records: 1, payload: '1' },
      { records: 3, payload: '234' },
    ]);
    expect(watch.syncs).to.equal(2);
    expect(writer.records).to.equal(4);
    await writer.close();
  });

  it('keeps a group to 16 MiB, but writes a larger batch whole', async () => {
    const { writer, watch, file } = await writerOn('always');
    const held = gate();
    watch.holdSync = held;
    const MiB = 1 << 20;
    const big = (letter: string, size: number) => Buffer.alloc(size, letter);
    // Queued behind a first append whose fsync is held.
    const first = writer.append([bytes('0')], 1);
    await sleep(20);
    const appends = [
      writer.append([big('a', 9 * MiB)], 1),
      writer.append([big('b', 7 * MiB)], 1), // 16 MiB with the one before: one frame
      writer.append([big('c', 1024)], 1),
      writer.append([big('d', 17 * MiB)], 1),
    ];
    watch.holdSync = null;
    held.open();
    await Promise.all([first, ...appends]);
    const frames = framesOf(file);
    expect(frames.map((f) => [f.records, f.payload.length])).to.deep.equal([
      [1, 1],
      [2, 16 * MiB],
      [1, 1024],
      [1, 17 * MiB],
    ]);
    await writer.close();
  });

  it('goes on writing after a short write, from where it stopped', async () => {
    const { writer, watch, file } = await writerOn('always');
    watch.maxWrite = 7;
    await writer.append([bytes('twenty-six letters, about')], 1);
    expect(watch.writes.map((w) => w.position)).to.deep.equal(
      [0, 7, 14, 21, 28, 35, 42].map((n) => PREAMBLE.length + n),
    );
    expect(framesOf(file)).to.deep.equal([{ records: 1, payload: 'twenty-six letters, about' }]);
    expect(writer.size).to.equal(statSync(file).size);
    await writer.close();
  });

  it('fails a write that makes no progress instead of spinning', async () => {
    const { writer, watch, failures } = await writerOn('always');
    watch.failWrite = () => 'zero';
    const error = await rejection(writer.append([bytes('x')], 1));
    expect(error.message).to.contain('the write made no progress');
    expect(failures).to.deep.equal([error]);
    await writer.close().catch(() => undefined);
  });

  it('rejects a failed write clearly, cuts off the partial frame, and refuses everything after', async () => {
    const { writer, watch, failures, file } = await writerOn('always');
    await writer.append([bytes('kept')], 1);
    const sizeBefore = writer.size;
    const full = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    watch.failWrite = () => full;
    // Queued behind the failing one: rejected with it, never written.
    const failing = rejection(writer.append([bytes('lost')], 1));
    const queued = rejection(writer.append([bytes('queued')], 1));
    const error = await failing;
    expect(error.message).to.equal(
      `appending to the store journal ${path.resolve(file)} failed (the disk is full): ENOSPC: no space left on device`,
    );
    expect(error.cause).to.equal(full);
    expect(await queued).to.equal(error);
    // flush() waits for the write cycle to end (the partial frame cut off), then reports.
    expect(await rejection(writer.flush())).to.equal(error);
    expect(failures).to.deep.equal([error]);
    expect(watch.truncates).to.deep.equal([sizeBefore]);
    expect(statSync(file).size).to.equal(sizeBefore);
    expect(writer.size).to.equal(sizeBefore);
    expect(writer.records).to.equal(1);

    watch.failWrite = null;
    expect(await rejection(writer.append([bytes('later')], 1))).to.equal(error);
    expect(await rejection(writer.close())).to.equal(error);
    expect(watch.closes).to.equal(1);
    expect(framesOf(file)).to.deep.equal([{ records: 1, payload: 'kept' }]);
    expect(failures).to.have.length(1);
  });

  it("with fsync 'never', acknowledges before any fsync; flush and close sync once", async () => {
    const { writer, watch, file } = await writerOn('never');
    await writer.append([bytes('a')], 1);
    await writer.append([bytes('b')], 1);
    await sleep(80);
    expect(watch.syncs).to.equal(0);
    expect(framesOf(file)).to.have.length(2);
    await writer.flush();
    expect(watch.syncs).to.equal(1);
    await writer.flush();
    await writer.close();
    expect(watch.syncs).to.equal(1);
  });

  it("with fsync 'batch', acknowledges at once and syncs once within 50 ms of a burst", async () => {
    const { writer, watch } = await writerOn('batch');
    for (const n of [1, 2, 3]) await writer.append([bytes(String(n))], 1);
    expect(watch.syncs).to.equal(0);
    await sleep(150);
    expect(watch.syncs).to.equal(1);
    // A later burst gets its own sync.
    await writer.append([bytes('4')], 1);
    await sleep(150);
    expect(watch.syncs).to.equal(2);
    await writer.close();
    expect(watch.syncs).to.equal(2);
  });

  it("with fsync 'batch', a flush syncs at once and the timer adds no second sync", async () => {
    const { writer, watch } = await writerOn('batch');
    await writer.append([bytes('a')], 1);
    await writer.flush();
    expect(watch.syncs).to.equal(1);
    await sleep(150);
    expect(watch.syncs).to.equal(1);
    await writer.close();
  });

  it('waits for a timed sync in flight before flushing, without a second sync', async () => {
    const { writer, watch } = await writerOn('batch');
    const held = gate();
    watch.holdSync = held;
    await writer.append([bytes('a')], 1);
    await sleep(100); // the timer's sync has started and is held
    const flushed = writer.flush();
    expect(await settlesWithin(flushed, 50)).to.equal(false);
    held.open();
    await flushed;
    expect(watch.syncs).to.equal(1);
    await writer.close();
  });

  it('turns a failed timed fsync into a failure of the journal', async () => {
    const { writer, watch, failures, file } = await writerOn('batch');
    watch.failSync = Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
    await writer.append([bytes('a')], 1);
    await sleep(150);
    expect(failures).to.have.length(1);
    expect(failures[0].message).to.equal(
      `syncing the store journal ${path.resolve(file)} failed: EIO: i/o error`,
    );
    expect(await rejection(writer.append([bytes('b')], 1))).to.equal(failures[0]);
    expect(await rejection(writer.close())).to.equal(failures[0]);
  });

  it('flushes only once the appends queued before it are written and synced', async () => {
    const { writer, watch, file } = await writerOn('always');
    const held = gate();
    watch.holdSync = held;
    const append = writer.append([bytes('a')], 1);
    const flushed = writer.flush();
    expect(await settlesWithin(flushed, 50)).to.equal(false);
    held.open();
    await flushed;
    await append;
    expect(framesOf(file)).to.deep.equal([{ records: 1, payload: 'a' }]);
    await writer.close();
  });

  it("with fsync 'batch', starts no second fsync while one is in flight, and syncs the rest at close", async () => {
    const { writer, watch } = await writerOn('batch');
    const held = gate();
    watch.holdSync = held;
    await writer.append([bytes('a')], 1);
    await sleep(100); // the timer's fsync has started and is held
    await writer.append([bytes('b')], 1);
    await sleep(100); // the next timer finds it in flight
    held.open();
    await sleep(20);
    expect(watch.syncs).to.equal(1);
    watch.holdSync = null;
    await writer.close();
    expect(watch.syncs).to.equal(2); // b had not been covered
  });

  it('reports the first failure only, even when a timed fsync fails after a failed write', async () => {
    const { writer, watch, failures } = await writerOn('batch');
    await writer.append([bytes('a')], 1); // a timed fsync is now due
    const full = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    watch.failWrite = () => full;
    watch.failSync = new Error('EIO: i/o error');
    const error = await rejection(writer.append([bytes('b')], 1));
    await sleep(120);
    expect(failures).to.deep.equal([error]);
    expect(await rejection(writer.close())).to.equal(error);
  });

  it('closes the file when nothing was ever appended', async () => {
    const { writer, watch } = await writerOn('always');
    await writer.close();
    expect(watch.closes).to.equal(1);
    expect(watch.syncs).to.equal(0);
  });

  it('rejects appends, and reports once, when the file could not be opened', async () => {
    const failures: Error[] = [];
    const cause = new Error('opening the store journal failed');
    const writer = new JournalWriter(
      path.join(tempDir(), 'journal.log'),
      Promise.reject(cause),
      'always',
      (error) => failures.push(error),
    );
    expect(await rejection(writer.append([bytes('a')], 1))).to.equal(cause);
    expect(await rejection(writer.append([bytes('b')], 1))).to.equal(cause);
    expect(failures).to.deep.equal([cause]);
    expect(await rejection(writer.ready())).to.equal(cause);
    expect(await rejection(writer.close())).to.equal(cause);
  });
});
