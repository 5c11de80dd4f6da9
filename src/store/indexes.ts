import { StoreError } from './errors.js';
import { compileFilter, type Matcher } from './matcher.js';
import { SortedList } from './sorted-list.js';
import { compareValues, formatValue, valueKey, type Doc } from './values.js';
import { valuesAtPath } from './paths.js';

/** An index as listIndexes shows it and as the journal records it. */
export interface IndexSpec {
  v?: number;
  key: Record<string, number | string>;
  name: string;
  unique?: boolean;
  sparse?: boolean;
  partialFilterExpression?: Doc;
  expireAfterSeconds?: number;
  [option: string]: unknown;
}

interface Entry {
  k: unknown[];
  id: string;
}

/**
 * Position of an index key relative to a searched region, in index order:
 * negative before it, 0 inside, positive after it.
 */
export type KeyRelation = (key: unknown[]) => number;

/**
 * A secondary index: a sorted array of (key tuple, document id) entries, searched by binary
 * search. Keys of array fields are expanded (multikey); missing fields index as null unless
 * the index is sparse; partial indexes hold only the documents matching their filter.
 */
export class Index {
  readonly spec: IndexSpec;
  readonly fields: string[];
  readonly dirs: number[];
  private readonly paths: string[][];
  private readonly partial: Matcher | null;
  private readonly entries = new SortedList<Entry>();
  /** True once any document put an array into the key (sorts cannot use the index then). */
  multikey = false;

  constructor(
    spec: IndexSpec,
    private readonly ns: string,
  ) {
    this.spec = spec;
    this.fields = Object.keys(spec.key);
    this.paths = this.fields.map((f) => f.split('.'));
    this.dirs = this.fields.map((f) => (Number(spec.key[f]) < 0 ? -1 : 1));
    this.partial = spec.partialFilterExpression
      ? compileFilter(spec.partialFilterExpression)
      : null;
  }

  get name(): string {
    return this.spec.name;
  }

  get size(): number {
    return this.entries.size;
  }

  get unique(): boolean {
    return this.spec.unique === true;
  }

  get sparse(): boolean {
    return this.spec.sparse === true;
  }

  /** Hidden (collMod or createIndex `hidden`): maintained, but not used by the planner. */
  get hidden(): boolean {
    return this.spec.hidden === true;
  }

  get isPartial(): boolean {
    return this.partial !== null;
  }

  /** The key tuples of a document, or an empty list when the index does not hold it. */
  keysOf(doc: Doc): unknown[][] {
    if (this.partial && !this.partial(doc)) return [];
    const perField: unknown[][] = [];
    let present = false;
    let arrayField = -1;
    for (let i = 0; i < this.paths.length; i++) {
      const found = valuesAtPath(doc, this.paths[i]);
      if (found.length > 0) present = true;
      const values: unknown[] = [];
      for (const v of found) {
        if (Array.isArray(v) && this.spec.key[this.fields[i]] === 'hashed') {
          throw new StoreError(
            16766,
            'Error: hashed indexes do not currently support array values',
          );
        }
        if (Array.isArray(v)) {
          if (arrayField >= 0 && arrayField !== i) {
            throw new StoreError(
              171,
              `cannot index parallel arrays [${this.fields[i]}] [${this.fields[arrayField]}]`,
            );
          }
          arrayField = i;
          if (v.length === 0) values.push(undefined);
          else values.push(...(v as unknown[]));
        } else {
          values.push(v);
        }
      }
      if (found.length > 1) arrayField = arrayField < 0 ? i : arrayField;
      perField.push(values.length ? values : [null]);
    }
    if (this.sparse && !present) return [];
    if (arrayField >= 0) this.multikey = true;
    let tuples: unknown[][] = [[]];
    for (const values of perField) {
      const next: unknown[][] = [];
      for (const t of tuples) for (const v of values) next.push([...t, v]);
      tuples = next;
    }
    if (tuples.length > 1) {
      const seen = new Set<string>();
      tuples = tuples.filter((t) => {
        const k = valueKey(t);
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      });
    }
    return tuples;
  }

  private compareKeys(a: unknown[], b: unknown[]): number {
    for (let i = 0; i < a.length; i++) {
      const c = compareValues(a[i], b[i]);
      if (c) return c * this.dirs[i];
    }
    return 0;
  }

  private compareEntries(a: Entry, b: Entry): number {
    return this.compareKeys(a.k, b.k) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  /** Checks that `doc` (with id `id`) would not duplicate another document's key. */
  checkUnique(doc: Doc, id: string, keys = this.keysOf(doc)): void {
    if (!this.unique) return;
    for (const k of keys) {
      const rel: KeyRelation = (x) => this.compareKeys(x, k);
      for (const e of this.entries.from(this.entries.lowerBound((x) => rel(x.k) >= 0))) {
        if (rel(e.k) !== 0) break;
        if (e.id !== id) throw this.duplicateError(k);
      }
    }
  }

  duplicateError(k: unknown[]): StoreError {
    const keyValue: Doc = {};
    this.fields.forEach((f, i) => (keyValue[f] = k[i] === undefined ? null : k[i]));
    const shown = this.fields.map((f) => `${f}: ${formatValue(keyValue[f])}`).join(', ');
    const msg = `E11000 duplicate key error collection: ${this.ns} index: ${this.name} dup key: { ${shown} }`;
    return new StoreError(11000, msg, {
      keyPattern: { ...this.spec.key },
      keyValue,
    });
  }

  add(doc: Doc, id: string, keys = this.keysOf(doc)): void {
    for (const k of keys) {
      const e = { k, id };
      this.entries.insert(e, (x) => this.compareEntries(x, e) >= 0);
    }
  }

  remove(doc: Doc, id: string, keys = this.keysOf(doc)): void {
    for (const k of keys) {
      const e = { k, id };
      const at = this.entries.lowerBound((x) => this.compareEntries(x, e) >= 0);
      const found = this.entries.at(at);
      if (found && this.compareEntries(found, e) === 0) this.entries.removeAt(at);
    }
  }

  clear(): void {
    this.entries.clear();
    this.multikey = false;
  }

  /** Ids of the entries inside a region, in index order (or reversed), possibly repeated. */
  *scan(rel: KeyRelation, reverse = false): Generator<string> {
    const entries = reverse
      ? this.entries.before(this.entries.lowerBound((x) => rel(x.k) >= 1))
      : this.entries.from(this.entries.lowerBound((x) => rel(x.k) >= 0));
    for (const e of entries) {
      if (rel(e.k) !== 0) return;
      yield e.id;
    }
  }

  /** Every id in index order (or reversed). */
  *all(reverse = false): Generator<string> {
    const entries = reverse ? this.entries.before([Infinity, 0]) : this.entries.from([0, 0]);
    for (const e of entries) yield e.id;
  }
}

/** The default name MongoDB gives an index: `a_1_b_-1`. */
export function defaultIndexName(key: Record<string, unknown>): string {
  return Object.keys(key)
    .map((k) => `${k}_${String(key[k])}`)
    .join('_');
}
