/**
 * `npm run bench:load` — issue 17. Signed-in trainees read lessons, mark them read and answer
 * quizzes against the real app in production mode (child processes, as bench/learning.ts starts
 * it), with failed sign-ins in the background:
 *
 *   1. one app process on the embedded store (in the app process, as in production; in a worker
 *      thread with STORE_THREAD=true), one second
 *      of think time between a user's requests (BENCH_USERS users ≈ BENCH_USERS req/s offered);
 *   2. the same users without think time: the saturation throughput of that process;
 *   3. two app processes sharing one store started as `npm run db` does (src/store/cli.ts),
 *      think time again, each user's requests alternating between the two processes;
 *   4. the same two processes without think time.
 *
 * Failed sign-ins run in the background of the think-time phases (BENCH_FAILED_LOGINS a second,
 * default 20): wrong passwords for real and unknown addresses from varied client addresses
 * (X-Forwarded-For), so the throttle's 429s happen too. Each user comes from its own address.
 *
 * Figures per phase: client-side latency p50/p95/p99/max of the users' requests, errors (an
 * unexpected status or a failed connection), requests over 1 s, RSS of the app process(es) (the
 * highest sampled). The last line is the think-time run of one process:
 *   load: N users, p50 X ms, p95 Y ms, p99 Z ms, errors E, rss R MB, saturation S req/s
 *
 * Before them, phase 0 measures what each kind of request costs the app, which unlike latency
 * does not depend on what else runs on the machine: the CPU time of the app process (every
 * thread) and the store commands, per request kind, with requests sent one at a time (see
 * costPhase). Phases 1–4 print the same per request served, over the whole phase.
 *
 * Options (env): BENCH_USERS (200), BENCH_SECONDS (30 per phase), BENCH_THINK_MS (1000),
 * BENCH_FAILED_LOGINS (20 a second), BENCH_PHASES (e.g. "0,1": a subset of 0,1,2,3,4), STORE_FSYNC
 * (always), BENCH_CPU_PROF=<dir> (each app process writes a V8 CPU profile there when it exits),
 * BENCH_COST_SECONDS (10: phase 0's user requests), BENCH_COST_SIGNINS (40: its failed
 * sign-ins), BENCH_COST_PROF=<file> (a CPU profile of the app's main thread during phase 0),
 * BENCH_THINK_JITTER (0: every think time exactly BENCH_THINK_MS; 0.5: uniformly 50–150 % of it),
 * BENCH_HASH_SHARE and BENCH_HASH_BURST_MS (experiments: the share of the time failed password
 * checks may take after their burst, and the burst, instead of the app's; see HASH_BUDGET in
 * src/auth/password.ts),
 * BENCH_DEBUG_FRESH=1 (a line per request sent on a new connection, per connection closed, and
 * per connection the app accepted: how long after the client had connected — Node 20 accepts one
 * connection per turn of the event loop), BENCH_HEAP_SNAPSHOT=<dir> (a heap snapshot of the app at
 * the end of each phase), BENCH_NODE_ARGS
 * (more options for the app processes' node, e.g. "--heap-prof --heap-prof-dir=<dir>").
 * BENCH_KILL=N runs the crash check instead: N rounds of the no-think load on one process, each
 * ended by a SIGKILL of the app at a random moment; after a restart on the same data, every
 * acknowledged write (a 303 to 読了にする or to a quiz submission) must be there, and no lesson
 * may be half-marked (read in lesson_progress but missing from learner_progress.readLessons, which
 * the pages show). A mark stopped between its two writes leaves the lesson read in the summary and
 * its record without the date (counted apart: by design, see markLessonRead).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStoreProcess } from '../test/helpers/store-process.js';
import {
  PASSWORD,
  PROGRAM,
  percentile,
  percentileOf,
  type CheckRequest,
  type CheckResult,
  type CostsReply,
  type CostsRequest,
  type Ready,
  type RouteCost,
} from './load-app.js';

// ── processes ─────────────────────────────────────────────────────────────────────────────────

const self = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(self), '..');

interface AppProcess {
  child: ChildProcess;
  port: number;
  users: Ready['users'];
}

let appEntryFile: string | undefined;

/**
 * The app process's entry: bench/load-app.ts through tsx when the app is served from src/, else
 * that file transpiled to plain JavaScript (once per run, into node_modules/.cache, whence it
 * finds the packages) so that the app process runs as `npm start` does, without tsx's hooks thread.
 */
async function appEntry(): Promise<{ file: string; execArgv: string[] }> {
  const source = path.join(root, 'bench', 'load-app.ts');
  if (process.env.BENCH_FROM === 'src') return { file: source, execArgv: ['--import', 'tsx'] };
  if (!appEntryFile) {
    const { default: ts } = await import('typescript');
    const { outputText } = ts.transpileModule(readFileSync(source, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: source,
    });
    const dir = path.join(root, 'node_modules', '.cache', 'tsunagu-bench');
    mkdirSync(dir, { recursive: true });
    appEntryFile = path.join(dir, 'load-app.mjs');
    writeFileSync(appEntryFile, outputText);
  }
  return { file: appEntryFile, execArgv: [] };
}

async function startApp(env: Record<string, string>): Promise<AppProcess> {
  const entry = await appEntry();
  const child = fork(entry.file, ['--serve'], {
    execArgv: [
      ...entry.execArgv,
      ...(process.env.BENCH_CPU_PROF
        ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_CPU_PROF]
        : []),
      // e.g. "--heap-prof --heap-prof-dir=/tmp/heap" (where the app allocates) or V8 flags.
      ...(process.env.BENCH_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []),
    ],
    cwd: root,
    env: { ...process.env, NODE_ENV: 'production', BENCH_ROOT: root, ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message: Ready) =>
      resolve({ child, port: message.port, users: message.users }),
    );
    child.once('exit', (code) => reject(new Error(`bench app exited with ${code}`)));
  });
}

async function stopApp(app: AppProcess): Promise<void> {
  if (app.child.exitCode !== null || app.child.signalCode !== null) return;
  const exited = new Promise((resolve) => app.child.once('exit', resolve));
  app.child.send({ kind: 'stop' });
  await exited;
}

/** One thread group's counters: CPU time and time runnable but waiting for a CPU (ns), preemptions. */
interface ThreadCounters {
  cpuNs: number;
  waitNs: number;
  preempted: number;
}

/**
 * The scheduler's counters of each thread of a process by its name (Linux /proc schedstat and
 * status): the app's main thread ("main"), the store's thread ("tsunagu-store"), the password
 * hashes' ("tsunagu-hash"), and the rest (V8's garbage-collection helpers and libuv's pool, all
 * named "node"). The wait says how long a thread was ready to run while the CPUs ran others.
 */
function threadCounters(pid: number | undefined): Map<string, ThreadCounters> {
  const groups = new Map<string, ThreadCounters>();
  if (!pid) return groups;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const dir = `/proc/${pid}/task/${tid}`;
      const comm = readFileSync(`${dir}/comm`, 'utf8').trim();
      const [cpuNs, waitNs] = readFileSync(`${dir}/schedstat`, 'utf8').split(' ').map(Number);
      const status = readFileSync(`${dir}/status`, 'utf8');
      const preempted = Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
      const name = Number(tid) === pid ? 'main' : comm.startsWith('tsunagu-') ? comm : 'other';
      const group = groups.get(name) ?? { cpuNs: 0, waitNs: 0, preempted: 0 };
      group.cpuNs += cpuNs;
      group.waitNs += waitNs;
      group.preempted += preempted;
      groups.set(name, group);
    }
  } catch {
    // The process ended, or no /proc.
  }
  return groups;
}

/**
 * Per thread group between two readings over `seconds`: cores used, and for the main and store
 * threads the share of the time they waited for a CPU while ready, and preemptions a second.
 */
function threadCores(
  before: Map<string, ThreadCounters>,
  after: Map<string, ThreadCounters>,
  seconds: number,
): string {
  const zero = { cpuNs: 0, waitNs: 0, preempted: 0 };
  return [...after]
    .map(([name, now]) => {
      const then = before.get(name) ?? zero;
      return {
        name: name.replace('tsunagu-', ''),
        cores: (now.cpuNs - then.cpuNs) / 1e9 / seconds,
        waiting: (now.waitNs - then.waitNs) / 1e9 / seconds,
        preempted: (now.preempted - then.preempted) / seconds,
      };
    })
    .sort((a, b) => b.cores - a.cores)
    .map(({ name, cores, waiting, preempted }) =>
      name === 'main' || name === 'store'
        ? `${name} ${cores.toFixed(2)} (waiting for a CPU ${(waiting * 100).toFixed(0)} % of the time, preempted ${preempted.toFixed(0)}/s)`
        : `${name} ${cores.toFixed(2)}`,
    )
    .join(', ');
}

/** Resident set size of a process, MB (Linux /proc). */
function rssMb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

// ── HTTP ──────────────────────────────────────────────────────────────────────────────────────

/**
 * The connections of everything but the trainees (set-up probes, the failed sign-ins). Each
 * trainee has an agent of their own (User.agent), as each has a browser: a browser keeps its
 * connection to the site open between pages. (One pool shared by all 200 users opened a new
 * connection for every request that found the pool's sockets busy: 100–200 at the start of a
 * phase, which the app accepts one per turn of its event loop, see README.)
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const userAgents: http.Agent[] = [];

/** A trainee's browser connections: kept alive, at most 6 to a server, as a browser's. */
function browserAgent(): http.Agent {
  const own = new http.Agent({ keepAlive: true, maxSockets: 6 });
  userAgents.push(own);
  return own;
}

function closeConnections(): void {
  agent.destroy();
  for (const own of userAgents.splice(0)) own.destroy();
}

interface Reply {
  /** Sent on a connection of its own, opened for it (not one the agent kept alive). */
  fresh?: boolean;
  /** On a fresh connection: how long it took to connect, ms. */
  connectMs?: number;
  /** Until the response's headers arrived, ms. */
  headersMs?: number;
  status: number;
  location: string;
  setCookie: string[];
  body: string;
  ms: number;
}

type SendOptions = {
  cookie?: string;
  form?: Record<string, string | string[]>;
  address: string;
  /** What the request is, for the app's cost accounting (header x-bench-kind). */
  kind?: string;
  /** Whose connections: a trainee's browser (User.agent); otherwise the shared pool. */
  agent?: http.Agent;
};

/**
 * One request. A keep-alive socket the server closed just as it was reused fails with
 * ECONNRESET before the server saw anything; that request is sent again once, as Node's
 * documentation advises (a client-side race, not an answer of the app).
 */
async function send(
  port: number,
  method: 'GET' | 'POST',
  urlPath: string,
  options: SendOptions,
): Promise<Reply> {
  try {
    return await sendOnce(port, method, urlPath, options);
  } catch (error) {
    if ((error as { reusedSocket?: boolean }).reusedSocket) {
      return sendOnce(port, method, urlPath, options);
    }
    throw error;
  }
}

function sendOnce(
  port: number,
  method: 'GET' | 'POST',
  urlPath: string,
  options: SendOptions,
): Promise<Reply> {
  const body = options.form
    ? new URLSearchParams(
        Object.entries(options.form).flatMap(([k, v]) =>
          (Array.isArray(v) ? v : [v]).map((one): [string, string] => [k, one]),
        ),
      ).toString()
    : undefined;
  const headers: http.OutgoingHttpHeaders = {
    'x-forwarded-proto': 'https',
    'x-forwarded-for': options.address,
    accept: 'text/html',
  };
  if (options.cookie) headers.cookie = options.cookie;
  if (options.kind) headers['x-bench-kind'] = options.kind;
  if (process.env.BENCH_DEBUG_FRESH) headers['x-bench-t0'] = String(Date.now());
  if (body) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    headers['content-length'] = Buffer.byteLength(body);
  }
  const started = performance.now();
  let connectMs: number | undefined;
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        headers,
        agent: options.agent ?? agent,
        timeout: 30_000,
      },
      (res) => {
        const headersMs = performance.now() - started;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            fresh: !req.reusedSocket,
            connectMs,
            headersMs,
            status: res.statusCode ?? 0,
            location: String(res.headers.location ?? ''),
            setCookie: res.headers['set-cookie'] ?? [],
            body: Buffer.concat(chunks).toString(),
            ms: performance.now() - started,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('socket', (socket) => {
      if (process.env.BENCH_DEBUG_FRESH && !(socket as unknown as { watched?: boolean }).watched) {
        (socket as unknown as { watched?: boolean }).watched = true;
        let ended = false;
        socket.once('end', () => (ended = true));
        socket.once('close', (hadError) =>
          console.log(
            `socket closed at ${performance.now().toFixed(0)} by ${ended ? 'server' : 'client'}${hadError ? ' (error)' : ''}`,
          ),
        );
      }
      if (socket.connecting) {
        socket.once('connect', () => (connectMs = performance.now() - started));
      }
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (req.reusedSocket && error.code === 'ECONNRESET')
        Object.assign(error, { reusedSocket: true });
      reject(error);
    });
    req.end(body);
  });
}

const csrfIn = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
const cookieIn = (setCookie: string[]) =>
  setCookie.map((c) => c.split(';')[0]).find((c) => c.startsWith('tsunagu.sid=')) ?? '';

// ── users ─────────────────────────────────────────────────────────────────────────────────────

interface Lesson {
  moduleId: string;
  lessonId: string;
}

interface User {
  id: string;
  email: string;
  address: string;
  cookie: string;
  csrf: string;
  /** Position in the lesson list. */
  next: number;
  /** This trainee's browser connections (browserAgent). */
  agent: http.Agent;
}

interface Stats {
  samples: number[];
  /** The same latencies by request kind (e.g. "lesson", "read"). */
  byKind: Map<string, number[]>;
  errors: number;
  errorKinds: Map<string, number>;
  slow: number;
  /** When each request was sent (performance.now()) and its latency, for the phase's timeline. */
  timeline: [number, number][];
  /** Latencies of the requests that opened a connection of their own, and their connect times. */
  fresh: number[];
  connects: number[];
  /** Acknowledged writes, for the crash check. */
  reads: { userId: string; lessonId: string }[];
  submissions: { userId: string; attemptId: string }[];
}

const newStats = (): Stats => ({
  samples: [],
  byKind: new Map(),
  errors: 0,
  errorKinds: new Map(),
  slow: 0,
  timeline: [],
  fresh: [],
  connects: [],
  reads: [],
  submissions: [],
});

async function signIn(port: number, user: User): Promise<void> {
  let res: Reply;
  for (let attempt = 1; ; attempt++) {
    const page = await send(port, 'GET', '/login', { address: user.address, agent: user.agent });
    const cookie = cookieIn(page.setCookie);
    res = await send(port, 'POST', '/login', {
      cookie,
      address: user.address,
      agent: user.agent,
      form: { email: user.email, password: PASSWORD, _csrf: csrfIn(page.body) },
    });
    // 503: the password hashing is busy (signing everyone in at once); try again, as the page says.
    if (res.status !== 503 || attempt === 20) break;
    await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
  }
  if (res.status !== 302) throw new Error(`sign-in of ${user.email}: ${res.status}`);
  user.cookie = cookieIn(res.setCookie);
  const home = await send(port, 'GET', '/', {
    cookie: user.cookie,
    address: user.address,
    agent: user.agent,
  });
  user.csrf = csrfIn(home.body);
  if (!user.csrf) throw new Error('no CSRF token after sign-in');
}

/** Runs `work` over `items` with at most `limit` at once. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>) {
  let i = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (i < items.length) await work(items[i++]);
    }),
  );
}

/** Set when the app was killed (crash check): users stop at once instead of spinning on refusals. */
let aborted = false;

/** A quiz after every this many lessons (every lesson in the crash check: more kinds of write). */
let quizEvery = 3;

/** How quizzes are started: POST (issue 17 item 9) or, on older code, GET. Found on first use. */
let quizStartMethod: 'POST' | 'GET' | null = null;
const JITTER = Number(process.env.BENCH_THINK_JITTER ?? 0);

/**
 * One user's session of work until `deadline`: for each lesson, open it, mark it read (following
 * the redirect as a browser does); after every third lesson, start the module's quiz and submit
 * an answer to every question. `think` ms between the user's actions.
 */
async function runUser(
  ports: number[],
  user: User,
  lessons: Lesson[],
  deadline: number,
  think: number,
  stats: Stats,
): Promise<void> {
  let turn = user.next;
  const port = () => ports[turn++ % ports.length];
  const record = (kind: string, reply: Reply | Error, expected: number[]) => {
    if (reply instanceof Error) {
      stats.errors++;
      stats.errorKinds.set(
        `${kind}: ${reply.message}`,
        (stats.errorKinds.get(`${kind}: ${reply.message}`) ?? 0) + 1,
      );
      return false;
    }
    stats.samples.push(reply.ms);
    stats.timeline.push([performance.now() - reply.ms, reply.ms]);
    if (reply.fresh) stats.fresh.push(reply.ms);
    if (reply.connectMs !== undefined) stats.connects.push(reply.connectMs);
    if (reply.fresh && process.env.BENCH_DEBUG_FRESH)
      console.log(
        `fresh ${kind}: connect ${reply.connectMs?.toFixed(0)} headers ${reply.headersMs?.toFixed(0)} end ${reply.ms.toFixed(0)} at ${(performance.now() - reply.ms).toFixed(0)}`,
      );
    const ofKind = stats.byKind.get(kind) ?? [];
    ofKind.push(reply.ms);
    stats.byKind.set(kind, ofKind);
    if (reply.ms > 1000) stats.slow++;
    if (!expected.includes(reply.status)) {
      stats.errors++;
      const key = `${kind} ${reply.status}`;
      stats.errorKinds.set(key, (stats.errorKinds.get(key) ?? 0) + 1);
      return false;
    }
    return true;
  };
  const call = async (
    kind: string,
    method: 'GET' | 'POST',
    url: string,
    expected: number[],
    form?: Record<string, string | string[]>,
  ): Promise<Reply | null> => {
    if (Date.now() >= deadline || aborted) return null;
    try {
      const reply = await send(port(), method, url, {
        cookie: user.cookie,
        address: user.address,
        agent: user.agent,
        form: form && { ...form, _csrf: user.csrf },
        kind,
      });
      return record(kind, reply, expected) ? reply : null;
    } catch (error) {
      record(kind, error as Error, expected);
      return null;
    }
  };
  const pause = () =>
    think > 0 && Date.now() < deadline
      ? new Promise((resolve) =>
          setTimeout(resolve, think * (1 - JITTER + 2 * JITTER * Math.random())),
        )
      : Promise.resolve();

  while (Date.now() < deadline && !aborted) {
    const lesson = lessons[user.next % lessons.length];
    user.next++;
    const href = `/learn/${PROGRAM}/${lesson.moduleId}/${lesson.lessonId}`;
    await call('lesson', 'GET', href, [200]);
    await pause();
    const read = await call('read', 'POST', `${href}/read`, [303], {});
    if (read) {
      stats.reads.push({ userId: user.id, lessonId: lesson.lessonId });
      await call('lesson after read', 'GET', read.location, [200]);
    }
    await pause();
    if (user.next % quizEvery !== 0) continue;

    const quiz = `/learn/${PROGRAM}/${lesson.moduleId}/quiz`;
    let started: Reply | null = null;
    if (quizStartMethod !== 'GET') {
      started = await call('quiz start', 'POST', `${quiz}/start`, [303, 404], {});
      if (started?.status === 404) {
        quizStartMethod = 'GET';
        started = null;
      } else if (started) quizStartMethod = 'POST';
    }
    if (quizStartMethod === 'GET')
      started = await call('quiz start', 'GET', `${quiz}/start`, [303]);
    if (!started) continue;
    const attempt = await call('attempt', 'GET', started.location, [200]);
    if (!attempt) continue;
    await pause();
    const answers: Record<string, string> = {};
    for (const match of attempt.body.matchAll(/name="(q_[^"]+)" value="([^"]+)"/g)) {
      answers[match[1]] ??= match[2];
    }
    const submitted = await call('quiz submit', 'POST', started.location, [303], answers);
    if (submitted) {
      stats.submissions.push({ userId: user.id, attemptId: started.location.split('/').pop()! });
      await call('result', 'GET', submitted.location, [200]);
    }
    await pause();
  }
}

// ── failed sign-ins in the background ─────────────────────────────────────────────────────────

interface Attack {
  stop(): Promise<{ sent: number; byStatus: Map<string, number>; samples: number[] }>;
}

/**
 * `perSecond` failed sign-ins: wrong passwords for some real accounts and many unknown ones,
 * from 40 addresses, each through one of 20 anonymous sessions (with the form's CSRF token).
 */
async function startFailedSignIns(
  ports: number[],
  realEmails: string[],
  perSecond: number,
): Promise<Attack> {
  const sessions: { cookie: string; csrf: string; port: number }[] = [];
  for (let i = 0; i < 20; i++) {
    const port = ports[i % ports.length];
    const page = await send(port, 'GET', '/login', { address: `203.0.113.${i}` });
    sessions.push({ cookie: cookieIn(page.setCookie), csrf: csrfIn(page.body), port });
  }
  const byStatus = new Map<string, number>();
  const samples: number[] = [];
  const inFlight = new Set<Promise<void>>();
  let sent = 0;
  const timer = setInterval(() => {
    const n = sent++;
    const session = sessions[n % sessions.length];
    const email =
      // Every fourth guess names one of 10 real accounts in turn (n / 4, so all 10 are reached).
      n % 4 === 0
        ? realEmails[(n / 4) % Math.min(10, realEmails.length)]
        : `nobody-${n % 97}@example.jp`;
    const one = send(session.port, 'POST', '/login', {
      cookie: session.cookie,
      address: `198.51.100.${n % 40}`,
      form: { email, password: `wrong-guess-${n}`, _csrf: session.csrf },
      kind: 'failed sign-in',
    }).then(
      (reply) => {
        samples.push(reply.ms);
        const key = String(reply.status);
        byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
      },
      (error: Error) => {
        byStatus.set(error.message, (byStatus.get(error.message) ?? 0) + 1);
      },
    );
    inFlight.add(one);
    void one.finally(() => inFlight.delete(one));
  }, 1000 / perSecond);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
      return { sent, byStatus, samples };
    },
  };
}

// ── phases ────────────────────────────────────────────────────────────────────────────────────

interface PhaseResult {
  name: string;
  users: number;
  seconds: number;
  requests: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  errors: number;
  slow: number;
  rss: number;
  /** CPU time of this bench process (the users and the failed sign-ins) over the phase, in cores. */
  clientCores: number;
  attack?: string;
  errorKinds: Map<string, number>;
  costs?: CostsReply[];
  /** The app processes' reports at the start of the phase (their store files then). */
  atStart?: CostsReply[];
  /** Cores used by each thread of each process watched (pids), e.g. "main 0.81, store 0.40". */
  threads: string[];
  /** Latency p50/p95 by request kind, ms: "lesson 20/150, read 35/210 …". */
  byKind: string;
  /** By 5 s of the phase (requests by when they were sent): p95 ms and requests over 1 s. */
  timeline: string;
}

async function phase(
  name: string,
  ports: number[],
  pids: number[],
  users: User[],
  lessons: Lesson[],
  options: {
    seconds: number;
    think: number;
    failedPerSecond: number;
    /** The app processes, to report their CPU time and store commands per request. */
    apps?: AppProcess[];
  },
): Promise<PhaseResult & { stats: Stats }> {
  const waited = await settle(ports);
  if (waited > 1) console.log(`\n(waited ${waited.toFixed(0)} s for the app to drain its backlog)`);
  const stats = newStats();
  const attack =
    options.failedPerSecond > 0
      ? await startFailedSignIns(
          ports,
          users.map((u) => u.email),
          options.failedPerSecond,
        )
      : null;
  const atStart = options.apps
    ? await Promise.all(options.apps.map((app) => askCosts(app, 'costs-reset')))
    : undefined;
  let rss = 0;
  const sampler = setInterval(() => {
    rss = Math.max(
      rss,
      pids.reduce((sum, pid) => sum + rssMb(pid), 0),
    );
  }, 500);
  const started = performance.now();
  const clientCpu = process.cpuUsage();
  const ticksBefore = pids.map(threadCounters);
  const deadline = Date.now() + options.seconds * 1000;
  // Users start spread over one think time, as people do.
  await Promise.all(
    users.map(async (user, i) => {
      const delay = options.think > 0 ? (i / users.length) * options.think : 0;
      await new Promise((resolve) => setTimeout(resolve, delay));
      await runUser(ports, user, lessons, deadline, options.think, stats);
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const clientCpuUsed = process.cpuUsage(clientCpu);
  const threads = pids.map((pid, i) => threadCores(ticksBefore[i], threadCounters(pid), elapsed));
  const costs = options.apps
    ? await Promise.all(options.apps.map((app) => askCosts(app, 'costs')))
    : undefined;
  clearInterval(sampler);
  rss = Math.max(
    rss,
    pids.reduce((sum, pid) => sum + rssMb(pid), 0),
  );
  const attackResult = attack ? await attack.stop() : null;
  const sorted = [...stats.samples].sort((a, b) => a - b);
  const attackSorted = attackResult ? [...attackResult.samples].sort((a, b) => a - b) : [];
  return {
    name,
    users: users.length,
    seconds: elapsed,
    requests: sorted.length,
    rps: sorted.length / elapsed,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? NaN,
    errors: stats.errors,
    slow: stats.slow,
    rss,
    clientCores: (clientCpuUsed.user + clientCpuUsed.system) / 1e6 / elapsed,
    attack: attackResult
      ? `${attackResult.sent} failed sign-ins (${[...attackResult.byStatus]
          .map(([status, n]) => `${status}: ${n}`)
          .join(', ')}), p95 ${percentile(attackSorted, 95).toFixed(0)} ms`
      : undefined,
    errorKinds: stats.errorKinds,
    costs,
    atStart,
    threads,
    byKind: [...stats.byKind]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([kind, samples]) => {
        const ordered = [...samples].sort((a, b) => a - b);
        return `${kind} ${percentile(ordered, 50).toFixed(0)}/${percentile(ordered, 95).toFixed(0)}`;
      })
      .join(', '),
    timeline:
      timelineOf(stats.timeline, started) +
      (stats.fresh.length
        ? `; on new connections ${stats.fresh.length}, p95 ${wholeMs(
            percentileOf(stats.fresh, 95),
          )} ms (connecting: p95 ${wholeMs(percentileOf(stats.connects, 95))} ms)`
        : '; no new connections'),
    stats,
  };
}

/** "p95 120/340/95 …, over 1 s 0/12/0 …": each 5 s of the phase, by when requests were sent. */
function timelineOf(timeline: [number, number][], started: number): string {
  const windows: number[][] = [];
  for (const [at, ms] of timeline) {
    const w = Math.max(0, Math.floor((at - started) / 5000));
    (windows[w] ??= []).push(ms);
  }
  const each = [...windows].map((w) => [...(w ?? [])].sort((a, b) => a - b));
  return (
    `p95 ${each.map((w) => (w.length ? percentile(w, 95).toFixed(0) : '-')).join('/')} ms, ` +
    `over 1 s ${each.map((w) => w.filter((ms) => ms > 1000).length).join('/')}`
  );
}

function askCosts(
  app: AppProcess,
  kind: CostsRequest['kind'],
  { profile = false, perKind = false } = {},
): Promise<CostsReply> {
  return new Promise((resolve) => {
    const listener = (message: { kind: string }) => {
      if (message.kind !== 'costs') return;
      app.child.off('message', listener);
      resolve(message as CostsReply);
    };
    app.child.on('message', listener);
    app.child.send({ kind, profile, perKind } satisfies CostsRequest);
  });
}

/** "12.3 ms CPU, 4.5 commands (update sessions 1.0, find quiz_attempts 0.5 …)" per request. */
function describeCost(cost: RouteCost, requests = cost.requests): string {
  const per = (n: number) => n / Math.max(1, requests);
  const commands = Object.entries(cost.commands).sort((a, b) => b[1] - a[1]);
  const total = commands.reduce((sum, [, n]) => sum + n, 0);
  return (
    `${(per(cost.cpuUs) / 1000).toFixed(2)} ms CPU, ${per(total).toFixed(2)} store commands` +
    (commands.length
      ? ` (${commands.map(([key, n]) => `${key} ${per(n).toFixed(2)}`).join(', ')})`
      : '')
  );
}

/**
 * Phase 0, the cost of each kind of request: the users' requests one at a time (one user after
 * the other, no think time), then failed sign-ins one at a time (the background attack's mix),
 * so that the app's CPU time and store commands between a request's start and its response's
 * end belong to that request alone. Load-independent, unlike latency: on the shared machine
 * others' work does not count in this process's CPU time.
 */
async function costPhase(app: AppProcess, users: User[], lessons: Lesson[], seconds: number) {
  const stats = newStats();
  const run = async (ms: number) => {
    const each = ms / users.length;
    for (const user of users) await runUser([app.port], user, lessons, Date.now() + each, 0, stats);
  };
  await run(Math.min(3000, seconds * 300)); // warm-up (JIT, caches), not counted
  await askCosts(app, 'costs-reset', { profile: !!process.env.BENCH_COST_PROF, perKind: true });
  await run(seconds * 1000);
  const realEmails = users.map((u) => u.email);
  for (let n = 0; n < Number(process.env.BENCH_COST_SIGNINS ?? 40); n++) {
    const email =
      n % 4 === 0
        ? realEmails[(n / 4) % Math.min(10, realEmails.length)]
        : `nobody-${n % 97}@example.jp`;
    const page = await send(app.port, 'GET', '/login', { address: `198.51.100.${n % 40}` });
    await send(app.port, 'POST', '/login', {
      cookie: cookieIn(page.setCookie),
      address: `198.51.100.${n % 40}`,
      form: { email, password: `wrong-guess-${n}`, _csrf: csrfIn(page.body) },
      kind: 'failed sign-in',
    });
  }
  const costs = await askCosts(app, 'costs');
  console.log(`
0. cost per request, one at a time (${stats.samples.length} user requests, errors ${stats.errors})`);
  for (const [kind, cost] of Object.entries(costs.byKind).sort()) {
    console.log(
      `  ${kind.padEnd(22)} ×${String(cost.requests).padStart(5)}: ${describeCost(cost)}`,
    );
  }
  console.log(
    `  app memory (MB): ${Object.entries(costs.memory)
      .map(([key, mb]) => `${key} ${mb}`)
      .join(', ')}`,
  );
  const counted = Object.values(costs.byKind).reduce((sum, c) => sum + c.cpuUs, 0);
  console.log(
    `  not in any request: ${((costs.total.cpuUs - counted) / 1000).toFixed(0)} ms CPU of ${(costs.total.cpuUs / 1000).toFixed(0)} ms`,
  );
}

/**
 * Waits until the app answers a cheap request quickly again (at most 60 s), so that a phase does
 * not inherit the previous one's backlog (failed sign-ins still hashing). Returns the wait, s.
 */
async function settle(ports: number[]): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < 60_000) {
    const replies = await Promise.all(
      ports.map((port) =>
        send(port, 'GET', '/healthz', { address: '127.0.0.1' }).catch(() => null),
      ),
    );
    if (replies.every((reply) => reply && reply.ms < 100)) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return (performance.now() - started) / 1000;
}

/** Whole milliseconds, or "-" for none (a percentile of no requests: NaN, null over IPC). */
const wholeMs = (ms: number | null) =>
  typeof ms === 'number' && Number.isFinite(ms) ? ms.toFixed(0) : '-';

function printPhase(result: PhaseResult): void {
  const ms = (n: number) => `${n.toFixed(1)} ms`;
  console.log(`\n${result.name}`);
  console.log(
    `  ${result.users} users, ${result.requests} requests in ${result.seconds.toFixed(1)} s (${result.rps.toFixed(0)} req/s)`,
  );
  console.log(
    `  latency p50 ${ms(result.p50)}, p95 ${ms(result.p95)}, p99 ${ms(result.p99)}, max ${ms(result.max)}; over 1 s: ${result.slow}`,
  );
  console.log(`  by kind, p50/p95 ms: ${result.byKind}`);
  console.log(`  by 5 s of the phase: ${result.timeline}`);
  console.log(`  errors ${result.errors}; RSS of the app process(es) ${result.rss.toFixed(0)} MB`);
  // On a machine shared with the app, what the client itself takes counts against the app.
  const appCores = (result.costs ?? []).reduce((sum, cost) => sum + cost.total.cpuUs, 0) / 1e6;
  console.log(
    `  CPU: the app process(es) ${(appCores / result.seconds).toFixed(2)} cores, this bench (client and failed sign-ins) ${result.clientCores.toFixed(2)} cores`,
  );
  if (result.errorKinds.size > 0)
    console.log(
      `  errors by kind: ${[...result.errorKinds].map(([k, n]) => `${k} ×${n}`).join(', ')}`,
    );
  if (result.attack) console.log(`  background: ${result.attack}`);
  for (const [i, cores] of result.threads.entries()) {
    if (cores)
      console.log(
        `  threads${result.threads.length > 1 ? ` (process ${i + 1})` : ''}, cores: ${cores}`,
      );
  }
  for (const [i, cost] of (result.costs ?? []).entries()) {
    const { server, loopDelay, gc } = cost.timing;
    const app = `app${result.costs!.length > 1 ? ` ${i + 1}` : ''}`;
    const before = result.atStart?.[i]?.store;
    if (before && (cost.store.journalMb > 0 || before.journalMb > 0)) {
      // A snapshot written during the phase: the store paused writes while it took it.
      const compacted = cost.store.snapshotMb !== before.snapshotMb;
      console.log(
        `  ${app} store: journal ${before.journalMb} → ${cost.store.journalMb} MB, snapshot ${before.snapshotMb} → ${cost.store.snapshotMb} MB${compacted ? ' (compacted during the phase)' : ''}`,
      );
    }
    console.log(
      `  ${app} main thread: in the app p50 ${ms(server.p50)}, p95 ${ms(server.p95)}, p99 ${ms(server.p99)}, max ${ms(server.max)}; ` +
        `event-loop delay p50 ${ms(loopDelay.p50)}, p99 ${ms(loopDelay.p99)}, max ${ms(loopDelay.max)}; ` +
        `GC ${gc.count} pauses, ${(gc.totalMs / result.seconds / 10).toFixed(1)} % of the time, longest ${ms(gc.maxMs)}`,
    );
    console.log(
      `  ${app} by 5 s of the phase: in the app p95 ${cost.timing.windows.map((w) => w.p95.toFixed(0)).join('/')} ms, GC pauses ${cost.timing.windows.map((w) => w.gcMs.toFixed(0)).join('/')} ms; first requests on new connections ${cost.timing.firstOnConnection.count}, in the app p95 ${wholeMs(cost.timing.firstOnConnection.p95)} ms`,
    );
    console.log(
      `  app${result.costs!.length > 1 ? ` ${i + 1}` : ''} per request served (${cost.total.requests}, failed sign-ins included): ${describeCost(cost.total)}`,
    );
    console.log(
      `  app${result.costs!.length > 1 ? ` ${i + 1}` : ''} memory at the end (MB): ${Object.entries(
        cost.memory,
      )
        .map(([key, mb]) => `${key} ${mb}`)
        .join(', ')}`,
    );
  }
}

async function signInAll(
  ports: number[],
  accounts: Ready['users'],
  count: number,
): Promise<User[]> {
  const users: User[] = accounts.slice(0, count).map((account, i) => ({
    id: account.id,
    email: account.email,
    address: `10.${(i >> 8) & 255}.${i & 255}.1`,
    cookie: '',
    csrf: '',
    next: i,
    agent: browserAgent(),
  }));
  // Two at a time: the app hashes one password at a time anyway, and a longer queue of sign-ins
  // only makes each wait longer (past the 30 s timeout on a loaded machine).
  await pool(users, 2, async (user) => signIn(ports[user.next % ports.length], user));
  return users;
}

async function lessonList(): Promise<Lesson[]> {
  const { loadCatalog } = await import('../src/courses/loader.js');
  const catalog = await loadCatalog(path.join(root, 'courses'));
  const program = catalog.programs.find((p) => p.id === PROGRAM)!;
  return program.modules.flatMap((module) =>
    module.lessons.map((lesson) => ({ moduleId: module.id, lessonId: lesson.id })),
  );
}

async function bench(): Promise<void> {
  const userCount = Number(process.env.BENCH_USERS ?? 200);
  const seconds = Number(process.env.BENCH_SECONDS ?? 30);
  const think = Number(process.env.BENCH_THINK_MS ?? 1000);
  const failedPerSecond = Number(process.env.BENCH_FAILED_LOGINS ?? 20);
  const phases = new Set((process.env.BENCH_PHASES ?? '0,1,2,3,4').split(','));
  const lessons = await lessonList();
  const secret = randomBytes(32).toString('hex');
  const dirs: string[] = [];
  const dataDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tsunagu-load-'));
    dirs.push(dir);
    return dir;
  };
  console.log(
    `Tsunagu bench:load — ${userCount} trainees, ${seconds} s per phase, think time ${think} ms, ` +
      `${failedPerSecond} failed sign-ins a second in the think-time phases; latency measured by the client`,
  );
  const results: PhaseResult[] = [];
  /** Phase `n`, when asked for: odd ones with think time and failed sign-ins, even ones saturated. */
  const runPhase = async (
    n: number,
    name: string,
    apps: AppProcess[],
    users: User[],
  ): Promise<boolean> => {
    if (!phases.has(String(n))) return false;
    const load = n % 2 === 1 ? { think, failedPerSecond } : { think: 0, failedPerSecond: 0 };
    const ports = apps.map((app) => app.port);
    const pids = apps.map((app) => app.child.pid!);
    const r = await phase(name, ports, pids, users, lessons, { seconds, apps, ...load });
    printPhase(r);
    results[n] = r;
    return true;
  };
  try {
    if (phases.has('0') || phases.has('1') || phases.has('2')) {
      const one = await startApp({
        BENCH_DATA_DIR: dataDir(),
        BENCH_SESSION_SECRET: secret,
        BENCH_CREATE_USERS: String(userCount),
      });
      try {
        const users = await signInAll([one.port], one.users, userCount);
        if (phases.has('0'))
          await costPhase(
            one,
            users.slice(0, 10),
            lessons,
            Number(process.env.BENCH_COST_SECONDS ?? 10),
          );
        await runPhase(1, '1. one app process, embedded store, think time', [one], users);
        await runPhase(2, '2. one app process, no think time (saturation)', [one], users);
      } finally {
        await stopApp(one);
      }
    }
    if (phases.has('3') || phases.has('4')) {
      const storeDir = dataDir();
      const store = await startStoreProcess(storeDir);
      try {
        const common = {
          BENCH_DATA_DIR: storeDir,
          BENCH_SESSION_SECRET: secret,
          BENCH_MONGODB_URI: store.uri,
        };
        const first = await startApp({ ...common, BENCH_CREATE_USERS: String(userCount) });
        const second = await startApp(common);
        const ports = [first.port, second.port];
        try {
          const users = await signInAll(ports, first.users, userCount);
          if (
            await runPhase(
              3,
              '3. two app processes sharing `npm run db`, think time',
              [first, second],
              users,
            )
          )
            console.log(`  RSS of the store process ${rssMb(store.child.pid).toFixed(0)} MB`);
          await runPhase(
            4,
            '4. two app processes sharing `npm run db`, no think time (saturation)',
            [first, second],
            users,
          );
        } finally {
          await Promise.all([stopApp(first), stopApp(second)]);
        }
      } finally {
        await store.stop();
      }
    }
  } finally {
    closeConnections();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
  const main = results[1];
  const errors = results.reduce((sum, r) => sum + (r?.errors ?? 0), 0);
  if (errors > 0) process.exitCode = 1;
  if (!main) return;
  console.log(
    `\nTargets: 0 errors, p95 < 150 ms, RSS < 400 MB, no request over 1 s while failed sign-ins run (phase 1: ${main.slow} over 1 s).`,
  );
  console.log(
    `load: ${main.users} users, p50 ${main.p50.toFixed(1)} ms, p95 ${main.p95.toFixed(1)} ms, p99 ${main.p99.toFixed(1)} ms, errors ${main.errors}, rss ${main.rss.toFixed(0)} MB, saturation ${results[2] ? results[2].rps.toFixed(0) : 'n/a'} req/s`,
  );
}

// ── crash check (BENCH_KILL=N) ────────────────────────────────────────────────────────────────

async function crashCheck(rounds: number): Promise<void> {
  const userCount = Number(process.env.BENCH_USERS ?? 50);
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const lessons = await lessonList();
  quizEvery = 1;
  const dir = mkdtempSync(path.join(tmpdir(), 'tsunagu-load-kill-'));
  const env = { BENCH_DATA_DIR: dir, BENCH_SESSION_SECRET: randomBytes(32).toString('hex') };
  console.log(
    `Tsunagu bench:load crash check — ${rounds} SIGKILLs of the app (embedded store, STORE_FSYNC=${process.env.STORE_FSYNC ?? 'always'}) under ${userCount} users without think time`,
  );
  const reads: Stats['reads'] = [];
  const submissions: Stats['submissions'] = [];
  let failed = false;
  try {
    let app = await startApp({ ...env, BENCH_CREATE_USERS: String(userCount) });
    let users = await signInAll([app.port], app.users, userCount);
    for (let round = 1; round <= rounds; round++) {
      const killAt = (0.3 + Math.random() * 0.5) * seconds * 1000;
      const victim = app.child;
      aborted = false;
      const timer = setTimeout(() => victim.kill('SIGKILL'), killAt);
      victim.once('exit', () => (aborted = true));
      const result = await phase(`round ${round}`, [app.port], [victim.pid!], users, lessons, {
        seconds,
        think: 0,
        failedPerSecond: 0,
      });
      clearTimeout(timer);
      if (victim.exitCode === null && victim.signalCode === null) victim.kill('SIGKILL');
      await new Promise((resolve) =>
        victim.signalCode ? resolve(null) : victim.once('exit', resolve),
      );
      reads.push(...result.stats.reads);
      submissions.push(...result.stats.submissions);
      // Restart on the same data: the store replays its journal.
      app = await startApp(env);
      const check = await new Promise<CheckResult>((resolve) => {
        app.child.once('message', (message: CheckResult) => resolve(message));
        app.child.send({ kind: 'check', reads, submissions } satisfies CheckRequest);
      });
      console.log(
        `round ${round}: killed after ${(killAt / 1000).toFixed(1)} s; acknowledged so far: ${reads.length} lessons read, ${submissions.length} quiz submissions; ` +
          `after restart: lost reads ${check.lostReads}, lost submissions ${check.lostSubmissions}, half-marked lessons ${check.halfMarked} (of ${check.lessonRecords} read records; read without the record's date: ${check.undated})`,
      );
      if (check.lostReads + check.lostSubmissions + check.halfMarked > 0) failed = true;
      // Sessions are in the store, so the same cookies still work after the restart.
      const probe = await send(app.port, 'GET', '/account', {
        cookie: users[0].cookie,
        address: users[0].address,
      });
      if (probe.status !== 200) users = await signInAll([app.port], app.users, userCount);
    }
    await stopApp(app);
  } finally {
    closeConnections();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    failed ? 'crash check: FAILED' : 'crash check: no acknowledged write lost, nothing half-marked',
  );
  if (failed) process.exitCode = 1;
}

if (process.env.BENCH_KILL) {
  await crashCheck(Math.max(1, Number(process.env.BENCH_KILL) || 1));
} else {
  await bench();
}
