import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { silentLogger, type Logger } from '../lib/logger.js';
import type { ChangeHistoryOptions } from './changes.js';
import { CursorRegistry } from './cursors.js';
import { openFilePersistence, type JournalFile } from './durability/index.js';
import { Engine } from './engine.js';
import { MemoryPersistence, type Persistence } from './persistence.js';
import type { PlanInfo } from './planner.js';
import { scramUser } from './scram.js';
import { WireServer } from './server.js';
import {
  SOCKET_FILE,
  checkSocketPathLength,
  clearStaleSocket,
  privateTempDir,
  removeTempDir,
  socketUri,
} from './socket.js';
import { decodeOptions } from './wire.js';

/**
 * The embedded MongoDB-compatible store: an in-memory engine (mingo semantics, hash and sorted
 * indexes) made durable by a journal, served over the MongoDB wire protocol on a Unix domain
 * socket that only its owner can reach, so the real `mongodb` driver and mongoose use it
 * unchanged and no other local account can.
 */

export interface StartStoreOptions {
  /**
   * null/undefined: pure in-memory (tests), listening in a fresh private temp directory.
   * A path: journal, snapshots and the socket (`store.sock`) kept there; the directory is made
   * 0700 and its files 0600.
   */
  dataDir?: string | null;
  /**
   * Also listen on TCP, on 127.0.0.1 only, for tools that cannot use a socket. Every TCP
   * connection must authenticate with SCRAM-SHA-256 as user `tsunagu`, whose password is
   * generated once into `<dataDir>/tcp-password` (0600; in memory only without a dataDir).
   * port 0: an ephemeral port.
   */
  tcp?: { port: number };
  logger?: Logger;
  /** Durability policy passed to the persistence (see durability/index.ts). Default 'always'. */
  fsync?: 'always' | 'batch' | 'never';
  /** How often TTL indexes are swept. Default 60 s. */
  ttlIntervalMs?: number;
  /** Idle time after which an open cursor is dropped. Default 10 min. */
  cursorTimeoutMs?: number;
  /**
   * How long a waiting change-stream getMore woken by a change gathers more before it answers.
   * Default CHANGE_GATHER_MS (10 ms).
   */
  changeGatherMs?: number;
  /**
   * Change-stream history kept in memory for resuming: most events (default 10,000) and their
   * largest age (default 10 minutes).
   */
  changeHistory?: ChangeHistoryOptions;
  /** For tests: the persistence to use instead of the one chosen from dataDir. */
  persistence?: Persistence;
  /** For tests: wraps the journal file (e.g. to hold its fsync) of the persistence in dataDir. */
  wrapJournalFile?: (file: JournalFile) => JournalFile;
  /**
   * How long to wait for a live process on this host that holds dataDir's lock (a killed store
   * still finishing an fsync) before refusing. Default 5 s.
   */
  lockOwnerWaitMs?: number;
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
  /** The driver URI, 'mongodb://<percent-encoded socket path>'; append '/<db>' for a database. */
  uri: string;
  /** The Unix domain socket the store listens on (0600, in a 0700 directory). */
  socketPath: string;
  /** What the server listens on, for checks: the socket path, then the TCP address if asked. */
  addresses(): ReturnType<WireServer['addresses']>;
  /**
   * With the `tcp` option: its port, and the URI with the credentials (a secret: never log it).
   * Without: null.
   */
  tcp: { port: number; uri: string } | null;
  stats(): StoreStats;
  /** Commands answered so far, by "<command> <collection>" (e.g. "find users"); for diagnostics. */
  commandCounts(): Record<string, number>;
  /** The plan of the last query on a namespace ("db.coll"), for tests and diagnostics. */
  lastPlan(ns: string): PlanInfo | undefined;
  /** Runs a TTL pass now (tests); resolves with the number of documents removed. */
  expireNow(): Promise<number>;
  close(): Promise<void>;
}

/**
 * The URI of the store that `npm run db` (or an app without MONGODB_URI) runs with DATA_DIR
 * `dataDir`: its socket is DATA_DIR/store/store.sock. Give it to other processes as MONGODB_URI.
 */
export function storeUri(dataDir: string, dbName = 'tsunagu'): string {
  return `${socketUri(path.join(path.resolve(dataDir), 'store', SOCKET_FILE))}/${dbName}`;
}

/** The one user of the TCP listener. */
export const TCP_USER = 'tsunagu';
export const TCP_PASSWORD_FILE = 'tcp-password';

/** The TCP password kept in the data directory (created 0600 on first use), or a fresh one. */
async function tcpPassword(dataDir: string | null): Promise<string> {
  const fresh = randomBytes(32).toString('base64url');
  if (!dataDir) return fresh;
  const file = path.join(dataDir, TCP_PASSWORD_FILE);
  try {
    await writeFile(file, fresh + '\n', { mode: 0o600, flag: 'wx' });
    return fresh;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const kept = (await readFile(file, 'utf8')).trim();
  if (!/^[\x21-\x7e]{20,}$/.test(kept)) {
    throw new Error(`store: ${file} does not hold a usable password; remove it to get a new one`);
  }
  return kept;
}

export async function startStore(opts: StartStoreOptions = {}): Promise<RunningStore> {
  const logger = opts.logger ?? silentLogger;
  const dataDir = opts.dataDir ? path.resolve(opts.dataDir) : null;
  // Checked before anything is opened, so a too deep DATA_DIR fails at once and clearly.
  if (dataDir) checkSocketPathLength(path.join(dataDir, SOCKET_FILE));
  const persistence =
    opts.persistence ??
    (dataDir
      ? await openFilePersistence(dataDir, {
          fsync: opts.fsync ?? 'always',
          logger,
          deserializeOptions: decodeOptions,
          wrapJournalFile: opts.wrapJournalFile,
          lockOwnerWaitMs: opts.lockOwnerWaitMs,
        })
      : new MemoryPersistence());
  const engine = new Engine(persistence, { logger, changes: opts.changeHistory });
  let server: WireServer | null = null;
  const cursors = new CursorRegistry(opts.cursorTimeoutMs ?? 10 * 60_000, opts.changeGatherMs);
  let tempDir: string | null = null;
  try {
    await engine.load();
    if (!dataDir) tempDir = await privateTempDir();
    const socketPath = path.join(dataDir ?? tempDir!, SOCKET_FILE);
    checkSocketPathLength(socketPath);
    // The data directory is locked by now, so a socket file there is one a dead store left.
    await clearStaleSocket(socketPath);
    const password = opts.tcp ? await tcpPassword(dataDir) : null;
    server = new WireServer({
      engine,
      cursors,
      logger,
      user: password ? scramUser(TCP_USER, password) : undefined,
    });
    await server.listen(socketPath);
    let tcp: RunningStore['tcp'] = null;
    if (opts.tcp && password) {
      const port = await server.listenTcp(opts.tcp.port, '127.0.0.1');
      const uri = `mongodb://${TCP_USER}:${password}@127.0.0.1:${port}/?authSource=admin`;
      tcp = { port, uri };
      logger.info({ port }, 'store: also listening on TCP (SCRAM-SHA-256 required)');
    }
    engine.startTtl(opts.ttlIntervalMs ?? 60_000);
    const uri = socketUri(socketPath);
    logger.info({ uri, dataDir }, 'store: listening');
    let closing: Promise<void> | null = null;
    const running = server;
    const ownTempDir = tempDir;
    return {
      uri,
      socketPath,
      addresses: () => running.addresses(),
      tcp,
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
          if (ownTempDir) await removeTempDir(ownTempDir);
          logger.info('store: closed');
        })();
        return closing;
      },
    };
  } catch (err) {
    cursors.close();
    await server?.close();
    await engine.close().catch(() => undefined);
    if (tempDir) await removeTempDir(tempDir);
    throw err;
  }
}
