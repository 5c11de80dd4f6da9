/**
 * `npm run bench:learning` — issue 5 "Speed". Starts the real app (production settings: cached
 * views, secure cookies behind a trusted proxy) on an ephemeral port in a child process, with a
 * user who has read every lesson and passed every quiz, next to a bare Express "hello" route in
 * the same process. The parent process then drives each URL with 20 concurrent keep-alive
 * connections and prints requests/s and p50/p95 server time (measured inside the server, from
 * the request event to the end of the response).
 *
 * Options (env): BENCH_SECONDS (default 8 per URL), BENCH_CONCURRENCY (20), STORE_FSYNC (store
 * durability, default always as in production), BENCH_ONLY (e.g. lesson,overview), BENCH_CPU_PROF
 * (a folder: write a CPU profile of the server). `--serve` only starts the server and prints the
 * session cookie (used for screenshots).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const LESSON_PATH = '/learn/basic-training/understanding/numbers';
const OVERVIEW_PATH = '/learn';

interface Ready {
  kind: 'ready';
  appPort: number;
  barePort: number;
  cookie: string;
}
type FromServer = Ready | { kind: 'timings'; samples: number[] };

// ── server side (child process) ──────────────────────────────────────────────────────────────

async function serve(): Promise<void> {
  const { default: express } = await import('express');
  const { createApp } = await import('../src/app.js');
  const { loadConfig } = await import('../src/config.js');
  const { loadCatalog } = await import('../src/courses/loader.js');
  const { connectDatabase } = await import('../src/db.js');
  const { createLogger } = await import('../src/lib/logger.js');
  const { learnerOf } = await import('../src/learning/learner.js');
  const { markLessonRead } = await import('../src/learning/progress.service.js');
  const { startAttempt, findAttempt, submitAttempt } =
    await import('../src/learning/quiz.service.js');
  const { buildUser } = await import('../test/helpers/factories.js');

  const dataDir = mkdtempSync(path.join(tmpdir(), 'tsunagu-bench-'));
  const config = loadConfig({
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    SESSION_SECRET: randomBytes(32).toString('hex'),
    COURSES_DIR: process.env.COURSES_DIR ?? './courses',
    STORE_FSYNC: process.env.STORE_FSYNC ?? 'always',
    LOG_LEVEL: 'error',
  });
  const logger = createLogger(config.log);
  const catalog = await loadCatalog(config.coursesDir);
  const database = await connectDatabase({ config, logger });
  const app = createApp({ config, logger, database, catalog });

  // A learner with full progress: every lesson read, every quiz passed.
  const { user, password } = await buildUser({ roles: ['trainee'] });
  const learner = learnerOf({
    id: String(user._id),
    name: user.name,
    email: user.email,
    roles: user.roles,
    status: user.status,
    municipalityId: user.municipalityId ? String(user.municipalityId) : null,
    regionId: user.regionId ? String(user.regionId) : null,
  });
  for (const program of catalog.programs) {
    for (const module of program.modules) {
      for (const lesson of module.lessons) await markLessonRead(learner, program, module, lesson);
      if (!module.quiz) continue;
      const attemptId = await startAttempt(learner, program, module, module.quiz);
      const attempt = (await findAttempt(learner, attemptId))!;
      await submitAttempt(
        learner,
        attempt,
        new Map(attempt.questions.map((q) => [q.id, q.answer])),
      );
    }
  }

  const samples: number[] = [];
  const timed = (server: http.Server) => {
    // First listener, so the clock starts before Express handles the request.
    server.prependListener('request', (_req, res) => {
      const started = process.hrtime.bigint();
      res.on('finish', () => samples.push(Number(process.hrtime.bigint() - started) / 1e6));
    });
    return server;
  };
  const appServer = timed(http.createServer(app));
  await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
  const bare = express();
  bare.get('/hello', (_req, res) => {
    res.send('hello');
  });
  const bareServer = timed(http.createServer(bare));
  await new Promise<void>((resolve) => bareServer.listen(0, '127.0.0.1', resolve));
  const appPort = (appServer.address() as AddressInfo).port;

  const cookie = await signIn(appPort, user.email, password);
  const ready: Ready = {
    kind: 'ready',
    appPort,
    barePort: (bareServer.address() as AddressInfo).port,
    cookie,
  };
  if (process.send) process.send(ready);
  else console.log(JSON.stringify(ready));

  process.on('message', (message: { kind: string }) => {
    if (message.kind === 'reset') {
      samples.length = 0;
      process.send!({ kind: 'timings', samples: [] } satisfies FromServer);
    }
    if (message.kind === 'timings')
      process.send!({ kind: 'timings', samples: [...samples] } satisfies FromServer);
    if (message.kind === 'stop') {
      appServer.close();
      bareServer.close();
      void database.close().finally(() => {
        rmSync(dataDir, { recursive: true, force: true });
        process.exit(0);
      });
    }
  });
}

/** Signs in through the real form; production cookies are Secure, so we say we came through HTTPS. */
async function signIn(port: number, email: string, password: string): Promise<string> {
  const base = `http://127.0.0.1:${port}`;
  const headers = { 'x-forwarded-proto': 'https' };
  const page = await fetch(`${base}/login`, { headers });
  let cookie = (page.headers.get('set-cookie') ?? '').split(';')[0];
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...headers, cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email, password, _csrf: csrf }),
  });
  if (res.status !== 302) throw new Error(`bench sign-in failed: ${res.status}`);
  cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
  const check = await fetch(`${base}${LESSON_PATH}`, {
    headers: { ...headers, cookie },
    redirect: 'manual',
  });
  if (check.status !== 200) throw new Error(`bench: the lesson page answered ${check.status}`);
  return cookie;
}

// ── client side (parent process) ─────────────────────────────────────────────────────────────

interface Result {
  name: string;
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p95: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** `concurrency` keep-alive loops hammering one URL for `seconds`. */
async function load(
  port: number,
  urlPath: string,
  cookie: string,
  seconds: number,
  concurrency: number,
) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const headers = { cookie, 'x-forwarded-proto': 'https', accept: 'text/html' };
  const deadline = Date.now() + seconds * 1000;
  let requests = 0;
  let errors = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent, headers }, (res) => {
        if (res.statusCode !== 200) errors++;
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
    });
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        await one();
        requests++;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  return { requests, errors, rps: requests / elapsed };
}

function ask(child: ChildProcess, kind: string): Promise<number[]> {
  return new Promise((resolve) => {
    const onMessage = (message: FromServer) => {
      if (message.kind !== 'timings') return;
      child.off('message', onMessage);
      resolve(message.samples);
    };
    child.on('message', onMessage);
    child.send({ kind });
  });
}

async function bench(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 8);
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 20);
  const self = fileURLToPath(import.meta.url);
  const child = fork(self, ['--serve'], {
    execArgv: [
      '--import',
      'tsx',
      ...(process.env.BENCH_CPU_PROF
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
        : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once('message', (message: FromServer) =>
      message.kind === 'ready' ? resolve(message) : reject(new Error('bench server did not start')),
    );
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  console.log(
    `Tsunagu bench:learning — ${concurrency} concurrent connections, ${seconds} s per URL (after a 2 s warm-up)`,
  );

  const targets = [
    { name: 'bare Express "hello"', port: ready.barePort, path: '/hello' },
    { name: `lesson page ${LESSON_PATH}`, port: ready.appPort, path: LESSON_PATH },
    { name: `program overview ${OVERVIEW_PATH}`, port: ready.appPort, path: OVERVIEW_PATH },
    // Reference: the signed-in home page (session + user lookup + EJS, no learning work).
    { name: 'reference: signed-in home page /', port: ready.appPort, path: '/' },
  ];
  // BENCH_ONLY=lesson,overview runs a subset (the bare route always runs: it is the yardstick).
  const only = process.env.BENCH_ONLY?.split(',');
  const chosen = targets.filter(
    (target, i) => i === 0 || !only || only.some((word) => target.name.includes(word)),
  );
  const results: Result[] = [];
  for (const target of chosen) {
    await load(target.port, target.path, ready.cookie, 2, concurrency);
    await ask(child, 'reset');
    const run = await load(target.port, target.path, ready.cookie, seconds, concurrency);
    const samples = (await ask(child, 'timings')).sort((a, b) => a - b);
    results.push({
      name: target.name,
      ...run,
      p50: percentile(samples, 50),
      p95: percentile(samples, 95),
    });
  }
  child.send({ kind: 'stop' });

  const bare = results[0].rps;
  const rows = results.map((r) => [
    r.name,
    r.rps.toFixed(0),
    `${((r.rps / bare) * 100).toFixed(0)}%`,
    r.p50.toFixed(2),
    r.p95.toFixed(2),
    String(r.requests),
    String(r.errors),
  ]);
  const header = ['route', 'req/s', 'vs bare', 'p50 ms', 'p95 ms', 'requests', 'non-200'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log('\n' + line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  const lessonResult = results.find((r) => r.name.startsWith('lesson page'));
  if (!lessonResult) return;
  const lessonShare = lessonResult.rps / bare;
  console.log(
    `\nLesson page at ${(lessonShare * 100).toFixed(0)}% of the bare route (target ≥ 25%, aim 40%): ${lessonShare >= 0.25 ? 'OK' : 'BELOW TARGET'}`,
  );
  console.log(
    'p50/p95: server time from the request event to the end of the response, in the server process.',
  );
  if (results.some((r) => r.errors > 0)) process.exitCode = 1;
}

if (process.argv.includes('--serve')) {
  await serve();
} else {
  await bench();
}
