import { chmodSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from './logger.js';

/**
 * DATA_DIR holds the store (password hashes, personal records), the session secret and the mail
 * outbox (sign-in links): only the account running Tsunagu may enter it.
 */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * mkdir -p by hand, new directories 0700 whatever the umask. Node 20's recursive mkdir spins
 * forever when a parent is a dangling symbolic link; this fails with a clear message instead.
 */
export function makePrivateDirSync(dir: string): void {
  dir = path.resolve(dir);
  const missing: string[] = [];
  for (let at = dir; ; at = path.dirname(at)) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(at).isDirectory();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || path.dirname(at) === at) {
        throw error;
      }
      missing.unshift(at);
      continue;
    }
    if (isDirectory) break;
    throw Object.assign(new Error(`${at} is not a directory`), { code: 'ENOTDIR' });
  }
  for (const at of missing) {
    try {
      mkdirSync(at, PRIVATE_DIR_MODE);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // stat said ENOENT but the name exists: a symbolic link to nowhere.
      throw Object.assign(new Error(`${at} exists but leads nowhere (a dangling symbolic link?)`), {
        code: 'ENOTDIR',
      });
    }
    chmodSync(at, PRIVATE_DIR_MODE);
  }
}

/**
 * Creates `dir` 0700, or tightens it to 0700 when group or others had any access (saying so
 * once in the log): every process that keeps data in DATA_DIR calls this at start.
 */
export function securePrivateDir(dir: string, logger: Logger): void {
  makePrivateDirSync(dir);
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  chmodSync(dir, PRIVATE_DIR_MODE);
  logger.warn(
    { dir: path.resolve(dir), was: mode.toString(8) },
    'DATA_DIR was open to other accounts; it is now 0700',
  );
}
