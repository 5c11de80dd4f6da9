/**
 * The embedded store in a worker thread of the app process (src/store/thread.ts starts it): the
 * same startStore() as in the main thread, so that parsing commands, running them, encoding
 * replies and journaling take a core of their own instead of the event loop that answers
 * pages. Log lines go to the main thread, which writes them with its own logger.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { startStore, type RunningStore } from './index.js';
import type { ThreadReply, ThreadRequest, ThreadStoreOptions } from './thread.js';
import { nameThread } from '../lib/thread-name.js';

const options = workerData as ThreadStoreOptions;
nameThread('tsunagu-store');
const port = parentPort!;
const send = (reply: ThreadReply) => port.postMessage(reply);

// Each line pino writes is handed to the main thread as it is (the main thread's logger redacts
// and formats it like its own lines).
const logger = pino(
  { level: options.logLevel, base: undefined, timestamp: false },
  { write: (line: string) => send({ kind: 'log', line }) },
);

/** How often the figures for /healthz and /metrics are sent to the main thread. */
const STATS_EVERY_MS = 1_000;

function figures(store: RunningStore): ThreadReply {
  return { kind: 'stats', stats: store.stats(), commandCounts: store.commandCounts() };
}

async function main(): Promise<void> {
  let store: RunningStore;
  try {
    store = await startStore({
      dataDir: options.dataDir,
      fsync: options.fsync,
      logger,
      lockOwnerWaitMs: options.lockOwnerWaitMs,
    });
  } catch (error) {
    send({ kind: 'failed', message: (error as Error).message });
    return;
  }
  const timer = setInterval(() => send(figures(store)), STATS_EVERY_MS);
  timer.unref();
  port.on('message', (request: ThreadRequest) => {
    void (async () => {
      if (request.kind === 'stats') send(figures(store));
      if (request.kind === 'expire') send({ kind: 'expired', removed: await store.expireNow() });
      if (request.kind === 'close') {
        clearInterval(timer);
        await store.close();
        send({ kind: 'closed' });
        port.close();
      }
    })().catch((error: unknown) => send({ kind: 'failed', message: (error as Error).message }));
  });
  send({
    kind: 'ready',
    uri: store.uri,
    socketPath: store.socketPath,
    addresses: store.addresses(),
    stats: store.stats(),
    commandCounts: store.commandCounts(),
  });
}

void main();
