import { createHash, randomUUID } from 'node:crypto';
import mongoose, { Schema } from 'mongoose';
import { isDuplicateKey } from '../lib/forms.js';

/**
 * Throttling shared by every app process: one document per key (an account, a client address, a
 * form) holding its latest attempts, oldest first, at most as many as the key's limit. An attempt
 * is reserved by one atomic update that adds it only while fewer than `max` attempts fall in the
 * window, so parallel requests cannot all pass a check made before any of them is recorded.
 */
export const THROTTLE_WINDOW_MINUTES = 15;
/** Failed attempts allowed for one account within the window. */
export const MAX_FAILURES_PER_ACCOUNT = 5;
/** Failed attempts allowed from one address within the window (several people may share an office NAT). */
export const MAX_FAILURES_PER_IP = 30;
/** Wrong current passwords allowed on the account page, per account, within the window. */
export const MAX_CURRENT_PASSWORD_FAILURES = 5;

const WINDOW_MS = THROTTLE_WINDOW_MINUTES * 60_000;

const throttleSchema = new Schema(
  {
    /** 'account:<sha256 of the address>', 'ip:<address>', '<form>:<address>'. Never an address. */
    key: { type: String, required: true },
    /** The latest attempts, oldest first; `id` lets a reservation be given back. */
    attempts: {
      type: [
        { _id: false, id: { type: String, required: true }, at: { type: Date, required: true } },
      ],
      default: [],
    },
    /** The end of the window of the latest attempt: the document is removed then. */
    expiresAt: { type: Date, required: true },
  },
  { versionKey: false },
);
throttleSchema.index({ key: 1 }, { unique: true });
throttleSchema.index({ expiresAt: 1 }, { expireAfterSeconds: 0 });

export const ThrottleCounter = mongoose.model(
  'ThrottleCounter',
  throttleSchema,
  'throttle_counters',
);

export function accountKey(email: string): string {
  return `account:${createHash('sha256').update(email.trim().toLowerCase()).digest('hex')}`;
}

export function ipKey(ip: string | undefined): string {
  return `ip:${ip ?? 'unknown'}`;
}

export function currentPasswordKey(userId: string): string {
  return `current-password:${userId}`;
}

export interface Limit {
  key: string;
  max: number;
}

/** One reserved attempt, to give back with releaseAttempts when it should not count. */
export interface Reservation {
  key: string;
  id: string;
}

type Attempt = { id: string; at: Date };

/** Milliseconds until a key holding these attempts allows another one (0: now). */
function waitFor(attempts: Attempt[], max: number, now: Date): number {
  if (attempts.length < max) return 0;
  const oldest = attempts[attempts.length - max].at.getTime();
  return Math.max(0, oldest + WINDOW_MS - now.getTime());
}

/** Adds one attempt to the key when its limit allows it: true when added. Atomic per key. */
async function tryReserve({ key, max }: Limit, id: string, now: Date): Promise<boolean> {
  const windowStart = new Date(now.getTime() - WINDOW_MS);
  const filter = {
    key: { $eq: key },
    // Fewer than `max` attempts kept, or the oldest of the last `max` has left the window.
    $or: [
      { [`attempts.${max - 1}`]: mongoose.trusted({ $exists: false }) },
      { 'attempts.0.at': mongoose.trusted({ $lte: windowStart }) },
    ],
  };
  const update = {
    $push: { attempts: { $each: [{ id, at: now }], $slice: -max } },
    $set: { expiresAt: new Date(now.getTime() + WINDOW_MS) },
  };
  // Stryker disable next-line BooleanLiteral: a second upsert meets the same duplicate key and ends the loop with false too
  for (const upsert of [true, false]) {
    try {
      const result = await ThrottleCounter.updateOne(filter, update, { upsert });
      return result.matchedCount + result.upsertedCount > 0;
    } catch (error) {
      // The key exists and its limit is reached (or another request created it just now):
      // try again without creating, which only adds to a key that allows it.
      // Stryker disable next-line LogicalOperator: a non-duplicate error is thrown by the second pass instead
      if (!upsert || !isDuplicateKey(error)) throw error;
    }
  }
  // Stryker disable next-line BooleanLiteral: not reached (the pass without upsert returns or throws)
  return false;
}

/**
 * Reserves one attempt under every limit before the attempt is made (the slow password check).
 * Either every limit allows it and one attempt is counted under each, or nothing stays counted
 * and the answer is how long to wait. Keys are checked whether or not the account exists, so the
 * answer reveals nothing about accounts.
 */
export async function reserveAttempt(
  limits: Limit[],
  now = new Date(),
): Promise<{ reservations: Reservation[] } | { wait: number; key: string }> {
  const id = randomUUID();
  const reservations: Reservation[] = [];
  for (const limit of limits) {
    if (await tryReserve(limit, id, now)) {
      reservations.push({ key: limit.key, id });
      continue;
    }
    await releaseAttempts(reservations);
    const wait = await waitBeforeAttempt([limit], now);
    // Just freed by a release or a success: count it as a wait of the shortest kind.
    return { wait: Math.max(wait, 1000), key: limit.key };
  }
  return { reservations };
}

/** Gives reserved attempts back (the attempt did not fail: it succeeded, or was never made). */
export async function releaseAttempts(reservations: Reservation[]): Promise<void> {
  for (const { key, id } of reservations) {
    await ThrottleCounter.updateOne({ key: { $eq: key } }, { $pull: { attempts: { id } } });
  }
}

/**
 * The limit that refuses an attempt now and how long it waits (the longest wait when several
 * do), or undefined when every limit allows it. Reserves nothing.
 */
export async function blockingLimit(
  limits: Limit[],
  now = new Date(),
): Promise<{ wait: number; key: string } | undefined> {
  // One query for every key (a sign-in checks two: the account and the address).
  const counters = await ThrottleCounter.find(
    { key: mongoose.trusted({ $in: limits.map(({ key }) => key) }) },
    // Stryker disable next-line ObjectLiteral: the projection only saves reading the rest
    { key: 1, attempts: 1 },
  ).lean();
  const attemptsOf = new Map(counters.map((counter) => [counter.key, counter.attempts]));
  let blocking: { wait: number; key: string } | undefined;
  for (const { key, max } of limits) {
    const attempts = attemptsOf.get(key);
    const wait = attempts ? waitFor(attempts, max, now) : 0;
    if (wait > (blocking?.wait ?? 0)) blocking = { wait, key };
  }
  return blocking;
}

/**
 * Milliseconds until the next attempt is allowed, or 0 when it is allowed now: a check that
 * reserves nothing, for forms that count only what they accepted (recordAttempt afterwards).
 */
export async function waitBeforeAttempt(limits: Limit[], now = new Date()): Promise<number> {
  return (await blockingLimit(limits, now))?.wait ?? 0;
}

/** Counts one attempt under each key whatever its limit (the key keeps its last `max`). */
export async function recordAttempt(limits: Limit[], now = new Date()): Promise<void> {
  for (const { key, max } of limits) {
    await ThrottleCounter.updateOne(
      { key: { $eq: key } },
      {
        $push: { attempts: { $each: [{ id: randomUUID(), at: now }], $slice: -max } },
        $set: { expiresAt: new Date(now.getTime() + WINDOW_MS) },
      },
      { upsert: true },
    ).catch(recordAgain(key, max, now));
  }
}

// Stryker disable all: reached only when two first attempts race to create the key, which the
// embedded store serialises (no duplicate key to catch)
/** The handler of a failed recordAttempt: created by a parallel request, so add to it. */
function recordAgain(key: string, max: number, now: Date) {
  return async (error: unknown): Promise<void> => {
    if (!isDuplicateKey(error)) throw error;
    await recordAttempt([{ key, max }], now);
  };
}
// Stryker restore all

/** A successful sign-in clears the account's attempts (not the address's). */
export async function clearAttempts(key: string): Promise<void> {
  await ThrottleCounter.deleteOne({ key: { $eq: key } });
}

export function loginLimits(email: string, ip: string | undefined): Limit[] {
  return [
    { key: accountKey(email), max: MAX_FAILURES_PER_ACCOUNT },
    { key: ipKey(ip), max: MAX_FAILURES_PER_IP },
  ];
}

export function currentPasswordLimit(userId: string): Limit {
  return { key: currentPasswordKey(userId), max: MAX_CURRENT_PASSWORD_FAILURES };
}

export function waitMessage(waitMs: number): string {
  const minutes = Math.max(1, Math.ceil(waitMs / 60_000));
  return `ログインの失敗が続いたため、一時的にログインを制限しています。約${minutes}分後にもう一度お試しください。`;
}

export function currentPasswordWaitMessage(waitMs: number): string {
  const minutes = Math.max(1, Math.ceil(waitMs / 60_000));
  return `現在のパスワードの誤りが続いたため、一時的にパスワードの変更を制限しています。約${minutes}分後にもう一度お試しください。`;
}

/** Other anonymous forms that send mail: counted per client address in the same window. */
export const MAX_REGISTRATIONS_PER_IP = 10;
export const MAX_RESET_REQUESTS_PER_IP = 20;

export function formLimit(form: 'register' | 'forgot', ip: string | undefined): Limit {
  return {
    key: `${form}:${ip ?? 'unknown'}`,
    max: form === 'register' ? MAX_REGISTRATIONS_PER_IP : MAX_RESET_REQUESTS_PER_IP,
  };
}

export function formWaitMessage(waitMs: number): string {
  const minutes = Math.max(1, Math.ceil(waitMs / 60_000));
  return `短い時間に多くの送信がありました。約${minutes}分後にもう一度お試しください。`;
}
