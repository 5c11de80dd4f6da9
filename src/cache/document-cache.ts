import { LRUCache } from 'lru-cache';
import type { Schema } from 'mongoose';
import type { ChangeFeed, FeedSubscriber } from './change-feed.js';

export interface CacheOptions {
  /** Most entries kept (least recently used go first). */
  max: number;
  /** Longest an entry is kept, whatever the feed says: a bound on any staleness nobody foresaw. */
  ttlMs: number;
}

/** What a load returns: the value, and the _id of the document it came from (for the feed). */
export interface Loaded<V> {
  id: unknown;
  value: V;
}

interface Entry<V> {
  id: string;
  value: V;
}

/**
 * An in-process cache of documents of one collection, kept coherent by the change feed: an entry
 * is dropped as soon as its document changes, in this process or another. Lookups go by any key
 * the caller chooses (a session id, a user id, "user/program"), changes by the document's _id.
 *
 * Values are shared between requests: callers must treat them as read-only.
 * Absent documents are never cached (a document being created is not announced under the key).
 */
export class DocumentCache<V extends object> implements FeedSubscriber {
  private readonly entries: LRUCache<string, Entry<V>>;
  private readonly keysById = new Map<string, string>();

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

  /** The cached value, or what `load` reads (kept when nothing changed meanwhile). */
  async get(key: string, load: () => Promise<Loaded<V> | null>): Promise<V | null> {
    if (this.feed.live) {
      const hit = this.entries.get(key);
      if (hit) return hit.value;
    }
    const epoch = this.feed.epoch;
    const loaded = await load();
    if (!loaded) return null;
    if (this.feed.live && this.feed.epoch === epoch) {
      const id = String(loaded.id);
      this.entries.set(key, { id, value: loaded.value });
      this.keysById.set(id, key);
    }
    return loaded.value;
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  /** This process is changing the document under `key`: drop it, and any read of it in flight. */
  invalidate(key: string): void {
    this.feed.epoch++;
    this.entries.delete(key);
  }

  forgetId(id: unknown): void {
    const key = this.keysById.get(String(id));
    if (key !== undefined) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
    this.keysById.clear();
  }

  get size(): number {
    return this.entries.size;
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

/**
 * Writes this process makes through the model clear the collection's caches before and after
 * they run, so the next request here reads them back even before the change feed reports them.
 */
export function clearCachesOnWrite(
  schema: Schema,
  feed: () => ChangeFeed | null,
  collection: string,
) {
  const changing = () => feed()?.changing(collection);
  for (const op of WRITE_QUERIES) {
    schema.pre(op, changing);
    schema.post(op, changing);
  }
  schema.pre('save', changing);
  schema.post('save', changing);
  schema.pre('insertMany', changing);
  schema.post('insertMany', changing);
  schema.pre('bulkWrite', changing);
  schema.post('bulkWrite', changing);
}
