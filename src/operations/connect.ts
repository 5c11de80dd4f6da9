import { existsSync } from 'node:fs';
import path from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import type { Config } from '../config.js';
import type { Logger } from '../lib/logger.js';
import { startStore, storeUri, type RunningStore } from '../store/index.js';

/** The app's database, reached by an operations command (backup, restore). */
export interface OperationsDatabase {
  db: Db;
  /** Where it is, for messages: "MONGODB_URI" or the store's directory (no credentials). */
  where: string;
  close(): Promise<void>;
}

/** The database name the app uses: the one in MONGODB_URI, or "tsunagu" (as src/db.ts). */
function databaseNameFrom(uri: string): string {
  const match = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(uri);
  return match?.[1] ? decodeURIComponent(match[1]) : 'tsunagu';
}

/**
 * Connects to MONGODB_URI, or to the embedded store of DATA_DIR: through its socket when an app
 * (or `npm run db`) is running it, otherwise by starting it in this process (which takes its
 * lock, so no app can start on it meanwhile).
 */
export async function openOperationsDatabase(
  config: Pick<Config, 'mongodbUri' | 'dataDir' | 'storeFsync'>,
  logger: Logger,
): Promise<OperationsDatabase> {
  if (config.mongodbUri) {
    const client = await MongoClient.connect(config.mongodbUri, {
      serverSelectionTimeoutMS: 10_000,
    });
    return {
      db: client.db(databaseNameFrom(config.mongodbUri)),
      where: 'MONGODB_URI',
      close: () => client.close(),
    };
  }
  const storeDir = path.join(config.dataDir, 'store');
  const uri = storeUri(config.dataDir);
  if (existsSync(path.join(storeDir, 'store.sock'))) {
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 3_000 });
    try {
      await client.connect();
      await client.db('admin').command({ ping: 1 });
      return { db: client.db('tsunagu'), where: storeDir, close: () => client.close() };
    } catch {
      // A socket left by a store that is gone: start the store here (it clears the socket).
      await client.close();
    }
  }
  let store: RunningStore | undefined;
  try {
    store = await startStore({ dataDir: storeDir, fsync: config.storeFsync, logger });
    const client = await MongoClient.connect(store.uri);
    const running = store;
    return {
      db: client.db('tsunagu'),
      where: storeDir,
      async close() {
        await client.close();
        await running.close();
      },
    };
  } catch (error) {
    await store?.close();
    throw error;
  }
}
