import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../lib/logger.js';
import type { RunningStore, StoreStats } from './index.js';
import { sharedWhilePending } from '../lib/shared-call.js';

/**
 * The embedded store started in a worker thread of this process (STORE_THREAD, on by default;
 * see README "Speed"): the store's share of each request — decoding the command, running it,
 * encoding the reply, journaling — runs beside the event loop instead of on it. The app reaches it exactly
 * as before, through the MongoDB driver on the store's Unix socket; the data directory, its lock
 * and durability are those of startStore() (the lock names this process: a thread is not a
 * process of its own).
 *
 * What differs from a store in the main thread: stats() and commandCounts() are the figures the
 * thread sent last (every second, and on refreshFigures()), lastPlan() is not available, and a
 * thread that dies unexpectedly ends the process (nothing could be served without it), leaving
 * the journal as durable as a crash would.
 */

export interface ThreadStoreOptions {
  dataDir: string;
  fsync: 'always' | 'batch' | 'never';
  logLevel: string;
  lockOwnerWaitMs?: number;
}

export type ThreadRequest = { kind: 'stats' } | { kind: 'expire' } | { kind: 'close' };

export type ThreadReply =
  | {
      kind: 'ready';
      uri: string;
      socketPath: string;
      addresses: ReturnType<RunningStore['addresses']>;
      stats: StoreStats;
      commandCounts: Record<string, number>;
    }
  | { kind: 'stats'; stats: StoreStats; commandCounts: Record<string, number> }
  | { kind: 'expired'; removed: number }
  | { kind: 'closed' }
  | { kind: 'failed'; message: string }
  | { kind: 'log'; line: string };

export interface ThreadStore extends RunningStore {
  /** Asks the thread for its current figures; stats() and commandCounts() return them after. */
  refreshFigures(): Promise<void>;
}

const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/** Writes a line the thread's pino logged through the app's logger (same format, same redaction). */
function relayLog(logger: Logger, line: string): void {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return;
  }
  const { level, msg, ...fields } = record;
  const method = LEVELS[Number(level)] ?? 'info';
  logger[method](fields, typeof msg === 'string' ? msg : '');
}

/**
 * The worker: the compiled module in dist/; run from source (tsx: development, tests), a small
 * script that imports the TypeScript module through tsx (a worker does not inherit the loader).
 */
function newWorker(workerData: ThreadStoreOptions): Worker {
  const compiled = new URL('./thread-worker.js', import.meta.url);
  if (existsSync(compiled)) return new Worker(compiled, { workerData });
  const source = JSON.stringify(new URL('./thread-worker.ts', import.meta.url).href);
  // tsx's ESM entry (its CommonJS one cannot register hooks from a worker), by its package.json.
  const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json');
  const { exports } = JSON.parse(readFileSync(tsxPackage, 'utf8')) as {
    exports: { './esm/api': { import: { default: string } } };
  };
  const tsx = JSON.stringify(
    pathToFileURL(path.join(path.dirname(tsxPackage), exports['./esm/api'].import.default)).href,
  );
  const script = `import(${tsx}).then((tsx) => tsx.tsImport(${source}, ${source}));`;
  return new Worker(script, { eval: true, workerData });
}

export function startStoreThread(
  options: ThreadStoreOptions,
  logger: Logger,
): Promise<ThreadStore> {
  const worker = newWorker(options);
  let figures: { stats: StoreStats; commandCounts: Record<string, number> } | null = null;
  let closing: Promise<void> | null = null;
  let closed = false;
  const waiting: { kind: ThreadReply['kind']; resolve(reply: ThreadReply): void }[] = [];

  const answer = (reply: ThreadReply) => {
    const at = waiting.findIndex((w) => w.kind === reply.kind);
    if (at >= 0) waiting.splice(at, 1)[0].resolve(reply);
  };
  const ask = <K extends ThreadReply['kind']>(
    request: ThreadRequest,
    kind: K,
  ): Promise<Extract<ThreadReply, { kind: K }>> =>
    new Promise((resolve) => {
      waiting.push({ kind, resolve: resolve as (reply: ThreadReply) => void });
      worker.postMessage(request);
    });

  return new Promise<ThreadStore>((resolve, reject) => {
    let started = false;
    worker.on('message', (reply: ThreadReply) => {
      if (reply.kind === 'log') return relayLog(logger, reply.line);
      if (reply.kind === 'stats' || reply.kind === 'ready') {
        figures = { stats: reply.stats, commandCounts: reply.commandCounts };
      }
      if (reply.kind === 'failed' && !started) {
        reject(new Error(reply.message));
        void worker.terminate();
        return;
      }
      if (reply.kind === 'failed') {
        logger.error({ err: reply.message }, 'store thread: a request failed');
        // Whatever was asked of the thread is over (its close, its TTL pass).
        for (const w of waiting.splice(0)) w.resolve(reply);
        return;
      }
      if (reply.kind === 'ready') {
        started = true;
        resolve(running(reply));
      }
      answer(reply);
    });
    worker.on('error', (error) => {
      if (!started) return reject(error);
      logger.fatal({ err: error.message }, 'store thread: crashed; stopping the app');
      process.exit(1);
    });
    worker.on('exit', (code) => {
      if (closed || !started) {
        if (!started) reject(new Error(`the store thread exited (${code}) before it started`));
        return;
      }
      logger.fatal({ code }, 'store thread: exited unexpectedly; stopping the app');
      process.exit(1);
    });
  });

  function running(ready: Extract<ThreadReply, { kind: 'ready' }>): ThreadStore {
    return {
      uri: ready.uri,
      socketPath: ready.socketPath,
      addresses: () => ready.addresses,
      tcp: null,
      stats: () => figures!.stats,
      commandCounts: () => ({ ...figures!.commandCounts }),
      lastPlan: () => undefined,
      expireNow: async () => (await ask({ kind: 'expire' }, 'expired')).removed ?? 0,
      // Callers at the same moment (a /metrics scrape's gauges) share one request.
      refreshFigures: sharedWhilePending(async () => {
        await ask({ kind: 'stats' }, 'stats');
      }),
      close: () => {
        closing ??= (async () => {
          closed = true;
          await ask({ kind: 'close' }, 'closed');
          await worker.terminate();
        })();
        return closing;
      },
    };
  }
}
