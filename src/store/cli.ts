import path from 'node:path';
import { createLogger } from '../lib/logger.js';
import { startStore } from './index.js';

/**
 * `npm run db`: the store alone, so several app processes can share it through
 * MONGODB_URI=mongodb://127.0.0.1:<port>/tsunagu.
 *
 * DB_PORT   port on 127.0.0.1 (default 27017)
 * DATA_DIR  data directory; the store keeps its files in DATA_DIR/store (default ./data)
 * LOG_LEVEL pino level (default info)
 */
const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info' });
const port = Number(process.env.DB_PORT ?? 27017);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  logger.error({ port: process.env.DB_PORT }, 'DB_PORT must be a port number');
  process.exit(1);
}
const dataDir = path.join(process.env.DATA_DIR ?? './data', 'store');

try {
  const store = await startStore({ dataDir, port, logger });
  logger.info({ uri: store.uri, dataDir }, 'store: ready (MONGODB_URI=%s/tsunagu)', store.uri);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'store: shutting down');
    store.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: (err as Error).message }, 'store: error while closing');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
} catch (err) {
  logger.error({ err: (err as Error).message }, 'store: cannot start');
  process.exit(1);
}
