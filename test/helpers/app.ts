import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import { MongoClient, type Db } from 'mongodb';
import mongoose from 'mongoose';
import { createApp } from '../../src/app.js';
import { setHashBudget } from '../../src/auth/password.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Catalog } from '../../src/courses/catalog.types.js';
import { loadCatalog } from '../../src/courses/loader.js';
import { connectDatabase, type Database } from '../../src/db.js';
import { silentLogger } from '../../src/lib/logger.js';
import { startStore, type RunningStore } from '../../src/store/index.js';

let sharedStore: Promise<RunningStore> | undefined;

/**
 * The MongoDB server tests run against: TEST_MONGODB_URI when set (a real MongoDB), otherwise one
 * in-memory embedded store shared by the whole test run. Each test app gets a fresh database.
 */
export async function testServerUri(): Promise<string> {
  if (process.env.TEST_MONGODB_URI) return process.env.TEST_MONGODB_URI;
  return (await testStore())!.uri;
}

/** The shared embedded store (to count the commands it answers), or null on a real MongoDB. */
export function testStore(): Promise<RunningStore> | null {
  if (process.env.TEST_MONGODB_URI) return null;
  sharedStore ??= startStore({ dataDir: null });
  return sharedStore;
}

/** A database name no other test uses: `<prefix>_<12 hex digits>`. */
export function uniqueDatabaseName(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

/**
 * For the enclosing describe: a driver client of the test server and a database of its own
 * (`.db`, set in a `before` hook), dropped afterwards. `storeOnly` skips the describe on a real
 * MongoDB, for what only the embedded store is sure to offer (change streams without a replica set).
 */
export function scratchDatabase(prefix: string, { storeOnly = false } = {}): { readonly db: Db } {
  let client: MongoClient | undefined;
  let db: Db | undefined;
  before(async function () {
    if (storeOnly && !testStore()) this.skip();
    client = await MongoClient.connect(await testServerUri());
    db = client.db(uniqueDatabaseName(prefix));
  });
  after(async () => {
    await db?.dropDatabase();
    await client?.close();
  });
  return {
    get db() {
      return db!;
    },
  };
}

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tsunagu-test-')),
    SESSION_SECRET: 'test-secret-test-secret-test-secret-0123',
    LOG_LEVEL: 'silent',
    ...env,
  });
}

let realCatalog: Promise<Catalog> | undefined;

/** The training content of config.coursesDir: the real ./courses is loaded once per run, other folders each time. */
export function testCatalog(config: Config): Promise<Catalog> {
  if (config.coursesDir !== path.resolve('courses')) return loadCatalog(config.coursesDir);
  realCatalog ??= loadCatalog(config.coursesDir);
  return realCatalog;
}

export interface TestApp {
  app: Express;
  config: Config;
  database: Database;
  close(): Promise<void>;
}

/** Builds the real app on a fresh database. Call close() in after(). */
export async function createTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const uri = await testServerUri();
  if (mongoose.connection.readyState !== mongoose.ConnectionStates.disconnected)
    await mongoose.disconnect();
  const config = testConfig({ MONGODB_URI: uri, ...env });
  const database = await connectDatabase({
    config,
    logger: silentLogger,
    dbName: uniqueDatabaseName('test'),
  });
  const catalog = await testCatalog(config);
  const app = createApp({ config, logger: silentLogger, database, catalog });
  // A test file fails far more sign-ins than people do (each unknown address costs a full
  // password hash), and the files of one mocha process share the hashing budget: each test app
  // starts with a full one, as a new process would, and a burst of 30 s instead of 2 s. The
  // budget's own tests (test/auth/password.test.ts) set theirs.
  setHashBudget({ share: 0.25, burstMs: 30_000 });
  return {
    app,
    config,
    database,
    async close() {
      await database.connection.dropDatabase();
      await database.close();
    },
  };
}
