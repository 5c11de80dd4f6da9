import { Binary, Decimal128, Double, ObjectId, Timestamp, MinKey, MaxKey, BSONRegExp } from 'bson';

/**
 * How the engine holds BSON values in memory, and how it orders and hashes them.
 *
 * In memory, int64 is a bigint, int32 a number, a double a number — except an integral double,
 * kept as a bson Double so it is not sent back as an int32 (see records.ts normalizeDecoded).
 * Decimal128, ObjectId, Binary, Date … stay as their bson classes. So every BSON type survives
 * storage and replies. Ordering follows MongoDB's BSON comparison order, with every numeric
 * type compared by value.
 */

export type Doc = Record<string, unknown>;

/** MongoDB's canonical type ranks for comparison (lower sorts first). */
export function typeRank(v: unknown): number {
  if (v === undefined || v === null) return 2;
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return 3;
    case 'string':
      return 4;
    case 'boolean':
      return 9;
    case 'object':
      break;
    default:
      return 4;
  }
  if (Array.isArray(v)) return 6;
  if (v instanceof Date) return 10;
  if (v instanceof ObjectId) return 8;
  if (v instanceof Decimal128) return 3;
  if (v instanceof Binary || v instanceof Uint8Array) return 7;
  if (v instanceof RegExp || v instanceof BSONRegExp) return 12;
  if (v instanceof Timestamp) return 11;
  if (v instanceof MinKey) return 1;
  if (v instanceof MaxKey) return 13;
  const bsontype = (v as { _bsontype?: string })._bsontype;
  if (bsontype === 'Int32' || bsontype === 'Double' || bsontype === 'Long') return 3;
  return 5;
}

export function isNumeric(v: unknown): boolean {
  return typeRank(v) === 3 && v !== null && v !== undefined;
}

/** A numeric value as a JS number (approximate for huge int64 and high-precision decimals). */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Decimal128) return Number(v.toString());
  const o = v as { valueOf(): unknown; toNumber?: () => number };
  if (typeof o.toNumber === 'function') return o.toNumber();
  return Number(o.valueOf());
}

function compareNumbers(a: unknown, b: unknown): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  const x = toNumber(a);
  const y = toNumber(b);
  if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1;
  if (Number.isNaN(y)) return 1;
  if (x < y) return -1;
  if (x > y) return 1;
  // Equal as doubles: refine with bigint when one side is an exact int64 beyond 2^53.
  if (typeof a === 'bigint' && Number.isInteger(y) && !Number.isSafeInteger(y)) {
    const by = BigInt(y);
    return a < by ? -1 : a > by ? 1 : 0;
  }
  if (typeof b === 'bigint' && Number.isInteger(x) && !Number.isSafeInteger(x)) {
    const bx = BigInt(x);
    return bx < b ? -1 : bx > b ? 1 : 0;
  }
  return 0;
}

function cmp<T>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Strings in code point order, which is MongoDB's (UTF-8 byte) order, not UTF-16's. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if (sx !== sy) return sx ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : 1;
}

function bytesOf(v: Binary | Uint8Array): Uint8Array {
  return v instanceof Binary ? v.buffer.subarray(0, v.position) : v;
}

/** Compares two values in MongoDB's BSON order. */
export function compareValues(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 1:
    case 2:
    case 13:
      return 0;
    case 3:
      return compareNumbers(a, b);
    case 4:
      return compareStrings(String(a), String(b));
    case 9:
      return cmp(Number(a), Number(b));
    case 10:
      return cmp((a as Date).getTime(), (b as Date).getTime());
    case 8:
      return cmp((a as ObjectId).toHexString(), (b as ObjectId).toHexString());
    case 11:
      return (a as Timestamp).compare(b as Timestamp);
    case 7: {
      const x = bytesOf(a as Binary);
      const y = bytesOf(b as Binary);
      if (x.length !== y.length) return x.length < y.length ? -1 : 1;
      const sx = a instanceof Binary ? a.sub_type : 0;
      const sy = b instanceof Binary ? b.sub_type : 0;
      if (sx !== sy) return sx < sy ? -1 : 1;
      return Buffer.compare(x, y);
    }
    case 12: {
      const x = a as RegExp | BSONRegExp;
      const y = b as RegExp | BSONRegExp;
      const px = x instanceof RegExp ? x.source : x.pattern;
      const py = y instanceof RegExp ? y.source : y.pattern;
      return (
        cmp(px, py) ||
        cmp(x instanceof RegExp ? x.flags : x.options, y instanceof RegExp ? y.flags : y.options)
      );
    }
    case 6: {
      const x = a as unknown[];
      const y = b as unknown[];
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const c = compareValues(x[i], y[i]);
        if (c) return c;
      }
      return cmp(x.length, y.length);
    }
    default: {
      const x = a as Doc;
      const y = b as Doc;
      const kx = Object.keys(x);
      const ky = Object.keys(y);
      const n = Math.min(kx.length, ky.length);
      for (let i = 0; i < n; i++) {
        const c = compareValues(x[kx[i]], y[ky[i]]) || cmp(kx[i], ky[i]) || 0;
        if (c) return c;
      }
      return cmp(kx.length, ky.length);
    }
  }
}

/** Equality as MongoDB's query language sees it: numeric types by value, others exactly. */
export function valuesEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  return typeRank(a) === typeRank(b) && compareValues(a, b) === 0;
}

/**
 * A string that is equal for two values exactly when `valuesEqual` holds; used as a hash key
 * (the `_id` map, index lookups, `$group`-like de-duplication).
 */
export function valueKey(v: unknown): string {
  const r = typeRank(v);
  switch (r) {
    case 2:
      return 'z';
    case 3: {
      if (typeof v === 'bigint') {
        return Number.isSafeInteger(Number(v)) ? 'n' + String(Number(v)) : 'n' + v.toString();
      }
      const n = toNumber(v);
      return 'n' + (Object.is(n, -0) ? '0' : String(n));
    }
    case 4:
      return 's' + String(v);
    case 8:
      return 'o' + (v as ObjectId).toHexString();
    case 10:
      return 'd' + (v as Date).getTime();
    case 9:
      return v ? 't' : 'f';
    case 7:
      return (
        'b' +
        (v instanceof Binary ? v.sub_type : 0) +
        Buffer.from(bytesOf(v as Binary)).toString('base64')
      );
    case 6:
      return '[' + (v as unknown[]).map(valueKey).join(',') + ']';
    case 5: {
      const o = v as Doc;
      return (
        '{' +
        Object.keys(o)
          .map((k) => JSON.stringify(k) + ':' + valueKey(o[k]))
          .join(',') +
        '}'
      );
    }
    default:
      return 'x' + r + ':' + String(v);
  }
}

/** The BSON type name MongoDB uses in messages ('int', 'string', 'array' …). */
export function bsonTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'long';
    case 'number':
      // What bson's serializer writes: int32 for integers in range, double otherwise.
      return Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31 && !Object.is(v, -0)
        ? 'int'
        : 'double';
  }
  if (v instanceof Date) return 'date';
  if (v instanceof RegExp || v instanceof BSONRegExp) return 'regex';
  if (v instanceof Timestamp) return 'timestamp';
  if (v instanceof MinKey) return 'minKey';
  if (v instanceof MaxKey) return 'maxKey';
  if (v instanceof ObjectId) return 'objectId';
  if (v instanceof Decimal128) return 'decimal';
  if (v instanceof Double) return 'double';
  if (v instanceof Binary) return 'binData';
  return 'object';
}

/** Shell-like rendering of a value for error messages (duplicate key …). */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof ObjectId) return `ObjectId('${v.toHexString()}')`;
  if (v instanceof Date) return `new Date(${v.getTime()})`;
  if (v instanceof Decimal128) return `NumberDecimal("${v.toString()}")`;
  if (Array.isArray(v)) return '[ ' + v.map(formatValue).join(', ') + ' ]';
  if (typeRank(v) === 5) {
    const o = v as Doc;
    const keys = Object.keys(o);
    if (keys.length === 0) return '{}';
    return '{ ' + keys.map((k) => `${k}: ${formatValue(o[k])}`).join(', ') + ' }';
  }
  if (typeof v === 'object') return JSON.stringify(v);
  return typeof v === 'symbol' ? v.toString() : (JSON.stringify(v) ?? 'undefined');
}

/** Plain objects and arrays are copied; bson values, dates and buffers are shared (immutable). */
export function cloneValue<T>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneValue) as T;
  if (v instanceof Date) return new Date(v.getTime()) as T;
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Doc = {};
    for (const k of Object.keys(v)) setOwn(out, k, cloneValue((v as Doc)[k]));
    return out as T;
  }
  return v;
}

/** A copy for mingo's expression operators, which know only JS numbers: Double → number. */
export function cloneForMingo<T>(v: T): T {
  if (v instanceof Double) return v.value as T;
  if (Array.isArray(v)) return v.map(cloneForMingo) as T;
  if (v instanceof Date) return new Date(v.getTime()) as T;
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Doc = {};
    for (const k of Object.keys(v)) setOwn(out, k, cloneForMingo((v as Doc)[k]));
    return out as T;
  }
  return v;
}

export function isPlainObject(v: unknown): v is Doc {
  return (
    v !== null &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)
  );
}

/**
 * Whether two values are the same BSON (type and value: int32 1 and double 1.0 differ, as do
 * two Binary subtypes): what decides whether an update modified a document.
 */
export function sameBson(a: unknown, b: unknown): boolean {
  if (a === b) return typeof a !== 'number' || !Object.is(a, -0) === !Object.is(b, -0);
  const ta = bsonTypeName(a);
  if (ta !== bsonTypeName(b)) return false;
  if (a === null || a === undefined || b === null || b === undefined) return a === b;
  if (Array.isArray(a)) {
    const y = b as unknown[];
    return a.length === y.length && a.every((v, i) => sameBson(v, y[i]));
  }
  if (ta === 'object') {
    const x = a as Doc;
    const y = b as Doc;
    const kx = Object.keys(x);
    const ky = Object.keys(y);
    return kx.length === ky.length && kx.every((k, i) => k === ky[i] && sameBson(x[k], y[k]));
  }
  if (ta === 'binData') {
    return (
      (a as Binary).sub_type === (b as Binary).sub_type &&
      Buffer.compare(bytesOf(a as Binary), bytesOf(b as Binary)) === 0
    );
  }
  if (ta === 'decimal') return (a as Decimal128).toString() === (b as Decimal128).toString();
  if (ta === 'double') return Object.is(toNumber(a), toNumber(b));
  return compareValues(a, b) === 0;
}

/** Sets an own property, also for `__proto__` (which plain assignment would treat as the prototype). */
export function setOwn(o: Doc, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    o[key] = value;
  }
}
