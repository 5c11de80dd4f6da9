import { randomBytes, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { AppError } from '../lib/errors.js';
import { sourceFile } from '../lib/paths.js';
/**
 * Password hashing with node's scrypt (memory-hard). Stored as a self-describing string
 *   scrypt$N=32768,r=8,p=1$<salt base64url>$<hash base64url>
 * so the cost can be raised later and old hashes still verify.
 */
export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 200;

const DEFAULT_COST = { N: 2 ** 15, r: 8, p: 1 };
const KEY_LENGTH = 64;
const SALT_BYTES = 16;

/**
 * Each hash keeps a core busy for about 0.1 s. Hashes beyond MAX_CONCURRENT_HASHES wait here
 * instead of taking every core (a burst of failed sign-ins would otherwise hold up every page);
 * one at a time leaves the second core of the 2-core server to the event loop (measured with
 * bench/signin-burst.ts: clearly better lesson-page times than two at a time). When
 * MAX_WAITING_HASHES already wait (about 1.6 s of work), or when the recent hashes' times say it
 * would not start within 0.5 s, the request is refused at once with hashingBusy() rather than
 * queued; and a hash that has not started within 0.5 s all the same is refused then, so a
 * sign-in is answered within about a second even when the hashing thread (below) gets little
 * CPU. bench/load.ts, 20 failed sign-ins/s with 200 users reading: the failed sign-ins' p95 was
 * 6–17 s with the queue bounded by length alone.
 *
 * The hash itself runs synchronously in a worker thread of its own (hashWorker below), at the
 * lowest CPU priority (nice 19, per thread on Linux). node's asynchronous scrypt ran on libuv's
 * thread pool at normal priority: it held a pool thread the embedded store's writes and fsyncs
 * share, and under a stream of failed sign-ins it took as much CPU as the event loop on a busy
 * machine. bench/load.ts, 40 users with 20 failed sign-ins/s on the shared 2-core machine:
 * p50/p95 292/1,026 ms before, 29/165 ms with the low-priority thread (32/158 ms with no failed
 * sign-ins at all); the same thread at normal priority was no better than before.
 */
const MAX_CONCURRENT_HASHES = 1;
const MAX_WAITING_HASHES = 16;
let maxHashWaitMs = 500;

let runningHashes = 0;
/** Hashes waiting for the slot; `start` hands it over (clearing the deadline). */
const waitingHashes: { start(): void }[] = [];

export const HASHING_BUSY =
  'ただいま混み合っています。恐れ入りますが、少し時間をおいてからもう一度お試しください。';

/** The error for a full hashing queue: 503, shown to the user. */
export function hashingBusy(): AppError {
  return new AppError(HASHING_BUSY, { status: 503, code: 'busy', expose: true });
}

export function isHashingBusy(error: unknown): boolean {
  return error instanceof AppError && error.code === 'busy';
}

/**
 * Sets how long a hash may wait for its turn (default 0.5 s) and returns a function that puts
 * the previous limit back. For tests that count the queue itself, whose waits depend on the
 * machine's load.
 */
export function setHashWaitLimit(ms: number): () => void {
  const previous = maxHashWaitMs;
  maxHashWaitMs = ms;
  return () => {
    maxHashWaitMs = previous;
  };
}

/**
 * How long recent hashes took, from their start to their answer (weighted towards the latest;
 * 0 before the first), and when the running one started. On a busy machine the low-priority
 * thread takes far longer than its 0.1 s of CPU.
 */
let recentHashMs = 0;
let runningSince = 0;
const RECENT_WEIGHT = 0.3;

/**
 * Hashing's budget: on average at most HASH_BUDGET.share of the time, after a burst of
 * HASH_BUDGET.burstMs of hashing (a token bucket counted in milliseconds of hashing). Past it,
 * the slot rests after each hash until the budget is back to zero, and sign-ins meanwhile are
 * refused as busy (at once when the rest is longer than the wait limit). Nice 19 does not keep
 * a stream of failed sign-ins from slowing pages: scrypt's 32 MB per hash crowds the caches and
 * memory bandwidth the event loop needs, and on a machine whose two cores are hyperthreads of one
 * it shares the core itself. bench/load.ts, 20 failed sign-ins a second: the hashing thread took
 * 0.61 cores and the pages' p95 went from 284 to 513 ms. Only failed checks are paid
 * (withHashSlot's `paid`): guessing is what the budget stops. A class signing in at once never
 * rests, nor do new passwords (registration, invitations and resets have limits of their own),
 * and 2 s of failed checks (10–20 typos) pass before any rest. (The burst was 10 s: at the start
 * of a stream of failed sign-ins the thread then hashed flat out for over 10 s, and bench:load's
 * pages answered in p95 300–600 ms for those seconds against 50–170 ms after them.)
 */
export const HASH_BUDGET: Readonly<{ share: number; burstMs: number }> = Object.freeze({
  share: 0.25,
  burstMs: 2_000,
});
let budget = { ...HASH_BUDGET };
let budgetMs = budget.burstMs;
let budgetAt = performance.now();
/** When the resting slot is handed on (0: not resting), by restTimer. */
let restingUntil = 0;
let restTimer: NodeJS.Timeout | undefined;

/** The budget now: refilled for the time since it was last counted, up to the burst. */
function budgetNow(now = performance.now()): number {
  budgetMs = Math.min(budget.burstMs, budgetMs + (now - budgetAt) * budget.share);
  budgetAt = now;
  return budgetMs;
}

/** How long the slot rests after a hash of `ms`, when the hash leaves the budget below zero. */
function restAfter(ms: number, budgetLeft: number): number {
  return budgetLeft - ms >= 0 ? 0 : (ms - budgetLeft) / budget.share;
}

/**
 * Sets hashing's budget (a fresh one, full: a rest in progress ends) and returns a function that
 * puts the previous settings back, full again. For tests: those of the budget itself, and those
 * that run seconds of deliberately slow hashes, which would leave the next test files of their
 * process an empty one.
 */
export function setHashBudget(settings: { share: number; burstMs: number }): () => void {
  const previous = budget;
  const fill = (next: typeof budget) => {
    budget = next;
    budgetMs = next.burstMs;
    budgetAt = performance.now();
    if (restTimer) handOver();
  };
  fill(settings);
  return () => fill(previous);
}

/** How long a hash asked for now would wait for its turn, as far as recent hashes tell. */
function expectedWaitMs(): number {
  if (runningHashes < MAX_CONCURRENT_HASHES) return 0;
  const now = performance.now();
  const left = budgetNow(now);
  const remaining =
    restingUntil > 0
      ? restingUntil - now
      : Math.max(0, recentHashMs - (now - runningSince)) + restAfter(recentHashMs, left);
  // Each hash ahead runs about as long as the recent ones; when the budget cannot pay for them
  // all, each also rests for what it cost beyond what the budget earned while it ran.
  const restPerHash =
    left >= recentHashMs * (waitingHashes.length + 1)
      ? 0
      : restAfter(recentHashMs, recentHashMs * budget.share);
  return Math.max(0, remaining) + waitingHashes.length * (recentHashMs + restPerHash);
}

/**
 * True when a hash asked for now would be refused: MAX_WAITING_HASHES wait already, or recent
 * hashes say it would not start within the wait limit. Callers answer before doing any work
 * (the sign-in route then reserves no attempt and writes nothing), and the hash is refused at
 * once instead of after half a second in the queue. The deadline in the queue stays for when
 * the estimate was wrong (a hash slower than the ones before).
 */
export function hashingSaturated(): boolean {
  return (
    runningHashes >= MAX_CONCURRENT_HASHES &&
    (waitingHashes.length >= MAX_WAITING_HASHES || expectedWaitMs() > maxHashWaitMs)
  );
}

/**
 * Runs `work` (one hash) in the slot. `paid` says, from its result, whether the hash comes out
 * of hashing's budget: only a failed password check does.
 */
async function withHashSlot<T>(
  work: () => Promise<T>,
  paid: (result: T) => boolean = () => false,
): Promise<T> {
  if (runningHashes >= MAX_CONCURRENT_HASHES) {
    if (hashingSaturated()) throw hashingBusy();
    // The slot is handed over by the hash that finishes (runningHashes stays counted), unless
    // the wait runs out first.
    await new Promise<void>((resolve, reject) => {
      const waiting = {
        start() {
          clearTimeout(deadline);
          resolve();
        },
      };
      const deadline = setTimeout(() => {
        waitingHashes.splice(waitingHashes.indexOf(waiting), 1);
        reject(hashingBusy());
      }, maxHashWaitMs);
      waitingHashes.push(waiting);
    });
  } else {
    runningHashes++;
  }
  const started = performance.now();
  runningSince = started;
  let charged = false;
  try {
    const result = await work();
    charged = paid(result);
    return result;
  } finally {
    const finished = performance.now();
    const took = finished - started;
    recentHashMs =
      recentHashMs === 0 ? took : (1 - RECENT_WEIGHT) * recentHashMs + RECENT_WEIGHT * took;
    // A paid hash comes out of the budget (refilled for its own time too); below zero, the slot
    // rests until the budget is back to zero before the next hash may start.
    const left = budgetNow(finished);
    const rest = charged ? restAfter(took, left) : 0;
    if (charged) budgetMs -= took;
    if (rest > 0) {
      restingUntil = finished + rest;
      restTimer = setTimeout(handOver, rest).unref();
    } else {
      handOver();
    }
  }
}

/** The slot goes to the next waiting hash, or is free. */
function handOver(): void {
  clearTimeout(restTimer);
  restTimer = undefined;
  restingUntil = 0;
  const next = waitingHashes.shift();
  if (next) next.start();
  else runningHashes--;
}

/**
 * The worker's code (CommonJS, evaluated: nothing to resolve from source or from dist/). It
 * answers each { id, password, salt, options } with { id, key } or { id, error }.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { scryptSync } = require('node:crypto');
const { setPriority } = require('node:os');
// On Linux the nice value is per thread: only this thread yields to the event loop. Its name
// shows in \`top -H\` and \`ps -L\` (Linux; elsewhere the line does nothing).
try { setPriority(19); } catch {}
try { require('node:fs').writeFileSync('/proc/thread-self/comm', 'tsunagu-hash'); } catch {}
parentPort.on('message', ({ id, password, salt, options }) => {
  try {
    const key = scryptSync(password, salt, ${KEY_LENGTH}, options);
    parentPort.postMessage({ id, key });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message) });
  }
});
`;

type HashReply = { id: number; key: Uint8Array } | { id: number; error: string };

let worker: Worker | undefined;
let nextRequestId = 0;
const pendingHashes = new Map<number, { resolve(key: Buffer): void; reject(e: Error): void }>();

/**
 * The hashing thread, started on first use. It keeps the process alive only while a hash is
 * pending (a script that hashes a password still gets its answer; an idle server can exit).
 */
function hashWorker(): Worker {
  if (worker) return worker;
  // Stryker disable next-line ObjectLiteral,BooleanLiteral,ArrayDeclaration: the thread is started once per process, before any mutant is active
  const started = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
  started.unref();
  // Stryker disable next-line StringLiteral: registered once per process, before any mutant is active
  started.on('message', (reply: HashReply) => {
    const pending = pendingHashes.get(reply.id);
    // Stryker disable next-line ConditionalExpression: every reply answers a pending request
    if (!pending) return;
    pendingHashes.delete(reply.id);
    // Stryker disable next-line ConditionalExpression,EqualityOperator: only whether an idle process may exit, which a test runner cannot see
    if (pendingHashes.size === 0) started.unref();
    if ('error' in reply) pending.reject(new Error(reply.error));
    else pending.resolve(Buffer.from(reply.key));
  });
  // Stryker disable all: the thread's listeners are registered once per process, and it cannot be made to crash from outside
  const fail = (error: Error) => {
    if (worker === started) worker = undefined; // the next hash starts a new thread
    for (const pending of pendingHashes.values()) pending.reject(error);
    pendingHashes.clear();
  };
  started.on('error', fail);
  started.on('exit', (code) => fail(new Error(`password hashing thread exited (${code})`)));
  // Stryker restore all
  worker = started;
  return started;
}

function scryptAsync(
  password: string,
  salt: Buffer,
  options: ScryptOptions,
  paid?: (key: Buffer) => boolean,
): Promise<Buffer> {
  return withHashSlot(
    () =>
      new Promise<Buffer>((resolve, reject) => {
        // Stryker disable next-line UpdateOperator: counting down gives unique ids too
        const id = nextRequestId++;
        pendingHashes.set(id, { resolve, reject });
        const thread = hashWorker();
        thread.ref();
        thread.postMessage({ id, password: password.normalize('NFKC'), salt, options });
      }),
    paid,
  );
}

function withMaxmem({ N, r, p }: { N: number; r: number; p: number }): ScryptOptions {
  // scrypt needs about 128 * N * r bytes; allow twice that.
  // Stryker disable next-line ArithmeticOperator: the megabyte on top is headroom; twice the need is already allowed
  return { N, r, p, maxmem: 256 * N * r + 1024 * 1024 };
}

export async function hashPassword(password: string, cost = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(password, salt, withMaxmem(cost));
  return `scrypt$N=${cost.N},r=${cost.r},p=${cost.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

const FORMAT = /^scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([\w-]+)\$([\w-]+)$/;

/** Constant-time comparison of a password with a stored hash. False for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const match = FORMAT.exec(stored);
  if (!match) return false;
  const [, n, r, p, saltText, keyText] = match;
  const cost = { N: Number(n), r: Number(r), p: Number(p) };
  if (cost.N > 2 ** 20 || cost.r > 32 || cost.p > 16) return false;
  const expected = Buffer.from(keyText, 'base64url');
  const matches = (actual: Buffer) =>
    expected.length === actual.length && timingSafeEqual(expected, actual);
  // A failed check is paid from hashing's budget; a right password is not.
  return matches(
    await scryptAsync(
      password,
      Buffer.from(saltText, 'base64url'),
      withMaxmem(cost),
      (actual) => !matches(actual),
    ),
  );
}

let dummyHash: Promise<string> | undefined;

/** Spends the same time as a real check, for sign-ins with an unknown address. */
export async function verifyAgainstDummy(password: string): Promise<void> {
  // Made by the first call, then kept for the process (made before any mutant is active).
  // Stryker disable next-line StringLiteral,AssignmentOperator,BlockStatement: any encoding of the random bytes makes a password; made once per process
  dummyHash ??= hashPassword(randomBytes(12).toString('hex')).catch((error: unknown) => {
    dummyHash = undefined; // refused while busy: made by a later call
    throw error;
  });
  await verifyPassword(password, await dummyHash);
}

let commonPasswords: Set<string> | undefined;

function loadCommonPasswords(): Set<string> {
  // Stryker disable all: read once per process, before any mutant is active; the list's content is pinned by tests
  commonPasswords ??= new Set(
    readFileSync(sourceFile('auth', 'common-passwords.txt'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#')),
  );
  // Stryker restore all
  return commonPasswords;
}

export function isCommonPassword(password: string): boolean {
  const lowered = password.normalize('NFKC').toLowerCase();
  const list = loadCommonPasswords();
  // The first pattern is for inputs under 4 characters: any longer run of one character also
  // matches the second.
  return list.has(lowered) || /^(.)\1+$/u.test(lowered) || /^(.{1,3})\1{3,}$/u.test(lowered);
}

/**
 * Checks a new password. Returns a Japanese message for the form, or null when it is acceptable.
 * `personal` holds values the password must not equal (the e-mail address, its local part, the name).
 */
// Stryker disable next-line ArrayDeclaration: a default value that equals no password
export function passwordProblem(password: string, personal: string[] = []): string | null {
  const length = [...password].length;
  if (length === 0) return 'パスワードを入力してください。';
  if (length < PASSWORD_MIN_LENGTH)
    return `パスワードは${PASSWORD_MIN_LENGTH}文字以上で入力してください。`;
  if (length > PASSWORD_MAX_LENGTH)
    return `パスワードは${PASSWORD_MAX_LENGTH}文字以内で入力してください。`;
  if (isCommonPassword(password)) {
    return 'このパスワードはよく使われていて推測されやすいため、使えません。別のパスワードにしてください。';
  }
  const lowered = password.toLowerCase();
  for (const value of personal) {
    const candidate = value.trim().toLowerCase();
    // Stryker disable next-line EqualityOperator: 4 or 5, a value this short never equals a password of 10 or more
    if (candidate.length >= 4 && (lowered === candidate || lowered === candidate.split('@')[0])) {
      return 'メールアドレスや氏名と同じパスワードは使えません。';
    }
  }
  return null;
}

/** A random password that passes the rules: for the first administrator. */
export function generatePassword(): string {
  return randomBytes(15).toString('base64url');
}
