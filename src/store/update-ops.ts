import { Timestamp } from 'bson';
import { StoreError } from './errors.js';
import { compileDocument } from './filter.js';
import { add, multiply, type Num } from './numeric.js';
import { sortDocs, parseSort } from './paths.js';
import {
  bsonTypeName,
  cloneValue,
  compareValues,
  formatValue,
  isNumeric,
  isPlainObject,
  sameBson,
  setOwn,
  typeRank,
  valuesEqual,
  type Doc,
} from './values.js';

/*
 * The update operators, the store's own (mingo's updater is not used): MongoDB's positional
 * forms ($, $[], $[id] with arrayFilters) resolved to concrete paths first, conflicts checked
 * on those, then each operator applied in path order, reporting whether anything changed
 * (a change of BSON type or Binary subtype counts).
 */

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
const isIndex = (p: string): boolean => /^\d+$/.test(p) && p.length < 10;
type ElementTest = (el: unknown) => boolean;
/** A DBRef's fields, which updates may name like any other. */
const dbRefFields = new Set(['$ref', '$id', '$db']);
const allPositional = /^\$\[([a-z][a-zA-Z0-9]*)?\]$/;

export interface UpdateContext {
  filter: Doc;
  arrayFilters?: Doc[];
  /** An upsert inserting: `$setOnInsert` applies and `$`-prefixed field names are allowed. */
  inserting: boolean;
}

interface Step {
  op: string;
  path: string[];
  arg: unknown;
  /** $rename's destination. */
  to?: string[];
}

function child(node: unknown, key: string): unknown {
  if (Array.isArray(node)) return isIndex(key) ? node[Number(key)] : undefined;
  if (isPlainObject(node)) return hasOwn(node, key) ? node[key] : undefined;
  return undefined;
}

function setChild(node: Doc | unknown[], key: string, value: unknown): void {
  if (Array.isArray(node)) {
    const i = Number(key);
    while (node.length < i) node.push(null);
    node[i] = value;
  } else setOwn(node, key, value);
}

function compileArrayFilters(list: Doc[] | undefined): Map<string, ElementTest> {
  const out = new Map<string, ElementTest>();
  for (const f of list ?? []) {
    if (!isPlainObject(f)) throw new StoreError(2, 'arrayFilters must be objects');
    let id: string | null = null;
    for (const key of Object.keys(f)) {
      const first = key.split('.')[0];
      if (!/^[a-z][a-zA-Z0-9]*$/.test(first))
        throw new StoreError(
          2,
          `Error parsing array filter :: caused by :: The top-level field name must be an alphanumeric string beginning with a lowercase letter, found '${first}'`,
        );
      if (id !== null && id !== first)
        throw new StoreError(
          9,
          `Error parsing array filter :: caused by :: Expected a single top-level field name, found '${id}' and '${first}'`,
        );
      id = first;
    }
    if (id === null)
      throw new StoreError(
        2,
        'Cannot use an expression without a top-level field name in arrayFilters',
      );
    if (out.has(id))
      throw new StoreError(
        9,
        `Found multiple array filters with the same top-level field name ${id}`,
      );
    const m = compileDocument(f);
    const name = id;
    out.set(name, (el) => m({ [name]: el }));
  }
  return out;
}

/** The index the filter matched in the array at `prefix` (the `$` positional operator). */
function positionalIndex(doc: Doc, prefix: string[], filter: Doc): number {
  const arr = prefix.reduce<unknown>((n, p) => child(n, p), doc);
  const p = prefix.join('.');
  const sub: Doc[] = [];
  const gather = (f: Doc): void => {
    for (const key of Object.keys(f)) {
      if (key === '$and' && Array.isArray(f.$and)) {
        for (const s of f.$and as unknown[]) if (isPlainObject(s)) gather(s);
      } else if (key === p || key.startsWith(p + '.')) sub.push({ [key]: f[key] });
    }
  };
  gather(filter);
  if (Array.isArray(arr) && sub.length > 0) {
    const m = compileDocument({ $and: sub });
    for (let i = 0; i < arr.length; i++) {
      if (m(withValueAt(doc, prefix, [arr[i]]))) return i;
    }
  }
  throw new StoreError(2, 'The positional operator did not find the match needed from the query.');
}

/** A shallow copy of `doc` with the value at `parts` replaced (for testing one element). */
function withValueAt(doc: unknown, parts: string[], value: unknown): Doc {
  if (parts.length === 0) return value as Doc;
  const [head, ...rest] = parts;
  if (Array.isArray(doc)) {
    const copy: unknown[] = [...(doc as unknown[])];
    copy[Number(head)] = withValueAt(doc[Number(head)], rest, value);
    return copy as unknown as Doc;
  }
  const copy: Doc = { ...(doc as Doc) };
  setOwn(copy, head, withValueAt((doc as Doc)[head], rest, value));
  return copy;
}

function expandPath(
  doc: Doc,
  parts: string[],
  ctx: UpdateContext,
  filters: Map<string, ElementTest>,
  used: Set<string>,
): string[][] {
  const out: string[][] = [];
  const walk = (node: unknown, i: number, prefix: string[]): void => {
    if (i === parts.length) {
      out.push(prefix);
      return;
    }
    const part = parts[i];
    if (part === '$') {
      if (ctx.inserting || !Array.isArray(node))
        throw new StoreError(
          2,
          'The positional operator did not find the match needed from the query.',
        );
      const at = positionalIndex(doc, prefix, ctx.filter);
      walk(node[at], i + 1, [...prefix, String(at)]);
      return;
    }
    const all = allPositional.exec(part);
    if (all) {
      const id = all[1];
      let test: ElementTest | undefined;
      if (id) {
        test = filters.get(id);
        if (!test)
          throw new StoreError(
            2,
            `No array filter found for identifier '${id}' in path '${parts.join('.')}'`,
          );
        used.add(id);
      }
      if (!Array.isArray(node))
        throw new StoreError(
          2,
          `The path '${prefix.join('.')}' must exist in the document in order to apply array updates.`,
        );
      (node as unknown[]).forEach((el, k) => {
        if (!test || test(el)) walk(el, i + 1, [...prefix, String(k)]);
      });
      return;
    }
    if (part === '') throw new StoreError(56, `An empty update path is not valid.`);
    if (part.startsWith('$') && !ctx.inserting && !dbRefFields.has(part))
      throw new StoreError(
        52,
        `The dollar ($) prefixed field '${part}' in '${parts.join('.')}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`,
      );
    walk(child(node, part), i + 1, [...prefix, part]);
  };
  walk(doc, 0, []);
  return out;
}

function comparePaths(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) continue;
    if (isIndex(a[i]) && isIndex(b[i])) return Number(a[i]) - Number(b[i]);
    return a[i] < b[i] ? -1 : 1;
  }
  return a.length - b.length;
}

function checkConflicts(steps: Step[]): void {
  const paths: string[][] = [];
  for (const s of steps) {
    paths.push(s.path);
    if (s.to) paths.push(s.to);
  }
  paths.sort(comparePaths);
  for (let i = 1; i < paths.length; i++) {
    const a = paths[i - 1];
    const b = paths[i];
    if (a.length <= b.length && a.every((p, k) => p === b[k])) {
      throw new StoreError(
        40,
        `Updating the path '${b.join('.')}' would create a conflict at '${a.join('.')}'`,
      );
    }
  }
}

/** The container of a path and its last key, documents created on the way when `create`. */
function locate(
  doc: Doc,
  parts: string[],
  create: boolean,
  noArrays = false,
): { parent: Doc | unknown[]; key: string } | null {
  let cur: Doc | unknown[] = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i];
    if (Array.isArray(cur) && (noArrays || !isIndex(part))) {
      if (!create) return null;
      throw new StoreError(
        28,
        `Cannot create field '${part}' in element {${parts[i - 1]}: ${formatValue(cur)}}`,
      );
    }
    let next = child(cur, part);
    if (next === undefined) {
      if (!create) return null;
      next = {};
      setChild(cur, part, next);
    }
    if (!isPlainObject(next) && !Array.isArray(next)) {
      if (!create) return null;
      throw new StoreError(
        28,
        `Cannot create field '${parts[i + 1]}' in element {${part}: ${formatValue(next)}}`,
      );
    }
    cur = next;
  }
  const key = parts[parts.length - 1];
  if (Array.isArray(cur) && (noArrays || !isIndex(key))) {
    if (!create) return null;
    throw new StoreError(
      28,
      `Cannot create field '${key}' in element {${parts[parts.length - 2]}: ${formatValue(cur)}}`,
    );
  }
  return { parent: cur, key };
}

function idOf(doc: Doc): string {
  return `{_id: ${formatValue(doc._id)}}`;
}

function arrayAt(doc: Doc, step: Step, create: boolean): unknown[] | null {
  const loc = locate(doc, step.path, create);
  if (!loc) return null;
  const cur = child(loc.parent, loc.key);
  const name = step.path.join('.');
  if (cur === undefined) {
    if (!create) return null;
    const made: unknown[] = [];
    setChild(loc.parent, loc.key, made);
    return made;
  }
  if (Array.isArray(cur)) return cur as unknown[];
  if (step.op === '$pop')
    throw new StoreError(
      14,
      `Path '${name}' contains an element of non-array type '${bsonTypeName(cur)}'`,
    );
  if (step.op === '$pull' || step.op === '$pullAll')
    throw new StoreError(2, 'Cannot apply $pull to a non-array value');
  if (step.op === '$addToSet')
    throw new StoreError(
      2,
      `Cannot apply $addToSet to non-array field. Field named '${loc.key}' has non-array type ${bsonTypeName(cur)}`,
    );
  throw new StoreError(
    2,
    `The field '${name}' must be an array but is of type ${bsonTypeName(cur)} in document ${idOf(doc)}`,
  );
}

/** What `$pull` removes: elements equal to a value, or matching a condition (MongoDB's rules). */
function pullTest(cond: unknown): (el: unknown) => boolean {
  if (cond instanceof RegExp || (isPlainObject(cond) && Object.keys(cond).length > 0)) {
    const first = cond instanceof RegExp ? '' : Object.keys(cond)[0];
    const onValue =
      cond instanceof RegExp ||
      (first.startsWith('$') && !['$and', '$or', '$nor', '$ref', '$id', '$db'].includes(first));
    if (onValue) {
      const m = compileDocument({ v: cond });
      return (el) => m({ v: el });
    }
    const m = compileDocument(cond);
    return (el) => isPlainObject(el) && m(el);
  }
  if (isPlainObject(cond)) return (el) => isPlainObject(el);
  return (el) => valuesEqual(el, cond);
}

function numericStep(doc: Doc, step: Step): boolean {
  const { op, arg } = step;
  const loc = locate(doc, step.path, true)!;
  const cur = child(loc.parent, loc.key);
  let next: unknown;
  if (op === '$min' || op === '$max') {
    if (cur !== undefined) {
      const c = compareValues(arg, cur);
      if ((op === '$min' && c >= 0) || (op === '$max' && c <= 0)) return false;
    }
    next = cloneValue(arg);
  } else if (cur === undefined) {
    next = op === '$inc' ? arg : multiply(arg as Num, 0);
  } else if (!isNumeric(cur)) {
    throw new StoreError(
      14,
      `Cannot apply ${op} to a value of non-numeric type. ${idOf(doc)} has the field '${loc.key}' of non-numeric type ${bsonTypeName(cur)}`,
    );
  } else {
    next = op === '$inc' ? add(cur as Num, arg as Num) : multiply(cur as Num, arg as Num);
  }
  if (cur !== undefined && sameBson(cur, next)) return false;
  setChild(loc.parent, loc.key, next);
  return true;
}

function pushStep(doc: Doc, step: Step): boolean {
  const arg = step.arg;
  const mods = isPlainObject(arg) && '$each' in arg ? arg : null;
  let each: unknown[];
  if (mods) {
    if (!Array.isArray(mods.$each))
      throw new StoreError(
        2,
        `The argument to $each in $push must be an array but it was of type: ${bsonTypeName(mods.$each)}`,
      );
    each = mods.$each as unknown[];
    for (const k of Object.keys(mods))
      if (!['$each', '$slice', '$sort', '$position'].includes(k))
        throw new StoreError(2, `Unrecognized clause in $push: ${k}`);
  } else each = [arg];
  const loc = locate(doc, step.path, true)!;
  const existed = child(loc.parent, loc.key) !== undefined;
  const arr = arrayAt(doc, step, true)!;
  const before = existed ? cloneValue(arr) : null;
  let at = arr.length;
  if (mods && mods.$position !== undefined) {
    const p = Number(mods.$position);
    at = p < 0 ? Math.max(0, arr.length + p) : Math.min(p, arr.length);
  }
  arr.splice(at, 0, ...each.map(cloneValue));
  if (mods && mods.$sort !== undefined) {
    const spec = mods.$sort;
    if (isPlainObject(spec)) sortDocs(arr as Doc[], parseSort(spec));
    else {
      const dir = Number(spec) < 0 ? -1 : 1;
      arr.sort((x, y) => compareValues(x, y) * dir);
    }
  }
  if (mods && mods.$slice !== undefined) {
    const n = Number(mods.$slice);
    const kept = n >= 0 ? arr.slice(0, n) : arr.slice(Math.max(0, arr.length + n));
    arr.length = 0;
    arr.push(...kept);
  }
  return before === null || !sameBson(before, arr);
}

function bitStep(doc: Doc, step: Step): boolean {
  if (!isPlainObject(step.arg))
    throw new StoreError(9, `The $bit modifier is not compatible with a ${bsonTypeName(step.arg)}`);
  const loc = locate(doc, step.path, true)!;
  const cur = child(loc.parent, loc.key);
  const integral = (v: unknown) => typeof v === 'bigint' || bsonTypeName(v) === 'int';
  if (cur !== undefined && !integral(cur))
    throw new StoreError(
      14,
      `Cannot apply $bit to a value of non-integral type.${idOf(doc)} has the field ${loc.key} of non-integer type ${bsonTypeName(cur)}`,
    );
  let value: bigint = cur === undefined ? 0n : BigInt(cur as number | bigint);
  let long = typeof cur === 'bigint';
  for (const [how, operand] of Object.entries(step.arg)) {
    if (!integral(operand))
      throw new StoreError(
        2,
        `The $bit modifier field must be an Integer(32/64 bit); a '${bsonTypeName(operand)}' is not supported here`,
      );
    const o = BigInt(operand as number | bigint);
    long ||= typeof operand === 'bigint';
    if (how === 'and') value &= o;
    else if (how === 'or') value |= o;
    else if (how === 'xor') value ^= o;
    else
      throw new StoreError(
        2,
        `The $bit modifier only supports 'and', 'or', and 'xor', not '${how}' which is an unknown operator`,
      );
  }
  const next = long ? BigInt.asIntN(64, value) : Number(BigInt.asIntN(32, value));
  if (cur !== undefined && sameBson(cur, next)) return false;
  setChild(loc.parent, loc.key, next);
  return true;
}

function renameStep(doc: Doc, step: Step): boolean {
  const from = locate(doc, step.path, false, true);
  if (!from) {
    // A source inside an array is refused; a missing one is a no-op.
    let node: unknown = doc;
    for (const p of step.path) {
      if (Array.isArray(node))
        throw new StoreError(
          2,
          `The source field cannot be an array element, '${step.path.join('.')}' in doc with ${idOf(doc)} has an array field called '${p}'`,
        );
      node = child(node, p);
      if (node === undefined) break;
    }
    return false;
  }
  const value = child(from.parent, from.key);
  if (value === undefined) return false;
  const to = locate(doc, step.to!, true, true)!;
  delete (from.parent as Doc)[from.key];
  setChild(to.parent, to.key, value);
  return true;
}

function applyStep(doc: Doc, step: Step): boolean {
  switch (step.op) {
    case '$set':
    case '$setOnInsert': {
      const loc = locate(doc, step.path, true)!;
      const cur = child(loc.parent, loc.key);
      if (cur !== undefined && sameBson(cur, step.arg)) return false;
      setChild(loc.parent, loc.key, cloneValue(step.arg));
      return true;
    }
    case '$unset': {
      const loc = locate(doc, step.path, false);
      if (!loc || child(loc.parent, loc.key) === undefined) return false;
      if (Array.isArray(loc.parent)) {
        if (loc.parent[Number(loc.key)] === null) return false;
        loc.parent[Number(loc.key)] = null;
      } else delete loc.parent[loc.key];
      return true;
    }
    case '$inc':
    case '$mul':
    case '$min':
    case '$max':
      return numericStep(doc, step);
    case '$currentDate': {
      const spec = step.arg;
      const ts = isPlainObject(spec) && spec.$type === 'timestamp';
      if (isPlainObject(spec) && spec.$type !== 'date' && !ts)
        throw new StoreError(
          2,
          "The '$type' string field is required to be 'date' or 'timestamp': {$currentDate: {field : {$type: 'date'}}}",
        );
      const now = Date.now();
      const value = ts ? new Timestamp({ t: Math.floor(now / 1000), i: 1 }) : new Date(now);
      const loc = locate(doc, step.path, true)!;
      setChild(loc.parent, loc.key, value);
      return true;
    }
    case '$rename':
      return renameStep(doc, step);
    case '$push':
      return pushStep(doc, step);
    case '$addToSet': {
      const arg = step.arg;
      const each = isPlainObject(arg) && '$each' in arg ? arg.$each : [arg];
      if (!Array.isArray(each))
        throw new StoreError(
          2,
          `The argument to $each in $addToSet must be an array but it was of type ${bsonTypeName(each)}`,
        );
      const loc = locate(doc, step.path, true)!;
      const existed = child(loc.parent, loc.key) !== undefined;
      const arr = arrayAt(doc, step, true)!;
      let changed = !existed;
      for (const v of each) {
        if (!arr.some((x) => valuesEqual(x, v))) {
          arr.push(cloneValue(v));
          changed = true;
        }
      }
      return changed;
    }
    case '$pull':
    case '$pullAll': {
      let test: (el: unknown) => boolean;
      if (step.op === '$pullAll') {
        const list = step.arg;
        if (!Array.isArray(list))
          throw new StoreError(
            2,
            `$pullAll requires an array argument but was given a ${bsonTypeName(list)}`,
          );
        test = (el) => list.some((v) => valuesEqual(el, v));
      } else test = pullTest(step.arg);
      const arr = arrayAt(doc, step, false);
      if (!arr) return false;
      const kept = arr.filter((el) => !test(el));
      if (kept.length === arr.length) return false;
      arr.length = 0;
      arr.push(...kept);
      return true;
    }
    case '$pop': {
      const n = typeRank(step.arg) === 3 ? Number(step.arg) : NaN;
      if (n !== 1 && n !== -1)
        throw new StoreError(9, `$pop expects 1 or -1, found: ${formatValue(step.arg)}`);
      const arr = arrayAt(doc, step, false);
      if (!arr || arr.length === 0) return false;
      if (n === 1) arr.pop();
      else arr.shift();
      return true;
    }
    case '$bit':
      return bitStep(doc, step);
    default:
      throw new StoreError(9, `Unknown modifier: ${step.op}`);
  }
}

/** Applies operator updates to `doc` in place; true when the document changed. */
export function applyOperatorUpdate(doc: Doc, u: Doc, ctx: UpdateContext): boolean {
  const filters = compileArrayFilters(ctx.arrayFilters);
  const used = new Set<string>();
  const steps: Step[] = [];
  for (const op of Object.keys(u)) {
    if (op === '$setOnInsert' && !ctx.inserting) continue;
    const spec = u[op] as Doc;
    for (const path of Object.keys(spec)) {
      const arg = spec[path];
      if ((op === '$inc' || op === '$mul') && !isNumeric(arg)) {
        throw new StoreError(
          14,
          `Cannot ${op === '$inc' ? 'increment' : 'multiply'} with non-numeric argument: {${path}: ${formatValue(arg)}}`,
        );
      }
      if (op === '$rename') {
        if (typeof arg !== 'string')
          throw new StoreError(
            2,
            `The 'to' field for $rename must be a string: ${path}: ${formatValue(arg)}`,
          );
        if (arg === path)
          throw new StoreError(
            2,
            `The source and target field for $rename must differ: ${path}: "${arg}"`,
          );
        if ([path, arg].some((p) => p.split('.').some((x) => x.startsWith('$'))))
          throw new StoreError(
            2,
            'The source and target field for $rename must not contain a positional operator',
          );
        steps.push({ op, path: path.split('.'), arg, to: arg.split('.') });
        continue;
      }
      for (const concrete of expandPath(doc, path.split('.'), ctx, filters, used)) {
        steps.push({ op, path: concrete, arg });
      }
    }
  }
  for (const id of filters.keys()) {
    if (!used.has(id))
      throw new StoreError(9, `The array filter for identifier '${id}' was not used in the update`);
  }
  checkConflicts(steps);
  steps.sort((a, b) => comparePaths(a.path, b.path));
  let modified = false;
  for (const step of steps) if (applyStep(doc, step)) modified = true;
  return modified;
}
