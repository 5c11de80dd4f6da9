import 'dotenv/config';
import type { Server } from 'node:http';
import { createApp } from './app.js';
import { firstStart, firstStartMessage } from './bootstrap/first-start.js';
import { ConfigError, loadConfig } from './config.js';
import { CourseContentError, loadCatalog } from './courses/loader.js';
import { connectDatabase } from './db.js';
import { createLogger } from './lib/logger.js';
import { startRetentionSweep } from './case-studies/retention.js';
import { securePrivateDir } from './lib/private-dir.js';
import { MigrationFailed, runMigrations } from './operations/migrations/runner.js';
import { startBackupSchedule } from './operations/scheduled-backup.js';
import { keepConnectionsAlive } from './http/keep-alive.js';
import { boundHeapGrowth } from './lib/heap.js';

async function main(): Promise<void> {
  boundHeapGrowth();
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.log);
  // The store, the session secret and the outbox: nobody but this account may enter DATA_DIR.
  securePrivateDir(config.dataDir, logger);
  // The whole training content is validated before anything else starts: never half-loaded.
  let catalog;
  try {
    catalog = await loadCatalog(config.coursesDir);
  } catch (error) {
    if (error instanceof CourseContentError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const database = await connectDatabase({ config, logger });
  // Changes of data shape since the last version, before anything reads the data (one process
  // at a time; the others wait). A failure stops the start here, naming the migration.
  try {
    await runMigrations({ db: database.connection.db!, logger });
  } catch (error) {
    if (error instanceof MigrationFailed) {
      console.error(`Tsunagu could not start: ${error.message}`);
      await database.close();
      process.exit(1);
    }
    throw error;
  }
  // Regions and municipalities, the first administrator, demo accounts: only what is missing.
  const started = await firstStart({ config, logger });
  process.stdout.write(firstStartMessage(started, config.baseUrl));
  const app = createApp({ config, logger, database, catalog });
  // Attachments of approved case studies past CASE_FILE_RETENTION_DAYS (unset: kept).
  const stopRetentionSweep = startRetentionSweep(config.caseStudies.fileRetentionDays, logger);
  // The daily backup into BACKUP_DIR (unset: none); one process of all sharing the database.
  const backups = startBackupSchedule({
    db: database.connection.db!,
    backup: config.backup,
    logger: logger.child({ component: 'backup' }),
  });

  if (config.isProduction && config.trustProxy === false) {
    // Session cookies are Secure in production and set only over HTTPS, which Node does not
    // serve here: behind the TLS proxy, TRUST_PROXY must name it or nobody can sign in.
    logger.warn(
      'NODE_ENV=production without TRUST_PROXY: sign-in needs HTTPS through a proxy named by TRUST_PROXY',
    );
  }
  const server: Server = app.listen(config.port, config.host, () => {
    logger.info(
      { url: config.baseUrl, host: config.host, trustProxy: config.trustProxy },
      `Tsunagu is running: open ${config.baseUrl}`,
    );
  });
  keepConnectionsAlive(server);
  server.on('error', (error) => {
    logger.fatal({ err: error }, 'could not start the web server');
    void database.close().finally(() => process.exit(1));
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    stopRetentionSweep();
    logger.info({ signal }, 'shutting down: finishing open requests');
    const force = setTimeout(() => {
      logger.warn('requests still open after 10 s; closing anyway');
      server.closeAllConnections();
    }, 10_000);
    force.unref();
    server.close(() => {
      // A backup in progress is stopped (it leaves no file) before the database goes.
      backups
        .stop()
        .then(() => database.close())
        .then(() => {
          logger.info('stopped');
          process.exit(0);
        })
        .catch((error: unknown) => {
          logger.error({ err: error }, 'error while closing the database');
          process.exit(1);
        });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error('Tsunagu could not start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
