/**
 * The store's on-disk durability: an append-only journal plus snapshots, in one data directory.
 *
 * Durability policy (`fsync` option):
 * - 'always' (default): append() resolves only after its records are written AND fdatasync'd, so
 *   an acknowledged write survives a process crash and a power loss. Group commit: appends that
 *   arrive while an fsync is in flight are written together as one frame and share the next
 *   fsync, so concurrent writers cost one fsync per group, not one each.
 * - 'batch': append() resolves once the records are written to the OS (they survive a process
 *   crash); an fsync follows within 50 ms. A power loss may lose the last 50 ms of writes.
 * - 'never': like 'batch' without the timer; the OS flushes when it likes (and on close and at
 *   each compaction). A power loss may lose recent writes.
 *
 * Files in the directory:
 * - `journal-<generation>.log`: frames (see frames.ts: length, record count, CRC-32 of header and
 *   payload) of BSON records. Each frame is replayed whole or not at all; one append is never
 *   split across frames.
 * - `snapshot.bson`: a header frame (generation G, record count) and frames of records that
 *   rebuild the state as of the end of journal G-1. Replay reads it, then journals G, G+1 …
 * - `LOCK`: the owning process (pid, host, start time); stale when that process is gone.
 *
 * Replay drops a torn or damaged tail (with a warning naming the file, offset and bytes dropped)
 * and refuses to start when damage is followed by valid records. Compaction writes
 * `snapshot.bson.tmp`, fsyncs it and the directory, renames it over the snapshot and fsyncs the
 * directory again; the journal it starts is created before the rename, so a crash at any step
 * leaves either the old snapshot with all journals or the new snapshot with the new journal.
 */
import { chmod, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { DeserializeOptions } from 'bson';
import { silentLogger, type Logger } from '../../lib/logger.js';
import type { Persistence } from '../persistence.js';
import { FilePersistence } from './file-persistence.js';
import {
  DIR_MODE,
  FILE_MODE,
  SNAPSHOT_TEMP_FILE,
  diskError,
  fsyncDir,
  journalFileName,
  listJournalGenerations,
} from './files.js';
import type { FsyncPolicy, JournalFile } from './journal-writer.js';
import { acquireDirLock } from './lock.js';
import { journalMeta, readSnapshotMeta } from './replay.js';

export type { FsyncPolicy, JournalFile };

export interface FilePersistenceOptions {
  /** When append() resolves: after fsync ('always', default), or before ('batch', 'never'). */
  fsync?: FsyncPolicy;
  logger?: Logger;
  /** wantsCompaction() once the journals exceed this many bytes and the snapshot. Default 64 MiB. */
  compactAfterBytes?: number;
  /**
   * How records are decoded at load; the store passes the engine's (wire.ts `decodeOptions`).
   * Default: int64 as bigint, int32 and double as number.
   */
  deserializeOptions?: DeserializeOptions;
  /** For tests: wraps each journal file as it is opened, e.g. to make writes fail. */
  wrapJournalFile?: (file: JournalFile) => JournalFile;
  /**
   * How long a live process on this host holding the directory's LOCK is waited for (it may be
   * dying) before the directory is refused. Default 5 s (lock.ts DEFAULT_OWNER_WAIT_MS).
   */
  lockOwnerWaitMs?: number;
}

export const DEFAULT_COMPACT_AFTER_BYTES = 64 << 20;

/**
 * Opens (creating if needed) the data directory `dir` and locks it for this process. Fails with a
 * clear message when the directory cannot be created or written, or another live process holds it.
 */
export async function openFilePersistence(
  dir: string,
  opts: FilePersistenceOptions = {},
): Promise<Persistence> {
  const logger = opts.logger ?? silentLogger;
  dir = path.resolve(dir);
  try {
    await makeDirectory(dir);
    await keepPrivate(dir, logger);
  } catch (error) {
    throw diskError('cannot use the data directory: creating', dir, error);
  }
  const lock = await acquireDirLock(dir, logger, { ownerWaitMs: opts.lockOwnerWaitMs });
  try {
    await unlink(path.join(dir, SNAPSHOT_TEMP_FILE)).catch(() => undefined);
    const snapshot = await readSnapshotMeta(dir);
    const covered = snapshot?.generation ?? 1;
    let generations = await listJournalGenerations(dir);
    // Journals older than the snapshot are what a crash right after its rename left behind.
    for (const generation of generations.filter((g) => g < covered)) {
      await unlink(path.join(dir, journalFileName(generation)));
    }
    generations = generations.filter((g) => g >= covered);
    for (const [i, generation] of generations.entries()) {
      if (generation !== covered + i) {
        throw new Error(
          `store journal ${journalFileName(covered + i)} is missing from ${dir} ` +
            `(found ${generations.map(journalFileName).join(', ')}); restore the data directory from a backup`,
        );
      }
    }
    if (generations.length === 0) {
      await createJournal(dir, covered);
      generations = [covered];
    }
    await fsyncDir(dir);
    const journals = [];
    for (const generation of generations) {
      journals.push({
        generation,
        bytes: (await stat(path.join(dir, journalFileName(generation)))).size,
      });
    }
    return new FilePersistence({
      dir,
      lock,
      snapshot,
      journals,
      policy: opts.fsync ?? 'always',
      logger,
      compactAfterBytes: opts.compactAfterBytes ?? DEFAULT_COMPACT_AFTER_BYTES,
      deserializeOptions: opts.deserializeOptions ?? { useBigInt64: true },
      wrapJournalFile: opts.wrapJournalFile ?? ((file) => file),
    });
  } catch (error) {
    await lock.release().catch(() => undefined);
    throw error;
  }
}

/**
 * mkdir -p, by hand: Node's recursive mkdir spins forever when a parent exists but cannot hold
 * children (a dangling symlink to an unmounted disk, a path under /proc). New directories are
 * 0700 and fsync'd into their parents so they survive a power loss.
 */
async function makeDirectory(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let at = dir; ;) {
    const found = await stat(at).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT' || path.dirname(at) === at) throw error;
      return null;
    });
    if (found?.isDirectory()) break;
    if (found) throw Object.assign(new Error(`${at} is not a directory`), { code: 'ENOTDIR' });
    missing.unshift(at);
    at = path.dirname(at);
  }
  for (const at of missing) {
    await mkdir(at, DIR_MODE).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    await fsyncDir(path.dirname(at));
  }
  if (!(await stat(dir)).isDirectory()) throw new Error(`${dir} is not a directory`);
}

/**
 * The directory 0700 and its files 0600, whatever the umask was when they were made: data
 * directories from before files had explicit modes (0755 and 0644) are tightened, once, saying so.
 */
async function keepPrivate(dir: string, logger: Logger): Promise<void> {
  const { mode } = await stat(dir);
  if (mode & 0o077) {
    await chmod(dir, DIR_MODE);
    logger.warn(
      { dir, was: (mode & 0o777).toString(8) },
      'store: the data directory was open to other accounts; it is now 0700',
    );
  }
  let tightened = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(dir, entry.name);
    if (((await stat(file)).mode & 0o077) === 0) continue;
    await chmod(file, FILE_MODE);
    tightened++;
  }
  if (tightened > 0) logger.warn({ dir, files: tightened }, 'store: files made 0600');
}

async function createJournal(dir: string, generation: number): Promise<void> {
  const file = path.join(dir, journalFileName(generation));
  const handle = await open(file, 'wx', FILE_MODE).catch((error) => {
    throw diskError('creating the store journal', file, error);
  });
  try {
    const meta = journalMeta(generation);
    await handle.write(meta, 0, meta.length, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
