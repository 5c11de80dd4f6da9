import { mkdir, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { ObjectId, type Db } from 'mongodb';
import type { Config } from '../config.js';
import type { Logger } from '../lib/logger.js';
import { backupDatabase, type BackupOptions, type BackupResult } from './backup.js';
import { nextBackupAt, SCHEDULED_BACKUP_NAME, scheduledBackupName } from './schedule.js';

/**
 * The daily backup (BACKUP_DIR, BACKUP_AT, BACKUP_KEEP). Every app process arms a timer; when it
 * fires, the processes race to insert the lock document of that day's time (`backup_locks`, _id
 * = the scheduled time): the one insert that succeeds takes the backup, the others skip. A
 * process that dies while holding it costs that day's backup only: the next day has another _id.
 * Lock documents expire after a few days (TTL index). Each run is recorded in `backup_runs`
 * (times, size, file name, outcome; nothing personal). The collections use the driver directly,
 * as backup.ts does, so that two processes' schedulers can be tested in one process.
 */

export const BACKUP_RUNS = 'backup_runs';
export const BACKUP_LOCKS = 'backup_locks';

/** One backup, as recorded in `backup_runs`: a scheduled one, or one taken by `npm run backup`. */
export interface BackupRun {
  _id: ObjectId;
  /** 'manual' for `npm run backup`; runs recorded before manual ones were have none (scheduled). */
  kind?: 'scheduled' | 'manual';
  /** The scheduled time (BACKUP_AT of that day) this run is for; null for a manual one. */
  slot: Date | null;
  startedAt: Date;
  finishedAt: Date | null;
  status: 'running' | 'ok' | 'error';
  /** The machine and process that took it (host name, pid). */
  host: string;
  pid: number;
  /** The archive's name in that machine's BACKUP_DIR; a manual one's full path on its machine. */
  file: string;
  /** Size of the archive; null until it is written. */
  bytes: number | null;
  durationMs: number | null;
  collections: number | null;
  documents: number | null;
  /** Older backups deleted afterwards (BACKUP_KEEP). */
  deleted: string[];
  /** Why it failed (a file-system or database message; never document contents). */
  error: string | null;
}

interface BackupLock {
  _id: string;
  host: string;
  pid: number;
  takenAt: Date;
  expiresAt: Date;
}

/** The last backup that completed: when, how large, which file. */
export interface LastBackup {
  at: Date;
  bytes: number;
  file: string;
}

const LOCK_KEPT_MS = 3 * 24 * 60 * 60 * 1000;
const RUNS_KEPT_SECONDS = 400 * 24 * 60 * 60;
/** Longest wait of the timer: it re-checks the clock at least this often (clock changes, sleep). */
const MAX_TIMER_MS = 60 * 60 * 1000;

const runs = (db: Db) => db.collection<BackupRun>(BACKUP_RUNS);
const locks = (db: Db) => db.collection<BackupLock>(BACKUP_LOCKS);

async function ensureIndexes(db: Db): Promise<void> {
  await locks(db).createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });
  await runs(db).createIndex({ startedAt: -1 }, { expireAfterSeconds: RUNS_KEPT_SECONDS });
  await runs(db).createIndex({ status: 1, finishedAt: -1 });
}

/**
 * The last backup that completed (scheduled or manual), or null. For /healthz, the admin page and
 * a "last backup age" metric: `(Date.now() - at) / 1000`.
 */
export async function lastBackup(db: Db): Promise<LastBackup | null> {
  const run = await runs(db).find({ status: 'ok' }).sort({ finishedAt: -1 }).limit(1).next();
  if (!run?.finishedAt) return null;
  return { at: run.finishedAt, bytes: run.bytes ?? 0, file: run.file };
}

/** The most recent runs, newest first. */
export async function recentBackupRuns(db: Db, limit = 30): Promise<BackupRun[]> {
  return runs(db).find({}).sort({ startedAt: -1 }).limit(limit).toArray();
}

export interface ScheduledBackupDeps {
  db: Db;
  backup: Config['backup'];
  logger: Logger;
  /** The clock (tests move it). */
  now?: () => Date;
  /** Passed on to backupDatabase (tests: a disk that fills up). */
  backupOptions?: Pick<BackupOptions, 'openFile'>;
}

export type ScheduledBackupOutcome =
  { status: 'skipped'; reason: 'disabled' | 'taken' } | { status: 'ok' | 'error'; run: BackupRun };

/**
 * Deletes the oldest scheduled backups (by their names, which sort by time) beyond `keep`, with
 * their .sha256. Files of any other name are left alone. Returns the names deleted.
 */
export async function pruneScheduledBackups(dir: string, keep: number): Promise<string[]> {
  const names = (await readdir(dir)).filter((name) => SCHEDULED_BACKUP_NAME.test(name)).sort();
  const old = names.slice(0, Math.max(0, names.length - keep));
  for (const name of old) {
    await rm(path.join(dir, `${name}.sha256`), { force: true });
    await rm(path.join(dir, name), { force: true });
  }
  return old;
}

/**
 * The backup of the scheduled time `slot`, if this process wins that time's lock. Never throws
 * for a failed backup: the failure is recorded and logged, and the app goes on serving.
 */
export async function runScheduledBackup(
  deps: ScheduledBackupDeps,
  slot: Date,
  signal?: AbortSignal,
): Promise<ScheduledBackupOutcome> {
  const { db, backup, logger } = deps;
  const now = deps.now ?? (() => new Date());
  if (!backup.dir) return { status: 'skipped', reason: 'disabled' };
  await ensureIndexes(db);
  const takenAt = now();
  try {
    await locks(db).insertOne({
      _id: slot.toISOString(),
      host: hostname(),
      pid: process.pid,
      takenAt,
      expiresAt: new Date(slot.getTime() + LOCK_KEPT_MS),
    });
  } catch (error) {
    if ((error as { code?: number }).code === 11000) {
      logger.debug({ slot }, 'scheduled backup taken by another process');
      return { status: 'skipped', reason: 'taken' };
    }
    throw error;
  }

  const run: BackupRun = {
    _id: new ObjectId(),
    kind: 'scheduled',
    slot,
    startedAt: takenAt,
    finishedAt: null,
    status: 'running',
    host: hostname(),
    pid: process.pid,
    file: scheduledBackupName(slot),
    bytes: null,
    durationMs: null,
    collections: null,
    documents: null,
    deleted: [],
    error: null,
  };
  await runs(db).insertOne(run);
  const started = performance.now();
  try {
    await mkdir(backup.dir, { recursive: true, mode: 0o700 });
    const result = await backupDatabase(db, path.join(backup.dir, run.file), {
      ...deps.backupOptions,
      signal,
    });
    Object.assign(run, writtenFields(result));
    run.status = 'ok';
    // Only after a backup succeeded: a failing disk never costs the backups already there.
    run.deleted = await pruneScheduledBackups(backup.dir, backup.keep);
  } catch (error) {
    run.status = 'error';
    run.error = (error as Error).message.slice(0, 500);
  }
  run.finishedAt = now();
  run.durationMs = Math.round(performance.now() - started);
  const { _id, ...fields } = run;
  await runs(db).updateOne({ _id }, { $set: fields });
  const summary = {
    file: run.file,
    bytes: run.bytes,
    durationMs: run.durationMs,
    deleted: run.deleted.length,
  };
  if (run.status === 'ok') logger.info(summary, 'scheduled backup written');
  else logger.error({ ...summary, error: run.error }, 'scheduled backup failed');
  return { status: run.status, run };
}

/** What backup_runs keeps of a backup that was written: its size and what it holds. */
function writtenFields(result: BackupResult): NonNullable<ManualBackup['result']> {
  return {
    bytes: result.archiveBytes,
    collections: result.collections.length,
    documents: result.collections.reduce((sum, c) => sum + c.documents, 0),
  };
}

/** What `npm run backup` knows once it has ended: the file, its times, and its result or error. */
export interface ManualBackup {
  file: string;
  startedAt: Date;
  finishedAt: Date;
  durationMs: number;
  result?: { bytes: number; collections: number; documents: number };
  error?: string;
}

/**
 * Records a backup taken by hand (`npm run backup`) beside the scheduled ones, so the
 * administrators' page, /healthz and the metrics see it. One insert once the backup has ended:
 * the archive never holds a record of itself half-way, and a failed backup is recorded as such.
 */
export async function recordManualBackup(db: Db, backup: ManualBackup): Promise<BackupRun> {
  await ensureIndexes(db);
  const run: BackupRun = {
    _id: new ObjectId(),
    kind: 'manual',
    slot: null,
    startedAt: backup.startedAt,
    finishedAt: backup.finishedAt,
    status: backup.result ? 'ok' : 'error',
    host: hostname(),
    pid: process.pid,
    file: backup.file,
    bytes: backup.result?.bytes ?? null,
    durationMs: backup.durationMs,
    collections: backup.result?.collections ?? null,
    documents: backup.result?.documents ?? null,
    deleted: [],
    error: backup.result ? null : (backup.error ?? 'unknown error').slice(0, 500),
  };
  await runs(db).insertOne(run);
  return run;
}

/**
 * `npm run backup`: the backup to `file` (its full path is what is recorded), then its outcome
 * recorded with recordManualBackup, a failure as well as a success. A record that cannot be
 * written goes to `unrecorded` and does not fail the backup; a failed backup is thrown once
 * recorded.
 */
export async function runManualBackup(
  db: Db,
  file: string,
  options: BackupOptions,
  unrecorded: (error: Error) => void,
): Promise<BackupResult> {
  const target = path.resolve(file);
  const startedAt = new Date();
  const started = performance.now();
  const record = (outcome: Pick<ManualBackup, 'result' | 'error'>) =>
    recordManualBackup(db, {
      file: target,
      startedAt,
      finishedAt: new Date(),
      durationMs: Math.round(performance.now() - started),
      ...outcome,
    }).catch((error: unknown) => unrecorded(error as Error));
  let result: BackupResult;
  try {
    result = await backupDatabase(db, target, options);
  } catch (error) {
    await record({ error: (error as Error).message });
    throw error;
  }
  await record({ result: writtenFields(result) });
  return result;
}

export interface BackupSchedule {
  /** The next scheduled time, or null when BACKUP_DIR is unset or the schedule was stopped. */
  nextAt(): Date | null;
  /** Stops the timer and a backup in progress (it leaves no file); resolves once it has ended. */
  stop(): Promise<void>;
}

/** Arms the daily backup (nothing when BACKUP_DIR is unset). The timer never keeps Node alive. */
export function startBackupSchedule(deps: ScheduledBackupDeps): BackupSchedule {
  const now = deps.now ?? (() => new Date());
  const { dir, at } = deps.backup;
  if (!dir) return { nextAt: () => null, stop: () => Promise.resolve() };
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let next: Date | null = nextBackupAt(now(), at);
  let running: Promise<unknown> = Promise.resolve();

  const arm = () => {
    if (stopping.signal.aborted || !next) return;
    const wait = Math.min(Math.max(next.getTime() - now().getTime(), 0), MAX_TIMER_MS);
    timer = setTimeout(check, wait);
    timer.unref();
  };
  const check = () => {
    if (!next || now() < next) return arm();
    const slot = next;
    next = nextBackupAt(now(), at);
    running = runScheduledBackup(deps, slot, stopping.signal)
      .catch((error: unknown) => {
        deps.logger.error({ err: error }, 'scheduled backup could not start');
      })
      .finally(arm);
  };
  deps.logger.info({ dir, keep: deps.backup.keep, nextAt: next }, 'scheduled backups on');
  arm();
  return {
    nextAt: () => next,
    async stop() {
      next = null;
      clearTimeout(timer);
      stopping.abort(new Error('the app is stopping'));
      await running;
    },
  };
}
