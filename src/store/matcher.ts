import { Long, ObjectId } from 'bson';
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

/**
 * mingo's options, as a plain object: mingo copies every operator map of the context from it
 * (ComputeOptions.init). Used where mingo may add operators to the context it is given (the
 * updater, $fill, $setWindowFields), so that ours stays as built here.
 */
export const mingoOptions: Partial<Options> = { context, scriptEnabled: false };

/**
 * The same options as one prepared mingo ComputeOptions instance, which `new Query(…)` reuses
 * as is instead of copying the context's ~300 operators on every query. mingo does not export
 * the class, so it is taken from the options mingo hands to a query operator. Should that ever
 * fail, the plain options are used (slower, same results).
 */
export const queryOptions: Partial<Options> = (() => {
  let seen: unknown;
  const probe = Context.init({
    query: {
      $probe: (_selector: string, _value: unknown, options: Options) => {
        seen = options;
        return () => true;
      },
    },
  });
  new Query({ x: { $probe: 1 } }, { context: probe });
  const ComputeOptions = (seen as object | undefined)?.constructor as
    (new (options: Partial<Options>) => Partial<Options>) | undefined;
  if (!ComputeOptions || ComputeOptions === Object || typeof seen !== 'object') return mingoOptions;
  // The defaults ComputeOptions.init gives, with our context and options.
  const prepared = new ComputeOptions({
    idKey: '_id',
    scriptEnabled: true,
    useStrictMode: true,
    failOnError: true,
    processingMode: 0, // ProcessingMode.CLONE_OFF
    ...mingoOptions,
  });
  return prepared.context === context ? prepared : mingoOptions;
})();

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

const NOT_SIMPLE = Symbol('not simple');

/**
 * The value a top-level condition compares for equality, when the condition is a plain field
 * (no dots, no operator, nothing from Object.prototype) equal to a string, number, boolean,
 * int64, Date or ObjectId — bare or as a sole `$eq`. Otherwise NOT_SIMPLE (mingo decides).
 */
function simpleEquality(field: string, cond: unknown): unknown {
  if (field.length === 0 || field[0] === '$' || field.includes('.') || field in Object.prototype)
    return NOT_SIMPLE;
  let value = cond;
  if (isPlainObject(cond)) {
    const keys = Object.keys(cond);
    if (keys.length !== 1 || keys[0] !== '$eq') return NOT_SIMPLE;
    value = cond.$eq;
  }
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
      return value;
    case 'object':
      return value instanceof Date || value instanceof ObjectId ? value : NOT_SIMPLE;
    default:
      return NOT_SIMPLE;
  }
}

/** `{ field: value }` for a simple value: what eqPred answers for a top-level field. */
function equalsAt(doc: Doc, field: string, value: unknown): boolean {
  const a = doc[field];
  if (valuesEqual(a, value)) return true;
  return Array.isArray(a) && a.some((v) => valuesEqual(v, value));
}

/**
 * Compiles a query filter into a predicate. Top-level equalities on plain fields (the common
 * `{ _id: … }`, `{ userId: …, programId: … }`) are tested directly; the other conditions, if
 * any, go through mingo. A filter's top-level conditions are all required, so the split is exact.
 */
export function compileFilter(filter: unknown): Matcher {
  if (filter === undefined || filter === null) return matchAll;
  if (!isPlainObject(filter)) throw new StoreError(2, 'query filter must be an object');
  const keys = Object.keys(filter);
  if (keys.length === 0) return matchAll;
  checkFilter(filter);
  const fields: string[] = [];
  const values: unknown[] = [];
  let rest: Doc | null = null;
  for (const key of keys) {
    const value = simpleEquality(key, filter[key]);
    if (value === NOT_SIMPLE) (rest ??= {})[key] = filter[key];
    else {
      fields.push(key);
      values.push(value);
    }
  }
  let q: Query | null = null;
  if (rest) {
    try {
      q = new Query(hideBigInts(rest), queryOptions);
    } catch (err) {
      throw toStoreError(err);
    }
  }
  const n = fields.length;
  if (n === 0) return (doc) => q!.test(doc);
  const simple: Matcher =
    n === 1
      ? (doc) => equalsAt(doc, fields[0], values[0])
      : (doc) => {
          for (let i = 0; i < n; i++) if (!equalsAt(doc, fields[i], values[i])) return false;
          return true;
        };
  return q ? (doc) => simple(doc) && q.test(doc) : simple;
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
