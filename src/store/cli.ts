import path from 'node:path';
import { boundHeapGrowth } from '../lib/heap.js';
import { createLogger } from '../lib/logger.js';
import { securePrivateDir } from '../lib/private-dir.js';
import { TCP_PASSWORD_FILE, TCP_USER, startStore } from './index.js';

/**
 * `npm run db`: the store alone, so several app processes (running as the same account) can
 * share it. It listens on the Unix socket DATA_DIR/store/store.sock (0600, in a 0700 DATA_DIR),
 * never on TCP. Once it accepts connections it prints, on stdout, a line
 *
 *   MONGODB_URI=mongodb://%2F…%2Fstore%2Fstore.sock/tsunagu
 *
 * to give to app processes (`storeUri(DATA_DIR)` in index.ts computes the same), and how to
 * open it with mongosh.
 *
 * DATA_DIR   data directory; the store keeps its files in DATA_DIR/store (default ./data)
 * STORE_PORT when set, also listen on 127.0.0.1:STORE_PORT for tools that cannot use a socket;
 *            SCRAM-SHA-256 required there, user `tsunagu`, password in DATA_DIR/store/tcp-password
 * STORE_FSYNC always (default) | batch | never, as for the app (see durability/index.ts)
 * LOG_LEVEL  pino level (default info)
 */
boundHeapGrowth();
const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info' });
if (process.env.DB_PORT) {
  logger.warn('DB_PORT is ignored: the store listens on its Unix socket (and STORE_PORT if set)');
}
const fsync = process.env.STORE_FSYNC || 'always';
if (fsync !== 'always' && fsync !== 'batch' && fsync !== 'never') {
  logger.error('STORE_FSYNC must be always, batch or never');
  process.exit(1);
}
const tcpPort = process.env.STORE_PORT ? Number(process.env.STORE_PORT) : null;
if (tcpPort !== null && !(Number.isInteger(tcpPort) && tcpPort >= 0 && tcpPort <= 65535)) {
  logger.error('STORE_PORT must be a port number');
  process.exit(1);
}
const dataDir = path.resolve(process.env.DATA_DIR ?? './data');
const storeDir = path.join(dataDir, 'store');

try {
  securePrivateDir(dataDir, logger);
  const store = await startStore({
    dataDir: storeDir,
    fsync,
    logger,
    tcp: tcpPort === null ? undefined : { port: tcpPort },
  });
  const uri = `${store.uri}/tsunagu`;
  logger.info({ socket: store.socketPath, dataDir: storeDir }, 'store: ready');
  process.stdout.write(
    [
      '',
      'The store listens on a Unix socket only this account can open:',
      `  ${store.socketPath}`,
      'App processes (run as this account) connect with:',
      `MONGODB_URI=${uri}`,
      'mongosh:',
      `  mongosh '${uri}'`,
      ...(store.tcp
        ? [
            `TCP on 127.0.0.1:${store.tcp.port}, SCRAM-SHA-256 required (user ${TCP_USER}, password in ${path.join(storeDir, TCP_PASSWORD_FILE)}):`,
            `  mongosh "mongodb://${TCP_USER}:$(cat '${path.join(storeDir, TCP_PASSWORD_FILE)}')@127.0.0.1:${store.tcp.port}/tsunagu?authSource=admin"`,
          ]
        : []),
      '',
    ].join('\n') + '\n',
  );
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
