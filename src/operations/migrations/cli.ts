import { parseArgs } from 'node:util';
import { loadConfig } from '../../config.js';
import { createLogger } from '../../lib/logger.js';
import { openOperationsDatabase } from '../connect.js';
import { MigrationFailed, migrationStatus, runMigrations } from './runner.js';

/**
 * `npm run migrate`: runs the pending migrations against MONGODB_URI or the embedded store of
 * DATA_DIR and exits (the app does the same at each start). `npm run migrate -- --status` lists
 * every migration with the time it was applied, or "pending". Exit status 0, or 1 on a failure.
 */
async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { status: { type: 'boolean', default: false } },
  });
  const config = loadConfig();
  const logger = createLogger({ level: config.log.level, pretty: config.log.pretty });
  const database = await openOperationsDatabase(config, logger);
  try {
    if (values.status) {
      for (const { id, description, record } of await migrationStatus(database.db)) {
        const state = record
          ? `applied ${record.finishedAt.toISOString()} (${record.durationMs} ms)`
          : 'pending';
        process.stdout.write(`${id}  ${state.padEnd(42)}  ${description}\n`);
      }
      return 0;
    }
    const { applied } = await runMigrations({ db: database.db, logger });
    process.stdout.write(
      applied.length === 0
        ? `no pending migrations in ${database.where}\n`
        : `applied ${applied.join(', ')} in ${database.where}\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof MigrationFailed) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    await database.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`migrate failed: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
