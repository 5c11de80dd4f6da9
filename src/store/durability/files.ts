import { open, readdir } from 'node:fs/promises';
import path from 'node:path';

export const SNAPSHOT_FILE = 'snapshot.bson';
export const SNAPSHOT_TEMP_FILE = 'snapshot.bson.tmp';
export const LOCK_FILE = 'LOCK';

/**
 * Modes of everything the store creates, whatever the umask: the data hold password hashes and
 * personal records, so only the owner may read them, or even list the directory.
 */
export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

const JOURNAL_PATTERN = /^journal-(\d{12})\.log$/;

export function journalFileName(generation: number): string {
  return `journal-${String(generation).padStart(12, '0')}.log`;
}

/** Journal generations present in `dir`, ascending. */
export async function listJournalGenerations(dir: string): Promise<number[]> {
  const generations: number[] = [];
  for (const name of await readdir(dir)) {
    const match = JOURNAL_PATTERN.exec(name);
    if (match) generations.push(Number(match[1]));
  }
  return generations.sort((a, b) => a - b);
}

/** Makes creations, renames and deletions in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** An Error whose message says what failed on which path, keeping the system error as cause. */
export function diskError(what: string, file: string, cause: unknown): Error {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const hint =
    code === 'ENOSPC'
      ? ' (the disk is full)'
      : code === 'EROFS'
        ? ' (the file system is read-only)'
        : code === 'EACCES' || code === 'EPERM'
          ? ' (permission denied)'
          : '';
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new Error(`${what} ${path.resolve(file)} failed${hint}: ${detail}`, { cause });
}
