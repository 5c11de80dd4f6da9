import { StoreError } from './errors.js';
import { Index, type IndexSpec } from './indexes.js';
import { formatValue, valueKey, type Doc } from './values.js';

export const idIndexSpec: IndexSpec = { v: 2, key: { _id: 1 }, name: '_id_' };

/**
 * One collection: documents by `_id` (a hash map, in insertion order) plus secondary indexes
 * kept up to date on every change. Documents stored here are never mutated: an update stores
 * a new object, so readers and snapshots can hold references safely.
 */
export class Collection {
  readonly docs = new Map<string, Doc>();
  readonly indexes = new Map<string, Index>();
  /** `_id` in order, for ranges and sorts on `_id` (equality uses the `docs` map). */
  readonly idIndex: Index;

  constructor(
    readonly db: string,
    readonly name: string,
    readonly options: Doc = {},
  ) {
    this.idIndex = new Index(idIndexSpec, this.ns);
  }

  get ns(): string {
    return `${this.db}.${this.name}`;
  }

  idDuplicate(id: unknown): StoreError {
    return new StoreError(
      11000,
      `E11000 duplicate key error collection: ${this.ns} index: _id_ dup key: { _id: ${formatValue(id)} }`,
      { keyPattern: { _id: 1 }, keyValue: { _id: id } },
    );
  }

  /** Throws the error MongoDB would give if `doc` were inserted now; changes nothing. */
  checkInsert(doc: Doc): void {
    const id = valueKey(doc._id);
    if (this.docs.has(id)) throw this.idDuplicate(doc._id);
    for (const index of this.indexes.values()) index.checkUnique(doc, id);
  }

  insert(doc: Doc): void {
    const id = valueKey(doc._id);
    if (this.docs.has(id)) throw this.idDuplicate(doc._id);
    const keys = [...this.indexes.values()].map((index) => index.keysOf(doc));
    let i = 0;
    for (const index of this.indexes.values()) index.checkUnique(doc, id, keys[i++]);
    i = 0;
    for (const index of this.indexes.values()) index.add(doc, id, keys[i++]);
    this.idIndex.add(doc, id);
    this.docs.set(id, doc);
  }

  /** Replaces the stored document having the same `_id` as `doc`; returns the old one. */
  replace(doc: Doc): Doc {
    const id = valueKey(doc._id);
    const old = this.docs.get(id);
    if (!old) throw new StoreError(1, 'replace of a missing document');
    const indexes = [...this.indexes.values()];
    const newKeys = indexes.map((index) => index.keysOf(doc));
    indexes.forEach((index, i) => index.checkUnique(doc, id, newKeys[i]));
    indexes.forEach((index, i) => {
      index.remove(old, id);
      index.add(doc, id, newKeys[i]);
    });
    this.docs.set(id, doc);
    return old;
  }

  /** Removes a document by its id key; returns it (undefined when absent). */
  delete(id: string): Doc | undefined {
    const old = this.docs.get(id);
    if (!old) return undefined;
    for (const index of this.indexes.values()) index.remove(old, id);
    this.idIndex.remove(old, id);
    this.docs.delete(id);
    return old;
  }

  getById(idValue: unknown): Doc | undefined {
    return this.docs.get(valueKey(idValue));
  }

  /** Builds an index over the existing documents; fails without side effect on duplicates. */
  createIndex(spec: IndexSpec): Index {
    const index = new Index(spec, this.ns);
    for (const [id, doc] of this.docs) {
      const keys = index.keysOf(doc);
      index.checkUnique(doc, id, keys);
      index.add(doc, id, keys);
    }
    this.indexes.set(spec.name, index);
    return index;
  }

  dropIndex(name: string): void {
    this.indexes.delete(name);
  }

  indexSpecs(): IndexSpec[] {
    return [idIndexSpec, ...[...this.indexes.values()].map((i) => i.spec)];
  }
}
