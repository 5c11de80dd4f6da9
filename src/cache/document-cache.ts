import { LRUCache } from 'lru-cache';
import type { Db } from 'mongodb';
import { Types, type Document, type Query, type Schema } from 'mongoose';
import type { ChangeFeed, FeedSubscriber } from './change-feed.js';

export interface CacheOptions {
  /** Most entries kept (least recently used go first). */
  max: number;
  /** Longest an entry is kept, whatever the feed says: a bound on any staleness nobody foresaw. */
  ttlMs: number;
}

/** A cluster time (a bson Timestamp): seconds, and the order within the second. */
export interface ClusterTime {
  readonly t: number;
  readonly i: number;
}

/**
 * What a load returns: the value, the _id of the document it came from (for the feed), and the
 * cluster time of the data read (the reply's operationTime), when the database gives one that
 * change events can be compared with.
 */
export interface Loaded<V> {
  id: unknown;
  value: V;
  at?: ClusterTime | null;
}

interface Entry<V> {
  id: string;
  value: V;
  at: ClusterTime | null;
}

/** Negative, zero or positive as `a` is before, at or after `b`. */
function compareTimes(a: ClusterTime, b: ClusterTime): number {
  return a.t !== b.t ? a.t - b.t : a.i - b.i;
}

/** A change made at `changedAt` is already in data read at `readAt` (unknown times: it is not). */
function alreadyRead(readAt: ClusterTime | null, changedAt: ClusterTime | null): boolean {
  return !!readAt && !!changedAt && compareTimes(changedAt, readAt) <= 0;
}

/** The later of two change times; unknown if either is. */
function later(a: ClusterTime | null, b: ClusterTime | null): ClusterTime | null {
  if (!a || !b) return null;
  // Stryker disable next-line EqualityOperator: at equal times a and b are the same time
  return compareTimes(a, b) >= 0 ? a : b;
}

/** What a database reply to a one-document `find` command holds for the caches. */
export function firstOfReply<T>(reply: Record<string, unknown>): {
  doc: T | null;
  at: ClusterTime | null;
} {
  const doc = (reply.cursor as { firstBatch?: T[] } | undefined)?.firstBatch?.[0] ?? null;
  return { doc, at: operationTimeOf(reply) };
}

/** A reply's operationTime (reads, and writes: the time of the state they left), when complete. */
export function operationTimeOf(reply: Record<string, unknown>): ClusterTime | null {
  const time = reply.operationTime as Partial<ClusterTime> | undefined;
  return typeof time?.t === 'number' && typeof time.i === 'number'
    ? { t: time.t, i: time.i }
    : null;
}

/**
 * One document by `filter`, as a cache loads it: a single `find` command sent through the driver
 * (none of a model's query building and casting) and the reply's operationTime; `valueOf` makes
 * the value kept from the document.
 */
export async function findOneLoaded<D extends { _id: unknown }, V>(
  db: Db,
  collection: string,
  filter: Record<string, unknown>,
  valueOf: (doc: D) => V,
  projection?: Record<string, unknown>,
): Promise<Loaded<V> | null> {
  const reply = await db.command({
    find: collection,
    filter,
    ...(projection ? { projection } : {}),
    limit: 1,
    singleBatch: true,
  });
  const { doc, at } = firstOfReply<D>(reply);
  return doc ? { id: doc._id, value: valueOf(doc), at } : null;
}

/**
 * What a findAndModify reply (includeResultMetadata: the document as written in `value`) holds
 * for a cache: the value made from the document, and the write's operationTime.
 */
export function writtenLoaded<D extends { _id: unknown }, V>(
  reply: { value: unknown },
  valueOf: (doc: D) => V,
): Loaded<V> | null {
  const doc = reply.value as D | null;
  return doc ? { id: doc._id, value: valueOf(doc), at: operationTimeOf(reply) } : null;
}

/** A change remembered while reads are in flight: when (in this cache's count), and its time. */
interface Change {
  seq: number;
  at: ClusterTime | null;
}

/** Changes remembered for the reads in flight, beyond which they are all treated as overtaken. */
const MAX_TRACKED_CHANGES = 10_000;

/**
 * An in-process cache of documents of one collection, kept coherent by the change feed: an entry
 * is dropped as soon as its document changes, in this process or another. Lookups go by any key
 * the caller chooses (a session id, a user id, "user/program"), changes by the document's _id.
 *
 * A read overtaken by a change of its own document (by key or by _id) or by a clearing of the
 * cache is returned but not kept: what it read may already be stale. Changes of other documents
 * do not matter, so reads are kept under a steady stream of unrelated writes. When both the read
 * and the change event carry a cluster time (the embedded store), a change the read already
 * holds — typically the echo of this process's own write, arriving after the page read it back —
 * neither drops the entry nor stops a read from being kept.
 *
 * Values are shared between requests: callers must treat them as read-only.
 * Absent documents are never cached (a document being created is not announced under the key).
 */
export class DocumentCache<V extends object> implements FeedSubscriber {
  private readonly entries: LRUCache<string, Entry<V>>;
  private readonly keysById = new Map<string, string>();
  /** Counts changes; a read remembers where it started. */
  private seq = 0;
  /** The last clearing (or overflow of the maps below): every read started before it is overtaken. */
  private clearedAt = 0;
  /** Reads in flight; while there are any, the changes below are remembered (by key and by _id). */
  private inflight = 0;
  private readonly changedKeys = new Map<string, Change>();
  private readonly changedIds = new Map<string, Change>();
  /** Lookups answered from memory, and those that read the database (for /metrics). */
  hits = 0;
  misses = 0;

  constructor(
    readonly collection: string,
    private readonly feed: ChangeFeed,
    options: CacheOptions,
  ) {
    this.entries = new LRUCache<string, Entry<V>>({
      max: options.max,
      ttl: options.ttlMs,
      dispose: (entry, key) => {
        if (this.keysById.get(entry.id) === key) this.keysById.delete(entry.id);
      },
    });
    feed.subscribe(this);
  }

  /** The cached value, or what `load` reads (kept when its document did not change meanwhile). */
  async get(key: string, load: () => Promise<Loaded<V> | null>): Promise<V | null> {
    if (this.feed.live) {
      const hit = this.entries.get(key);
      if (hit) {
        this.hits++;
        return hit.value;
      }
    }
    this.misses++;
    return this.keep(key, load);
  }

  /**
   * A write of this process to the document held under `key` that returns the document as
   * written, with the write's cluster time (findAndModify's new document and operationTime): the
   * write drops the entry as a write hook would, and what it returns is kept as a read would be —
   * unless another change of the document overtook it — so the next request reads it from memory.
   * Its own change, when the feed reports it, is one the entry holds already. The write must not
   * run the model's write hooks (clearCachesOnWrite), which would drop what it keeps: send it
   * through the driver (Model.collection).
   */
  async writeThrough(key: string, write: () => Promise<Loaded<V> | null>): Promise<V | null> {
    this.forget(key);
    return this.keep(key, write);
  }

  /**
   * A read-or-create whose key is known only from the document it returns (an upsert that
   * inserts or else changes nothing, such as `$setOnInsert` alone): kept under `keyOf(value)`, as
   * a read would be. When it creates the document no entry can hold it yet; when it finds one, it
   * changed nothing an entry holds.
   */
  async keepCreated(
    keyOf: (value: V) => string,
    create: () => Promise<Loaded<V> | null>,
  ): Promise<V | null> {
    return this.keep(keyOf, create);
  }

  /** Runs `load` and keeps what it returns unless its document changed meanwhile. */
  private async keep(
    keyOrKeyOf: string | ((value: V) => string),
    load: () => Promise<Loaded<V> | null>,
  ): Promise<V | null> {
    const start = this.seq;
    this.inflight++;
    try {
      const loaded = await load();
      if (!loaded) return null;
      const key = typeof keyOrKeyOf === 'string' ? keyOrKeyOf : keyOrKeyOf(loaded.value);
      const id = String(loaded.id);
      const at = loaded.at ?? null;
      if (this.feed.live && this.unchangedSince(start, key, id, at)) {
        this.entries.set(key, { id, value: loaded.value, at });
        this.keysById.set(id, key);
      }
      return loaded.value;
    } finally {
      if (--this.inflight === 0) {
        this.changedKeys.clear();
        this.changedIds.clear();
      }
    }
  }

  /** This process is changing the document held under `key` (no time known yet). */
  forget(key: string): void {
    this.remember(this.changedKeys, key, null);
    this.entries.delete(key);
  }

  /** The document `id` changed, at cluster time `at` when known. */
  forgetId(id: unknown, at: ClusterTime | null = null): void {
    const idText = String(id);
    this.remember(this.changedIds, idText, at);
    const key = this.keysById.get(idText);
    // Stryker disable next-line ConditionalExpression: only saves a lookup (peek and delete of an absent key do nothing)
    if (key === undefined) return;
    const entry = this.entries.peek(key);
    if (!entry || !alreadyRead(entry.at, at)) this.entries.delete(key);
  }

  clear(): void {
    this.clearedAt = ++this.seq;
    this.changedKeys.clear();
    this.changedIds.clear();
    this.entries.clear();
    this.keysById.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private remember(changes: Map<string, Change>, name: string, at: ClusterTime | null): void {
    this.seq++;
    if (this.inflight === 0) return;
    const before = changes.get(name);
    changes.set(name, { seq: this.seq, at: before ? later(before.at, at) : at });
    if (changes.size > MAX_TRACKED_CHANGES) {
      this.clearedAt = this.seq;
      this.changedKeys.clear();
      this.changedIds.clear();
    }
  }

  private unchangedSince(start: number, key: string, id: string, at: ClusterTime | null): boolean {
    const unchanged = (change: Change | undefined) =>
      !change || change.seq <= start || alreadyRead(at, change.at);
    return (
      this.clearedAt <= start &&
      unchanged(this.changedKeys.get(key)) &&
      unchanged(this.changedIds.get(id))
    );
  }
}

const WRITE_QUERIES = [
  'updateOne',
  'updateMany',
  'replaceOne',
  'deleteOne',
  'deleteMany',
  'findOneAndUpdate',
  'findOneAndReplace',
  'findOneAndDelete',
] as const;

/** A filter's or document's value for `field` when it names one value (`v` or `{ $eq: v }`). */
export function singleValue(source: Record<string, unknown>, field: string): string | null {
  let value = source[field];
  if (value && typeof value === 'object' && '$eq' in value) value = value.$eq;
  if (typeof value === 'string') return value;
  if (value instanceof Types.ObjectId) return value.toHexString();
  return null;
}

/**
 * Writes this process makes through the model drop what the caches hold of them before and after
 * they run, so the next request here reads them back even before the change feed reports them.
 * `keyOf` names the cache key a write touches, from its filter (updates, deletes) or its document
 * (save); a write it cannot name (e.g. an update by e-mail address, insertMany) empties the
 * collection's caches instead. (Writes through the driver, as DocumentCache.writeThrough's, run
 * no hooks.)
 */
export function clearCachesOnWrite(
  schema: Schema,
  feed: () => ChangeFeed | null,
  collection: string,
  keyOf: (source: Record<string, unknown>) => string | null,
) {
  const changing = (source: Record<string, unknown> | null) => {
    const current = feed();
    if (!current) return;
    const key = source ? keyOf(source) : null;
    if (key === null) current.changing(collection);
    else current.changingKey(collection, key);
  };
  const byFilter = function (this: Query<unknown, unknown>) {
    changing(this.getFilter());
  };
  const byDocument = function (this: Document) {
    changing(this as unknown as Record<string, unknown>);
  };
  const whole = () => changing(null);
  for (const op of WRITE_QUERIES) {
    schema.pre(op, byFilter);
    schema.post(op, byFilter);
  }
  schema.pre('save', byDocument);
  schema.post('save', byDocument);
  schema.pre('insertMany', whole);
  schema.post('insertMany', whole);
  schema.pre('bulkWrite', whole);
  schema.post('bulkWrite', whole);
}
