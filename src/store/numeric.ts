import { Decimal128, Double } from 'bson';
import { $push as pushAccumulator } from 'mingo/operators/accumulator';
import type { Options } from 'mingo/types';
import { compareValues, isNumeric, toNumber, type Doc } from './values.js';

/*
 * Arithmetic across MongoDB's numeric types, for what mingo does with plain JS numbers only:
 * the $inc/$mul/$min/$max update operators and the $sum/$avg/$min/$max accumulators.
 * int64 is bigint; Decimal128 is computed exactly as (bigint mantissa, exponent).
 */

export type Num = number | bigint | Decimal128 | Double;

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

interface Dec {
  m: bigint;
  e: number;
}

function toDec(v: Num): Dec | null {
  const s = typeof v === 'number' ? (Number.isFinite(v) ? numberToPlain(v) : '') : v.toString();
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!match || (match[2] === '' && !match[3])) return null;
  const digits = (match[2] || '') + (match[3] || '');
  const m = BigInt(digits || '0') * (match[1] === '-' ? -1n : 1n);
  return { m, e: Number(match[4] ?? 0) - (match[3]?.length ?? 0) };
}

function numberToPlain(n: number): string {
  return Number.isInteger(n) && Math.abs(n) < 1e21 ? BigInt(n).toString() : String(n);
}

function decToDecimal128(d: Dec): Decimal128 {
  const neg = d.m < 0n;
  const digits = (neg ? -d.m : d.m).toString();
  return Decimal128.fromStringWithRounding(`${neg ? '-' : ''}${digits}E${d.e}`);
}

function align(a: Dec, b: Dec): [bigint, bigint, number] {
  const e = Math.min(a.e, b.e);
  return [a.m * 10n ** BigInt(a.e - e), b.m * 10n ** BigInt(b.e - e), e];
}

function isDecimal(v: unknown): v is Decimal128 {
  return v instanceof Decimal128;
}

function toInteger(v: Num): bigint | number {
  return typeof v === 'bigint' ? v : toNumber(v);
}

/** True when MongoDB would type a result as double: a double operand. */
function isDoubleOperand(v: Num): boolean {
  return v instanceof Double || (typeof v === 'number' && !Number.isInteger(v));
}

/** A double result; integral values stay Double so they are not stored as int32. */
function asDouble(n: number): number | Double {
  return Number.isInteger(n) ? new Double(n) : n;
}

function fitsInt32(n: number): boolean {
  return Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX;
}

/** a + b with MongoDB's result types (int32 overflow widens to int64). */
export function add(a: Num, b: Num): Num {
  if (isDecimal(a) || isDecimal(b)) {
    const x = toDec(a);
    const y = toDec(b);
    if (!x || !y) return Decimal128.fromString(String(toNumber(a) + toNumber(b)));
    const [mx, my, e] = align(x, y);
    return decToDecimal128({ m: mx + my, e });
  }
  if (isDoubleOperand(a) || isDoubleOperand(b)) return asDouble(toNumber(a) + toNumber(b));
  if (typeof a === 'bigint' || typeof b === 'bigint')
    return BigInt(toInteger(a)) + BigInt(toInteger(b));
  const x = toNumber(a);
  const y = toNumber(b);
  const sum = x + y;
  if (fitsInt32(x) && fitsInt32(y) && !fitsInt32(sum)) return BigInt(x) + BigInt(y);
  return sum;
}

/** a * b with MongoDB's result types. */
export function multiply(a: Num, b: Num): Num {
  if (isDecimal(a) || isDecimal(b)) {
    const x = toDec(a);
    const y = toDec(b);
    if (!x || !y) return Decimal128.fromString(String(toNumber(a) * toNumber(b)));
    return decToDecimal128({ m: x.m * y.m, e: x.e + y.e });
  }
  if (isDoubleOperand(a) || isDoubleOperand(b)) return asDouble(toNumber(a) * toNumber(b));
  if (typeof a === 'bigint' || typeof b === 'bigint')
    return BigInt(toInteger(a)) * BigInt(toInteger(b));
  const x = toNumber(a);
  const y = toNumber(b);
  const product = x * y;
  if (fitsInt32(x) && fitsInt32(y) && !fitsInt32(product) && Number.isSafeInteger(product)) {
    return BigInt(x) * BigInt(y);
  }
  return product;
}

type Accumulator = (collection: Doc[], expr: unknown, options: Options) => unknown;

function values(collection: Doc[], expr: unknown, options: Options): unknown[] {
  return (pushAccumulator as Accumulator)(collection, expr, options) as unknown[];
}

/** $sum over every numeric type (non-numeric values are ignored, as in MongoDB). */
export const $sum: Accumulator = (collection, expr, options) => {
  let total: Num = 0;
  for (const v of values(collection, expr, options)) {
    if (isNumeric(v)) total = add(total, v as Num);
  }
  return total;
};

/** $avg over every numeric type; a double unless a Decimal128 is involved. */
export const $avg: Accumulator = (collection, expr, options) => {
  let total: Num = 0;
  let n = 0;
  for (const v of values(collection, expr, options)) {
    if (isNumeric(v)) {
      total = add(total, v as Num);
      n++;
    }
  }
  if (n === 0) return null;
  if (isDecimal(total)) {
    const d = toDec(total);
    // Exact decimal division (34 more digits than needed, rounded once by Decimal128).
    return d ? decToDecimal128({ m: (d.m * 10n ** 40n) / BigInt(n), e: d.e - 40 }) : total;
  }
  return asDouble(toNumber(total) / n);
};

function extreme(sign: number): Accumulator {
  return (collection, expr, options) => {
    let best: unknown = null;
    for (const v of values(collection, expr, options)) {
      if (v === null || v === undefined) continue;
      if (best === null || compareValues(v, best) * sign > 0) best = v;
    }
    return best;
  };
}

export const $max = extreme(1);
export const $min = extreme(-1);
