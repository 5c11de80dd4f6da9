/**
 * `npm run bench:store`: the embedded store's speed through mongoose, with the journal on disk
 * (fsync before every acknowledgement, the default policy).
 *
 * For 1k and 100k documents: single-document inserts (64 in flight, as concurrent requests
 * would be) and insertMany batches, indexed findOne, a range query with sort and limit, updateOne by indexed field;
 * then the start-up time when replaying the 100k-document journal, and the memory it takes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mongoose, { Schema } from 'mongoose';
import { startStore, type RunningStore } from '../src/store/index.js';

const itemSchema = new Schema({
  n: { type: Number, index: true },
  email: { type: String, unique: true },
  group: String,
  count: Number,
});

interface Row {
  size: number;
  op: string;
  ops: number;
  seconds: number;
}

const rows: Row[] = [];

async function timed(
  size: number,
  op: string,
  count: number,
  fn: (i: number) => Promise<unknown>,
  parallel = 1,
) {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) await fn(next++);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  rows.push({ size, op, ops: count / seconds, seconds });
  process.stdout.write(
    `  ${op} @${size}: ${Math.round(count / seconds)} ops/s (${seconds.toFixed(2)} s)\n`,
  );
}

const random = (max: number) => Math.floor(Math.random() * max);

async function bulkInserts(size: number): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsunagu-bench-bulk-'));
  const store = await startStore({ dataDir: dir });
  try {
    const conn = await mongoose.createConnection(`${store.uri}/bench`).asPromise();
    const Bulk = conn.model('Bulk', itemSchema);
    await Bulk.init();
    await timed(size, 'insertMany, 1000 per call (docs/s)', size / 1000, (b) =>
      Bulk.insertMany(
        Array.from({ length: 1000 }, (_, i) => ({
          n: b * 1000 + i,
          email: `bulk${b * 1000 + i}@example.jp`,
        })),
      ),
    );
    rows[rows.length - 1].ops *= 1000;
    await conn.close();
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function run(size: number, dir: string): Promise<RunningStore> {
  const store = await startStore({ dataDir: dir });
  const conn = await mongoose.createConnection(`${store.uri}/bench`).asPromise();
  const Item = conn.model('Item', itemSchema);
  await Item.init();
  await timed(
    size,
    'insert, one document each (64 in flight)',
    size,
    (i) => Item.create({ n: i, email: `user${i}@example.jp`, group: `g${i % 100}`, count: 0 }),
    64,
  );
  await timed(size, 'indexed findOne', 3000, () => Item.findOne({ n: random(size) }).lean());
  await timed(size, 'range query + sort + limit 20', 1000, () => {
    const from = random(size - 100);
    return Item.find({ n: { $gte: from, $lt: from + 100 } })
      .sort({ n: -1 })
      .limit(20)
      .lean();
  });
  await timed(size, 'updateOne by indexed field', 2000, () =>
    Item.updateOne({ n: random(size) }, { $inc: { count: 1 } }),
  );
  await conn.close();
  return store;
}

/** Child process: opens the data directory, reports start-up time and memory as JSON. */
async function measureStartup(dir: string): Promise<void> {
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const store = await startStore({ dataDir: dir });
  const seconds = (performance.now() - t0) / 1000;
  global.gc?.();
  const { heapUsed, rss } = process.memoryUsage();
  const { documents, journalBytes, snapshotBytes } = store.stats();
  await store.close();
  console.log(
    JSON.stringify({
      seconds,
      documents,
      heapBytes: heapUsed - heapBefore,
      rss,
      journalBytes,
      snapshotBytes,
    }),
  );
}

function startupInChild(dir: string): {
  seconds: number;
  documents: number;
  heapBytes: number;
  rss: number;
} {
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--startup', dir],
    { encoding: 'utf8' },
  );
  return JSON.parse(out.trim().split('\n').pop() as string) as ReturnType<typeof startupInChild>;
}

async function main() {
  const results: string[] = [];
  // Warm the JIT up so the 1k figures are not the first calls of the process.
  const warmDir = mkdtempSync(path.join(tmpdir(), 'tsunagu-bench-warm-'));
  await (await run(1000, warmDir)).close();
  rmSync(warmDir, { recursive: true, force: true });
  rows.length = 0;
  for (const size of [1000, 100_000]) {
    const dir = mkdtempSync(path.join(tmpdir(), 'tsunagu-bench-'));
    try {
      process.stdout.write(`${size} documents\n`);
      const store = await run(size, dir);
      const { journalBytes } = store.stats();
      await store.close();
      await bulkInserts(size);
      if (size === 100_000) {
        const s = startupInChild(dir);
        results.push(
          `start-up replaying a journal of ${s.documents} single-document inserts and 2000 updates ` +
            `(${(journalBytes / 1048576).toFixed(1)} MiB): ${s.seconds.toFixed(2)} s (target < 5 s)`,
          `memory after start-up: ${Math.round(s.heapBytes / s.documents)} bytes of heap per document ` +
            `(${Math.round(s.heapBytes / 1048576)} MiB heap for ${s.documents} documents with 3 indexes), ` +
            `rss ${Math.round(s.rss / 1048576)} MiB`,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const ops = [...new Set(rows.map((r) => r.op))];
  const width = Math.max(...ops.map((o) => o.length));
  console.log('\nops/s through mongoose (journal on disk, fsync always)\n');
  console.log(
    `${'operation'.padEnd(width)}  ${'1k docs'.padStart(10)}  ${'100k docs'.padStart(10)}  1k/100k`,
  );
  for (const op of ops) {
    const small = rows.find((r) => r.op === op && r.size === 1000);
    const big = rows.find((r) => r.op === op && r.size === 100_000);
    const ratio = small && big ? (small.ops / big.ops).toFixed(2) : '-';
    console.log(
      `${op.padEnd(width)}  ${String(Math.round(small?.ops ?? 0)).padStart(10)}  ${String(Math.round(big?.ops ?? 0)).padStart(10)}  ${ratio}`,
    );
  }
  const inserts = rows.find((r) => r.op.startsWith('insert,') && r.size === 100_000);
  const bulk = rows.find((r) => r.op.startsWith('insertMany') && r.size === 100_000);
  console.log(
    `\n100k single-document inserts took ${inserts?.seconds.toFixed(1)} s; ` +
      `100k documents by insertMany took ${bulk?.seconds.toFixed(1)} s (target < 30 s)`,
  );
  for (const line of results) console.log(line);
}

if (process.argv[2] === '--startup') await measureStartup(process.argv[3]);
else await main();
