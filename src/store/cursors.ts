import { calculateObjectSize, type Document } from 'bson';
import { randomBytes } from 'node:crypto';
import type { ChangeStream } from './changestream.js';
import { StoreError } from './errors.js';

/** Largest total size of documents in one reply batch, as MongoDB (16 MiB). */
const maxBatchBytes = 16 * 1024 * 1024 - 64 * 1024;

interface OpenCursor {
  id: bigint;
  ns: string;
  docs: Document[];
  pos: number;
  lastUsed: number;
  /** A change stream's cursor (docs unused): getMore waits for its events. */
  stream?: ChangeStream;
  /** Set while a getMore on it runs (the cursor is not idle then). */
  busy?: boolean;
  /** Ends the wait of the running getMore (kill, close). */
  wake?: () => void;
}

/** awaitData's default wait when a change stream's getMore gives no maxTimeMS (MongoDB's). */
const defaultAwaitMs = 1000;

/**
 * How long a waiting change-stream getMore, woken by a change, gathers further changes before it
 * answers. Under a steady stream of writes each answer then carries several events instead of one
 * (each answer costs both sides a round trip and the stream's next getMore: bench:load's writes
 * came with one getMore each); a replica set delivers changes once they are majority-committed,
 * a few milliseconds later too. Never beyond the getMore's own wait.
 */
export const CHANGE_GATHER_MS = 10;

/**
 * Server-side cursors: results kept between getMore calls, dropped after a idle timeout.
 * Change-stream cursors hold a ChangeStream instead of results: a getMore on one waits for
 * new events (up to its maxTimeMS) without holding up other connections.
 */
export class CursorRegistry {
  private readonly open = new Map<bigint, OpenCursor>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly gatherMs = CHANGE_GATHER_MS,
  ) {
    this.timer = setInterval(() => this.sweep(), Math.min(timeoutMs, 60_000));
    this.timer.unref();
  }

  get size(): number {
    return this.open.size;
  }

  sweep(now = Date.now()): void {
    for (const [id, c] of this.open) {
      if (!c.busy && now - c.lastUsed > this.timeoutMs) this.open.delete(id);
    }
  }

  private newId(): bigint {
    for (;;) {
      const id = randomBytes(8).readBigInt64LE() & 0x7fffffffffffffffn;
      if (id !== 0n && !this.open.has(id)) return id;
    }
  }

  /**
   * Takes the first batch of `docs`; keeps the rest under a new cursor id unless everything fit
   * (id 0). `batchSize` 0/undefined means the default (101 for a first batch).
   */
  firstBatch(
    ns: string,
    docs: Document[],
    batchSize: number | undefined,
    single = false,
  ): Document {
    const n = batchSize && batchSize > 0 ? batchSize : 101;
    const batch = takeBatch(docs, 0, n);
    let id = 0n;
    if (!single && batch.length < docs.length) {
      id = this.newId();
      this.open.set(id, { id, ns, docs, pos: batch.length, lastUsed: Date.now() });
    }
    return { cursor: { firstBatch: batch, id, ns }, ok: 1 };
  }

  /**
   * Opens a change stream's cursor with its first batch (events already available, none
   * awaited). The cursor stays open until killed, idle too long or invalidated.
   */
  openStream(ns: string, stream: ChangeStream, batchSize: number | undefined): Document {
    const batch = stream.take(batchSize === undefined ? 101 : Math.max(0, batchSize));
    let id = 0n;
    if (!stream.invalidated) {
      id = this.newId();
      this.open.set(id, { id, ns, docs: [], pos: 0, lastUsed: Date.now(), stream });
    }
    return {
      cursor: { firstBatch: batch, postBatchResumeToken: stream.token(), id, ns },
      operationTime: stream.history.now(),
      ok: 1,
    };
  }

  /** Whether `id` is a change stream's cursor (whose getMore waits for events by design). */
  isChangeStream(id: unknown): boolean {
    return typeof id === 'bigint' && !!this.open.get(id)?.stream;
  }

  getMore(
    id: bigint,
    ns: string,
    batchSize: number | undefined,
    maxTimeMS?: number,
  ): Document | Promise<Document> {
    const c = this.open.get(id);
    if (!c) throw new StoreError(43, `cursor id ${id} not found`);
    if (c.ns !== ns) {
      throw new StoreError(
        13,
        `Requested getMore on namespace '${ns}', but cursor belongs to a different namespace ${c.ns}`,
      );
    }
    if (c.stream) return this.streamGetMore(c, batchSize, maxTimeMS ?? defaultAwaitMs);
    const batch = takeBatch(c.docs, c.pos, batchSize && batchSize > 0 ? batchSize : Infinity);
    c.pos += batch.length;
    c.lastUsed = Date.now();
    let outId = id;
    if (c.pos >= c.docs.length) {
      this.open.delete(id);
      outId = 0n;
    }
    return { cursor: { nextBatch: batch, id: outId, ns }, ok: 1 };
  }

  /** Returns the stream's next events, waiting up to `waitMs` for some if there are none. */
  private async streamGetMore(
    c: OpenCursor,
    batchSize: number | undefined,
    waitMs: number,
  ): Promise<Document> {
    const stream = c.stream as ChangeStream;
    if (c.busy) throw new StoreError(2, `cursor id ${c.id} is already in use by another getMore`);
    const max = batchSize && batchSize > 0 ? batchSize : Infinity;
    const deadline = Date.now() + waitMs;
    c.busy = true;
    let batch: Document[];
    try {
      batch = stream.take(max);
      while (batch.length === 0 && !stream.invalidated && this.open.get(c.id) === c) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        await this.wait(c, left, true);
        if (this.open.get(c.id) !== c) break;
        const gather = Math.min(this.gatherMs, deadline - Date.now());
        if (gather > 0) await this.wait(c, gather, false);
        if (this.open.get(c.id) !== c) break;
        batch = stream.take(max);
      }
    } catch (err) {
      this.open.delete(c.id);
      throw err;
    } finally {
      c.busy = false;
      c.wake = undefined;
      c.lastUsed = Date.now();
    }
    if (this.open.get(c.id) !== c) {
      throw new StoreError(237, `cursor id ${c.id} was killed while its getMore was waiting`);
    }
    let id = c.id;
    if (stream.invalidated) {
      this.open.delete(c.id);
      id = 0n;
    }
    return {
      cursor: { nextBatch: batch, postBatchResumeToken: stream.token(), id, ns: c.ns },
      operationTime: stream.history.now(),
      ok: 1,
    };
  }

  /**
   * Resolves after `ms`, when the cursor is killed or the registry closes, and with
   * `untilChange` also on the next committed change.
   */
  private wait(c: OpenCursor, ms: number, untilChange: boolean): Promise<void> {
    const waiters = (c.stream as ChangeStream).history.waiters;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(done);
        c.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      c.wake = done;
      if (untilChange) waiters.add(done);
      if (this.closed) done();
    });
  }

  kill(ids: bigint[]): Document {
    const killed: bigint[] = [];
    const notFound: bigint[] = [];
    for (const id of ids) {
      const c = this.open.get(id);
      if (c && this.open.delete(id)) {
        killed.push(id);
        c.wake?.();
      } else {
        notFound.push(id);
      }
    }
    return {
      cursorsKilled: killed,
      cursorsNotFound: notFound,
      cursorsAlive: [],
      cursorsUnknown: [],
      ok: 1,
    };
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    const open = [...this.open.values()];
    this.open.clear();
    for (const c of open) c.wake?.();
  }
}

function takeBatch(docs: Document[], from: number, max: number): Document[] {
  // One document always fits (a batch holds at least one): no need to measure it.
  if (docs.length - from === 1 && max >= 1) return [docs[from]];
  const out: Document[] = [];
  let bytes = 0;
  for (let i = from; i < docs.length && out.length < max; i++) {
    const size = calculateObjectSize(docs[i]);
    if (out.length > 0 && bytes + size > maxBatchBytes) break;
    bytes += size;
    out.push(docs[i]);
  }
  return out;
}
