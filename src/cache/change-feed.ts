import type { ChangeStream, ChangeStreamDocument, Db } from 'mongodb';
import type { Logger } from '../lib/logger.js';
import type { ClusterTime } from './document-cache.js';

/** What a cache does with the feed: forget one document, or forget everything. */
export interface FeedSubscriber {
  readonly collection: string;
  forget(key: string): void;
  forgetId(id: unknown, at?: ClusterTime | null): void;
  clear(): void;
}

/** Server answers meaning "this deployment has no change streams" (standalone MongoDB, old store). */
const NO_CHANGE_STREAMS: ReadonlySet<unknown> = new Set([40573, 115, 40324]);

const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 60_000;

/**
 * Tells in-process read caches which documents changed, whichever process changed them: one
 * change stream on the database (the embedded store and MongoDB replica sets or Atlas have them),
 * filtered to the collections that are cached.
 *
 * Caches serve entries only while the feed is live, that is from the stream's first answer until
 * it fails. Every failure clears every cache, so a change missed while the stream was down can
 * never be served; the feed then reopens the stream with a growing delay. A deployment without
 * change streams (a standalone mongod) simply runs without caches.
 *
 * Each cache itself keeps a read overtaken by a change of its document from being kept (see
 * DocumentCache).
 */
export class ChangeFeed {
  private readonly subscribers: FeedSubscriber[] = [];
  private stream: ChangeStream | null = null;
  private liveNow = false;
  private closed = false;
  private retryMs = RETRY_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;

  /**
   * @param compareTimes Pass on each change's cluster time, for caches to compare with the
   *   operationTime of what they read. Only where reads and change times agree: the embedded store
   *   (one writer, changes committed in order after memory is changed). MongoDB's replica sets may
   *   commit writes out of order (oplog holes), so there a read's time says too little.
   */
  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly compareTimes = false,
  ) {}

  get live(): boolean {
    return this.liveNow;
  }

  subscribe(subscriber: FeedSubscriber): void {
    this.subscribers.push(subscriber);
  }

  /** A change this process is making itself: caches must not keep what they read before it. */
  changing(collection: string): void {
    for (const s of this.subscribers) if (s.collection === collection) s.clear();
  }

  /** This process is changing the document a cache holds under `key`. */
  changingKey(collection: string, key: string): void {
    for (const s of this.subscribers) if (s.collection === collection) s.forget(key);
  }

  start(): void {
    if (this.closed || this.stream) return;
    const collections = [...new Set(this.subscribers.map((s) => s.collection))];
    // An idle getMore waits the server's default second (MongoDB's and the embedded store's).
    const stream = this.db.watch([
      { $match: { 'ns.coll': { $in: collections } } },
      // What a cache needs of a change: which document, and when. An update's fields and an
      // insert's whole document are left in the database (less to encode, send and decode for
      // every write). _id is the resume token, which a change stream must keep.
      { $project: { _id: 1, operationType: 1, ns: 1, documentKey: 1, clusterTime: 1 } },
    ]);
    this.stream = stream;
    stream.on('change', (event: ChangeStreamDocument) => this.apply(event));
    // Emitted with the first reply (the stream is open) and after every later batch.
    stream.on('resumeTokenChanged', () => {
      if (this.liveNow || this.stream !== stream) return;
      this.liveNow = true;
      this.retryMs = RETRY_MIN_MS;
      this.logger.debug({ collections }, 'read caches: change feed live');
    });
    stream.on('error', (error: Error & { code?: unknown }) => this.fail(stream, error));
    stream.on('close', () => this.fail(stream, null));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.reset();
    const stream = this.stream;
    this.stream = null;
    await stream?.close().catch(() => undefined);
  }

  private apply(event: ChangeStreamDocument): void {
    if (!('ns' in event) || !('documentKey' in event)) {
      // drop, dropDatabase, rename: whole collections are gone or replaced. (An invalidate also
      // closes the stream, which fail() handles.)
      this.clearAll();
      return;
    }
    const id = (event.documentKey as { _id?: unknown })._id;
    const at = this.compareTimes && 'clusterTime' in event ? (event.clusterTime ?? null) : null;
    for (const s of this.subscribers) if (s.collection === event.ns.coll) s.forgetId(id, at);
  }

  private clearAll(): void {
    for (const s of this.subscribers) s.clear();
  }

  /** The feed is down: nothing cached may be served until it is live again. */
  private reset(): void {
    this.liveNow = false;
    this.clearAll();
  }

  private fail(stream: ChangeStream, error: (Error & { code?: unknown }) | null): void {
    if (this.stream !== stream) return;
    this.stream = null;
    this.reset();
    void stream.close().catch(() => undefined);
    // (After close() no stream is current, so a closed feed never gets here.)
    const code = error?.code;
    if (NO_CHANGE_STREAMS.has(code)) {
      this.logger.info({ code }, 'read caches off: the database offers no change streams');
      return;
    }
    this.logger.warn(
      { err: error?.message ?? 'closed', retryMs: this.retryMs },
      'read caches paused: change feed lost, reopening',
    );
    this.retryTimer = setTimeout(() => this.start(), this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }
}
