import type { Document } from 'bson';

/**
 * The boundary between the store's in-memory engine and whatever keeps its state on disk.
 *
 * The engine describes every change as a small BSON record (its own vocabulary: create a
 * collection, insert a document, replace one, delete one, create an index …). Persistence
 * knows nothing of that vocabulary: it keeps an ordered log of opaque records and, from time
 * to time, replaces the whole log by a snapshot — another sequence of records that rebuilds
 * the same state from nothing.
 */
export interface Persistence {
  /**
   * Reads what is on disk, oldest first: the records of the last snapshot, then every journal
   * record written after it. Called once, before any append.
   */
  load(): AsyncIterable<Document>;

  /**
   * Appends records as one unit (all or none are replayed after a crash). Resolves only when
   * the records are as durable as the configured policy promises (by default: fsync'd), so
   * the caller may acknowledge the write. Rejects on I/O failure (full disk, read-only dir).
   */
  append(records: Document[]): Promise<void>;

  /** True when the journal has grown enough that a compaction is worth it. */
  wantsCompaction(): boolean;

  /**
   * Writes `state` (records that rebuild the whole current state) as the new snapshot,
   * atomically, and starts a new empty journal. No acknowledged write may be lost if the
   * process dies at any moment during compaction.
   */
  compact(state: Iterable<Document>): Promise<void>;

  /** Figures for logs and /healthz. */
  stats(): { journalBytes: number; snapshotBytes: number; records: number };

  /** Flushes, releases the data-directory lock and closes files. */
  close(): Promise<void>;
}

/** Keeps nothing: the store's pure in-memory mode (tests). */
export class MemoryPersistence implements Persistence {
  async *load(): AsyncIterable<Document> {}
  append(_records: Document[]): Promise<void> {
    return Promise.resolve();
  }
  wantsCompaction(): boolean {
    return false;
  }
  compact(_state: Iterable<Document>): Promise<void> {
    return Promise.resolve();
  }
  stats() {
    return { journalBytes: 0, snapshotBytes: 0, records: 0 };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
