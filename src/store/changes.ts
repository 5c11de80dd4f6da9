import { randomBytes } from 'node:crypto';
import { Timestamp } from 'bson';
import type { Collection } from './collection.js';
import { StoreError } from './errors.js';
import { splitNs, type StoreRecord } from './records.js';
import { valuesEqual, type Doc } from './values.js';

/**
 * The change history: a bounded in-memory history of committed changes, in commit order, that
 * change-stream cursors (`changestream.ts`) read from. The engine pushes one entry per
 * document change after the transaction's journal append succeeded; undone writes never get
 * here. Entries are cheap (the record's own document references, no copy); the event
 * documents are built only when a stream reads them.
 *
 * Each entry has a sequence number and a cluster time (seconds, increment) that both grow
 * strictly. Resume tokens are hex strings "<time><run id><position><flag>": they order like the
 * positions they name, and a token from another run of the store (or older than the history)
 * is refused with ChangeStreamHistoryLost (286), as MongoDB does once its oplog rolled over.
 */

export type ChangeOp = 'insert' | 'update' | 'replace' | 'delete' | 'drop' | 'dropDatabase';

export interface ChangeEntry {
  seq: number;
  t: number;
  i: number;
  wall: number;
  op: ChangeOp;
  /** "<db>.<coll>"; the database name alone for dropDatabase. */
  ns: string;
  /** insert/update/replace: the stored document after the change. */
  doc?: Doc;
  /** update: the document before the change (for updateDescription). */
  before?: Doc;
  /** delete: the deleted document's _id. */
  id?: unknown;
  /** The event document, built on first read and shared by every stream. */
  event?: Doc;
}

export interface ChangeHistoryOptions {
  /** Most entries kept (default 10,000). */
  maxEvents?: number;
  /** Entries older than this are dropped as new writes arrive (default 10 minutes). */
  maxAgeMs?: number;
}

/** The per-record details a write transaction hands to the history. */
export interface CommittedTx {
  readonly records: readonly StoreRecord[];
  /** Per record: the document replaced or deleted, the collection dropped, the map of a dropped database. */
  readonly befores: readonly unknown[];
  /** Replace records that came from an update with operators (reported as 'update'). */
  readonly updates: ReadonlySet<StoreRecord> | null;
}

export class ChangeHistory {
  /** Distinguishes this run's tokens from those of an earlier run of the store. */
  readonly runId = randomBytes(4).toString('hex');
  readonly capacity: number;
  readonly maxAgeMs: number;
  private readonly ring: (ChangeEntry | undefined)[];
  /** Sequence number of the next entry. */
  next = 0;
  /** Sequence number of the oldest entry still held. */
  oldest = 0;
  /** Cluster time of the last entry (of the start when none yet). */
  lastT: number;
  lastI = 0;
  /** Cluster time (seconds) at the start: the history holds every change from then on. */
  readonly startT: number;
  /** Wakes a waiting getMore; called on every commit that added entries. */
  readonly waiters = new Set<() => void>();

  constructor(opts: ChangeHistoryOptions = {}) {
    this.capacity = Math.max(1, opts.maxEvents ?? 10_000);
    this.maxAgeMs = opts.maxAgeMs ?? 10 * 60_000;
    this.ring = new Array<ChangeEntry | undefined>(this.capacity);
    this.lastT = Math.floor(Date.now() / 1000);
    this.startT = this.lastT;
  }

  /** Records the changes of a transaction whose journal append succeeded. */
  commit(tx: CommittedTx): void {
    const { records, befores, updates } = tx;
    const wall = Date.now();
    const start = this.next;
    for (let k = 0; k < records.length; k++) {
      const r = records[k];
      switch (r.op) {
        case 'insert':
          this.push(wall, 'insert', r.ns, r.doc, undefined, undefined);
          break;
        case 'replace':
          if (updates?.has(r)) this.push(wall, 'update', r.ns, r.doc, befores[k] as Doc, undefined);
          else this.push(wall, 'replace', r.ns, r.doc, undefined, undefined);
          break;
        case 'delete':
          if (befores[k]) this.push(wall, 'delete', r.ns, undefined, undefined, r.id);
          break;
        case 'drop':
          if (befores[k]) this.push(wall, 'drop', r.ns, undefined, undefined, undefined);
          break;
        case 'dropDatabase': {
          const colls = befores[k] as Map<string, Collection> | undefined;
          if (!colls) break;
          for (const name of [...colls.keys()].sort()) {
            this.push(wall, 'drop', `${r.db}.${name}`, undefined, undefined, undefined);
          }
          this.push(wall, 'dropDatabase', r.db, undefined, undefined, undefined);
          break;
        }
        default:
          break; // create, createIndex, dropIndex: no event (as MongoDB without showExpandedEvents)
      }
    }
    if (this.next === start) return;
    this.expire(wall);
    for (const wake of this.waiters) wake();
  }

  private push(
    wall: number,
    op: ChangeOp,
    ns: string,
    doc: Doc | undefined,
    before: Doc | undefined,
    id: unknown,
  ): void {
    const t = Math.floor(wall / 1000);
    if (t > this.lastT) {
      this.lastT = t;
      this.lastI = 1;
    } else {
      this.lastI++;
    }
    const seq = this.next++;
    this.ring[seq % this.capacity] = {
      seq,
      t: this.lastT,
      i: this.lastI,
      wall,
      op,
      ns,
      doc,
      before,
      id,
    };
    if (this.next - this.oldest > this.capacity) this.oldest = this.next - this.capacity;
  }

  private expire(now: number): void {
    while (this.oldest < this.next) {
      const slot = this.oldest % this.capacity;
      const e = this.ring[slot] as ChangeEntry;
      if (now - e.wall <= this.maxAgeMs) break;
      this.ring[slot] = undefined;
      this.oldest++;
    }
  }

  /** The entry with sequence number `seq` (which must lie in [oldest, next)). */
  at(seq: number): ChangeEntry {
    return this.ring[seq % this.capacity] as ChangeEntry;
  }

  /**
   * The cluster time of the last committed change: a read that starts now sees every change at or
   * before it (memory is changed before a change is committed here, never after).
   */
  committed(): Timestamp {
    return new Timestamp({ t: this.lastT, i: this.lastI });
  }

  /** A cluster time no held change has reached: every later change is at or after it. */
  now(): Timestamp {
    return new Timestamp({ t: this.lastT, i: this.lastI + 1 });
  }

  /** The first position whose entry has a cluster time >= ts; null when older than the history. */
  positionAt(ts: Timestamp): number | null {
    // The lowest time from which every change is still held.
    let lowT = this.startT;
    let lowI = 0;
    if (this.oldest > 0) {
      if (this.oldest < this.next) {
        const e = this.at(this.oldest);
        lowT = e.t;
        lowI = e.i;
      } else {
        lowT = this.lastT;
        lowI = this.lastI + 1;
      }
    }
    if (compareTs(ts.t, ts.i, lowT, lowI) < 0) return null;
    for (let seq = this.oldest; seq < this.next; seq++) {
      const e = this.at(seq);
      if (compareTs(e.t, e.i, ts.t, ts.i) >= 0) return seq;
    }
    return this.next;
  }

  /** Wakes every waiting getMore (close). */
  wakeAll(): void {
    for (const wake of this.waiters) wake();
  }

  // Resume tokens -------------------------------------------------------------------------------

  /** The token of position `pos` (the next entry to read), with the cluster time t/i. */
  token(t: number, i: number, pos: number, invalidate = false): { _data: string } {
    return {
      _data: hex(t, 8) + hex(i, 8) + this.runId + hex(pos, 12) + (invalidate ? '01' : '00'),
    };
  }

  /** Parses a token of this run: its position and cluster time; throws 286 for another run's. */
  parseToken(token: unknown): { pos: number; t: number; i: number; invalidate: boolean } {
    const data = (token as { _data?: unknown } | null)?._data;
    if (typeof data !== 'string' || !/^[0-9a-f]{38}$/.test(data)) {
      throw new StoreError(2, 'resume token is not one this store issued (bad format)');
    }
    const t = parseInt(data.slice(0, 8), 16);
    const i = parseInt(data.slice(8, 16), 16);
    const run = data.slice(16, 24);
    const pos = parseInt(data.slice(24, 36), 16);
    const invalidate = data.slice(36) === '01';
    if (run !== this.runId || pos > this.next) {
      throw historyLost('the resume token is from before the store was last started');
    }
    if (pos < this.oldest) throw historyLost('the resume token is older than the change history');
    return { pos, t, i, invalidate };
  }
}

export function historyLost(why: string): StoreError {
  return new StoreError(
    286,
    `Resume of change stream was not possible, as the resume point may no longer be in the oplog: ${why}`,
  );
}

export function compareTs(t1: number, i1: number, t2: number, i2: number): number {
  return t1 !== t2 ? (t1 < t2 ? -1 : 1) : i1 === i2 ? 0 : i1 < i2 ? -1 : 1;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** The event MongoDB would report for an entry (without any fullDocument lookup). */
export function eventOf(history: ChangeHistory, e: ChangeEntry): Doc {
  if (e.event) return e.event;
  const event: Doc = {
    _id: history.token(e.t, e.i, e.seq + 1),
    operationType: e.op,
    clusterTime: new Timestamp({ t: e.t, i: e.i }),
    wallTime: new Date(e.wall),
  };
  if (e.op === 'dropDatabase') {
    event.ns = { db: e.ns };
  } else {
    const [db, coll] = splitNs(e.ns);
    if (e.op === 'insert' || e.op === 'replace') event.fullDocument = e.doc;
    event.ns = { db, coll };
    if (e.op === 'delete') event.documentKey = { _id: e.id };
    else if (e.doc) event.documentKey = { _id: e.doc._id };
    if (e.op === 'update') event.updateDescription = diff(e.before ?? {}, e.doc as Doc);
  }
  e.event = event;
  return event;
}

/** A top-level updateDescription: changed or added fields, removed fields. */
function diff(before: Doc, after: Doc): Doc {
  const updatedFields: Doc = {};
  const removedFields: string[] = [];
  for (const k of Object.keys(after)) {
    if (!Object.prototype.hasOwnProperty.call(before, k) || !sameValue(before[k], after[k])) {
      updatedFields[k] = after[k];
    }
  }
  for (const k of Object.keys(before)) {
    if (!Object.prototype.hasOwnProperty.call(after, k)) removedFields.push(k);
  }
  return { updatedFields, removedFields, truncatedArrays: [] };
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b) return false;
  if (a !== null && b !== null && typeof a === 'object') {
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  }
  return valuesEqual(a, b);
}
