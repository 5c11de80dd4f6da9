import type { Document, Timestamp } from 'bson';
import type { Logger } from '../lib/logger.js';
import type { Persistence } from './persistence.js';
import { ChangeHistory, type ChangeHistoryOptions } from './changes.js';
import { Collection } from './collection.js';
import { StoreError } from './errors.js';
import type { IndexSpec } from './indexes.js';
import type { PlanInfo } from './planner.js';
import { normalizeDecoded, splitNs, stateRecords, type StoreRecord } from './records.js';
import { compareValues, typeRank, valueKey, type Doc } from './values.js';

type Undo = () => void;

/** The changes one command makes: applied to memory at once, journaled before the reply. */
export class WriteTx {
  readonly records: StoreRecord[] = [];
  readonly undos: Undo[] = [];
  /** Per record, what it replaced or removed (for the change history; see Engine.before). */
  readonly befores: unknown[] = [];
  /** Replace records made by an update with operators: change streams report them as 'update'. */
  updates: Set<StoreRecord> | null = null;

  constructor(private readonly engine: Engine) {}

  /** Applies a record; `fromUpdate` marks a replace made by update operators (or a pipeline). */
  apply(record: StoreRecord, fromUpdate = false): void {
    const undo = this.engine.apply(record);
    this.records.push(record);
    this.undos.push(undo);
    this.befores.push(this.engine.before);
    if (fromUpdate) (this.updates ??= new Set()).add(record);
  }

  /** The collection, created (implicitly, as MongoDB does on first write) when missing. */
  collection(db: string, name: string): Collection {
    const existing = this.engine.getCollection(db, name);
    if (existing) return existing;
    validateCollectionName(db, name);
    this.apply({ op: 'create', ns: `${db}.${name}`, options: {} });
    return this.engine.getCollection(db, name) as Collection;
  }
}

export function validateCollectionName(db: string, name: string): void {
  if (!db || /[/\\. "$]/.test(db)) throw new StoreError(73, `Invalid database name: '${db}'`);
  if (!name || name.includes('$') || name.startsWith('.') || name.includes('\0')) {
    throw new StoreError(73, `Invalid collection name: ${name}`);
  }
}

export interface EngineOptions {
  logger: Logger;
  slowMs?: number;
  /** Bounds of the change-stream history. */
  changes?: ChangeHistoryOptions;
}

/** The in-memory state of every database, kept durable through a Persistence. */
export class Engine {
  readonly dbs = new Map<string, Map<string, Collection>>();
  readonly logger: Logger;
  /** Last plan per namespace, for tests and explain. */
  readonly lastPlans = new Map<string, PlanInfo>();
  private readonly pending = new Set<Promise<void>>();
  /** Set while a snapshot is being taken: writes wait for it. */
  private compacting: Promise<void> | null = null;
  /** Set until the running compaction has finished writing. */
  private compaction: Promise<void> | null = null;
  private ttlTimer: NodeJS.Timeout | null = null;
  /** Committed changes, for change streams. */
  readonly changes: ChangeHistory;
  /**
   * Set by apply(): the document a replace or delete replaced, the collection a drop removed,
   * the collection map of a dropped database; undefined otherwise. Read by WriteTx right after.
   */
  before: unknown = undefined;

  constructor(
    readonly persistence: Persistence,
    opts: EngineOptions,
  ) {
    this.logger = opts.logger;
    this.changes = new ChangeHistory(opts.changes);
  }

  /** Replays what the persistence holds. */
  async load(): Promise<void> {
    const t0 = performance.now();
    let count = 0;
    for await (const raw of this.persistence.load()) {
      const record = normalizeDecoded(raw) as StoreRecord;
      try {
        this.apply(record);
      } catch (err) {
        // The reason, not the message: a duplicate-key message would quote personal data.
        const reason = err instanceof StoreError ? err.codeName : (err as Error).name;
        throw new Error(
          `store: cannot replay journal record #${count} (${String(record.op)} on ${String(record.op === 'dropDatabase' ? record.db : record.ns)}): ${reason}`,
          { cause: err },
        );
      }
      count++;
    }
    const ms = Math.round(performance.now() - t0);
    this.logger.info({ records: count, ms, ...this.counts() }, 'store: replayed journal');
  }

  counts(): { collections: number; documents: number } {
    let collections = 0;
    let documents = 0;
    for (const colls of this.dbs.values()) {
      for (const c of colls.values()) {
        collections++;
        documents += c.docs.size;
      }
    }
    return { collections, documents };
  }

  getCollection(db: string, name: string): Collection | undefined {
    return this.dbs.get(db)?.get(name);
  }

  collections(db: string): Collection[] {
    return [...(this.dbs.get(db)?.values() ?? [])];
  }

  /** Applies one record to memory; returns how to undo it. Throws without side effect. */
  apply(record: StoreRecord): Undo {
    this.before = undefined;
    switch (record.op) {
      case 'create': {
        const [db, name] = splitNs(record.ns);
        if (this.getCollection(db, name)) {
          throw new StoreError(48, `Collection ${record.ns} already exists.`);
        }
        let colls = this.dbs.get(db);
        if (!colls) {
          colls = new Map();
          this.dbs.set(db, colls);
        }
        colls.set(name, new Collection(db, name, record.options ?? {}));
        return () => this.removeCollection(db, name);
      }
      case 'drop': {
        const [db, name] = splitNs(record.ns);
        const coll = this.getCollection(db, name);
        if (!coll) return () => {};
        this.removeCollection(db, name);
        this.before = coll;
        return () => this.restoreCollection(coll);
      }
      case 'dropDatabase': {
        const colls = this.dbs.get(record.db);
        this.dbs.delete(record.db);
        this.before = colls;
        return () => {
          if (colls) this.dbs.set(record.db, colls);
        };
      }
      case 'insert': {
        const coll = this.mustGet(record.ns);
        coll.insert(record.doc);
        return () => coll.delete(valueKey(record.doc._id));
      }
      case 'replace': {
        const coll = this.mustGet(record.ns);
        const old = coll.replace(record.doc);
        this.before = old;
        return () => coll.replace(old);
      }
      case 'delete': {
        const coll = this.mustGet(record.ns);
        const old = coll.delete(valueKey(record.id));
        this.before = old;
        return () => {
          if (old) coll.insert(old);
        };
      }
      case 'createIndex': {
        const coll = this.mustGet(record.ns);
        coll.createIndex(record.spec);
        return () => coll.dropIndex(record.spec.name);
      }
      case 'dropIndex': {
        const coll = this.mustGet(record.ns);
        const index = coll.indexes.get(record.name);
        coll.dropIndex(record.name);
        return () => {
          if (index) coll.createIndex(index.spec);
        };
      }
      default:
        throw new StoreError(1, `unknown journal record op ${String((record as Doc).op)}`);
    }
  }

  private mustGet(ns: string): Collection {
    const [db, name] = splitNs(ns);
    const coll = this.getCollection(db, name);
    if (!coll) throw new StoreError(26, `ns does not exist: ${ns}`);
    return coll;
  }

  private removeCollection(db: string, name: string): void {
    const colls = this.dbs.get(db);
    colls?.delete(name);
    if (colls && colls.size === 0) this.dbs.delete(db);
  }

  private restoreCollection(coll: Collection): void {
    let colls = this.dbs.get(coll.db);
    if (!colls) {
      colls = new Map();
      this.dbs.set(coll.db, colls);
    }
    colls.set(coll.name, coll);
  }

  /**
   * Runs `fn` (which changes memory synchronously through the transaction), then journals its
   * records; resolves once they are durable. On a journal failure the changes are undone.
   */
  async write<T>(fn: (tx: WriteTx) => T): Promise<T> {
    return (await this.writeAt(fn)).result;
  }

  /**
   * write(), and the cluster time of the state it left, as a replica set's write reply carries it
   * (operationTime): its own last change, taken as it commits, before any later write can commit
   * (writes commit in the order they ran, so every change at or before that time is one the
   * write saw or made). A write that changed nothing gives the time of the state it read.
   */
  async writeAt<T>(fn: (tx: WriteTx) => T): Promise<{ result: T; at: Timestamp }> {
    while (this.compacting) await this.compacting;
    const tx = new WriteTx(this);
    let result: T;
    try {
      result = fn(tx);
    } catch (err) {
      for (const undo of tx.undos.reverse()) undo();
      throw err;
    }
    if (tx.records.length === 0) return { result, at: this.changes.committed() };
    const appended = this.persistence.append(tx.records);
    this.pending.add(appended);
    try {
      await appended;
    } catch (err) {
      for (const undo of tx.undos.reverse()) undo();
      this.logger.error({ err: (err as Error).message }, 'store: journal append failed');
      throw new StoreError(1, `could not write to the journal: ${(err as Error).message}`);
    } finally {
      this.pending.delete(appended);
    }
    this.changes.commit(tx);
    const at = this.changes.committed();
    this.maybeCompact();
    return { result, at };
  }

  /**
   * Starts a compaction when the persistence asks for one. Writes wait only while the snapshot
   * is taken: the persistence consumes the state synchronously inside compact() and journals
   * later appends in a new generation, so writing may resume as soon as compact() is called.
   */
  private maybeCompact(): void {
    if (this.compacting || this.compaction || !this.persistence.wantsCompaction()) return;
    let release = (): void => {};
    this.compacting = new Promise<void>((resolve) => (release = resolve));
    this.compaction = (async () => {
      try {
        await Promise.allSettled([...this.pending]);
        const t0 = performance.now();
        let records = 0;
        const state = this.snapshot();
        const counted = (function* () {
          for (const r of state) {
            records++;
            yield r;
          }
        })();
        let done: Promise<void>;
        try {
          done = this.persistence.compact(counted);
        } finally {
          this.compacting = null;
          release();
        }
        await done;
        const ms = Math.round(performance.now() - t0);
        this.logger.info(
          { ...this.persistence.stats(), snapshotRecords: records, ms },
          'store: compacted journal',
        );
      } catch (err) {
        this.logger.error({ err: (err as Error).message }, 'store: compaction failed');
      } finally {
        this.compacting = null;
        release();
        this.compaction = null;
      }
    })();
  }

  /** Full-state records (see records.ts). */
  snapshot(): Generator<Document> {
    const all: Collection[] = [];
    for (const colls of this.dbs.values()) all.push(...colls.values());
    return stateRecords(
      all.map((c) => ({
        ns: c.ns,
        options: c.options,
        indexes: [...c.indexes.values()].map((i) => i.spec),
        docs: [...c.docs.values()],
      })),
    );
  }

  startTtl(intervalMs: number): void {
    this.ttlTimer = setInterval(() => {
      this.expire().catch((err: unknown) =>
        this.logger.error({ err: (err as Error).message }, 'store: TTL pass failed'),
      );
    }, intervalMs);
    this.ttlTimer.unref();
  }

  /** Deletes documents whose TTL index date is older than expireAfterSeconds. */
  async expire(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const colls of [...this.dbs.values()]) {
      for (const coll of [...colls.values()]) {
        for (const index of coll.indexes.values()) {
          const secs = index.spec.expireAfterSeconds;
          if (typeof secs !== 'number' || index.fields.length !== 1) continue;
          const cutoff = new Date(now - secs * 1000);
          const dir = index.dirs[0];
          const ids = new Set<string>();
          for (const id of index.scan((k) => {
            const r = typeRank(k[0]);
            if (r !== 10) return (r < 10 ? -1 : 1) * dir;
            return (compareValues(k[0], cutoff) < 0 ? 0 : 1) * dir;
          }, dir < 0)) {
            ids.add(id);
          }
          if (ids.size === 0) continue;
          await this.write((tx) => {
            for (const id of ids) {
              const doc = coll.docs.get(id);
              if (doc && this.getCollection(coll.db, coll.name) === coll) {
                tx.apply({ op: 'delete', ns: coll.ns, id: doc._id });
              }
            }
          });
          removed += ids.size;
          this.logger.info(
            { ns: coll.ns, index: index.name, removed: ids.size },
            'store: TTL expiry',
          );
        }
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    if (this.ttlTimer) clearInterval(this.ttlTimer);
    while (this.compacting) await this.compacting;
    if (this.compaction) await this.compaction;
    await Promise.allSettled([...this.pending]);
    await this.persistence.close();
  }
}

export type { IndexSpec };
