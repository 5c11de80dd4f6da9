import { silentLogger, type Logger } from '../lib/logger.js';
import type { ChangeHistoryOptions } from './changes.js';
import { CursorRegistry } from './cursors.js';
import { openFilePersistence } from './durability/index.js';
import { Engine } from './engine.js';
import { MemoryPersistence, type Persistence } from './persistence.js';
import type { PlanInfo } from './planner.js';
import { WireServer } from './server.js';
import { decodeOptions } from './wire.js';

/**
 * The embedded MongoDB-compatible store: an in-memory engine (mingo semantics, hash and sorted
 * indexes) made durable by a journal, served over the MongoDB wire protocol on loopback so the
 * real `mongodb` driver and mongoose use it unchanged.
 */

export interface StartStoreOptions {
  /** null/undefined: pure in-memory (tests). A path: journal and snapshots kept there. */
  dataDir?: string | null;
  /** 0 (default): an ephemeral port. */
  port?: number;
  /** Default '127.0.0.1'. Non-loopback hosts are refused unless allowRemote. */
  host?: string;
  allowRemote?: boolean;
  logger?: Logger;
  /** Durability policy passed to the persistence (see durability/index.ts). Default 'always'. */
  fsync?: 'always' | 'batch' | 'never';
  /** How often TTL indexes are swept. Default 60 s. */
  ttlIntervalMs?: number;
  /** Idle time after which an open cursor is dropped. Default 10 min. */
  cursorTimeoutMs?: number;
  /**
   * Change-stream history kept in memory for resuming: most events (default 10,000) and their
   * largest age (default 10 minutes).
   */
  changeHistory?: ChangeHistoryOptions;
  /** For tests: the persistence to use instead of the one chosen from dataDir. */
  persistence?: Persistence;
}

export interface StoreStats {
  collections: number;
  documents: number;
  journalBytes: number;
  snapshotBytes: number;
  openCursors: number;
  connections: number;
}

export interface RunningStore {
  /** 'mongodb://127.0.0.1:PORT' */
  uri: string;
  port: number;
  stats(): StoreStats;
  /** Commands answered so far, by "<command> <collection>" (e.g. "find users"); for diagnostics. */
  commandCounts(): Record<string, number>;
  /** The plan of the last query on a namespace ("db.coll"), for tests and diagnostics. */
  lastPlan(ns: string): PlanInfo | undefined;
  /** Runs a TTL pass now (tests); resolves with the number of documents removed. */
  expireNow(): Promise<number>;
  close(): Promise<void>;
}

const loopback = new Set(['127.0.0.1', 'localhost', '::1']);

export async function startStore(opts: StartStoreOptions = {}): Promise<RunningStore> {
  const host = opts.host ?? '127.0.0.1';
  if (!loopback.has(host) && !opts.allowRemote) {
    throw new Error(
      `store: refusing to listen on non-loopback host ${host} (the store has no authentication)`,
    );
  }
  const logger = opts.logger ?? silentLogger;
  const persistence =
    opts.persistence ??
    (opts.dataDir
      ? await openFilePersistence(opts.dataDir, {
          fsync: opts.fsync ?? 'always',
          logger,
          deserializeOptions: decodeOptions,
        })
      : new MemoryPersistence());
  const engine = new Engine(persistence, { logger, changes: opts.changeHistory });
  let server: WireServer | null = null;
  const cursors = new CursorRegistry(opts.cursorTimeoutMs ?? 10 * 60_000);
  try {
    await engine.load();
    server = new WireServer({ engine, cursors, logger });
    const port = await server.listen(opts.port ?? 0, host);
    engine.startTtl(opts.ttlIntervalMs ?? 60_000);
    const uri = `mongodb://${host.includes(':') ? `[${host}]` : host}:${port}`;
    logger.info({ uri, dataDir: opts.dataDir ?? null }, 'store: listening');
    let closing: Promise<void> | null = null;
    const running = server;
    return {
      uri,
      port,
      stats: () => {
        const p = persistence.stats();
        return {
          ...engine.counts(),
          journalBytes: p.journalBytes,
          snapshotBytes: p.snapshotBytes,
          openCursors: cursors.size,
          connections: running.connections,
        };
      },
      commandCounts: () => Object.fromEntries(running.commandCounts),
      lastPlan: (ns) => engine.lastPlans.get(ns),
      expireNow: () => engine.expire(),
      close: () => {
        closing ??= (async () => {
          await running.close();
          cursors.close();
          await engine.close();
          logger.info('store: closed');
        })();
        return closing;
      },
    };
  } catch (err) {
    cursors.close();
    await server?.close();
    await engine.close().catch(() => undefined);
    throw err;
  }
}
