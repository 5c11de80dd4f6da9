import type { Db } from 'mongodb';
import type { Logger } from '../../lib/logger.js';
import { MIGRATIONS } from './index.js';
import { acquireMigrationLock, type LockOptions } from './lock.js';
import type { Migration } from './types.js';

/** One applied migration, as recorded in the `migrations` collection (written after it succeeded). */
export interface MigrationRecord {
  /** The migration's id ('0001'). */
  _id: string;
  name: string;
  startedAt: Date;
  finishedAt: Date;
  durationMs: number;
}

export const MIGRATIONS_COLLECTION = 'migrations';

/** A migration threw: it was not recorded, and none after it ran. */
export class MigrationFailed extends Error {
  constructor(
    readonly migrationId: string,
    description: string,
    cause: unknown,
  ) {
    super(
      `migration ${migrationId} (${description}) failed: ${cause instanceof Error ? cause.message : String(cause)}. ` +
        'It was not recorded and the migrations after it were not run; fix the cause and start again ' +
        '(the migration runs again from its beginning).',
      { cause },
    );
    this.name = 'MigrationFailed';
  }
}

export interface RunOptions {
  db: Db;
  logger: Logger;
  /** The migrations to run (tests); default: every migration of index.ts. */
  migrations?: readonly Migration[];
  lock?: LockOptions;
}

export interface RunResult {
  /** Ids of the migrations this call ran, in order. */
  applied: string[];
}

/** Refuses a list whose ids are not four-digit, unique and ascending (a mistake in index.ts). */
function checkList(migrations: readonly Migration[]): void {
  let previous = '';
  for (const { id } of migrations) {
    if (!/^\d{4}$/.test(id) || id <= previous) {
      throw new Error(`migration ids must be four digits, unique and ascending: "${id}"`);
    }
    previous = id;
  }
}

async function appliedIds(db: Db): Promise<Set<string>> {
  const records = await db
    .collection<MigrationRecord>(MIGRATIONS_COLLECTION)
    .find({}, { projection: { _id: 1 } })
    .toArray();
  return new Set(records.map((record) => record._id));
}

/** The migrations not yet recorded in this database, in order. */
export async function pendingMigrations(
  db: Db,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<Migration[]> {
  checkList(migrations);
  const applied = await appliedIds(db);
  return migrations.filter((migration) => !applied.has(migration.id));
}

/** Every known migration with its record, or null when pending (npm run migrate -- --status). */
export async function migrationStatus(
  db: Db,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<Array<{ id: string; description: string; record: MigrationRecord | null }>> {
  checkList(migrations);
  const records = await db.collection<MigrationRecord>(MIGRATIONS_COLLECTION).find({}).toArray();
  const byId = new Map(records.map((record) => [record._id, record]));
  return migrations.map(({ id, description }) => ({
    id,
    description,
    record: byId.get(id) ?? null,
  }));
}

/**
 * Runs the pending migrations in order, one process at a time (a lock document in the database:
 * a second process starting together waits, then finds nothing left to do). Each is recorded
 * once it succeeded; the first one that throws stops the run with MigrationFailed. Without
 * pending migrations no lock is taken (the usual start costs one small query).
 */
export async function runMigrations(options: RunOptions): Promise<RunResult> {
  const { db, logger } = options;
  const migrations = options.migrations ?? MIGRATIONS;
  if ((await pendingMigrations(db, migrations)).length === 0) return { applied: [] };
  const lock = await acquireMigrationLock(db, options.lock);
  const applied: string[] = [];
  try {
    // Another process may have run them while this one waited for the lock.
    const pending = await pendingMigrations(db, migrations);
    for (const migration of pending) {
      const startedAt = new Date();
      const started = performance.now();
      logger.info({ migration: migration.id }, 'migration started');
      try {
        await migration.up({ db, logger: logger.child({ migration: migration.id }) });
      } catch (error) {
        logger.error({ migration: migration.id }, 'migration failed');
        throw new MigrationFailed(migration.id, migration.description, error);
      }
      const durationMs = Math.round(performance.now() - started);
      await db.collection<MigrationRecord>(MIGRATIONS_COLLECTION).insertOne({
        _id: migration.id,
        name: migration.description,
        startedAt,
        finishedAt: new Date(),
        durationMs,
      });
      applied.push(migration.id);
      logger.info({ migration: migration.id, durationMs }, 'migration applied');
    }
  } finally {
    await lock.release().catch(() => undefined);
  }
  return { applied };
}
