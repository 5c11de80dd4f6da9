import type { Collection } from './collection.js';
import { StoreError } from './errors.js';
import type { Index, KeyRelation } from './indexes.js';
import type { Matcher } from './matcher.js';
import { compareValues, isPlainObject, typeRank, valueKey, type Doc } from './values.js';
import { sortDocs, type SortSpec } from './paths.js';

/*
 * A small query planner. From the filter's top-level conditions (and those of a top-level
 * $and) it picks the index that narrows the candidates most — equality prefix, then $in or a
 * range on the next field — and whether that index also yields the requested sort order.
 * Candidates are always re-checked against the full filter, so a plan only changes speed.
 */

interface Bound {
  v: unknown;
  incl: boolean;
}

interface FieldCondition {
  eq?: { v: unknown };
  in?: unknown[];
  lo?: Bound;
  hi?: Bound;
}

/** What the planner chose, for explain, logs and tests. */
export interface PlanInfo {
  stage: 'IDHACK' | 'IXSCAN' | 'COLLSCAN';
  indexName?: string;
  sortedByIndex: boolean;
  docsExamined: number;
  keysExamined: number;
  nReturned: number;
}

function usableEquality(v: unknown): boolean {
  if (Array.isArray(v) || v instanceof RegExp) return false;
  if (isPlainObject(v)) return !Object.keys(v).some((k) => k.startsWith('$'));
  return true;
}

function collectConditions(filter: Doc, out: Map<string, FieldCondition>): void {
  for (const field of Object.keys(filter)) {
    const value = filter[field];
    if (field === '$and' && Array.isArray(value)) {
      for (const sub of value) if (isPlainObject(sub)) collectConditions(sub, out);
      continue;
    }
    if (field.startsWith('$')) continue;
    const cond = out.get(field) ?? {};
    if (isPlainObject(value) && Object.keys(value).some((k) => k.startsWith('$'))) {
      if ('$eq' in value && usableEquality(value.$eq)) cond.eq = { v: value.$eq };
      if (Array.isArray(value.$in) && value.$in.every(usableEquality)) cond.in = value.$in;
      if ('$gt' in value) cond.lo = { v: value.$gt, incl: false };
      if ('$gte' in value) cond.lo = { v: value.$gte, incl: true };
      if ('$lt' in value) cond.hi = { v: value.$lt, incl: false };
      if ('$lte' in value) cond.hi = { v: value.$lte, incl: true };
    } else if (usableEquality(value)) {
      cond.eq = { v: value };
    }
    out.set(field, cond);
  }
}

function rangePosition(v: unknown, lo?: Bound, hi?: Bound): number {
  const ref = (lo ?? hi) as Bound;
  const rv = typeRank(v);
  const rr = typeRank(ref.v);
  if (rv !== rr) return rv < rr ? -1 : 1;
  if (lo) {
    const c = compareValues(v, lo.v);
    if (c < 0 || (c === 0 && !lo.incl)) return -1;
  }
  if (hi) {
    const c = compareValues(v, hi.v);
    if (c > 0 || (c === 0 && !hi.incl)) return 1;
  }
  return 0;
}

interface Candidate {
  index: Index;
  score: number;
  regions: KeyRelation[];
  reverse: boolean;
  sorted: boolean;
}

/** Whether scanning `index` from field `from` on yields `sort`; +1 forward, -1 backward, 0 no. */
function sortDirection(index: Index, sort: SortSpec, from: number): number {
  if (sort.length === 0 || index.multikey || index.sparse || index.isPartial) return 0;
  if (from + sort.length > index.fields.length) return 0;
  let dir = 0;
  for (let i = 0; i < sort.length; i++) {
    if (sort[i][0] !== index.fields[from + i]) return 0;
    const d = sort[i][1] * index.dirs[from + i];
    if (dir === 0) dir = d;
    else if (d !== dir) return 0;
  }
  return dir;
}

function planIndex(
  index: Index,
  conds: Map<string, FieldCondition>,
  sort: SortSpec,
): Candidate | null {
  if (index.isPartial) return null;
  const prefix: unknown[] = [];
  let pos = 0;
  for (; pos < index.fields.length; pos++) {
    const c = conds.get(index.fields[pos]);
    if (!c?.eq) break;
    if (index.sparse && c.eq.v === null) return null;
    prefix.push(c.eq.v);
  }
  const eqCount = prefix.length;
  const next = pos < index.fields.length ? conds.get(index.fields[pos]) : undefined;
  const dirs = index.dirs;
  const prefixRel = (k: unknown[], values: unknown[]): number => {
    for (let i = 0; i < values.length; i++) {
      const c = compareValues(k[i], values[i]) * dirs[i];
      if (c) return c;
    }
    return 0;
  };
  let regions: KeyRelation[];
  let score = eqCount * 4;
  let contiguous = true;
  let sortFrom = eqCount;
  if (next?.in && next.in.length > 0 && !(index.sparse && next.in.includes(null))) {
    const points = [...next.in].sort((a, b) => compareValues(a, b) * dirs[pos]);
    // Equalities on the fields after the $in narrow each point further: {userId: {$in}, programId}
    // on (userId, programId) is a handful of exact keys, not every key of those users.
    const tail: unknown[] = [];
    for (let q = pos + 1; q < index.fields.length; q++) {
      const c = conds.get(index.fields[q]);
      if (!c?.eq || (index.sparse && c.eq.v === null)) break;
      tail.push(c.eq.v);
    }
    regions = points.map((p) => (k: unknown[]) => prefixRel(k, [...prefix, p, ...tail]));
    score += 3 + tail.length * 4;
    contiguous = points.length === 1;
    sortFrom = pos + 1 + tail.length;
  } else if (next && (next.lo || next.hi)) {
    const lo = next.lo;
    // A multikey range must not intersect both bounds: different elements may satisfy each.
    const hi = index.multikey && lo ? undefined : next.hi;
    if (index.sparse && (lo?.v === null || hi?.v === null)) return null;
    const d = dirs[pos];
    regions = [(k) => prefixRel(k, prefix) || rangePosition(k[pos], lo, hi) * d];
    score += 1;
  } else if (eqCount > 0) {
    regions = [(k) => prefixRel(k, prefix)];
  } else {
    return null;
  }
  if (index.unique && eqCount === index.fields.length) score += 100;
  let sortDir = 0;
  if (contiguous) {
    sortDir =
      sortDirection(index, sort, 0) ||
      sortDirection(index, sort, eqCount) ||
      sortDirection(index, sort, sortFrom);
  }
  if (sortDir) score += 1;
  return { index, score, regions, reverse: sortDir < 0, sorted: sortDir !== 0 };
}

export interface QueryOptions {
  filter: Doc;
  matcher: Matcher;
  sort: SortSpec;
  skip?: number;
  /** 0 or undefined: no limit. */
  limit?: number;
  /** An index name or key pattern, or `{ $natural: ±1 }`: the plan is not chosen but given. */
  hint?: unknown;
}

/** The index a hint names; 'natural' for `{ $natural: ±1 }`; code 2 when there is none. */
function hintedIndex(coll: Collection, hint: unknown): Index | 'natural' | 'reverse' {
  const all = [coll.idIndex, ...coll.indexes.values()].filter((i) => !i.hidden);
  let found: Index | undefined;
  if (typeof hint === 'string') found = all.find((i) => i.name === hint);
  else if (isPlainObject(hint)) {
    const keys = Object.keys(hint);
    if (keys.length === 1 && keys[0] === '$natural')
      return Number(hint.$natural) < 0 ? 'reverse' : 'natural';
    const pattern = valueKey(
      Object.fromEntries(keys.map((k) => [k, Number(hint[k]) < 0 ? -1 : 1])),
    );
    found = all.find(
      (i) => valueKey(Object.fromEntries(i.fields.map((f, n) => [f, i.dirs[n]]))) === pattern,
    );
  }
  if (!found)
    throw new StoreError(
      2,
      'error processing query: planner returned error :: caused by :: hint provided does not correspond to an existing index',
    );
  return found;
}

function idLookups(filter: Doc): unknown[] | null {
  if (!('_id' in filter)) return null;
  const v = filter._id;
  if (isPlainObject(v) && Object.keys(v).some((k) => k.startsWith('$'))) {
    const keys = Object.keys(v);
    if (keys.length === 1 && '$eq' in v && usableEquality(v.$eq)) return [v.$eq];
    if (keys.length === 1 && Array.isArray(v.$in) && v.$in.every(usableEquality))
      return v.$in as unknown[];
    return null;
  }
  return usableEquality(v) ? [v] : null;
}

/** The plan of a query that has examined nothing yet (or has no collection to read). */
export function emptyPlan(): PlanInfo {
  return {
    stage: 'COLLSCAN',
    sortedByIndex: false,
    docsExamined: 0,
    keysExamined: 0,
    nReturned: 0,
  };
}

/** Finds the documents matching a query, in sort order, honouring skip and limit. */
export function runQuery(coll: Collection, q: QueryOptions): { docs: Doc[]; plan: PlanInfo } {
  const plan = emptyPlan();
  let source: Iterable<Doc>;
  let sorted = q.sort.length === 0;

  const hinted = q.hint === undefined ? null : hintedIndex(coll, q.hint);
  const ids = hinted ? null : idLookups(q.filter);
  if (hinted === 'natural' || hinted === 'reverse') {
    plan.stage = 'COLLSCAN';
    source = hinted === 'natural' ? coll.docs.values() : [...coll.docs.values()].reverse();
  } else if (ids) {
    plan.stage = 'IDHACK';
    const seen = new Set<string>();
    const found: Doc[] = [];
    for (const v of ids) {
      const key = valueKey(v);
      if (seen.has(key)) continue;
      seen.add(key);
      plan.keysExamined++;
      const doc = coll.docs.get(key);
      if (doc) found.push(doc);
    }
    source = found;
  } else {
    const conds = new Map<string, FieldCondition>();
    collectConditions(q.filter, conds);
    let best: Candidate | null = null;
    if (hinted) {
      // A hinted index is scanned whole when the filter does not bound it, in its own order.
      const dir = sortDirection(hinted, q.sort, 0);
      best = planIndex(hinted, conds, q.sort) ?? {
        index: hinted,
        score: 0,
        regions: [() => 0],
        reverse: dir < 0,
        sorted: dir !== 0 || q.sort.length === 0,
      };
    } else {
      for (const index of [coll.idIndex, ...coll.indexes.values()]) {
        if (index.hidden) continue;
        const c = planIndex(index, conds, q.sort);
        if (c && (!best || c.score > best.score)) best = c;
      }
    }
    if (!best && q.sort.length > 0) {
      for (const index of [coll.idIndex, ...coll.indexes.values()]) {
        if (index.hidden) continue;
        const dir = sortDirection(index, q.sort, 0);
        if (dir) {
          best = { index, score: 0, regions: [() => 0], reverse: dir < 0, sorted: true };
          break;
        }
      }
    }
    if (best) {
      const chosen = best;
      plan.stage = 'IXSCAN';
      plan.indexName = chosen.index.name;
      plan.sortedByIndex = chosen.sorted && !sorted;
      sorted = sorted || chosen.sorted;
      source = (function* () {
        const seen = new Set<string>();
        for (const region of chosen.regions) {
          for (const id of chosen.index.scan(region, chosen.reverse)) {
            plan.keysExamined++;
            if (seen.has(id)) continue;
            seen.add(id);
            const doc = coll.docs.get(id);
            if (doc) yield doc;
          }
        }
      })();
    } else {
      source = coll.docs.values();
    }
  }

  const skip = q.skip ?? 0;
  const limit = q.limit ?? 0;
  const out: Doc[] = [];
  if (sorted) {
    let skipped = 0;
    for (const doc of source) {
      plan.docsExamined++;
      if (!q.matcher(doc)) continue;
      if (skipped < skip) {
        skipped++;
        continue;
      }
      out.push(doc);
      if (limit > 0 && out.length >= limit) break;
    }
    plan.nReturned = out.length;
    return { docs: out, plan };
  }
  for (const doc of source) {
    plan.docsExamined++;
    if (q.matcher(doc)) out.push(doc);
  }
  sortDocs(out, q.sort);
  const docs = limit > 0 ? out.slice(skip, skip + limit) : skip > 0 ? out.slice(skip) : out;
  plan.nReturned = docs.length;
  return { docs, plan };
}
