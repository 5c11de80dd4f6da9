import { Long } from 'bson';
import { Context } from 'mingo';
import { OpType, evalExpr } from 'mingo/core';
import { Aggregator } from 'mingo/aggregator';
import * as accumulatorOperators from 'mingo/operators/accumulator';
import * as expressionOperators from 'mingo/operators/expression';
import * as pipelineOperators from 'mingo/operators/pipeline';
import * as projectionOperators from 'mingo/operators/projection';
import * as queryOperators from 'mingo/operators/query';
import * as windowOperators from 'mingo/operators/window';
import { Query } from 'mingo/query';
import { Lazy, type Iterator } from 'mingo/lazy';
import type { Options } from 'mingo/types';
import { StoreError, notSupported, toStoreError } from './errors.js';
import { $avg, $max, $min, $sum } from './numeric.js';
import { compileDocument, hooks, leavesAt, type Matcher } from './filter.js';
import {
  bsonTypeName,
  cloneForMingo,
  cloneValue,
  compareValues,
  isPlainObject,
  valueKey,
  valuesEqual,
  type Doc,
} from './values.js';
import { parseSort, setPath, sortDocs } from './paths.js';

/*
 * mingo runs aggregation pipelines and expressions. The query language is the store's own
 * (filter.ts): mingo's comparisons differ from MongoDB's (int64, Decimal128, nested arrays,
 * Binary, DBRef …). Pipelines use it too, through our `$match` stage, and mingo's comparison
 * expressions are replaced by versions using MongoDB's order (values.ts).
 */

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

type Expr = (obj: unknown, expr: unknown, options: Options) => unknown;

function args2(obj: unknown, expr: unknown, options: Options, name: string): [unknown, unknown] {
  if (!Array.isArray(expr) || expr.length !== 2)
    throw new StoreError(
      16020,
      `Expression ${name} takes exactly 2 arguments. ${Array.isArray(expr) ? expr.length : 1} were passed in.`,
    );
  const [a, b] = evalExpr(obj, expr, options) as unknown[];
  return [a ?? null, b ?? null];
}

function comparison(name: string, ok: (c: number) => boolean): Expr {
  return (obj, expr, options) => {
    const [a, b] = args2(obj, expr, options, name);
    return ok(compareValues(a, b));
  };
}

const expressionOps: Record<string, Expr> = {
  $eq: comparison('$eq', (c) => c === 0),
  $ne: comparison('$ne', (c) => c !== 0),
  $gt: comparison('$gt', (c) => c > 0),
  $gte: comparison('$gte', (c) => c >= 0),
  $lt: comparison('$lt', (c) => c < 0),
  $lte: comparison('$lte', (c) => c <= 0),
  $cmp: (obj, expr, options) => {
    const c = compareValues(...args2(obj, expr, options, '$cmp'));
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  },
  $in: (obj, expr, options) => {
    const [v, list] = args2(obj, expr, options, '$in');
    if (!Array.isArray(list))
      throw new StoreError(
        40081,
        `$in requires an array as a second argument, found: ${bsonTypeName(list)}`,
      );
    return list.some((x) => valuesEqual(x, v));
  },
};

function matchStage(coll: Iterator, spec: unknown): Iterator {
  const m = compileFilter(spec);
  return coll.filter((d) => m(d as Doc));
}

function sortStage(coll: Iterator, spec: Record<string, unknown>): Iterator {
  if (!isPlainObject(spec) || Object.keys(spec).length === 0) {
    throw new StoreError(15976, '$sort stage must have at least one sort key');
  }
  const sort = parseSort(spec);
  return coll.transform((items: unknown[]) => Lazy(sortDocs(items as Doc[], sort)));
}

// Operators added first take precedence in a mingo Context, so ours go in before mingo's own.
const context = Context.init({
  pipeline: { $sort: sortStage, $match: matchStage, $lookup: lookupStage } as never,
  expression: expressionOps,
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

type ComputeOptionsClass = new (options: Partial<Options>) => Partial<Options>;

/** mingo's ComputeOptions class, from the options it hands a query operator; null if not found. */
const ComputeOptions: ComputeOptionsClass | null = (() => {
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
  const found = (seen as object | undefined)?.constructor as ComputeOptionsClass | undefined;
  return found && found !== Object && typeof seen === 'object' ? found : null;
})();

/**
 * `options` as a prepared mingo ComputeOptions instance (see queryOptions), or `options` itself
 * should mingo's class not be found.
 */
function prepared(options: Partial<Options>): Partial<Options> {
  if (!ComputeOptions) return options;
  // The defaults ComputeOptions.init gives, with our context and options.
  const instance = new ComputeOptions({
    idKey: '_id',
    scriptEnabled: true,
    useStrictMode: true,
    failOnError: true,
    processingMode: 0, // ProcessingMode.CLONE_OFF
    ...options,
  });
  return instance.context === context ? instance : options;
}

/**
 * The same options as one prepared mingo ComputeOptions instance, which `new Query(…)` reuses
 * as is instead of copying the context's ~300 operators on every query. mingo does not export
 * the class, so it is taken from the options mingo hands to a query operator. Should that ever
 * fail, the plain options are used (slower, same results).
 */
export const queryOptions: Partial<Options> = prepared(mingoOptions);

/**
 * The options for a change stream's stages, prepared once: they run for every event of every
 * stream, and a change stream's stages ($match, $project, $addFields, …; see changestream.ts)
 * add no operators to the context, unlike $fill or $setWindowFields (hence runPipeline's copy).
 */
export const streamOptions = prepared({ ...mingoOptions, collectionResolver: () => [] });

/** A change stream's stages (already checked by runPipeline when the stream opened) on one event. */
export function runStreamStages(event: Doc, stages: Doc[]): Doc | null {
  try {
    return new Aggregator(stages, streamOptions).run<Doc>([event])[0] ?? null;
  } catch (err) {
    throw toStoreError(err);
  }
}

export type { Matcher } from './filter.js';

/** `$expr` in a filter: evaluated by mingo's aggregation expressions (with ours for comparisons). */
hooks.expr = (cond) => {
  const q = new Query({ $expr: hideBigInts(cond) }, queryOptions);
  return (doc) => q.test(cloneForMingo(doc));
};

/** Compiles a query filter into a predicate (the store's own matcher, filter.ts). */
export function compileFilter(filter: unknown): Matcher {
  if (filter === undefined || filter === null) return () => true;
  if (!isPlainObject(filter)) throw new StoreError(2, 'query filter must be an object');
  try {
    return compileDocument(filter);
  } catch (err) {
    throw toStoreError(err);
  }
}

/** How the running pipeline copies joined documents (set by runPipeline; pipelines run synchronously). */
let joinCopy: (doc: Doc) => Doc = cloneValue;

/** $lookup with localField/foreignField: equality by MongoDB's rules (mingo hashes JS values). */
function lookupStage(coll: Iterator, spec: Doc, options: Options): Iterator {
  if (spec.pipeline !== undefined || spec.let !== undefined)
    return (pipelineOperators.$lookup as unknown as (c: Iterator, e: Doc, o: Options) => Iterator)(
      coll,
      spec,
      options,
    );
  const { from, localField, foreignField, as } = spec;
  if (
    typeof from !== 'string' ||
    typeof localField !== 'string' ||
    typeof foreignField !== 'string' ||
    typeof as !== 'string'
  )
    throw new StoreError(
      40321,
      '$lookup requires from, localField, foreignField and as to be strings',
    );
  const foreign = options.collectionResolver?.(from) ?? [];
  const byKey = new Map<string, Doc[]>();
  const foreignParts = foreignField.split('.');
  for (const doc of foreign as Doc[]) {
    const keys = new Set<string>();
    for (const v of leavesAt(doc, foreignParts)) {
      for (const x of Array.isArray(v) ? (v.length ? v : [undefined]) : [v])
        keys.add(valueKey(x ?? null));
    }
    for (const k of keys) {
      const list = byKey.get(k);
      if (list) list.push(doc);
      else byKey.set(k, [doc]);
    }
  }
  const localParts = localField.split('.');
  return coll.map((o) => {
    const doc = o as Doc;
    const found = new Set<Doc>();
    for (const v of leavesAt(doc, localParts)) {
      for (const x of Array.isArray(v) ? (v.length ? v : [undefined]) : [v]) {
        for (const f of byKey.get(valueKey(x ?? null)) ?? []) found.add(f);
      }
    }
    const out: Doc = { ...doc };
    setPath(
      out,
      as,
      [...found].map((f) => joinCopy(f)),
    );
    return out;
  });
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

/** MongoDB's error for a stage name it does not know (mingo says "unregistered pipeline operator"). */
function checkStages(pipeline: unknown[]): void {
  for (const stage of pipeline) {
    if (!isPlainObject(stage) || Object.keys(stage).length !== 1)
      throw new StoreError(
        40323,
        'A pipeline stage specification object must contain exactly one field.',
      );
    const name = Object.keys(stage)[0];
    if (unsupportedStages.has(name)) throw notSupported(`The ${name} aggregation stage`);
    if (!context.getOperator(OpType.PIPELINE, name))
      throw new StoreError(40324, `Unrecognized pipeline stage name: '${name}'`);
    const spec = stage[name];
    if (name === '$match') compileFilter(spec);
    if (name === '$facet' && isPlainObject(spec))
      for (const sub of Object.values(spec)) if (Array.isArray(sub)) checkStages(sub);
    if (
      (name === '$lookup' || name === '$unionWith') &&
      isPlainObject(spec) &&
      Array.isArray(spec.pipeline)
    )
      checkStages(spec.pipeline);
  }
}

const ownAccumulators = new Set(['$sum', '$avg', '$min', '$max', '$first', '$last', '$push']);
const isFieldPath = (v: unknown): boolean =>
  typeof v === 'string' && v.startsWith('$') && !v.startsWith('$$');
const isConstant = (v: unknown): boolean =>
  v === null || typeof v === 'number' || (typeof v === 'string' && !v.startsWith('$'));

/**
 * Whether a stage only selects, orders, reshapes by inclusion or joins documents (or groups
 * them with a constant key into the store's own accumulators): such stages need no JS numbers,
 * so the documents keep their exact BSON types through them (an integral double stays a double).
 */
function isPassthrough(stage: Doc): boolean {
  const name = Object.keys(stage)[0];
  const spec = stage[name];
  switch (name) {
    case '$match':
    case '$sort':
    case '$skip':
    case '$limit':
    case '$count':
    case '$sample':
    case '$unset':
      return true;
    case '$unwind':
      return typeof spec === 'string' || isPlainObject(spec);
    case '$lookup':
      return isPlainObject(spec) && spec.pipeline === undefined && spec.let === undefined;
    case '$project':
      return (
        isPlainObject(spec) &&
        Object.values(spec).every((v) => v === 0 || v === 1 || v === true || v === false)
      );
    case '$facet':
      return (
        isPlainObject(spec) &&
        Object.values(spec).every(
          (p) => Array.isArray(p) && p.every((s) => isPlainObject(s) && isPassthrough(s)),
        )
      );
    case '$group': {
      if (!isPlainObject(spec) || !isConstant(spec._id)) return false;
      return Object.keys(spec).every((k) => {
        if (k === '_id') return true;
        const acc = spec[k];
        if (!isPlainObject(acc) || Object.keys(acc).length !== 1) return false;
        const [op] = Object.keys(acc);
        return ownAccumulators.has(op) && (isFieldPath(acc[op]) || isConstant(acc[op]));
      });
    }
    default:
      return false;
  }
}

/**
 * How stored documents are copied for a pipeline (its input and the collections it joins):
 * exact BSON values when every stage is a passthrough, otherwise with integral doubles as JS
 * numbers for mingo's expressions.
 */
export function pipelineCopier(pipeline: Doc[]): (doc: Doc) => Doc {
  return pipeline.every((s) => isPlainObject(s) && isPassthrough(s)) ? cloneValue : cloneForMingo;
}

/** Runs an aggregation pipeline over documents (already copied by the caller). */
export function runPipeline(
  docs: Doc[],
  pipeline: Doc[],
  resolveCollection: (name: string) => Doc[],
): Doc[] {
  checkStages(pipeline);
  joinCopy = pipelineCopier(pipeline);
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
