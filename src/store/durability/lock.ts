import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, open, readFile, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Logger } from '../../lib/logger.js';
import { FILE_MODE, LOCK_FILE, diskError } from './files.js';

/**
 * The data-directory lock: a file that appears atomically (hard link of a fully written temp
 * file), holding the owner's pid, host name and the kernel's start time of that pid. The owner
 * touches it every HEARTBEAT_MS.
 *
 * A lock is stale, and taken over, when:
 * - on the same host: its pid is not alive, or now belongs to a process started later;
 * - from another host (or another container sharing the volume, whose pids we cannot see): it
 *   has not been touched for STALE_AFTER_MS.
 * So a SIGKILLed store never blocks its directory for good, not even after its container is
 * recreated under a new host name.
 */

export const HEARTBEAT_MS = 10_000;
export const STALE_AFTER_MS = 60_000;
/**
 * How long a live owner on this host is waited for before the directory is refused. A SIGKILLed
 * store can sit in fsync (uninterruptible) for a moment before its pid goes away, and a service
 * manager restarting it at once would otherwise be refused by its own predecessor.
 */
export const DEFAULT_OWNER_WAIT_MS = 5_000;
const OWNER_POLL_MS = 100;

interface LockOwner {
  pid: number;
  host: string;
  /** Start time of the pid in clock ticks since boot (Linux), to tell pid reuse apart. */
  procStart: string | null;
  since: string;
}

export interface DirLock {
  release(): Promise<void>;
}

export interface DirLockOptions {
  /** How long to wait for a live owner on this host to go away (default DEFAULT_OWNER_WAIT_MS). */
  ownerWaitMs?: number;
}

/** State letter and start time of a pid (Linux /proc), or null when unknown. */
function procStatOf(pid: number): { state: string; start: string | null } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state is field 3 of the whole line, starttime 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', start: fields[19] ?? null };
  } catch {
    return null;
  }
}

function procStartOf(pid: number): string | null {
  return procStatOf(pid)?.start ?? null;
}

function isAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const current = procStatOf(owner.pid);
  // A zombie (exited, not yet reaped by its parent) has closed its files: it holds nothing.
  if (current && (current.state === 'Z' || current.state === 'X')) return false;
  if (owner.procStart === null) return true;
  return current?.start == null || current.start === owner.procStart;
}

/** Polls until the owner is gone or `waitMs` has passed: true when it went away. */
async function waitForOwner(owner: LockOwner, waitMs: number): Promise<boolean> {
  const until = Date.now() + waitMs;
  while (Date.now() < until) {
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(OWNER_POLL_MS, until - Date.now())),
    );
    if (!isAlive(owner)) return true;
  }
  return !isAlive(owner);
}

function parseOwner(text: string): LockOwner | null {
  try {
    const owner = JSON.parse(text) as Partial<LockOwner>;
    if (typeof owner.pid !== 'number' || typeof owner.host !== 'string') return null;
    return {
      pid: owner.pid,
      host: owner.host,
      procStart: owner.procStart ?? null,
      since: owner.since ?? '?',
    };
  } catch {
    return null;
  }
}

export async function acquireDirLock(
  dir: string,
  logger: Logger,
  options: DirLockOptions = {},
): Promise<DirLock> {
  const file = path.join(dir, LOCK_FILE);
  const mine: LockOwner = {
    pid: process.pid,
    host: hostname(),
    procStart: procStartOf(process.pid),
    since: new Date().toISOString(),
  };
  const content = JSON.stringify(mine);
  const temp = path.join(dir, `${LOCK_FILE}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', FILE_MODE);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw diskError('cannot lock the data directory: writing', temp, error);
  }
  try {
    await takeLock(dir, file, temp, mine, logger, options.ownerWaitMs ?? DEFAULT_OWNER_WAIT_MS);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(file, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  return {
    async release() {
      clearInterval(heartbeat);
      const text = await readFile(file, 'utf8').catch(() => null);
      if (text === content) await unlink(file);
    },
  };
}

async function takeLock(
  dir: string,
  file: string,
  temp: string,
  mine: LockOwner,
  logger: Logger,
  ownerWaitMs: number,
): Promise<void> {
  let waited = false;
  for (let attempt = 0; ; attempt++) {
    try {
      await link(temp, file);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw diskError('cannot lock the data directory: creating', file, error);
      }
    }
    let text: string;
    let touchedAgo: number;
    try {
      text = await readFile(file, 'utf8');
      touchedAgo = Date.now() - (await stat(file)).mtimeMs;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw diskError('cannot lock the data directory: reading', file, error);
    }
    // An unparsable lock (it appears complete, so only damage makes one) is treated as stale.
    const owner = parseOwner(text);
    if (owner && owner.host !== mine.host && touchedAgo < STALE_AFTER_MS) {
      throw new Error(
        `data directory ${path.resolve(dir)} is in use by process ${owner.pid} on host ${owner.host} ` +
          `(since ${owner.since}, alive ${Math.round(touchedAgo / 1000)} s ago); ` +
          'stop it first or use another directory',
      );
    }
    if (owner && owner.host === mine.host && isAlive(owner)) {
      // A process that is still dying (killed, finishing an fsync) gets a few seconds to go; this
      // process itself, or one that outlives the wait, is refused.
      if (owner.pid !== process.pid && !waited && ownerWaitMs > 0) {
        waited = true;
        logger.info(
          { pid: owner.pid, waitMs: ownerWaitMs },
          'data directory lock held by a live process; waiting for it to exit',
        );
        if (await waitForOwner(owner, ownerWaitMs)) continue;
      }
      const who = owner.pid === process.pid ? ' (this process)' : '';
      throw new Error(
        `data directory ${path.resolve(dir)} is in use by process ${owner.pid}${who} ` +
          `(since ${owner.since}); stop it first or use another directory`,
      );
    }
    if (attempt >= 3) throw new Error(`cannot take over the stale lock ${path.resolve(file)}`);
    logger.warn({ file, staleOwner: owner ?? text }, 'taking over a stale data directory lock');
    // Re-read just before removing, so a lock another process took meanwhile is left alone.
    const again = await readFile(file, 'utf8').catch(() => null);
    if (again === text) await unlink(file).catch(() => undefined);
  }
}
