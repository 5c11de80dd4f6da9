/**
 * `npm run bench:learning` — issue 5 "Speed". Starts the real app (production settings: cached
 * views, secure cookies behind a trusted proxy) on an ephemeral port in a child process, with a
 * user who has read every lesson and passed every quiz, next to a bare Express "hello" route in
 * the same process. The parent process then drives each URL with 20 concurrent keep-alive
 * connections and prints requests/s and p50/p95 server time (measured inside the server, from
 * the request event to the end of the response).
 *
 * The embedded store runs in the same process, as in production; the bench starts it itself so
 * that it can count the database commands (round trips) each page costs.
 *
 * Every route is measured in BENCH_ROUNDS rounds (default 3), in turn, and the medians printed:
 * the machines this runs on share their CPUs, and a burst of someone else's load then spoils one
 * round of every route instead of one route's whole run.
 *
 * Options (env): BENCH_SECONDS (default 5 per URL and round), BENCH_ROUNDS (3), BENCH_CONCURRENCY (20), STORE_FSYNC (store
 * durability, default always as in production), BENCH_ONLY (e.g. lesson,overview), BENCH_CPU_PROF
 * (a folder: one CPU profile of the server per route, covering its first measured run;
 * BENCH_CPU_PROF_INTERVAL sets the sampling interval in µs, default 100), BENCH_NODE_FLAGS (extra
 * node options for the server, e.g. to try GC settings),
 * BENCH_ROUND_TRIPS=1 (list the database commands per request of each route), READ_CACHES=false
 * (the app without its read caches, as on a MongoDB without change streams). `--serve` only
 * starts the server and prints the session cookie (used for screenshots).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { signInByForm } from './sign-in.js';

const LESSON_PATH = '/learn/basic-training/understanding/numbers';
const OVERVIEW_PATH = '/learn';

interface Ready {
  kind: 'ready';
  appPort: number;
  barePort: number;
  cookie: string;
}
interface Timings {
  kind: 'timings';
  samples: number[];
  /** Database commands answered since the reset, by "<command> <collection>". */
  commands: Record<string, number>;
  /** CPU time of the server process since the reset (user + system), in ms. */
  cpuMs: number;
}
type FromServer = Ready | Timings;
interface ToServer {
  kind: 'reset' | 'timings' | 'stop';
  /** With reset: profile this run under this file name (BENCH_CPU_PROF). */
  profile?: string;
}

/** Driver housekeeping, not caused by requests. */
const HOUSEKEEPING = new Set(['hello', 'ismaster', 'isMaster', 'ping', 'endSessions']);

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
  const { startStore } = await import('../src/store/index.js');

  const dataDir = mkdtempSync(path.join(tmpdir(), 'tsunagu-bench-'));
  // The embedded store in this process, as connectDatabase would start it, but held here so
  // that its command counts can be read.
  const store = await startStore({
    dataDir: path.join(dataDir, 'store'),
    fsync: (process.env.STORE_FSYNC ?? 'always') as 'always' | 'batch' | 'never',
  });
  const config = loadConfig({
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    // The driver plays the TLS proxy on this machine (x-forwarded-proto: https).
    TRUST_PROXY: 'loopback',
    DATA_DIR: dataDir,
    MONGODB_URI: `${store.uri}/tsunagu`,
    SESSION_SECRET: randomBytes(32).toString('hex'),
    COURSES_DIR: process.env.COURSES_DIR ?? './courses',
    STORE_FSYNC: process.env.STORE_FSYNC ?? 'always',
    READ_CACHES: process.env.READ_CACHES ?? 'true',
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

  const profiler = process.env.BENCH_CPU_PROF ? await startProfiler() : null;
  let profileName: string | undefined;
  let countsAtReset: Record<string, number> = {};
  let cpuAtReset = process.cpuUsage();
  process.on('message', (message: ToServer) => {
    void (async () => {
      if (message.kind === 'reset') {
        samples.length = 0;
        countsAtReset = store.commandCounts();
        profileName = message.profile;
        if (profiler && profileName) await profiler.post('Profiler.start');
        cpuAtReset = process.cpuUsage();
        process.send!({
          kind: 'timings',
          samples: [],
          commands: {},
          cpuMs: 0,
        } satisfies FromServer);
      }
      if (message.kind === 'timings') {
        const cpu = process.cpuUsage(cpuAtReset);
        const cpuMs = (cpu.user + cpu.system) / 1000;
        const taken = [...samples];
        const commands: Record<string, number> = {};
        for (const [key, n] of Object.entries(store.commandCounts())) {
          const delta = n - (countsAtReset[key] ?? 0);
          if (delta > 0 && !HOUSEKEEPING.has(key.split(' ')[0])) commands[key] = delta;
        }
        if (profiler && profileName) {
          const { profile } = await profiler.post('Profiler.stop');
          const dir = process.env.BENCH_CPU_PROF!;
          mkdirSync(dir, { recursive: true });
          writeFileSync(path.join(dir, `${profileName}.cpuprofile`), JSON.stringify(profile));
        }
        process.send!({ kind: 'timings', samples: taken, commands, cpuMs } satisfies FromServer);
      }
      if (message.kind === 'stop') {
        appServer.close();
        bareServer.close();
        profiler?.disconnect();
        await database.close().catch(() => undefined);
        await store.close().catch(() => undefined);
        rmSync(dataDir, { recursive: true, force: true });
        process.exit(0);
      }
    })();
  });
}

/** An inspector session with the CPU profiler enabled (sampling every 100 µs). */
async function startProfiler() {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', {
    interval: Number(process.env.BENCH_CPU_PROF_INTERVAL ?? 100),
  });
  return session;
}

/** Signs in and checks that the session opens a lesson. */
async function signIn(port: number, email: string, password: string): Promise<string> {
  const base = `http://127.0.0.1:${port}`;
  const headers = { 'x-forwarded-proto': 'https' };
  const cookie = await signInByForm(port, email, password);
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
  /** Throughput as a share of the bare route's (in the same round). */
  share: number;
  p50: number;
  p95: number;
  /** Database commands per request. */
  roundTrips: number;
  /** Server CPU time per request, ms. */
  cpuPerRequest: number;
  commands: (readonly [string, number])[];
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

function ask(child: ChildProcess, message: ToServer): Promise<Timings> {
  return new Promise((resolve) => {
    const onMessage = (reply: FromServer) => {
      if (reply.kind !== 'timings') return;
      child.off('message', onMessage);
      resolve(reply);
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

async function bench(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 5);
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 20);
  const roundCount = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
  const self = fileURLToPath(import.meta.url);
  const child = fork(self, ['--serve'], {
    execArgv: [
      '--import',
      'tsx',
      ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
    ],
    // As a production start would have it: Express reads NODE_ENV itself (view cache).
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once('message', (message: FromServer) =>
      message.kind === 'ready' ? resolve(message) : reject(new Error('bench server did not start')),
    );
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  console.log(
    `Tsunagu bench:learning — ${concurrency} concurrent connections, ${roundCount} rounds of ${seconds} s per URL (after a 2 s warm-up of every URL, and 2 s more just before each run); medians of the rounds`,
  );

  const targets = [
    { slug: 'bare', name: 'bare Express "hello"', port: ready.barePort, path: '/hello' },
    { slug: 'lesson', name: `lesson page ${LESSON_PATH}`, port: ready.appPort, path: LESSON_PATH },
    {
      slug: 'overview',
      name: `program overview ${OVERVIEW_PATH}`,
      port: ready.appPort,
      path: OVERVIEW_PATH,
    },
    // Reference: the signed-in home page (session + user lookup + EJS, no learning work).
    { slug: 'home', name: 'reference: signed-in home page /', port: ready.appPort, path: '/' },
  ];
  // BENCH_ONLY=lesson,overview runs a subset (the bare route always runs: it is the yardstick).
  const only = process.env.BENCH_ONLY?.split(',');
  const chosen = targets.filter(
    (target, i) => i === 0 || !only || only.some((word) => target.name.includes(word)),
  );
  // Warm the JIT up on every route first: otherwise the first app route measured pays for
  // compiling the code all app routes share (session, passport, driver, store).
  for (const target of chosen) await load(target.port, target.path, ready.cookie, 2, concurrency);
  // Rounds: every route once per round, in turn, so that a burst of load from elsewhere on the
  // machine hits one round of every route rather than all of one route. Each figure printed is
  // the median over the rounds; "vs bare" is the median of the per-round ratios.
  const rounds: Result[][] = [];
  for (let round = 0; round < roundCount; round++) {
    const results: Result[] = [];
    for (const target of chosen) {
      await load(target.port, target.path, ready.cookie, 2, concurrency);
      const profile = round === 0 ? target.slug : undefined;
      await ask(child, { kind: 'reset', profile });
      const run = await load(target.port, target.path, ready.cookie, seconds, concurrency);
      const timings = await ask(child, { kind: 'timings' });
      const samples = timings.samples.sort((a, b) => a - b);
      const perRequest = Object.entries(timings.commands)
        .map(([command, n]) => [command, n / Math.max(1, run.requests)] as const)
        .sort((a, b) => b[1] - a[1]);
      results.push({
        name: target.name,
        ...run,
        share: 0,
        p50: percentile(samples, 50),
        p95: percentile(samples, 95),
        roundTrips: perRequest.reduce((sum, [, n]) => sum + n, 0),
        cpuPerRequest: timings.cpuMs / Math.max(1, run.requests),
        commands: perRequest,
      });
    }
    for (const r of results) r.share = r.rps / results[0].rps;
    rounds.push(results);
  }
  child.send({ kind: 'stop' } satisfies ToServer);

  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  };
  const results: Result[] = chosen.map((_, i) => {
    const runs = rounds.map((results) => results[i]);
    const pick = (key: 'rps' | 'share' | 'p50' | 'p95' | 'cpuPerRequest' | 'roundTrips') =>
      median(runs.map((r) => r[key]));
    return {
      ...runs[0],
      requests: runs.reduce((sum, r) => sum + r.requests, 0),
      errors: runs.reduce((sum, r) => sum + r.errors, 0),
      rps: pick('rps'),
      share: pick('share'),
      p50: pick('p50'),
      p95: pick('p95'),
      cpuPerRequest: pick('cpuPerRequest'),
      roundTrips: pick('roundTrips'),
    };
  });
  const rows = results.map((r) => [
    r.name,
    r.rps.toFixed(0),
    `${(r.share * 100).toFixed(0)}%`,
    r.p50.toFixed(2),
    r.p95.toFixed(2),
    r.cpuPerRequest.toFixed(3),
    r.roundTrips.toFixed(2),
    String(r.requests),
    String(r.errors),
  ]);
  const header = [
    'route',
    'req/s',
    'vs bare',
    'p50 ms',
    'p95 ms',
    'cpu ms/req',
    'db/req',
    'requests',
    'non-200',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log('\n' + line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  if (process.env.BENCH_ROUND_TRIPS) {
    for (const r of results.slice(1)) {
      // Below one in a hundred requests: background work (e.g. the change feed's polling).
      const list = r.commands
        .filter(([, n]) => n >= 0.01)
        .map(([command, n]) => `${command} ×${n.toFixed(2)}`)
        .join(', ');
      console.log(`\n${r.name}: ${list || 'no database commands'}`);
    }
  }
  const lessonResult = results.find((r) => r.name.startsWith('lesson page'));
  if (!lessonResult) return;
  const lessonShare = lessonResult.share;
  console.log(
    `\nLesson page at ${(lessonShare * 100).toFixed(0)}% of the bare route (target ≥ 25%, aim 40%): ${lessonShare >= 0.25 ? 'OK' : 'BELOW TARGET'}`,
  );
  console.log(
    'p50/p95: server time from the request event to the end of the response, in the server process;\n' +
      'cpu ms/req: CPU time of the server process per request (less sensitive to a busy machine);\n' +
      'db/req: database commands (round trips to the store) per request.',
  );
  if (results.some((r) => r.errors > 0)) process.exitCode = 1;
}

if (process.argv.includes('--serve')) {
  await serve();
} else {
  await bench();
}
