/**
 * The app process of `npm run bench:load` (bench/load.ts starts it): the app as `npm start` builds
 * it, its users, and what the bench asks of it over IPC (costs per request, the main thread's
 * timing, the crash check's reading of the data). A module of its own so that it can run as plain
 * JavaScript, without tsx: load.ts transpiles it (TypeScript's transpileModule, no type check)
 * when the bench serves dist/, because tsx's module hooks run in a thread of their own that
 * production does not have (about 50 MB of RSS: `node --import tsx dist/server.js` idles at
 * 252 MB, `node dist/server.js` at 200 MB). Only type imports from the rest of the repository.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const PASSWORD = 'load-bench-horse-battery-7';
export const PROGRAM = 'basic-training';

export const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** The percentile of values in any order (a sorted copy; the values stay as they are). */
export const percentileOf = (values: number[], p: number) =>
  percentile(
    [...values].sort((a, b) => a - b),
    p,
  );

// ── the app (child process) ──────────────────────────────────────────────────────────────────

export interface Ready {
  kind: 'ready';
  port: number;
  users: { email: string; id: string }[];
}
export interface CheckRequest {
  kind: 'check';
  reads: { userId: string; lessonId: string }[];
  submissions: { userId: string; attemptId: string }[];
}
export interface CheckResult {
  kind: 'checked';
  lostReads: number;
  lostSubmissions: number;
  halfMarked: number;
  /** Read in the summary, the lesson's record without its date: a mark stopped between its writes. */
  undated: number;
  lessonRecords: number;
}

/**
 * The database part of the app's environment. The store is reached through MONGODB_URI; an
 * empty uri means the embedded store in the app process (DATA_DIR/store). One place to adapt
 * when the way to the store changes (a Unix socket, credentials).
 */
function databaseEnv(uri: string | null): Record<string, string> {
  return uri ? { MONGODB_URI: uri } : {};
}

/**
 * A module of the app as the bench runs it: the build in dist/ that `npm start` serves (made by
 * `npm run bench:load` when stale), or the TypeScript in src/ with BENCH_FROM=src.
 */
function importApp<T>(module: string): Promise<T> {
  // The repository's root: BENCH_ROOT when this file runs transpiled from elsewhere.
  const root =
    process.env.BENCH_ROOT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const from = process.env.BENCH_FROM === 'src' ? 'src' : 'dist';
  return import(pathToFileURL(path.join(root, from, module)).href) as Promise<T>;
}

export async function serve(): Promise<void> {
  // What src/server.ts does first.
  const { boundHeapGrowth } = await importApp<typeof import('../src/lib/heap.js')>('lib/heap.js');
  boundHeapGrowth();
  const { keepConnectionsAlive } =
    await importApp<typeof import('../src/http/keep-alive.js')>('http/keep-alive.js');
  const { createApp } = await importApp<typeof import('../src/app.js')>('app.js');
  const { loadConfig } = await importApp<typeof import('../src/config.js')>('config.js');
  const { loadCatalog } =
    await importApp<typeof import('../src/courses/loader.js')>('courses/loader.js');
  const { connectDatabase } = await importApp<typeof import('../src/db.js')>('db.js');
  const { createLogger } = await importApp<typeof import('../src/lib/logger.js')>('lib/logger.js');
  const { firstStart } = await importApp<typeof import('../src/bootstrap/first-start.js')>(
    'bootstrap/first-start.js',
  );
  const { HASH_BUDGET, hashPassword, setHashBudget } =
    await importApp<typeof import('../src/auth/password.js')>('auth/password.js');
  // An experiment: another share of the time, or another burst, for failed password checks
  // (src/auth/password.ts); what is not given stays the app's.
  if (process.env.BENCH_HASH_SHARE || process.env.BENCH_HASH_BURST_MS) {
    setHashBudget({
      share: Number(process.env.BENCH_HASH_SHARE ?? HASH_BUDGET.share),
      burstMs: Number(process.env.BENCH_HASH_BURST_MS ?? HASH_BUDGET.burstMs),
    });
  }
  const { User } =
    await importApp<typeof import('../src/users/user.model.js')>('users/user.model.js');
  const { Municipality } = await importApp<
    typeof import('../src/organisations/municipality.model.js')
  >('organisations/municipality.model.js');
  const { LessonProgress } = await importApp<
    typeof import('../src/learning/lesson-progress.model.js')
  >('learning/lesson-progress.model.js');
  const { LearnerProgress } = await importApp<
    typeof import('../src/learning/learner-progress.model.js')
  >('learning/learner-progress.model.js');
  const { QuizAttempt } = await importApp<typeof import('../src/learning/quiz-attempt.model.js')>(
    'learning/quiz-attempt.model.js',
  );
  const mongoose = (await import('mongoose')).default;

  // The embedded store as the app starts it (DATA_DIR/store; in a thread with STORE_THREAD=true),
  // or the one of BENCH_MONGODB_URI.
  const externalUri = process.env.BENCH_MONGODB_URI || null;
  const config = loadConfig({
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    // The bench speaks plain HTTP and says it came through the TLS proxy (secure cookies).
    TRUST_PROXY: '1',
    DATA_DIR: process.env.BENCH_DATA_DIR!,
    SESSION_SECRET: process.env.BENCH_SESSION_SECRET!,
    STORE_FSYNC: process.env.STORE_FSYNC ?? 'always',
    LOG_LEVEL: 'error',
    STORE_THREAD: process.env.STORE_THREAD ?? 'true',
    ...databaseEnv(externalUri),
  });
  const logger = createLogger(config.log);
  const catalog = await loadCatalog(config.coursesDir);
  const database = await connectDatabase({ config, logger });
  await firstStart({ config, logger });

  // Trainees made through the model (one password hash for all), spread over the municipalities.
  const wanted = Number(process.env.BENCH_CREATE_USERS ?? 0);
  if (wanted > 0) {
    const municipalities = await Municipality.find().sort({ order: 1 }).limit(20).lean();
    const passwordHash = await hashPassword(PASSWORD);
    const run = randomBytes(3).toString('hex');
    await User.insertMany(
      Array.from({ length: wanted }, (_, i) => {
        const place = municipalities[i % municipalities.length];
        return {
          name: `負荷 試験${i}`,
          nameKana: 'ふか しけん',
          email: `load-${run}-${i}@example.jp`,
          passwordHash,
          roles: ['trainee'],
          status: 'active',
          municipalityId: place._id,
          regionId: place.regionId,
          profession: '保健師',
        };
      }),
    );
  }
  const users = (
    await User.find({ email: mongoose.trusted({ $regex: /^load-/ }) }, { email: 1 })
      .sort({ email: 1 })
      .lean()
  ).map((user) => ({ email: user.email, id: String(user._id) }));

  const app = createApp({ config, logger, database, catalog });
  // The server as src/server.ts sets it up: connections kept alive longer than a client's pool keeps them.
  const server = http.createServer(app);
  keepConnectionsAlive(server);
  server.on('connection', (socket) => {
    (socket as unknown as { acceptedWall?: number }).acceptedWall = Date.now();
  });
  const costs = costAccounting(server, commandCounter(database.connection.getClient()));
  const profiler = costProfiler();
  /** The store's journal and snapshot, MB (a journal smaller than before: it was compacted). */
  const storeFiles = async () => {
    await database.refresh();
    const { journalBytes, snapshotBytes } = database.stats() as {
      journalBytes?: number;
      snapshotBytes?: number;
    };
    const mb = (bytes?: number) => Math.round(((bytes ?? 0) / 2 ** 20) * 10) / 10;
    return { journalMb: mb(journalBytes), snapshotMb: mb(snapshotBytes) };
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.send!({
    kind: 'ready',
    port: (server.address() as AddressInfo).port,
    users,
  } satisfies Ready);

  process.on('message', (message: CheckRequest | CostsRequest | { kind: 'stop' }) => {
    void (async () => {
      if (message.kind === 'costs-reset') {
        if (message.profile) await profiler.start();
        costs.reset(message.perKind ?? false);
        process.send!({
          kind: 'costs',
          ...costs.report(),
          memory: memoryMb(),
          store: await storeFiles(),
        } satisfies CostsReply);
      }
      if (message.kind === 'costs') {
        const report = costs.report();
        await profiler.stop();
        if (process.env.BENCH_HEAP_SNAPSHOT) {
          // Where the memory is, at the end of each phase (Chrome DevTools → Memory → Load).
          const { writeHeapSnapshot } = await import('node:v8');
          writeHeapSnapshot(
            path.join(process.env.BENCH_HEAP_SNAPSHOT, `app-${Date.now()}.heapsnapshot`),
          );
        }
        process.send!({
          kind: 'costs',
          ...report,
          memory: memoryMb(),
          store: await storeFiles(),
        } satisfies CostsReply);
      }
      if (message.kind === 'stop') {
        // At once, without closing the database under requests still queued (a saturated app
        // would print every one of them failing). Writes are already durable (fsync per write).
        process.exit(0);
      }
      if (message.kind === 'check') {
        const oid = (id: string) => new mongoose.Types.ObjectId(id);
        const lessons = await LessonProgress.find({
          readAt: mongoose.trusted({ $ne: null }),
        }).lean();
        const learners = await LearnerProgress.find({}).lean();
        const readBy = new Map(
          learners.map((l) => [`${String(l.userId)} ${l.programId}`, new Set(l.readLessons)]),
        );
        const halfMarked = lessons.filter(
          (l) => !readBy.get(`${String(l.userId)} ${l.programId}`)?.has(l.lessonId),
        ).length;
        const readKeys = new Set(lessons.map((l) => `${String(l.userId)} ${l.lessonId}`));
        const undated = learners
          .flatMap((l) => l.readLessons.map((lessonId) => `${String(l.userId)} ${lessonId}`))
          .filter((key) => !readKeys.has(key)).length;
        const lostReads = message.reads.filter(
          (r) =>
            !readKeys.has(`${r.userId} ${r.lessonId}`) ||
            !readBy.get(`${r.userId} ${PROGRAM}`)?.has(r.lessonId),
        ).length;
        const submitted = await QuizAttempt.find(
          {
            userId: mongoose.trusted({
              $in: [...new Set(message.submissions.map((s) => oid(s.userId)))],
            }),
            submittedAt: mongoose.trusted({ $ne: null }),
          },
          { attemptId: 1 },
        ).lean();
        const submittedIds = new Set(submitted.map((a) => (a as { attemptId: string }).attemptId));
        const lostSubmissions = message.submissions.filter(
          (s) => !submittedIds.has(s.attemptId),
        ).length;
        process.send!({
          kind: 'checked',
          lostReads,
          lostSubmissions,
          halfMarked,
          undated,
          lessonRecords: lessons.length,
        } satisfies CheckResult);
      }
    })();
  });
}

// ── costs: CPU time and store commands per request ──────────────────────────────────────────

export interface CostsRequest {
  kind: 'costs-reset' | 'costs';
  /** With costs-reset: write a CPU profile of the main thread until the next report (BENCH_COST_PROF). */
  profile?: boolean;
  /**
   * With costs-reset: attribute CPU time and commands to each request kind (phase 0). It reads
   * the process's CPU time and copies the command counts twice a request: the load phases
   * leave it off, so that the bench does not add its own work to the app it measures.
   */
  perKind?: boolean;
}
export interface RouteCost {
  requests: number;
  /** CPU time of the app process (every thread: user + system) while these requests ran, µs. */
  cpuUs: number;
  /** Store commands answered while these requests ran, by "<command> <collection>". */
  commands: Record<string, number>;
}
export interface CostsReply {
  kind: 'costs';
  /** process.memoryUsage() of the app when the report was made, MB. */
  memory: Record<string, number>;
  /** The embedded store's journal and snapshot when the report was made, MB (0 on `npm run db`). */
  store: { journalMb: number; snapshotMb: number };
  /** Since the reset: the whole process (requests and everything else), and requests served. */
  total: RouteCost;
  /** Per request kind (the client's x-bench-kind header), exact only when requests run one at a time. */
  byKind: Record<string, RouteCost>;
  /** Where the main thread's time went since the reset (see mainThreadTiming). */
  timing: MainThreadTiming;
}
export interface MainThreadTiming {
  /** Time from a request's arrival at the app (its headers parsed) to the end of its response, ms. */
  server: { p50: number; p95: number; p99: number; max: number };
  /** How late the main thread's timers ran (the event loop's delay), ms. */
  loopDelay: { p50: number; p99: number; max: number };
  /** Garbage collections: how many, their pauses' total and longest, ms. */
  gc: { count: number; totalMs: number; maxMs: number };
  /** By 5 s since the reset: the time in the app's p95 and the GC pauses' total, ms. */
  windows: { p95: number; gcMs: number }[];
  /** The first request on each new connection: how many, and their time in the app's p95, ms. */
  firstOnConnection: { count: number; p95: number };
}

/**
 * A V8 CPU profile of the app's main thread between a costs-reset and the next report, written
 * to the file BENCH_COST_PROF names (summarise it with bench/profile-top.ts).
 */
function costProfiler() {
  let session: import('node:inspector/promises').Session | null = null;
  return {
    async start() {
      const { Session } = await import('node:inspector/promises');
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 100 });
      await session.post('Profiler.start');
    },
    async stop() {
      if (!session) return;
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(process.env.BENCH_COST_PROF!, JSON.stringify(profile));
      session.disconnect();
      session = null;
    },
  };
}

/** process.memoryUsage() in MB, rounded. */
function memoryMb(): Record<string, number> {
  return Object.fromEntries(
    Object.entries(process.memoryUsage()).map(([key, bytes]) => [key, Math.round(bytes / 2 ** 20)]),
  );
}

/** Driver housekeeping, not caused by requests. */
const HOUSEKEEPING = new Set(['hello', 'ismaster', 'isMaster', 'ping', 'endSessions']);

/**
 * The commands this process sends to the database, by "<command> <collection>" (e.g. "find
 * users"), counted by the driver's command monitoring: the same whether the store is in this
 * process, in its thread or elsewhere.
 */
function commandCounter(client: import('mongodb').MongoClient) {
  const counts: Record<string, number> = {};
  client.on('commandStarted', (event) => {
    const target = event.command[event.commandName] as unknown;
    const collection = typeof target === 'string' ? target : String(event.command.collection ?? '');
    const key = `${event.commandName} ${collection}`.trim();
    counts[key] = (counts[key] ?? 0) + 1;
  });
  return { commandCounts: () => ({ ...counts }) };
}

/**
 * Counts CPU time and store commands of the app process between a reset and a report: in total,
 * and attributed to each request kind from the request's start to its response's end (which is
 * exact when requests come one at a time: the cost phase). Work left after a response (a change
 * feed event, a late write) lands on the next request of whatever kind.
 */
function costAccounting(
  server: http.Server,
  store: { commandCounts(): Record<string, number> } | null,
) {
  const commandCounts = () => {
    const counts = store?.commandCounts() ?? {};
    for (const key of Object.keys(counts))
      if (HOUSEKEEPING.has(key.split(' ')[0])) delete counts[key];
    return counts;
  };
  const cpuUs = () => {
    const cpu = process.cpuUsage();
    return cpu.user + cpu.system;
  };
  const diff = (after: Record<string, number>, before: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(after)
        .map(([key, n]): [string, number] => [key, n - (before[key] ?? 0)])
        .filter(([, n]) => n > 0),
    );
  const add = (into: Record<string, number>, from: Record<string, number>) => {
    for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
  };
  let start = { cpu: cpuUs(), commands: commandCounts() };
  let requests = 0;
  let byKind = new Map<string, RouteCost>();
  let perKind = false;
  const timing = mainThreadTiming();
  server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    requests++;
    timing.request(res);
    const kind = req.headers['x-bench-kind'];
    if (!perKind || typeof kind !== 'string') return;
    const before = { cpu: cpuUs(), commands: commandCounts() };
    res.once('finish', () => {
      const key = `${kind} ${res.statusCode}`;
      const cost = byKind.get(key) ?? { requests: 0, cpuUs: 0, commands: {} };
      cost.requests++;
      cost.cpuUs += cpuUs() - before.cpu;
      add(cost.commands, diff(commandCounts(), before.commands));
      byKind.set(key, cost);
    });
  });
  return {
    reset(attribute: boolean) {
      start = { cpu: cpuUs(), commands: commandCounts() };
      requests = 0;
      byKind = new Map();
      perKind = attribute;
      timing.reset();
    },
    report(): Omit<CostsReply, 'kind' | 'memory' | 'store'> {
      return {
        total: {
          requests,
          cpuUs: cpuUs() - start.cpu,
          commands: diff(commandCounts(), start.commands),
        },
        byKind: Object.fromEntries(byKind),
        timing: timing.report(),
      };
    },
  };
}

/**
 * The main thread's side of latency: each request's time inside the app, how late the event
 * loop ran timers, and the garbage collector's pauses. Together with the client's latency they
 * say whether a slow answer waited for the main thread (loop delay, GC), for the store or for
 * the CPU. One clock reading per request: cheap enough for the load phases.
 */
function mainThreadTiming() {
  /** Each request's arrival (ms since the reset) and its time in the app. */
  let times: [number, number][] = [];
  /** The time in the app of the first request on each connection. */
  let firstOnConnection: number[] = [];
  const seenSockets = new WeakSet<object>();
  let resetAt = performance.now();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  let gc = { count: 0, totalMs: 0, maxMs: 0 };
  /** GC pauses: when (ms since the reset) and how long. */
  let pauses: [number, number][] = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.count++;
      gc.totalMs += entry.duration;
      gc.maxMs = Math.max(gc.maxMs, entry.duration);
      pauses.push([entry.startTime - resetAt, entry.duration]);
    }
  }).observe({ entryTypes: ['gc'] });
  const ms = (ns: number) => ns / 1e6;
  return {
    request(res: http.ServerResponse) {
      const arrived = performance.now();
      const socket = res.req.socket;
      const first = !seenSockets.has(socket);
      seenSockets.add(socket);
      if (first && process.env.BENCH_DEBUG_FRESH) {
        const at = (socket as unknown as { acceptedWall?: number }).acceptedWall;
        const t0 = Number(res.req.headers['x-bench-t0']);
        if (at !== undefined && t0)
          console.error(
            `app: accepted ${at - t0} ms after the client sent, request parsed ${Date.now() - t0} ms after`,
          );
      }
      res.once('finish', () => {
        const took = performance.now() - arrived;
        times.push([arrived - resetAt, took]);
        if (first) firstOnConnection.push(took);
      });
    },
    reset() {
      times = [];
      firstOnConnection = [];
      pauses = [];
      resetAt = performance.now();
      loop.reset();
      gc = { count: 0, totalMs: 0, maxMs: 0 };
    },
    report(): MainThreadTiming {
      const sorted = times.map(([, took]) => took).sort((a, b) => a - b);
      const windows: { p95: number; gcMs: number }[] = [];
      const windowOf = (at: number) =>
        (windows[Math.max(0, Math.floor(at / 5000))] ??= { p95: 0, gcMs: 0 });
      const byWindow: number[][] = [];
      for (const [at, took] of times) {
        windowOf(at);
        (byWindow[Math.max(0, Math.floor(at / 5000))] ??= []).push(took);
      }
      for (const [at, took] of pauses) windowOf(at).gcMs += took;
      for (const [i, w] of byWindow.entries()) {
        if (w) windowOf(i * 5000).p95 = percentileOf(w, 95);
      }
      return {
        server: {
          p50: percentile(sorted, 50),
          p95: percentile(sorted, 95),
          p99: percentile(sorted, 99),
          max: sorted[sorted.length - 1] ?? NaN,
        },
        loopDelay: {
          p50: ms(loop.percentile(50)),
          p99: ms(loop.percentile(99)),
          max: ms(loop.max),
        },
        gc: { ...gc },
        windows: Array.from(windows, (w) => w ?? { p95: 0, gcMs: 0 }),
        firstOnConnection: {
          count: firstOnConnection.length,
          p95: percentileOf(firstOnConnection, 95),
        },
      };
    },
  };
}

if (process.argv.includes('--serve')) await serve();
