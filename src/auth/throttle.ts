import { createHash } from 'node:crypto';
import mongoose, { Schema } from 'mongoose';

/**
 * Sign-in throttling shared by every app process: each failed attempt is one document in the
 * database (expired by a TTL index), counted per account and per client address.
 */
export const THROTTLE_WINDOW_MINUTES = 15;
/** Failed attempts allowed for one account within the window. */
export const MAX_FAILURES_PER_ACCOUNT = 5;
/** Failed attempts allowed from one address within the window (several people may share an office NAT). */
export const MAX_FAILURES_PER_IP = 30;

const loginFailureSchema = new Schema(
  {
    /** 'account:<sha256 of the address>' or 'ip:<address>'. Never the address itself. */
    key: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
loginFailureSchema.index({ key: 1, at: -1 });
loginFailureSchema.index({ at: 1 }, { expireAfterSeconds: THROTTLE_WINDOW_MINUTES * 60 });

export const LoginFailure = mongoose.model('LoginFailure', loginFailureSchema, 'login_failures');

export function accountKey(email: string): string {
  return `account:${createHash('sha256').update(email.trim().toLowerCase()).digest('hex')}`;
}

export function ipKey(ip: string | undefined): string {
  return `ip:${ip ?? 'unknown'}`;
}

interface Limit {
  key: string;
  max: number;
}

/**
 * Milliseconds until the next attempt is allowed, or 0 when it is allowed now. Both limits are
 * checked whether or not the account exists, so the answer reveals nothing about accounts.
 */
export async function waitBeforeAttempt(limits: Limit[], now = new Date()): Promise<number> {
  const windowStart = new Date(now.getTime() - THROTTLE_WINDOW_MINUTES * 60_000);
  let wait = 0;
  for (const { key, max } of limits) {
    const recent = await LoginFailure.find(
      { key: { $eq: key }, at: mongoose.trusted({ $gt: windowStart }) },
      { at: 1 },
    )
      .sort({ at: -1 })
      .limit(max)
      .lean();
    if (recent.length >= max) {
      // Allowed again once the oldest of the last `max` failures leaves the window.
      const oldest = recent[recent.length - 1].at.getTime();
      wait = Math.max(wait, oldest + THROTTLE_WINDOW_MINUTES * 60_000 - now.getTime());
    }
  }
  return wait;
}

export async function recordFailure(keys: string[], now = new Date()): Promise<void> {
  await LoginFailure.insertMany(keys.map((key) => ({ key, at: now })));
}

/** A successful sign-in clears the account's failures (not the address's). */
export async function clearFailures(key: string): Promise<void> {
  await LoginFailure.deleteMany({ key: { $eq: key } });
}

export function loginLimits(email: string, ip: string | undefined): Limit[] {
  return [
    { key: accountKey(email), max: MAX_FAILURES_PER_ACCOUNT },
    { key: ipKey(ip), max: MAX_FAILURES_PER_IP },
  ];
}

export function waitMessage(waitMs: number): string {
  const minutes = Math.max(1, Math.ceil(waitMs / 60_000));
  return `ログインの失敗が続いたため、一時的にログインを制限しています。約${minutes}分後にもう一度お試しください。`;
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
