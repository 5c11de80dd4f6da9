/**
 * `npm run bench:signin-burst` — issue 17, item 8: how a burst of failed sign-ins slows everyone.
 * Starts the app as `npm run bench:learning -- --serve` does (production settings, the embedded
 * store on disk with fsync, a signed-in learner), then requests the lesson page at a steady rate
 * (BENCH_LESSON_RATE per second, default 20): first alone for BENCH_BASELINE_SECONDS (10), then
 * for BENCH_SECONDS (20) while BENCH_SIGNIN_RATE (20) failed sign-ins a second arrive, each for
 * a different unknown address from a different client address (X-Forwarded-For, as behind the
 * proxy), so that throttling does not stop them before the password hash. Prints the lesson
 * page's p50/p95/p99/max (measured by the client) for both phases, and the sign-ins' statuses.
 *
 * BENCH_NODE_FLAGS and any other variable (e.g. UV_THREADPOOL_SIZE) reach the server process.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const LESSON_PATH = '/learn/basic-training/understanding/numbers';

interface Ready {
  kind: 'ready';
  appPort: number;
  cookie: string;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(samples: number[], errors: number): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const f = (n: number) => `${Math.round(n)} ms`;
  return `${sorted.length} requests, p50 ${f(percentile(sorted, 50))}, p95 ${f(percentile(sorted, 95))}, p99 ${f(percentile(sorted, 99))}, max ${f(sorted[sorted.length - 1] ?? NaN)}, errors ${errors}`;
}

/** Calls `task` `rate` times a second for `seconds`, not waiting for answers (an open loop). */
async function atRate(rate: number, seconds: number, task: () => Promise<void>): Promise<void> {
  const pending: Promise<void>[] = [];
  const started = Date.now();
  for (let i = 0; i < rate * seconds; i++) {
    const due = started + (i * 1000) / rate;
    const delay = due - Date.now();
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    pending.push(task());
  }
  await Promise.all(pending);
}

async function main(): Promise<void> {
  const lessonRate = Number(process.env.BENCH_LESSON_RATE ?? 20);
  const signInRate = Number(process.env.BENCH_SIGNIN_RATE ?? 20);
  const baselineSeconds = Number(process.env.BENCH_BASELINE_SECONDS ?? 10);
  const seconds = Number(process.env.BENCH_SECONDS ?? 20);
  const server = path.join(path.dirname(fileURLToPath(import.meta.url)), 'learning.ts');
  const child = fork(server, ['--serve'], {
    execArgv: [
      '--import',
      'tsx',
      ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
    ],
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once('message', (message: Ready) => resolve(message));
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  const base = `http://127.0.0.1:${ready.appPort}`;
  const https = { 'x-forwarded-proto': 'https' };

  let lessonSamples: number[] = [];
  let lessonErrors = 0;
  const lesson = async () => {
    const started = performance.now();
    try {
      const res = await fetch(`${base}${LESSON_PATH}`, {
        headers: { ...https, cookie: ready.cookie },
        redirect: 'manual',
      });
      await res.arrayBuffer();
      if (res.status !== 200) lessonErrors++;
    } catch {
      lessonErrors++;
    }
    lessonSamples.push(performance.now() - started);
  };

  // One anonymous session and its CSRF token serve every failed sign-in.
  const page = await fetch(`${base}/login`, { headers: https });
  const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0];
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
  const statuses = new Map<string, number>();
  let n = 0;
  const failedSignIn = async () => {
    const i = n++;
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    let status: string;
    try {
      const res = await fetch(`${base}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          ...https,
          cookie,
          'x-forwarded-for': ip,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          email: `nobody-${randomBytes(4).toString('hex')}@example.jp`,
          password: `wrong-${randomBytes(6).toString('hex')}`,
          _csrf: csrf,
        }),
      });
      await res.arrayBuffer();
      status = String(res.status);
    } catch {
      status = 'error';
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  };

  await atRate(lessonRate, 2, lesson); // warm-up
  lessonSamples = [];
  lessonErrors = 0;
  await atRate(lessonRate, baselineSeconds, lesson);
  console.log(
    `lesson page alone, ${lessonRate}/s:`.padEnd(50),
    summary(lessonSamples, lessonErrors),
  );
  lessonSamples = [];
  lessonErrors = 0;
  await Promise.all([
    atRate(lessonRate, seconds, lesson),
    atRate(signInRate, seconds, failedSignIn),
  ]);
  console.log(
    `lesson page with ${signInRate} failed sign-ins/s:`.padEnd(50),
    summary(lessonSamples, lessonErrors),
  );
  console.log(
    'failed sign-ins by status:'.padEnd(50),
    [...statuses].map(([status, count]) => `${status}: ${count}`).join(', '),
  );
  child.send({ kind: 'stop' });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
