import { Types } from 'mongoose';
import type { SessionUser } from '../auth/session-user.js';

/** The learner's ids as stored on every progress record (area copied for reports without joins). */
export interface Learner {
  userId: Types.ObjectId;
  municipalityId: Types.ObjectId | null;
  regionId: Types.ObjectId | null;
}

const toId = (value: string | null | undefined) =>
  value && Types.ObjectId.isValid(value) ? new Types.ObjectId(value) : null;

export function learnerOf(user: SessionUser): Learner {
  return {
    userId: new Types.ObjectId(user.id),
    municipalityId: toId(user.municipalityId),
    regionId: toId(user.regionId),
  };
}

/** True for a duplicate-key error (a concurrent upsert won the race). */
export function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 11000;
}

/** Runs an upsert, retrying once when a concurrent upsert of the same key won the race. */
export async function upsertWithRetry<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    return run();
  }
}
