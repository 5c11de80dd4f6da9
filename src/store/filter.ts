import { Binary, BSONRegExp } from 'bson';
import { StoreError, notSupported } from './errors.js';
import {
  bsonTypeName,
  compareValues,
  isPlainObject,
  toNumber,
  typeRank,
  valuesEqual,
} from './values.js';
import type { Doc } from './values.js';

/*
 * The store's own query matcher: MongoDB's rules for dotted paths through arrays, missing and
 * null, numeric types compared by value, Binary, DBRef fields ($ref/$id/$db) and own
 * `__proto__` keys. mingo only evaluates `$expr` (aggregation expressions), through the
 * `evalExpr` hook set by matcher.ts.
 */

export type Matcher = (doc: Doc) => boolean;
/** Tests the values found at a path (a missing field is one `undefined`). */
type LeafTest = (leaves: unknown[]) => boolean;
type ValueTest = (v: unknown) => boolean;

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function isIndex(part: string): boolean {
  return part.length > 0 && part.length < 10 && /^\d+$/.test(part);
}

/**
 * The values at a dotted path, as MongoDB's matcher sees them: an array met on the way is
 * searched element by element (documents only: arrays nested in arrays are not entered), a
 * numeric component also indexes it; a document lacking the field gives `undefined`.
 */
export function leavesAt(doc: unknown, parts: string[]): unknown[] {
  const out: unknown[] = [];
  collect(doc, parts, 0, out);
  if (out.length === 0) out.push(undefined);
  return out;
}

function collect(v: unknown, parts: string[], i: number, out: unknown[]): void {
  if (i === parts.length) {
    out.push(v);
    return;
  }
  const part = parts[i];
  if (Array.isArray(v)) {
    if (isIndex(part)) {
      const el: unknown = v[Number(part)];
      if (el !== undefined) collect(el, parts, i + 1, out);
    }
    for (const el of v) if (isPlainObject(el)) collect(el, parts, i, out);
    return;
  }
  if (isPlainObject(v)) {
    if (!hasOwn(v, part)) {
      out.push(undefined);
      return;
    }
    collect(v[part], parts, i + 1, out);
    return;
  }
  out.push(undefined);
}

/** A leaf matches when it, or (for an array) one of its elements, passes. */
function anyLeaf(test: ValueTest): LeafTest {
  return (leaves) => {
    for (const v of leaves) {
      if (test(v)) return true;
      if (Array.isArray(v)) for (const el of v) if (test(el)) return true;
    }
    return false;
  };
}

function toRegExp(v: unknown, options = ''): RegExp {
  let source: string;
  let flags: string;
  if (v instanceof RegExp) [source, flags] = [v.source, v.flags + options];
  else if (v instanceof BSONRegExp) [source, flags] = [v.pattern, v.options + options];
  else if (typeof v === 'string') [source, flags] = [v, options];
  else throw new StoreError(2, '$regex has to be a string');
  let jsFlags = '';
  for (const f of new Set(flags)) {
    if ('imsu'.includes(f)) jsFlags += f;
    else if (f === 'x') throw notSupported("The regex option 'x'");
    else if (f !== 'g' && f !== 'y')
      throw new StoreError(51108, `invalid flag in regex options: ${f}`);
  }
  return new RegExp(source, jsFlags);
}

function isRegex(v: unknown): boolean {
  return v instanceof RegExp || v instanceof BSONRegExp;
}

function regexTest(re: RegExp): ValueTest {
  return (v) => typeof v === 'string' && re.test(v);
}

function eqTest(b: unknown): ValueTest {
  return (v) => valuesEqual(v, b);
}

function rangeTest(b: unknown, ok: (c: number) => boolean): ValueTest {
  const rb = typeRank(b);
  return (v) => typeRank(v) === rb && ok(compareValues(v, b));
}

function inTest(list: unknown): ValueTest {
  if (!Array.isArray(list)) throw new StoreError(2, '$in needs an array');
  const tests = list.map((b) => {
    if (isPlainObject(b) && Object.keys(b)[0]?.startsWith('$') && !isDbRefLike(b))
      throw new StoreError(2, 'cannot nest $ under $in');
    return isRegex(b) ? regexTest(toRegExp(b)) : eqTest(b);
  });
  return (v) => tests.some((t) => t(v));
}

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

function typeLeaf(spec: unknown): LeafTest {
  const wanted = (Array.isArray(spec) ? spec : [spec]).map((t) =>
    typeof t === 'string' ? t : (typeCodes[String(toNumber(t))] ?? String(t)),
  );
  const matches = (v: unknown): boolean => {
    if (v === undefined) return false;
    const name = bsonTypeName(v);
    return wanted.some((w) => w === name || (w === 'number' && numberTypes.has(name)));
  };
  return (leaves) =>
    leaves.some(
      (v) => matches(v) || (Array.isArray(v) && v.some((el) => !Array.isArray(el) && matches(el))),
    );
}

/** Bit positions from a $bits* operand: a non-negative integer mask, positions, or BinData. */
function bitPositions(op: string, operand: unknown): number[] {
  const out: number[] = [];
  if (Array.isArray(operand)) {
    for (const p of operand) {
      const n = toNumber(p);
      if (typeRank(p) !== 3 || !Number.isInteger(n) || n < 0)
        throw new StoreError(2, `bit positions must be non-negative integers: ${op}`);
      out.push(n);
    }
  } else if (operand instanceof Binary) {
    const bytes = operand.buffer.subarray(0, operand.position);
    for (let i = 0; i < bytes.length * 8; i++) if ((bytes[i >> 3] >> (i & 7)) & 1) out.push(i);
  } else {
    const n = typeRank(operand) === 3 ? toNumber(operand) : NaN;
    if (!Number.isInteger(n) || n < 0)
      throw new StoreError(
        9,
        `${op} takes an Array, a number, or a BinData but received: ${bsonTypeName(operand)}`,
      );
    let m = BigInt(n);
    for (let i = 0; m > 0n; i++, m >>= 1n) if (m & 1n) out.push(i);
  }
  return out;
}

/** The bits of a value that $bits* reads: integral numbers (two's complement) and BinData. */
function bitReader(v: unknown): ((pos: number) => boolean) | null {
  if (v instanceof Binary) {
    const bytes = v.buffer.subarray(0, v.position);
    return (p) => p >> 3 < bytes.length && ((bytes[p >> 3] >> (p & 7)) & 1) === 1;
  }
  if (typeRank(v) !== 3 || v === null || v === undefined) return null;
  let n: bigint;
  if (typeof v === 'bigint') n = v;
  else {
    const x = toNumber(v);
    if (!Number.isInteger(x) || Math.abs(x) > 2 ** 63) return null;
    n = BigInt(x);
  }
  const u = BigInt.asUintN(64, n);
  return (p) => ((p >= 64 ? u >> 63n : u >> BigInt(p)) & 1n) === 1n;
}

function bitsTest(op: string, operand: unknown): ValueTest {
  const positions = bitPositions(op, operand);
  return (v) => {
    const bit = bitReader(v);
    if (!bit) return false;
    switch (op) {
      case '$bitsAllSet':
        return positions.every(bit);
      case '$bitsAnySet':
        return positions.some(bit);
      case '$bitsAllClear':
        return positions.every((p) => !bit(p));
      default:
        return positions.some((p) => !bit(p));
    }
  };
}

function isDbRefLike(v: Doc): boolean {
  return '$ref' in v || '$id' in v || '$db' in v;
}

/** An object whose keys are operators (`{ $gt: 1 }`), not a document to compare with. */
function isOperatorObject(v: unknown): v is Doc {
  if (!isPlainObject(v)) return false;
  const first = Object.keys(v)[0];
  return first !== undefined && first.startsWith('$') && !isDbRefLike(v);
}

const logical = new Set(['$and', '$or', '$nor', '$expr', '$where', '$text', '$comment']);

/** `$elemMatch`: a condition on each element (operators only) or a query on element documents. */
function elemMatchLeaf(cond: unknown): LeafTest {
  if (!isPlainObject(cond)) throw new StoreError(2, '$elemMatch needs an Object');
  const keys = Object.keys(cond);
  const onValues =
    keys.length > 0 &&
    keys.every((k) => k.startsWith('$') && !logical.has(k)) &&
    !isDbRefLike(cond);
  let test: ValueTest;
  if (onValues) {
    const ops = operatorLeaf(cond);
    test = (el) => ops([el]);
  } else {
    const m = compileDocument(cond);
    test = (el) => isPlainObject(el) && m(el);
  }
  return (leaves) => leaves.some((v) => Array.isArray(v) && v.some(test));
}

function allLeaf(list: unknown): LeafTest {
  if (!Array.isArray(list)) throw new StoreError(2, '$all needs an array');
  if (list.length === 0) return () => false;
  const parts = list.map((item): LeafTest => {
    if (isPlainObject(item) && '$elemMatch' in item) return elemMatchLeaf(item.$elemMatch);
    if (isOperatorObject(item)) throw new StoreError(2, 'no $ expressions in $all');
    return anyLeaf(isRegex(item) ? regexTest(toRegExp(item)) : eqTest(item));
  });
  return (leaves) => parts.every((p) => p(leaves));
}

function sizeLeaf(n: unknown): LeafTest {
  const size = typeRank(n) === 3 ? toNumber(n) : NaN;
  if (!Number.isInteger(size)) {
    if (typeRank(n) === 3)
      throw new StoreError(2, `Failed to parse $size. Expected an integer: $size: ${String(n)}`);
    throw new StoreError(
      2,
      `Failed to parse $size. Expected a number in: $size: ${bsonTypeName(n)}`,
    );
  }
  return (leaves) => leaves.some((v) => Array.isArray(v) && v.length === size);
}

function modTest(arg: unknown): ValueTest {
  if (!Array.isArray(arg) || arg.length !== 2)
    throw new StoreError(
      2,
      `malformed mod, ${Array.isArray(arg) && arg.length < 2 ? 'not enough' : 'too many'} elements`,
    );
  const [d, r] = arg.map((x) => Math.trunc(toNumber(x)));
  if (d === 0) throw new StoreError(2, 'divisor cannot be 0');
  return (v) => {
    if (typeRank(v) !== 3 || v === null || v === undefined) return false;
    const x = toNumber(v);
    return Number.isFinite(x) && Math.trunc(x) % d === r;
  };
}

const unsupported = new Set([
  '$near',
  '$nearSphere',
  '$geoWithin',
  '$geoIntersects',
  '$within',
  '$text',
  '$where',
]);

/** The conditions of one operator object (`{ $gte: 1, $lt: 5 }`), all required. */
function operatorLeaf(cond: Doc): LeafTest {
  const tests: LeafTest[] = [];
  for (const op of Object.keys(cond)) {
    const b = cond[op];
    if (unsupported.has(op)) throw notSupported(`The ${op} query operator`);
    switch (op) {
      case '$eq':
        tests.push(anyLeaf(eqTest(b)));
        break;
      case '$ne': {
        const t = anyLeaf(eqTest(b));
        tests.push((l) => !t(l));
        break;
      }
      case '$gt':
        tests.push(anyLeaf(rangeTest(b, (c) => c > 0)));
        break;
      case '$gte':
        tests.push(anyLeaf(rangeTest(b, (c) => c >= 0)));
        break;
      case '$lt':
        tests.push(anyLeaf(rangeTest(b, (c) => c < 0)));
        break;
      case '$lte':
        tests.push(anyLeaf(rangeTest(b, (c) => c <= 0)));
        break;
      case '$in':
        tests.push(anyLeaf(inTest(b)));
        break;
      case '$nin': {
        const t = anyLeaf(inTest(b));
        tests.push((l) => !t(l));
        break;
      }
      case '$exists': {
        const want = typeRank(b) === 3 ? toNumber(b) !== 0 : Boolean(b);
        tests.push((l) => l.some((v) => v !== undefined) === want);
        break;
      }
      case '$type':
        tests.push(typeLeaf(b));
        break;
      case '$size':
        tests.push(sizeLeaf(b));
        break;
      case '$all':
        tests.push(allLeaf(b));
        break;
      case '$elemMatch':
        tests.push(elemMatchLeaf(b));
        break;
      case '$mod':
        tests.push(anyLeaf(modTest(b)));
        break;
      case '$regex':
        tests.push(
          anyLeaf(regexTest(toRegExp(b, typeof cond.$options === 'string' ? cond.$options : ''))),
        );
        break;
      case '$options':
        if (!('$regex' in cond)) throw new StoreError(2, '$options needs a $regex');
        break;
      case '$not': {
        if (!isRegex(b) && !isOperatorObject(b))
          throw new StoreError(2, '$not needs a regex or a document');
        const t = isRegex(b) ? anyLeaf(regexTest(toRegExp(b))) : operatorLeaf(b as Doc);
        tests.push((l) => !t(l));
        break;
      }
      case '$bitsAllSet':
      case '$bitsAnySet':
      case '$bitsAllClear':
      case '$bitsAnyClear':
        tests.push(anyLeaf(bitsTest(op, b)));
        break;
      case '$comment':
        break;
      default:
        throw new StoreError(2, `unknown operator: ${op}`);
    }
  }
  if (tests.length === 1) return tests[0];
  return (l) => tests.every((t) => t(l));
}

function fieldLeaf(cond: unknown): LeafTest {
  if (isOperatorObject(cond)) return operatorLeaf(cond);
  if (isRegex(cond)) {
    const re = regexTest(toRegExp(cond));
    const same = eqTest(cond);
    return anyLeaf((v) => re(v) || same(v));
  }
  return anyLeaf(eqTest(cond));
}

/** Set by matcher.ts: evaluates a `$expr` condition with mingo's aggregation expressions. */
export const hooks: { expr: ((cond: unknown) => Matcher) | null } = { expr: null };

function logicalList(op: string, list: unknown): Matcher[] {
  if (!Array.isArray(list) || list.length === 0)
    throw new StoreError(2, `${op} must be a nonempty array`);
  return list.map((sub) => {
    if (!isPlainObject(sub))
      throw new StoreError(2, `$or/$and/$nor entries need to be full objects`);
    return compileDocument(sub);
  });
}

/** Compiles a query document into a predicate over documents. */
export function compileDocument(filter: Doc): Matcher {
  const preds: Matcher[] = [];
  for (const key of Object.keys(filter)) {
    const cond = filter[key];
    if (key.startsWith('$') && key !== '$ref' && key !== '$id' && key !== '$db') {
      switch (key) {
        case '$and': {
          const subs = logicalList(key, cond);
          preds.push((d) => subs.every((m) => m(d)));
          break;
        }
        case '$or': {
          const subs = logicalList(key, cond);
          preds.push((d) => subs.some((m) => m(d)));
          break;
        }
        case '$nor': {
          const subs = logicalList(key, cond);
          preds.push((d) => !subs.some((m) => m(d)));
          break;
        }
        case '$expr':
          if (!hooks.expr) throw notSupported('$expr');
          preds.push(hooks.expr(cond));
          break;
        case '$comment':
          break;
        case '$alwaysTrue':
          break;
        case '$alwaysFalse':
          preds.push(() => false);
          break;
        default:
          if (unsupported.has(key)) throw notSupported(`The ${key} query operator`);
          if (key === '$jsonSchema') throw notSupported('The $jsonSchema query operator');
          throw new StoreError(2, `unknown top level operator: ${key}`);
      }
      continue;
    }
    const parts = key.split('.');
    const leaf = fieldLeaf(cond);
    if (parts.length === 1) {
      preds.push((d) => leaf([hasOwn(d, key) ? d[key] : undefined]));
    } else {
      preds.push((d) => leaf(leavesAt(d, parts)));
    }
  }
  if (preds.length === 0) return () => true;
  if (preds.length === 1) return preds[0];
  return (d) => {
    for (const p of preds) if (!p(d)) return false;
    return true;
  };
}
