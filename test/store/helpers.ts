import { randomUUID } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { startStore, type RunningStore, type StartStoreOptions } from '../../src/store/index.js';

/** True when the suite runs against a real MongoDB (TEST_MONGODB_URI) instead of the embedded store. */
export const onRealMongo = Boolean(process.env.TEST_MONGODB_URI);

export interface TestDb {
  /** URI including the fresh database name (for mongoose.connect / connect-mongo). */
  uri: string;
  /** URI of the server without a database. */
  serverUri: string;
  dbName: string;
  /** The embedded store, or null on a real MongoDB. */
  store: RunningStore | null;
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

function withDbName(serverUri: string, dbName: string): string {
  const m = /^(mongodb(?:\+srv)?:\/\/[^/?]+)(\/[^?]*)?(\?.*)?$/.exec(serverUri);
  if (!m) throw new Error(`cannot parse TEST_MONGODB_URI ${serverUri}`);
  return `${m[1]}/${dbName}${m[3] ?? ''}`;
}

/**
 * A fresh database on either a new in-memory embedded store or TEST_MONGODB_URI, with a
 * connected driver client. close() drops the database and stops the store.
 */
export async function connectTestDb(storeOptions: StartStoreOptions = {}): Promise<TestDb> {
  const store = onRealMongo ? null : await startStore({ dataDir: null, ...storeOptions });
  const serverUri = store ? store.uri : (process.env.TEST_MONGODB_URI as string);
  const dbName = `t_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const uri = withDbName(serverUri, dbName);
  const client = await MongoClient.connect(uri, { serverSelectionTimeoutMS: 5000 });
  const db = client.db(dbName);
  return {
    uri,
    serverUri,
    dbName,
    store,
    client,
    db,
    async close() {
      await db.dropDatabase().catch(() => undefined);
      await client.close();
      await store?.close();
    },
  };
}
