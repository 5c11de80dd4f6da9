import path from 'node:path';
import mongoose from 'mongoose';
import type { Config } from './config.js';
import type { Logger } from './lib/logger.js';
import { startStore, type RunningStore } from './store/index.js';
import { startStoreThread, type ThreadStore } from './store/thread.js';
import { CACHE_NAMES, startReadCaches, stopReadCaches } from './cache/read-caches.js';

/** The database the app runs on: the embedded store or an external MongoDB. */
export interface Database {
  kind: 'embedded' | 'external';
  /** Name of the database inside the server. */
  name: string;
  connection: mongoose.Connection;
  ping(): Promise<{ ok: boolean; ms: number }>;
  /** Figures for /healthz; nothing personal. */
  stats(): Record<string, unknown>;
  /** Brings stats() up to date: a store in its thread sends its figures only every second. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  config: Pick<Config, 'mongodbUri' | 'dataDir' | 'storeFsync' | 'readCaches'> &
    Partial<Pick<Config, 'storeThread' | 'log'>>;
  logger: Logger;
  /** Database name; defaults to the one in MONGODB_URI, or "tsunagu". */
  dbName?: string;
  /** Keep the embedded store in memory only (tests). */
  inMemory?: boolean;
}

function databaseNameFrom(uri: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(uri);
  return match?.[1] ? decodeURIComponent(match[1]) : undefined;
}

/** Whether the server is Tsunagu's embedded store (in this process or another, as `npm run db`). */
async function isEmbeddedStore(connection: mongoose.Connection): Promise<boolean> {
  const info = await connection.db!.admin().buildInfo();
  return info.gitVersion === 'tsunagu-embedded-store';
}

/**
 * Connects mongoose (the process-wide default connection) to MONGODB_URI, or starts the embedded
 * store and connects to it through the real MongoDB driver.
 */
export async function connectDatabase(options: ConnectOptions): Promise<Database> {
  const { config, logger } = options;
  let store: RunningStore | undefined;
  let thread: ThreadStore | undefined;
  let uri: string;
  if (config.mongodbUri) {
    uri = config.mongodbUri;
  } else if (config.storeThread && !options.inMemory) {
    store = thread = await startStoreThread(
      {
        dataDir: path.join(config.dataDir, 'store'),
        fsync: config.storeFsync,
        logLevel: config.log?.level ?? 'info',
      },
      logger.child({ component: 'store' }),
    );
    uri = store.uri;
  } else {
    store = await startStore({
      dataDir: options.inMemory ? null : path.join(config.dataDir, 'store'),
      fsync: config.storeFsync,
      logger: logger.child({ component: 'store' }),
    });
    uri = store.uri;
  }
  const name = options.dbName ?? databaseNameFrom(uri) ?? 'tsunagu';
  mongoose.set('strictQuery', true);
  mongoose.set('sanitizeFilter', true);
  try {
    // monitorCommands: the driver reports each command's round trip (src/metrics/collectors.ts).
    await mongoose.connect(uri, {
      dbName: name,
      serverSelectionTimeoutMS: 10_000,
      monitorCommands: true,
    });
  } catch (error) {
    await store?.close();
    throw error;
  }
  const connection = mongoose.connection;
  const caches = config.readCaches
    ? startReadCaches(connection.db!, logger, await isEmbeddedStore(connection))
    : null;
  logger.info({ kind: store ? 'embedded' : 'external', db: name }, 'database connected');

  return {
    kind: store ? 'embedded' : 'external',
    name,
    connection,
    async ping() {
      const started = performance.now();
      try {
        await connection.db!.admin().ping();
        return { ok: true, ms: Math.round((performance.now() - started) * 10) / 10 };
      } catch {
        return { ok: false, ms: Math.round(performance.now() - started) };
      }
    },
    stats() {
      const readCaches = caches
        ? {
            live: caches.feed.live,
            ...Object.fromEntries(CACHE_NAMES.map((name) => [name, caches[name].size])),
          }
        : { live: false, off: true };
      return store ? { ...store.stats(), readCaches } : { readCaches };
    },
    async refresh() {
      await thread?.refreshFigures();
    },
    async close() {
      if (caches) await stopReadCaches(caches);
      await mongoose.disconnect();
      await store?.close();
    },
  };
}
