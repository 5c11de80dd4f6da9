import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { MongoClient, ObjectId, type Db } from 'mongodb';
import { silentLogger } from '../../src/lib/logger.js';
import { startStore } from '../../src/store/index.js';
import { LOCK_COLLECTION } from '../../src/operations/migrations/lock.js';
import {
  MigrationFailed,
  migrationStatus,
  runMigrations,
  type MigrationRecord,
} from '../../src/operations/migrations/runner.js';
import type { Migration } from '../../src/operations/migrations/types.js';
import { createTestApp, testServerUri, uniqueDatabaseName } from '../helpers/app.js';
import { anonymousAgent } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';
import { compiled } from '../helpers/compiled.js';

let client: MongoClient;
let db: Db;

before(async () => {
  client = await MongoClient.connect(await testServerUri());
});
after(async () => {
  await client.close();
});

function freshDb(): Db {
  return client.db(uniqueDatabaseName('test_mig'));
}

/** A migration that counts its runs in the `runs` collection. */
function counting(id: string, extra?: () => Promise<void>): Migration {
  return {
    id,
    description: `counts its runs (${id})`,
    async up({ db }) {
      await db
        .collection<{ _id: string; n: number }>('runs')
        .updateOne({ _id: id }, { $inc: { n: 1 } }, { upsert: true });
      await extra?.();
    },
  };
}

async function runs(target: Db): Promise<Record<string, number>> {
  const docs = await target.collection<{ _id: string; n: number }>('runs').find().toArray();
  return Object.fromEntries(docs.map((d) => [d._id, d.n]));
}

describe('migrations: the runner', () => {
  beforeEach(() => {
    db = freshDb();
  });
  afterEach(async () => {
    await db.dropDatabase();
  });

  it('runs pending migrations in order, records each, and does nothing when run again', async () => {
    const order: string[] = [];
    const list = [
      counting('0001', () => Promise.resolve(void order.push('0001'))),
      counting('0002', () => Promise.resolve(void order.push('0002'))),
    ];
    expect(await runMigrations({ db, logger: silentLogger, migrations: list })).to.deep.equal({
      applied: ['0001', '0002'],
    });
    expect(order).to.deep.equal(['0001', '0002']);
    const records = await db.collection<MigrationRecord>('migrations').find().toArray();
    expect(records.map((r) => [r._id, r.name])).to.deep.equal([
      ['0001', 'counts its runs (0001)'],
      ['0002', 'counts its runs (0002)'],
    ]);
    for (const record of records) {
      expect(record.finishedAt.getTime()).to.be.at.least(record.startedAt.getTime());
      expect(record.durationMs).to.be.a('number').and.at.least(0);
    }
    expect(await runMigrations({ db, logger: silentLogger, migrations: list })).to.deep.equal({
      applied: [],
    });
    expect(await runs(db)).to.deep.equal({ '0001': 1, '0002': 1 });
    // A later version adds one: only that one runs.
    const later = [...list, counting('0003')];
    expect(await runMigrations({ db, logger: silentLogger, migrations: later })).to.deep.equal({
      applied: ['0003'],
    });
    expect(await runs(db)).to.deep.equal({ '0001': 1, '0002': 1, '0003': 1 });
    expect(await db.collection(LOCK_COLLECTION).countDocuments()).to.equal(0);
  });

  it('stops at a failing migration: names it, records nothing for it, runs none after it', async () => {
    const failing: Migration = {
      id: '0002',
      description: 'fails halfway',
      async up({ db }) {
        await db.collection('runs').insertOne({ _id: 'half' as never, n: 1 });
        throw new Error('disk on fire');
      },
    };
    const list = [counting('0001'), failing, counting('0003')];
    const error = await runMigrations({ db, logger: silentLogger, migrations: list }).catch(
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(MigrationFailed);
    expect((error as MigrationFailed).migrationId).to.equal('0002');
    expect((error as Error).message).to.match(
      /^migration 0002 \(fails halfway\) failed: disk on fire\. It was not recorded and the migrations after it were not run/,
    );
    const recorded = await db.collection('migrations').find().toArray();
    expect(recorded.map((r) => r._id)).to.deep.equal(['0001']);
    expect(await runs(db)).to.deep.equal({ '0001': 1, half: 1 });
    expect(await db.collection(LOCK_COLLECTION).countDocuments()).to.equal(0);
    const status = await migrationStatus(db, list);
    expect(status.map((s) => [s.id, s.record ? 'applied' : 'pending'])).to.deep.equal([
      ['0001', 'applied'],
      ['0002', 'pending'],
      ['0003', 'pending'],
    ]);
  });

  it('refuses a list whose ids are not four digits in ascending order', async () => {
    const error = await runMigrations({
      db,
      logger: silentLogger,
      migrations: [counting('0002'), counting('0001')],
    }).catch((e: Error) => e.message);
    expect(error).to.contain('four digits, unique and ascending: "0001"');
    expect(await runs(db)).to.deep.equal({});
  });

  it('takes over a lock whose holder stopped renewing it, and waits for a live one', async () => {
    const locks = db.collection<{ _id: string; expiresAt: Date }>(LOCK_COLLECTION);
    await locks.insertOne({ _id: 'migrations', expiresAt: new Date(Date.now() + 60_000) });
    const refused = await runMigrations({
      db,
      logger: silentLogger,
      migrations: [counting('0001')],
      lock: { waitMs: 300, pollMs: 50 },
    }).catch((e: Error) => e.message);
    expect(refused).to.contain('has been running the migrations for more than 0 s');
    expect(await runs(db)).to.deep.equal({});
    await locks.updateOne({ _id: 'migrations' }, { $set: { expiresAt: new Date(Date.now() - 1) } });
    const result = await runMigrations({
      db,
      logger: silentLogger,
      migrations: [counting('0001')],
      lock: { waitMs: 300, pollMs: 50 },
    });
    expect(result.applied).to.deep.equal(['0001']);
    expect(await locks.countDocuments()).to.equal(0);
  });

  it('runs each migration once when two connections start the run together', async () => {
    const other = await MongoClient.connect(await testServerUri());
    try {
      const slow = () => new Promise<void>((resolve) => setTimeout(resolve, 200));
      const list = [counting('0001', slow), counting('0002', slow)];
      const results = await Promise.all([
        runMigrations({ db, logger: silentLogger, migrations: list, lock: { pollMs: 20 } }),
        runMigrations({
          db: other.db(db.databaseName),
          logger: silentLogger,
          migrations: list,
          lock: { pollMs: 20 },
        }),
      ]);
      expect(results.map((r) => r.applied).sort()).to.deep.equal([[], ['0001', '0002']]);
      expect(await runs(db)).to.deep.equal({ '0001': 1, '0002': 1 });
    } finally {
      await other.close();
    }
  });
});

describe('migrations: two processes started together', function () {
  this.timeout(60_000);

  it('run each migration exactly once; the second waits and finds nothing left to do', async () => {
    db = freshDb();
    const uri = await testServerUri();
    const fixture = path.join(import.meta.dirname, 'fixtures/migrate-together.ts');
    const children = [0, 1].map(() =>
      spawn(process.execPath, [compiled(fixture), uri, db.databaseName], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    const outputs = children.map((child) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      return {
        ready: new Promise<void>((resolve, reject) => {
          child.stdout.on('data', () => out.includes('ready\n') && resolve());
          child.once('exit', () => reject(new Error(`child exited early: ${out}`)));
        }),
        done: new Promise<string>((resolve) => child.once('exit', () => resolve(out))),
      };
    });
    await Promise.all(outputs.map((o) => o.ready));
    for (const child of children) child.stdin.write('go\n');
    const results = (await Promise.all(outputs.map((o) => o.done))).map(
      (out) => JSON.parse(out.split('\n').filter(Boolean).pop()!) as { applied: string[] },
    );
    expect(results.map((r) => r.applied).sort()).to.deep.equal([[], ['0001', '0002']]);
    expect(await runs(db)).to.deep.equal({ '0001': 1, '0002': 1 });
    expect(await db.collection('migrations').countDocuments()).to.equal(2);
    await db.dropDatabase();
  });
});

describe('migration 0001: sign-in failures into throttle_counters', () => {
  const MINUTE = 60_000;
  const accountKeyOf = (email: string) =>
    `account:${createHash('sha256').update(email.trim().toLowerCase()).digest('hex')}`;

  /** Sign-in failures as the app wrote them before commit 7d0491b: one document each. */
  async function oldFailures(target: Db, key: string, minutesAgo: number[]) {
    const ids = minutesAgo.map(() => new ObjectId());
    await target
      .collection('login_failures')
      .insertMany(
        minutesAgo.map((m, i) => ({ _id: ids[i], key, at: new Date(Date.now() - m * MINUTE) })),
      );
    await target.collection('login_failures').createIndex({ at: 1 }, { expireAfterSeconds: 900 });
    return ids;
  }

  interface Counter {
    key: string;
    attempts: Array<{ id: string; at: Date }>;
    expiresAt: Date;
  }

  it('carries the failures inside the window over (the last 5 per account) and drops login_failures', async () => {
    db = freshDb();
    const key = accountKeyOf('someone@example.jp');
    // Seven failures in the window (the oldest two beyond the account's limit) and one expired.
    const ids = await oldFailures(db, key, [20, 12, 10, 8, 6, 4, 2, 1]);
    await oldFailures(db, 'ip:192.0.2.7', [3, 2]);
    const result = await runMigrations({ db, logger: silentLogger });
    expect(result.applied).to.deep.equal(['0001']);

    const counters = db.collection<Counter>('throttle_counters');
    const account = await counters.findOne({ key });
    expect(account!.attempts.map((a) => a.id)).to.deep.equal(
      ids.slice(3).map((id) => `login_failures:${id.toHexString()}`),
    );
    const newest = account!.attempts[4].at.getTime();
    expect(account!.attempts.map((a) => a.at.getTime())).to.deep.equal(
      [...account!.attempts.map((a) => a.at.getTime())].sort((a, b) => a - b),
    );
    expect(account!.expiresAt.getTime()).to.equal(newest + 15 * MINUTE);
    const address = await counters.findOne({ key: 'ip:192.0.2.7' });
    expect(address!.attempts).to.have.length(2);
    const names = (await db.listCollections().toArray()).map((c) => c.name);
    expect(names).not.to.include('login_failures');
    await db.dropDatabase();
  });

  it('adds nothing twice when run again over the same failures (a run cut off before the drop)', async () => {
    db = freshDb();
    const key = accountKeyOf('again@example.jp');
    const migration = (await import('../../src/operations/migrations/0001-throttle-counters.js'))
      .default;
    const ids = await oldFailures(db, key, [5, 4]);
    // A failure counted by the new code after the upgrade is kept beside the carried ones.
    await db.collection<Counter>('throttle_counters').insertOne({
      key,
      attempts: [{ id: 'new-1', at: new Date(Date.now() - 1 * MINUTE) }],
      expiresAt: new Date(Date.now() + 14 * MINUTE),
    });
    await migration.up({ db, logger: silentLogger });
    await db
      .collection('login_failures')
      .insertMany(ids.map((_id, i) => ({ _id, key, at: new Date(Date.now() - (5 - i) * MINUTE) })));
    await migration.up({ db, logger: silentLogger });
    const counter = await db.collection<Counter>('throttle_counters').findOne({ key });
    expect(counter!.attempts.map((a) => a.id)).to.deep.equal([
      `login_failures:${ids[0].toHexString()}`,
      `login_failures:${ids[1].toHexString()}`,
      'new-1',
    ]);
    // Nothing to do on a database that never had login_failures.
    await migration.up({ db, logger: silentLogger });
    await db.dropDatabase();
  });

  it('keeps an account locked out across the upgrade: sign-in is refused after the migration', async () => {
    const u = await createTestApp();
    try {
      const { user, password } = await buildUser();
      const appDb = u.database.connection.db!;
      await oldFailures(appDb, accountKeyOf(user.email), [5, 4, 3, 2, 1]);
      await runMigrations({ db: appDb, logger: silentLogger });
      const { agent, csrfToken } = await anonymousAgent(u.app);
      const res = await agent
        .post('/login')
        .type('form')
        .send({ email: user.email, password, _csrf: csrfToken })
        .expect(429);
      expect(res.text).to.match(/約\d+分後にもう一度お試しください/);
    } finally {
      await u.close();
    }
  });
});

describe('npm run migrate', function () {
  this.timeout(60_000);

  function migrateCli(dataDir: string, args: string[]) {
    const cli = path.join(import.meta.dirname, '../../src/operations/migrations/cli.ts');
    return new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [compiled(cli), ...args], {
        env: {
          ...process.env,
          DATA_DIR: dataDir,
          LOG_LEVEL: 'silent',
          NODE_ENV: 'test',
          MONGODB_URI: '',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.once('exit', (code) => resolve({ code, out }));
    });
  }

  it('applies the pending migrations to the store of DATA_DIR and lists them with --status', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tsunagu-migrate-'));
    const first = await migrateCli(dataDir, []);
    expect(first).to.deep.include({ code: 0 });
    expect(first.out).to.match(/^applied 0001 in .*store\n$/);
    const status = await migrateCli(dataDir, ['--status']);
    expect(status.code).to.equal(0);
    expect(status.out).to.match(
      /^0001 {2}applied \d{4}-\d\d-\d\dT.* \(\d+ ms\) +sign-in failures/m,
    );
  });
});

describe('src/server.ts: a failing migration stops the start', function () {
  this.timeout(90_000);

  it('exits 1 naming the migration on stderr, records nothing and does not listen', async function () {
    if (process.env.TEST_MONGODB_URI) this.skip();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tsunagu-migfail-'));
    // A database migration 0001 cannot handle: a counter whose attempts are not a list.
    const store = await startStore({ dataDir: path.join(dataDir, 'store') });
    const setup = await MongoClient.connect(store.uri);
    const target = setup.db('tsunagu');
    await target.collection('login_failures').insertOne({ key: 'ip:192.0.2.1', at: new Date() });
    await target.collection('throttle_counters').insertOne({ key: 'ip:192.0.2.1', attempts: 7 });
    await setup.close();
    await store.close();

    const child = spawn(process.execPath, [compiled('src/server.ts')], {
      cwd: path.join(import.meta.dirname, '../..'),
      env: {
        PATH: process.env.PATH ?? '',
        DATA_DIR: dataDir,
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        ADMIN_PASSWORD: 'shinano-river-367km',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).to.equal(1);
    expect(stderr).to.match(
      /^Tsunagu could not start: migration 0001 \(sign-in failures: .*\) failed: .*It was not recorded and the migrations after it were not run/m,
    );
    expect(stdout).not.to.contain('Tsunagu is running');

    const again = await startStore({ dataDir: path.join(dataDir, 'store') });
    const check = await MongoClient.connect(again.uri);
    try {
      const db = check.db('tsunagu');
      expect(await db.collection('migrations').countDocuments()).to.equal(0);
      expect(await db.collection('login_failures').countDocuments()).to.equal(1);
      expect(await db.collection(LOCK_COLLECTION).countDocuments()).to.equal(0);
      // First start's work (the first administrator) was not done either.
      expect(await db.collection('users').countDocuments()).to.equal(0);
    } finally {
      await check.close();
      await again.close();
    }
  });
});
