import { Long } from 'bson';
import { Context } from 'mingo';
import { Aggregator } from 'mingo/aggregator';
import * as accumulatorOperators from 'mingo/operators/accumulator';
import * as expressionOperators from 'mingo/operators/expression';
import * as pipelineOperators from 'mingo/operators/pipeline';
import * as projectionOperators from 'mingo/operators/projection';
import * as queryOperators from 'mingo/operators/query';
import * as windowOperators from 'mingo/operators/window';
import { Query } from 'mingo/query';
import { Lazy, type Iterator } from 'mingo/lazy';
import { flatten, resolve } from 'mingo/util';
import type { Options } from 'mingo/types';
import { StoreError, notSupported, toStoreError } from './errors.js';
import { $avg, $max, $min, $sum } from './numeric.js';
import {
  bsonTypeName,
  compareValues,
  isPlainObject,
  toNumber,
  typeRank,
  valuesEqual,
  type Doc,
} from './values.js';
import { parseSort, sortDocs } from './paths.js';

/*
 * mingo does the query, update and aggregation semantics. Its comparison operators compare
 * values of different JS types by type name, which is wrong for int64 (bigint) and Decimal128
 * against numbers; they are replaced here by versions using MongoDB's numeric-aware order.
 */

type Pred = (o: unknown) => boolean;

function depthOf(selector: string): number {
  let depth = 0;
  for (const ch of selector) if (ch === '.') depth++;
  return depth;
}

function eqPred(a: unknown, b: unknown, depth: number): boolean {
  if (valuesEqual(a, b)) return true;
  if (Array.isArray(a)) {
    if (a.some((v) => valuesEqual(v, b))) return true;
    return flatten(a, depth).some((v) => valuesEqual(v, b));
  }
  return false;
}

function inPred(a: unknown, list: unknown[]): boolean {
  if (!Array.isArray(list)) throw new StoreError(2, '$in needs an array');
  if (a === undefined || a === null) return list.some((v) => v === null);
  const values = Array.isArray(a) ? a : [a];
  for (const b of list) {
    if (b instanceof RegExp) {
      if (values.some((v) => typeof v === 'string' && b.test(v))) return true;
    } else if (values.some((v) => valuesEqual(v, b)) || valuesEqual(a, b)) {
      return true;
    }
  }
  return false;
}

function rangePred(test: (c: number) => boolean) {
  return (a: unknown, b: unknown): boolean => {
    const rb = typeRank(b);
    for (const v of Array.isArray(a) ? a : [a]) {
      if (typeRank(v) === rb && test(compareValues(v, b))) return true;
    }
    return false;
  };
}

/**
 * mingo's Query JSON-stringifies its condition (an error message built eagerly), which throws
 * on bigint: int64 values in filters travel through mingo as Long and are turned back here.
 */
export function hideBigInts<T>(v: T): T {
  if (typeof v === 'bigint') return Long.fromBigInt(v) as T;
  if (Array.isArray(v)) return v.map(hideBigInts) as T;
  if (isPlainObject(v)) {
    const out: Doc = {};
    for (const k of Object.keys(v)) out[k] = hideBigInts(v[k]);
    return out as T;
  }
  return v;
}

/** hideBigInts for every $match of a pipeline, sub-pipelines ($lookup, $facet …) included. */
function hideInMatches<T>(v: T): T {
  if (Array.isArray(v)) return v.map(hideInMatches) as T;
  if (!isPlainObject(v)) return v;
  const out: Doc = {};
  for (const k of Object.keys(v)) out[k] = k === '$match' ? hideBigInts(v[k]) : hideInMatches(v[k]);
  return out as T;
}

function unhide(v: unknown): unknown {
  if (v instanceof Long) return v.toBigInt();
  if (Array.isArray(v)) return v.map(unhide);
  return v;
}

function op(pred: (lhs: unknown, value: unknown, depth: number) => boolean) {
  return (selector: string, hidden: unknown, _options: Options): Pred => {
    const depth = depthOf(selector);
    const value = unhide(hidden);
    return (o: unknown) => pred(resolve(o as Doc, selector, { unwrapArray: true }), value, depth);
  };
}

const gt = rangePred((c) => c > 0);
const gte = rangePred((c) => c >= 0);
const lt = rangePred((c) => c < 0);
const lte = rangePred((c) => c <= 0);

const typeCodes: Record<string, string> = {
  1: 'double',
  2: 'string',
  3: 'object',
  4: 'array',
  5: 'binData',
  6: 'undefined',
  7: 'objectId',
  8: 'bool',
  9: 'date',
  10: 'null',
  11: 'regex',
  16: 'int',
  17: 'timestamp',
  18: 'long',
  19: 'decimal',
  '-1': 'minKey',
  127: 'maxKey',
};
const numberTypes = new Set(['int', 'long', 'double', 'decimal']);

/** $type with MongoDB's names for the engine's in-memory values (mingo's does not know int64). */
function typePred(a: unknown, spec: unknown): boolean {
  if (a === undefined) return false;
  const wanted = (Array.isArray(spec) ? spec : [spec]).map((t) =>
    typeof t === 'string' ? t : (typeCodes[String(toNumber(t))] ?? String(t)),
  );
  const matches = (v: unknown): boolean => {
    const name = bsonTypeName(v);
    return wanted.some((w) => w === name || (w === 'number' && numberTypes.has(name)));
  };
  if (Array.isArray(a)) return wanted.includes('array') || a.some(matches);
  return matches(a);
}

const queryOps = {
  $type: op(typePred),
  $eq: op(eqPred),
  $ne: op((a, b, d) => !eqPred(a, b, d)),
  $in: op((a, b) => inPred(a, b as unknown[])),
  $nin: op((a, b) => !inPred(a, b as unknown[])),
  $gt: op(gt),
  $gte: op(gte),
  $lt: op(lt),
  $lte: op(lte),
};

function sortStage(coll: Iterator, spec: Record<string, unknown>): Iterator {
  if (!isPlainObject(spec) || Object.keys(spec).length === 0) {
    throw new StoreError(15976, '$sort stage must have at least one sort key');
  }
  const sort = parseSort(spec);
  return coll.transform((items: unknown[]) => Lazy(sortDocs(items as Doc[], sort)));
}

// Operators added first take precedence in a mingo Context, so ours go in before mingo's own.
const context = Context.init({
  query: queryOps,
  pipeline: { $sort: sortStage } as never,
  accumulator: { $sum, $avg, $min, $max },
})
  .addQueryOps(queryOperators)
  .addPipelineOps(pipelineOperators)
  .addAccumulatorOps(accumulatorOperators)
  .addExpressionOps(expressionOperators)
  .addProjectionOps(projectionOperators)
  .addWindowOps(windowOperators);

export const mingoOptions: Partial<Options> = { context, scriptEnabled: false };

const unsupportedQueryOps = new Set([
  '$text',
  '$near',
  '$nearSphere',
  '$geoWithin',
  '$geoIntersects',
  '$where',
]);

/** Refuses query operators the store does not implement, rather than answering wrongly. */
export function checkFilter(filter: unknown): void {
  if (Array.isArray(filter)) {
    for (const f of filter) checkFilter(f);
    return;
  }
  if (!isPlainObject(filter)) return;
  for (const key of Object.keys(filter)) {
    if (unsupportedQueryOps.has(key)) throw notSupported(`The ${key} query operator`);
    checkFilter(filter[key]);
  }
}

export type Matcher = (doc: Doc) => boolean;

const matchAll: Matcher = () => true;

/** Compiles a query filter into a predicate. */
export function compileFilter(filter: unknown): Matcher {
  if (filter === undefined || filter === null) return matchAll;
  if (!isPlainObject(filter)) throw new StoreError(2, 'query filter must be an object');
  if (Object.keys(filter).length === 0) return matchAll;
  checkFilter(filter);
  try {
    const q = new Query(hideBigInts(filter), mingoOptions);
    return (doc) => q.test(doc);
  } catch (err) {
    throw toStoreError(err);
  }
}

const unsupportedStages = new Set([
  '$changeStream',
  '$geoNear',
  '$search',
  '$searchMeta',
  '$vectorSearch',
  '$out',
  '$merge',
  '$collStats',
  '$indexStats',
  '$currentOp',
  '$listSessions',
  '$planCacheStats',
]);

/** Runs an aggregation pipeline over documents (already copied by the caller). */
export function runPipeline(
  docs: Doc[],
  pipeline: Doc[],
  resolveCollection: (name: string) => Doc[],
): Doc[] {
  for (const stage of pipeline) {
    const name = Object.keys(stage)[0];
    if (unsupportedStages.has(name)) throw notSupported(`The ${name} aggregation stage`);
    if (name === '$match') checkFilter(stage.$match);
  }
  pipeline = hideInMatches(pipeline);
  try {
    const agg = new Aggregator(pipeline, {
      ...mingoOptions,
      collectionResolver: resolveCollection,
    });
    return agg.run<Doc>(docs);
  } catch (err) {
    throw toStoreError(err);
  }
}
