/**
 * `npm run bench:tracking` — issue 12 "Speed". Starts the embedded store as its own process
 * (`npm run db`, so the app process's memory is the app's), seeds 20,000 staff over the 77
 * municipalities (bench/tracking-seed.ts: progress, case studies, certificates, a few revoked,
 * suspended and pending accounts), starts the real app (production settings) on an ephemeral
 * port and signs an administrator in. Then it measures, from this process over HTTP:
 *
 * - the first report after start-up (tracking_members is built from the sources),
 * - the prefecture view and 長野市's municipality view, BENCH_REQUESTS each (default 40):
 *   p50/p95 as served (figures cached until the data changes) and uncached (cache dropped
 *   before every request),
 * - the prefecture-wide member list as CSV (20,000 rows): time and the growth of this
 *   process's resident memory while it streams (sampled every 10 ms; the app and the client
 *   reading the download share the process), after a smaller export has warmed the code up.
 *
 * The last line is the summary the issue asks for.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { loadCatalog } from '../src/courses/loader.js';
import { connectDatabase } from '../src/db.js';
import { createLogger } from '../src/lib/logger.js';
import { forgetReportFigures } from '../src/tracking/figures.service.js';
import { User } from '../src/users/user.model.js';
import { buildUser } from '../test/helpers/factories.js';
import { startStoreProcess } from '../test/helpers/store-process.js';
import { seedTracking } from './tracking-seed.js';
import { signInByForm } from './sign-in.js';

const USERS = Number(process.env.BENCH_USERS ?? 20_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 40);
/** Production cookies are Secure: the bench plays the TLS proxy (x-forwarded-proto). */
const HEADERS = { 'x-forwarded-proto': 'https' };

const dataDir = mkdtempSync(path.join(tmpdir(), 'tsunagu-bench-tracking-'));
const store = await startStoreProcess(path.join(dataDir, 'store'), { STORE_FSYNC: 'never' });
try {
  const config = loadConfig({
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    TRUST_PROXY: 'loopback',
    DATA_DIR: dataDir,
    MONGODB_URI: store.uri,
    SESSION_SECRET: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'error',
  });
  const logger = createLogger(config.log);
  const catalog = await loadCatalog(config.coursesDir);
  const database = await connectDatabase({ config, logger });
  const program = catalog.programs[0];

  let started = performance.now();
  const seeded = await seedTracking(program, USERS);
  console.log(
    `seeded ${seeded.users} users, ${seeded.certificates} certificates in ${ms(performance.now() - started)}`,
  );
  const { user, password } = await buildUser({ roles: ['admin'], municipality: null });
  await User.updateOne({ _id: user._id }, { $set: { status: 'active' } });

  const app = createApp({ config, logger, database, catalog });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const cookie = await signInByForm(port, user.email, password);

  const prefecture = '/reports/prefecture';
  const municipality = `/reports/municipalities/${seeded.naganoId}`;

  started = performance.now();
  await get(port, cookie, prefecture);
  console.log(
    `first report after start (builds ${USERS} tracking rows): ${ms(performance.now() - started)}`,
  );

  const measure = async (url: string, uncached: boolean) => {
    const samples: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      if (uncached) forgetReportFigures();
      const t0 = performance.now();
      await get(port, cookie, url);
      samples.push(performance.now() - t0);
    }
    samples.sort((a, b) => a - b);
    return { p50: quantile(samples, 0.5), p95: quantile(samples, 0.95) };
  };
  const prefectureServed = await measure(prefecture, false);
  const municipalityServed = await measure(municipality, false);
  const prefectureUncached = await measure(prefecture, true);
  const municipalityUncached = await measure(municipality, true);
  console.log(
    `prefecture view: p50 ${ms(prefectureServed.p50)}, p95 ${ms(prefectureServed.p95)} (uncached: p50 ${ms(prefectureUncached.p50)}, p95 ${ms(prefectureUncached.p95)})`,
  );
  console.log(
    `municipality view (長野市): p50 ${ms(municipalityServed.p50)}, p95 ${ms(municipalityServed.p95)} (uncached: p50 ${ms(municipalityUncached.p50)}, p95 ${ms(municipalityUncached.p95)})`,
  );

  // The CSV export: 20,000 rows streamed; resident memory sampled while it runs. A smaller export
  // first (長野市's list), so that loading the CSV code and its first buffers is not counted.
  const warm = await download(port, cookie, `${municipality}/export/members.csv`);
  console.log(`warm-up: 長野市 members csv, ${warm.rows} rows`);
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 10);
  started = performance.now();
  const { rows, bytes } = await download(port, cookie, `${prefecture}/export/members.csv`);
  const csvMs = performance.now() - started;
  clearInterval(sampler);
  const growthMb = (rssPeak - rssBefore) / 1024 / 1024;
  console.log(`csv: ${rows} rows, ${(bytes / 1024 / 1024).toFixed(1)} MB in ${ms(csvMs)}`);

  server.close();
  await database.close();
  console.log(
    `tracking: prefecture p95 ${Math.round(prefectureServed.p95)} ms, municipality p95 ${Math.round(municipalityServed.p95)} ms, csv ${rows} rows ${Math.round(csvMs)} ms, export rss growth ${growthMb.toFixed(1)} MB`,
  );
} finally {
  await store.stop();
  await mongoose.disconnect().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

async function get(port: number, cookie: string, url: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}${url}`, {
    headers: { ...HEADERS, cookie },
    redirect: 'manual',
  });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
}

/** Reads a download without keeping it: counts lines and bytes. */
function download(
  port: number,
  cookie: string,
  url: string,
): Promise<{ rows: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: url, headers: { ...HEADERS, cookie } }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`${url} answered ${res.statusCode}`));
        let lines = 0;
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          for (const byte of chunk) if (byte === 0x0a) lines++;
        });
        res.on('end', () => resolve({ rows: lines - 1, bytes }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}
