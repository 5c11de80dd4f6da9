import { DBRef, Int32, Double, Long, Timestamp, type Document } from 'bson';
import type { IndexSpec } from './indexes.js';
import type { Doc } from './values.js';

/**
 * The journal's record vocabulary: every change the engine makes is one of these BSON
 * documents, appended to the Persistence before the write is acknowledged. Replaying them in
 * order from nothing rebuilds the state. `ns` is "<db>.<collection>".
 *
 *   { op: 'create',       ns, options }   create a collection (options as given to `create`)
 *   { op: 'drop',         ns }            drop a collection with its documents and indexes
 *   { op: 'dropDatabase', db }            drop every collection of a database
 *   { op: 'insert',       ns, doc }       insert a document (a full document with its _id)
 *   { op: 'replace',      ns, doc }       replace the document having doc._id by doc
 *   { op: 'delete',       ns, id }        delete the document whose _id is id
 *   { op: 'createIndex',  ns, spec }      build a secondary index ({ v, key, name, unique, … })
 *   { op: 'dropIndex',    ns, name }      drop a secondary index by name
 *
 * A snapshot (see `stateRecords`) uses the same vocabulary: per collection one `create`, its
 * `createIndex` records, then one `insert` per document.
 */
export type StoreRecord =
  | { op: 'create'; ns: string; options: Doc }
  | { op: 'drop'; ns: string }
  | { op: 'dropDatabase'; db: string }
  | { op: 'insert'; ns: string; doc: Doc }
  | { op: 'replace'; ns: string; doc: Doc }
  | { op: 'delete'; ns: string; id: unknown }
  | { op: 'createIndex'; ns: string; spec: IndexSpec }
  | { op: 'dropIndex'; ns: string; name: string };

export interface CollectionState {
  ns: string;
  options: Doc;
  indexes: IndexSpec[];
  docs: Iterable<Doc>;
}

/** The records that rebuild the given state from nothing (for compaction snapshots). */
export function* stateRecords(collections: Iterable<CollectionState>): Generator<Document> {
  for (const c of collections) {
    yield { op: 'create', ns: c.ns, options: c.options };
    for (const spec of c.indexes) yield { op: 'createIndex', ns: c.ns, spec };
    for (const doc of c.docs) yield { op: 'insert', ns: c.ns, doc };
  }
}

/**
 * Brings decoded BSON to the engine's in-memory form (see values.ts) whatever options it was
 * decoded with: Long → bigint, Int32 → number, Double → number unless its value is integral
 * (then it stays a Double, or it would come back as an int32). Timestamp (a Long subclass in
 * bson) stays a Timestamp.
 */
export function normalizeDecoded<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Long) return (v instanceof Timestamp ? v : v.toBigInt()) as T;
  if (v instanceof Int32) return v.valueOf() as T;
  if (v instanceof Double) return (Number.isInteger(v.value) ? v : v.value) as T;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = normalizeDecoded(v[i] as unknown);
    return v;
  }
  // A DBRef is a document { $ref, $id, $db? , … } in BSON: held as one, so that queries on
  // `field.$id` see it (it goes back to the driver the same way).
  if (v instanceof DBRef) {
    const ref: Record<string, unknown> = { $ref: v.collection, $id: normalizeDecoded(v.oid) };
    if (v.db) ref.$db = v.db;
    for (const k of Object.keys(v.fields)) ref[k] = normalizeDecoded(v.fields[k] as unknown);
    return ref as T;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto === Object.prototype || proto === null) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = normalizeDecoded(o[k]);
  }
  return v;
}

export function splitNs(ns: string): [string, string] {
  const dot = ns.indexOf('.');
  return [ns.slice(0, dot), ns.slice(dot + 1)];
}
