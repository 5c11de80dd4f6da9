import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Logger } from '../../lib/logger.js';
import { LOCK_FILE, diskError } from './files.js';

/**
 * The data-directory lock: a file created exclusively, holding the owner's pid, host and the
 * kernel's start time of that pid. A lock whose process is gone (or whose pid now belongs to a
 * process started later) is stale and taken over, so a SIGKILLed store never blocks its
 * directory for good.
 */

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

function procStartOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; starttime is field 22 of the whole line.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (owner.procStart === null) return true;
  const current = procStartOf(owner.pid);
  return current === null || current === owner.procStart;
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

export async function acquireDirLock(dir: string, logger: Logger): Promise<DirLock> {
  const file = path.join(dir, LOCK_FILE);
  const mine: LockOwner = {
    pid: process.pid,
    host: hostname(),
    procStart: procStartOf(process.pid),
    since: new Date().toISOString(),
  };
  const content = JSON.stringify(mine);
  // Written aside and then hard-linked into place: the lock appears atomically, complete.
  const temp = path.join(dir, `${LOCK_FILE}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'w');
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
    await takeLock(dir, file, temp, mine, logger);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  return {
    async release() {
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
): Promise<void> {
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
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw diskError('cannot lock the data directory: reading', file, error);
    }
    const owner = parseOwner(text);
    // An unparsable lock is not ours to interpret: treat it as stale.
    if (owner && owner.host !== mine.host) {
      throw new Error(
        `data directory ${path.resolve(dir)} is in use by process ${owner.pid} on host ${owner.host} ` +
          `(since ${owner.since}); if that process is gone, delete ${path.resolve(file)}`,
      );
    }
    if (owner && isAlive(owner)) {
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
