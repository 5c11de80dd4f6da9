import { calculateObjectSize, type Document } from 'bson';
import { randomBytes } from 'node:crypto';
import { StoreError } from './errors.js';

/** Largest total size of documents in one reply batch, as MongoDB (16 MiB). */
const maxBatchBytes = 16 * 1024 * 1024 - 64 * 1024;

interface OpenCursor {
  id: bigint;
  ns: string;
  docs: Document[];
  pos: number;
  lastUsed: number;
}

/** Server-side cursors: results kept between getMore calls, dropped after a idle timeout. */
export class CursorRegistry {
  private readonly open = new Map<bigint, OpenCursor>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly timeoutMs: number) {
    this.timer = setInterval(() => this.sweep(), Math.min(timeoutMs, 60_000));
    this.timer.unref();
  }

  get size(): number {
    return this.open.size;
  }

  sweep(now = Date.now()): void {
    for (const [id, c] of this.open) if (now - c.lastUsed > this.timeoutMs) this.open.delete(id);
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

  getMore(id: bigint, ns: string, batchSize: number | undefined): Document {
    const c = this.open.get(id);
    if (!c) throw new StoreError(43, `cursor id ${id} not found`);
    if (c.ns !== ns) {
      throw new StoreError(
        13,
        `Requested getMore on namespace '${ns}', but cursor belongs to a different namespace ${c.ns}`,
      );
    }
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

  kill(ids: bigint[]): Document {
    const killed: bigint[] = [];
    const notFound: bigint[] = [];
    for (const id of ids) (this.open.delete(id) ? killed : notFound).push(id);
    return {
      cursorsKilled: killed,
      cursorsNotFound: notFound,
      cursorsAlive: [],
      cursorsUnknown: [],
      ok: 1,
    };
  }

  close(): void {
    clearInterval(this.timer);
    this.open.clear();
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
