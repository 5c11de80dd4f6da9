import type { Document } from 'bson';
import { Query } from 'mingo/query';
import type { Collection } from '../collection.js';
import { ChangeStream } from '../changestream.js';
import { StoreError, notSupported, toStoreError } from '../errors.js';
import { compileFilter, pipelineCopier, queryOptions, runPipeline } from '../matcher.js';
import { emptyPlan, runQuery } from '../planner.js';
import { compileProjection } from '../projection.js';
import { compareValues, isPlainObject, valueKey, type Doc } from '../values.js';
import { parseSort, valuesAtPath, type SortSpec } from '../paths.js';
import {
  collectionName,
  optionalDoc,
  optionalNumber,
  refuseCollation,
  type CommandContext,
  type Handler,
} from './context.js';

/**
 * A projection naming only plain top-level fields with 0/1/true/false (the usual `{ a: 1, b: 1 }`
 * or `{ secret: 0 }`): which fields to keep or drop, in MongoDB's way — `_id` kept unless
 * excluded, the document's own field order. null for anything else (mingo applies it).
 */
function simpleProjection(
  projection: Doc,
): { include: boolean; fields: Set<string>; keepId: boolean } | null {
  const fields = new Set<string>();
  let keepId = true;
  let include: boolean | null = null;
  for (const key of Object.keys(projection)) {
    const v = projection[key];
    const on = v === 1 || v === true ? true : v === 0 || v === false ? false : null;
    if (on === null || key.length === 0 || key[0] === '$' || key.includes('.')) return null;
    if (key in Object.prototype) return null;
    if (key === '_id') {
      keepId = on;
      continue;
    }
    if (include !== null && include !== on) return null; // mingo gives MongoDB's error
    include = on;
    fields.add(key);
  }
  // Only `_id` named: { _id: 0 } drops it, { _id: 1 } keeps only it.
  if (include === null) return { include: keepId, fields, keepId };
  return { include, fields, keepId };
}

/** Applies a find projection (mingo), keeping `$` positional projections working. */
export function project(docs: Doc[], projection: Doc, filter: Doc): Doc[] {
  if (Object.keys(projection).length === 0) return docs;
  const simple = simpleProjection(projection);
  if (simple) {
    const { include, fields, keepId } = simple;
    return docs.map((doc) => {
      const out: Doc = {};
      for (const key of Object.keys(doc)) {
        if (key === '_id' ? keepId : fields.has(key) === include) out[key] = doc[key];
      }
      return out;
    });
  }
  const own = compileProjection(projection);
  if (own) return docs.map((doc) => own.apply(doc, filter));
  try {
    return new Query({}, queryOptions).find(docs, projection).all() as Doc[];
  } catch (err) {
    throw toStoreError(err);
  }
}

interface FindSpec {
  filter: Doc;
  sort: SortSpec;
  skip: number;
  limit: number;
  hint?: unknown;
}

function query(coll: Collection | undefined, spec: FindSpec, ctx: CommandContext, ns: string) {
  const matcher = compileFilter(spec.filter);
  if (!coll) return { docs: [] as Doc[], plan: emptyPlan() };
  const result = runQuery(coll, { ...spec, matcher });
  ctx.engine.lastPlans.set(ns, result.plan);
  return result;
}

function readFind(
  body: Document,
): FindSpec & { projection: Doc; batchSize?: number; single: boolean } {
  refuseCollation(body.collation);
  const limitRaw = optionalNumber(body.limit) ?? 0;
  const skip = optionalNumber(body.skip) ?? 0;
  if (skip < 0)
    throw new StoreError(51024, `BSON field 'skip' value must be >= 0, actual value '${skip}'`);
  return {
    filter: optionalDoc(body.filter, 'filter'),
    sort: parseSort(body.sort),
    projection: optionalDoc(body.projection, 'projection'),
    skip,
    limit: Math.abs(limitRaw),
    hint: body.hint,
    batchSize: optionalNumber(body.batchSize),
    single: body.singleBatch === true || limitRaw < 0,
  };
}

const find: Handler = (body, ctx) => {
  // Like a replica set's, the reply carries the operationTime of the data it read: every change
  // at or before it is in the reply (the read caches compare it with change events). The query
  // runs synchronously below, so nothing is committed in between.
  const operationTime = ctx.engine.changes.committed();
  const name = collectionName(body, 'find');
  const ns = `${ctx.db}.${name}`;
  const spec = readFind(body);
  const { docs } = query(ctx.engine.getCollection(ctx.db, name), spec, ctx, ns);
  const out = project(docs, spec.projection, spec.filter);
  const batchSize = spec.limit > 0 && !spec.batchSize ? Math.min(spec.limit, 101) : spec.batchSize;
  return { ...ctx.cursors.firstBatch(ns, out, batchSize, spec.single), operationTime };
};

const getMore: Handler = (body, ctx) => {
  const id = body.getMore as unknown;
  if (typeof id !== 'bigint')
    throw new StoreError(14, "BSON field 'getMore' is the wrong type, expected type 'long'");
  const ns = `${ctx.db}.${String(body.collection)}`;
  return ctx.cursors.getMore(
    id,
    ns,
    optionalNumber(body.batchSize),
    optionalNumber(body.maxTimeMS),
  );
};

const killCursors: Handler = (body, ctx) => {
  const ids = Array.isArray(body.cursors)
    ? (body.cursors as unknown[]).filter((v) => typeof v === 'bigint')
    : [];
  return ctx.cursors.kill(ids);
};

const count: Handler = (body, ctx) => {
  const name = collectionName(body, 'count');
  refuseCollation(body.collation);
  const coll = ctx.engine.getCollection(ctx.db, name);
  const filter = optionalDoc(body.query, 'query');
  const skip = optionalNumber(body.skip) ?? 0;
  const limit = Math.abs(optionalNumber(body.limit) ?? 0);
  if (!coll) return { n: 0, ok: 1 };
  if (Object.keys(filter).length === 0 && body.hint === undefined) {
    const total = Math.max(0, coll.docs.size - skip);
    return { n: limit > 0 ? Math.min(limit, total) : total, ok: 1 };
  }
  const spec: FindSpec = { filter, sort: [], skip, limit, hint: body.hint as unknown };
  const { docs } = query(coll, spec, ctx, `${ctx.db}.${name}`);
  return { n: docs.length, ok: 1 };
};

const distinct: Handler = (body, ctx) => {
  const name = collectionName(body, 'distinct');
  refuseCollation(body.collation);
  if (typeof body.key !== 'string')
    throw new StoreError(14, "BSON field 'distinct.key' is missing or not a string");
  const path = body.key.split('.');
  const coll = ctx.engine.getCollection(ctx.db, name);
  const filter = optionalDoc(body.query, 'query');
  const { docs } = query(coll, { filter, sort: [], skip: 0, limit: 0 }, ctx, `${ctx.db}.${name}`);
  const seen = new Map<string, unknown>();
  for (const doc of docs) {
    for (const v of valuesAtPath(doc, path)) {
      for (const item of Array.isArray(v) ? v : [v]) {
        const k = valueKey(item);
        if (!seen.has(k)) seen.set(k, item);
      }
    }
  }
  return { values: [...seen.values()].sort(compareValues), ok: 1 };
};

/** Runs leading $match/$sort/$skip/$limit stages through the planner, the rest through mingo. */
function aggregateDocs(
  coll: Collection | undefined,
  pipeline: Doc[],
  ctx: CommandContext,
  ns: string,
  hint?: unknown,
): Doc[] {
  let i = 0;
  let filter: Doc = {};
  let sort: SortSpec = [];
  let skip = 0;
  let limit = 0;
  if (pipeline[i]?.$match !== undefined && isPlainObject(pipeline[i].$match))
    filter = pipeline[i++].$match as Doc;
  if (pipeline[i]?.$sort !== undefined && isPlainObject(pipeline[i].$sort))
    sort = parseSort(pipeline[i++].$sort);
  if (typeof pipeline[i]?.$skip === 'number') skip = pipeline[i++].$skip as number;
  if (typeof pipeline[i]?.$limit === 'number' && (pipeline[i].$limit as number) > 0)
    limit = pipeline[i++].$limit as number;
  const { docs } = query(coll, { filter, sort, skip, limit, hint }, ctx, ns);
  const rest = pipeline.slice(i);
  if (rest.length === 0) return docs;
  const cache = new Map<string, Doc[]>();
  const resolve = (name: string): Doc[] => {
    let docsOf = cache.get(name);
    if (!docsOf) {
      docsOf = [...(ctx.engine.getCollection(ctx.db, name)?.docs.values() ?? [])];
      cache.set(name, docsOf);
    }
    return docsOf;
  };
  return runPipeline(docs.map(pipelineCopier(rest)), rest, resolve);
}

const aggregate: Handler = (body, ctx) => {
  const target = body.aggregate as unknown;
  refuseCollation(body.collation);
  if (!Array.isArray(body.pipeline))
    throw new StoreError(14, "'pipeline' option must be specified as an array");
  const pipeline = body.pipeline as Doc[];
  if (!body.explain && !isPlainObject(body.cursor)) {
    throw new StoreError(
      9,
      "The 'cursor' option is required, except for aggregate with the explain argument",
    );
  }
  let name: string;
  let coll: Collection | undefined;
  if (typeof target === 'string') {
    name = target;
    coll = ctx.engine.getCollection(ctx.db, name);
  } else {
    name = '$cmd.aggregate';
  }
  const ns = `${ctx.db}.${name}`;
  if (isPlainObject(pipeline[0]) && pipeline[0].$changeStream !== undefined) {
    if (body.explain) throw notSupported('explain of a $changeStream aggregate');
    const stream = ChangeStream.open(
      ctx.engine,
      ctx.db,
      typeof target === 'string' ? name : null,
      pipeline,
    );
    return ctx.cursors.openStream(ns, stream, optionalNumber((body.cursor as Doc).batchSize));
  }
  const docs = aggregateDocs(coll, pipeline, ctx, ns, body.hint);
  if (body.explain) {
    return { stages: pipeline, explainVersion: '1', ok: 1 };
  }
  const cursor = body.cursor as Doc;
  return ctx.cursors.firstBatch(ns, docs, optionalNumber(cursor.batchSize));
};

const explain: Handler = (body, ctx) => {
  const inner = body.explain as unknown;
  if (!isPlainObject(inner)) throw new StoreError(9, 'explain command requires a nested object');
  const cmd = Object.keys(inner)[0];
  let filter: Doc;
  let spec: FindSpec;
  if (cmd === 'find') {
    spec = readFind(inner);
    filter = spec.filter;
  } else if (cmd === 'aggregate') {
    // The plan of the pipeline's leading $match, as MongoDB's queryPlanner shows it.
    const pipeline = Array.isArray(inner.pipeline) ? (inner.pipeline as Doc[]) : [];
    const first = pipeline[0];
    filter = isPlainObject(first) && isPlainObject(first.$match) ? first.$match : {};
    spec = { filter, sort: [], skip: 0, limit: 0, hint: inner.hint };
  } else if (cmd === 'count' || cmd === 'distinct') {
    filter = optionalDoc(inner.query, 'query');
    spec = { filter, sort: [], skip: 0, limit: 0 };
  } else {
    throw new StoreError(115, `explain of ${cmd} is not supported by the embedded store`);
  }
  const name = collectionName(inner, cmd);
  const ns = `${ctx.db}.${name}`;
  const coll = ctx.engine.getCollection(ctx.db, name);
  const { plan } = query(coll, spec, ctx, ns);
  const keyPattern =
    plan.indexName === '_id_' ? { _id: 1 } : coll?.indexes.get(plan.indexName ?? '')?.spec.key;
  const winningPlan =
    plan.stage === 'IXSCAN'
      ? {
          stage: 'FETCH',
          inputStage: { stage: 'IXSCAN', indexName: plan.indexName, keyPattern },
        }
      : { stage: plan.stage };
  return {
    queryPlanner: { namespace: ns, parsedQuery: filter, winningPlan, rejectedPlans: [] },
    executionStats: {
      executionSuccess: true,
      nReturned: plan.nReturned,
      totalKeysExamined: plan.keysExamined,
      totalDocsExamined: plan.docsExamined,
    },
    ok: 1,
  };
};

export const readCommands: Record<string, Handler> = {
  find,
  getMore,
  killCursors,
  count,
  distinct,
  aggregate,
  explain,
};
