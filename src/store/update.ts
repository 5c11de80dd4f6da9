import { ObjectId } from 'bson';
import { StoreError, toStoreError } from './errors.js';
import { runPipeline } from './matcher.js';
import { applyOperatorUpdate, type UpdateContext } from './update-ops.js';
import {
  cloneForMingo,
  cloneValue,
  formatValue,
  isPlainObject,
  valueKey,
  setOwn,
  valuesEqual,
  type Doc,
} from './values.js';
import { setPath } from './paths.js';

/*
 * Update documents on top of mingo's updater, adding what it lacks or does differently from
 * MongoDB: $setOnInsert, `_id` handling (a $set to the same value is allowed), replacement
 * documents, and upserts seeded from the filter's equality conditions.
 */

const operators = new Set([
  '$set',
  '$unset',
  '$inc',
  '$mul',
  '$min',
  '$max',
  '$rename',
  '$push',
  '$addToSet',
  '$pull',
  '$pullAll',
  '$pop',
  '$currentDate',
  '$bit',
  '$setOnInsert',
]);

export type UpdateSpec = Doc | Doc[];

export function isPipelineUpdate(u: UpdateSpec): u is Doc[] {
  return Array.isArray(u);
}

export function isOperatorUpdate(u: UpdateSpec): boolean {
  return !Array.isArray(u) && Object.keys(u).some((k) => k.startsWith('$'));
}

/** Checks an update document's form before anything is touched. */
export function validateUpdate(u: unknown): asserts u is UpdateSpec {
  if (Array.isArray(u)) {
    for (const stage of u) {
      const name = isPlainObject(stage) ? Object.keys(stage)[0] : undefined;
      const allowed = ['$addFields', '$set', '$project', '$unset', '$replaceRoot', '$replaceWith'];
      if (!name || !allowed.includes(name)) {
        throw new StoreError(
          2,
          `Invalid update pipeline stage ${String(name)}: only ${allowed.join(', ')} are allowed`,
        );
      }
    }
    return;
  }
  if (!isPlainObject(u))
    throw new StoreError(9, 'Update argument must be either an object or an array');
  const keys = Object.keys(u);
  const ops = keys.filter((k) => k.startsWith('$'));
  if (ops.length > 0 && ops.length !== keys.length) {
    const field = keys.find((k) => !k.startsWith('$')) ?? '';
    throw new StoreError(
      9,
      `Unknown modifier: ${field}. Expected a valid update modifier or pipeline-style update specified as an array`,
    );
  }
  for (const op of ops) {
    if (!operators.has(op)) {
      throw new StoreError(
        9,
        `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`,
      );
    }
    if (!isPlainObject(u[op])) {
      throw new StoreError(
        9,
        `Modifiers operate on fields but we found type ${Array.isArray(u[op]) ? 'array' : typeof u[op]} instead. For example: {$mod: {<field>: ...}} not {${op}: ${formatValue(u[op])}}`,
      );
    }
  }
}

/** Removes `$set: {_id: <same>}` and refuses any other change of `_id`. */
function guardId(u: Doc, current: unknown): Doc {
  let out = u;
  for (const op of Object.keys(u)) {
    if (op === '$setOnInsert') continue;
    const spec = u[op] as Doc;
    for (const path of Object.keys(spec)) {
      const target = op === '$rename' ? String(spec[path]) : path;
      const hits = [path, target].some((p) => p === '_id' || p.startsWith('_id.'));
      if (!hits) continue;
      if (op === '$set' && path === '_id' && valuesEqual(spec[path], current)) {
        const rest = { ...spec };
        delete rest._id;
        out = { ...out, [op]: rest };
        continue;
      }
      throw new StoreError(
        66,
        "Performing an update on the path '_id' would modify the immutable field '_id'",
      );
    }
  }
  return out;
}

function applyOperators(doc: Doc, u: Doc, ctx: UpdateContext): boolean {
  try {
    return applyOperatorUpdate(doc, u, ctx);
  } catch (err) {
    throw toStoreError(err);
  }
}

function idFirst(doc: Doc, id: unknown): Doc {
  const out: Doc = { _id: id };
  for (const k of Object.keys(doc)) if (k !== '_id') setOwn(out, k, doc[k]);
  return out;
}

/** The updated copy of `doc` (the stored one is left untouched), and whether it changed. */
export function applyUpdate(
  doc: Doc,
  u: UpdateSpec,
  filter: Doc,
  arrayFilters?: Doc[],
): { doc: Doc; modified: boolean } {
  if (isPipelineUpdate(u)) {
    const [out] = runPipeline([cloneForMingo(doc)], u, () => []);
    if (!out || !valuesEqual(out._id, doc._id)) {
      throw new StoreError(
        66,
        `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${formatValue(out?._id)}`,
      );
    }
    const next = idFirst(out, doc._id);
    return { doc: next, modified: valueKey(next) !== valueKey(doc) };
  }
  if (!isOperatorUpdate(u)) {
    if ('_id' in u && !valuesEqual(u._id, doc._id)) {
      throw new StoreError(
        66,
        `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${formatValue(u._id)}`,
      );
    }
    const next = idFirst(cloneValue(u), doc._id);
    return { doc: next, modified: valueKey(next) !== valueKey(doc) };
  }
  const copy = cloneValue(doc);
  const modified = applyOperators(copy, guardId(u, doc._id), {
    filter,
    arrayFilters,
    inserting: false,
  });
  return { doc: modified ? copy : doc, modified };
}

function seedFromFilter(filter: Doc, out: Doc): void {
  for (const key of Object.keys(filter)) {
    const v = filter[key];
    if (key === '$and' && Array.isArray(v)) {
      for (const sub of v) if (isPlainObject(sub)) seedFromFilter(sub, out);
      continue;
    }
    if (key.startsWith('$')) continue;
    if (isPlainObject(v) && Object.keys(v).some((k) => k.startsWith('$'))) {
      if ('$eq' in v) setPath(out, key, cloneValue(v.$eq));
      continue;
    }
    if (v instanceof RegExp) continue;
    setPath(out, key, cloneValue(v));
  }
}

/** The document an upsert inserts when nothing matched. */
export function buildUpsert(filter: Doc, u: UpdateSpec, arrayFilters?: Doc[]): Doc {
  const seed: Doc = {};
  seedFromFilter(filter, seed);
  let doc: Doc;
  if (isPipelineUpdate(u)) {
    [doc] = runPipeline([seed], u, () => []);
  } else if (!isOperatorUpdate(u)) {
    doc = cloneValue(u);
    if (!('_id' in doc) && '_id' in seed) doc._id = seed._id;
  } else {
    doc = seed;
    const ctx = { filter, arrayFilters, inserting: true };
    applyOperators(doc, '_id' in seed ? guardId(u, seed._id) : u, ctx);
  }
  return idFirst(doc, doc._id === undefined ? new ObjectId() : doc._id);
}
