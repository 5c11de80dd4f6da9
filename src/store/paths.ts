import { compareValues, toNumber, isPlainObject, type Doc } from './values.js';

/** Dotted paths into documents, and sorting by them, with MongoDB's array semantics. */

/**
 * Values found at a dotted path, MongoDB style: arrays met on the way are traversed element
 * by element (or indexed by a numeric component). Terminal arrays are returned as is.
 */
export function valuesAtPath(doc: unknown, path: string[], from = 0): unknown[] {
  if (from === path.length) return [doc];
  if (Array.isArray(doc)) {
    const part = path[from];
    const out: unknown[] = [];
    if (/^\d+$/.test(part)) {
      const el: unknown = doc[Number(part)];
      if (el !== undefined) out.push(...valuesAtPath(el, path, from + 1));
    }
    for (const el of doc) {
      if (el !== null && typeof el === 'object' && !Array.isArray(el)) {
        out.push(...valuesAtPath(el, path, from));
      }
    }
    return out;
  }
  if (doc === null || typeof doc !== 'object') return [];
  const next = (doc as Doc)[path[from]];
  if (next === undefined) return [];
  return valuesAtPath(next, path, from + 1);
}

/** Value at a dotted path without array traversal (undefined when absent). */
export function getPath(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Doc)[part];
  }
  return cur;
}

/** Sets a dotted path, creating plain objects on the way. */
export function setPath(doc: Doc, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur: Doc = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = cur[parts[i]];
    if (next === null || typeof next !== 'object') {
      const created: Doc = {};
      cur[parts[i]] = created;
      cur = created;
    } else {
      cur = next as Doc;
    }
  }
  cur[parts[parts.length - 1]] = value;
}

/** Sort key of a field for one direction: arrays sort by their smallest (asc) or largest (desc) element. */
function sortKey(doc: Doc, path: string, dir: number): unknown {
  const vals = valuesAtPath(doc, path.split('.'));
  let best: unknown = undefined;
  let found = false;
  for (const raw of vals) {
    const items = Array.isArray(raw) ? (raw.length ? raw : [undefined]) : [raw];
    for (const v of items) {
      if (!found || (dir > 0 ? compareValues(v, best) < 0 : compareValues(v, best) > 0)) {
        best = v;
        found = true;
      }
    }
  }
  return best ?? null;
}

export type SortSpec = [string, number][];

export function parseSort(sort: unknown): SortSpec {
  if (!isPlainObject(sort)) return [];
  return Object.keys(sort).map((k) => {
    const d = sort[k];
    return [k, isPlainObject(d) ? 1 : toNumber(d) < 0 ? -1 : 1] as [string, number];
  });
}

/** Sorts documents in place by a MongoDB sort specification. */
export function sortDocs(docs: Doc[], spec: SortSpec): Doc[] {
  if (spec.length === 0) return docs;
  const keyed = docs.map((d) => ({ d, k: spec.map(([p, dir]) => sortKey(d, p, dir)) }));
  keyed.sort((x, y) => {
    for (let i = 0; i < spec.length; i++) {
      const c = compareValues(x.k[i], y.k[i]);
      if (c) return c * spec[i][1];
    }
    return 0;
  });
  for (let i = 0; i < keyed.length; i++) docs[i] = keyed[i].d;
  return docs;
}
