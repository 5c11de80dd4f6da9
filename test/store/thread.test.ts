import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import { pino } from 'pino';
import { connectDatabase } from '../../src/db.js';
import { startStoreThread } from '../../src/store/thread.js';
import { testConfig } from '../helpers/app.js';
import { threadNames } from '../helpers/threads.js';

/** A logger whose lines are kept, parsed. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  return { logger, lines };
}

describe('store: in a worker thread of the app process (STORE_THREAD)', function () {
  this.timeout(60_000);
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'tsunagu-thread-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('serves the app through the driver, logs through the app’s logger, keeps the data across a restart', async () => {
    const config = testConfig({ DATA_DIR: dataDir, STORE_THREAD: 'true', LOG_LEVEL: 'info' });
    const { logger, lines } = capturingLogger();
    const first = await connectDatabase({ config, logger });
    expect(first.kind).to.equal('embedded');
    await first.connection.db!.collection('things').insertMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    const listening = lines.find((line) => line.msg === 'store: listening');
    expect(listening, 'the thread’s log line, written by the app’s logger').to.include({
      component: 'store',
      level: 30,
    });
    // Figures for /healthz and /metrics come from the thread: sent every second, or asked for.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(first.stats()).to.include({ documents: 3 });
    expect(first.stats().journalBytes).to.be.above(0);
    await first.connection.db!.collection('things').insertOne({ n: 4 });
    await first.refresh();
    expect(first.stats()).to.include({ documents: 4 });
    if (process.platform === 'linux') {
      expect(threadNames(), 'named for top -H and ps -L').to.include('tsunagu-store');
    }
    await first.close();
    expect(lines.some((line) => line.msg === 'store: closed')).to.equal(true);

    const second = await connectDatabase({ config, logger });
    const docs = await second.connection.db!.collection('things').find().sort({ n: 1 }).toArray();
    expect(docs.map((d) => d.n as number)).to.deep.equal([1, 2, 3, 4]);
    await second.close();
  });

  it('asks the thread once for figures wanted at the same moment (the gauges of one scrape)', async () => {
    const { logger } = capturingLogger();
    const store = await startStoreThread(
      { dataDir: path.join(dataDir, 'store'), fsync: 'always', logLevel: 'info' },
      logger,
    );
    try {
      const asked = [store.refreshFigures(), store.refreshFigures(), store.refreshFigures()];
      expect(asked[1]).to.equal(asked[0]);
      expect(asked[2]).to.equal(asked[0]);
      await Promise.all(asked);
      // Once answered, the next call asks again.
      const again = store.refreshFigures();
      expect(again).to.not.equal(asked[0]);
      await again;
    } finally {
      await store.close();
    }
  });

  it('reports a data directory in use as a start-up error, and runs TTL passes on request', async () => {
    const { logger } = capturingLogger();
    const options = {
      dataDir: path.join(dataDir, 'store'),
      fsync: 'always' as const,
      logLevel: 'info',
    };
    const store = await startStoreThread(options, logger);
    try {
      let refused: unknown;
      await startStoreThread({ ...options, lockOwnerWaitMs: 0 }, logger).catch(
        (error: unknown) => (refused = error),
      );
      expect(String((refused as Error)?.message)).to.match(
        /is in use by process \d+ \(this process\)/,
      );

      const client = await MongoClient.connect(store.uri);
      const expiring = client.db('t').collection('expiring');
      await expiring.createIndex({ at: 1 }, { expireAfterSeconds: 0 });
      await expiring.insertMany([
        { at: new Date(Date.now() - 60_000) },
        { at: new Date(Date.now() + 3_600_000) },
      ]);
      expect(await store.expireNow()).to.equal(1);
      expect(await expiring.countDocuments()).to.equal(1);
      await store.refreshFigures();
      expect(store.commandCounts()['insert expiring']).to.equal(1);
      await client.close();
    } finally {
      await store.close();
    }
  });
});
