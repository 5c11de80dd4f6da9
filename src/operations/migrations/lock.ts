import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Collection, Db } from 'mongodb';

/**
 * One lock document (`_id: 'migrations'` in `migrations_lock`): taken by inserting it, so of two
 * processes starting together exactly one succeeds (the other gets a duplicate key). It carries an
 * expiry, renewed while the holder works, so a holder that crashed blocks the next start for at
 * most `ttlMs`: an expired lock is deleted (only if still the same document) and taken anew.
 */
interface LockDocument {
  _id: string;
  owner: string;
  host: string;
  pid: number;
  expiresAt: Date;
}

export const LOCK_COLLECTION = 'migrations_lock';
const LOCK_ID = 'migrations';

export interface LockOptions {
  /** The lock's lifetime without renewal. Default 60 s; renewed every third of it. */
  ttlMs?: number;
  /** How long to wait for another holder before giving up. Default 10 minutes. */
  waitMs?: number;
  /** How often a waiting process looks again. Default 250 ms. */
  pollMs?: number;
}

export interface HeldLock {
  release(): Promise<void>;
}

const isDuplicateKey = (error: unknown) => (error as { code?: unknown }).code === 11000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function acquireMigrationLock(db: Db, options: LockOptions = {}): Promise<HeldLock> {
  const ttlMs = options.ttlMs ?? 60_000;
  const waitMs = options.waitMs ?? 10 * 60_000;
  const pollMs = options.pollMs ?? 250;
  const locks: Collection<LockDocument> = db.collection(LOCK_COLLECTION);
  const owner = randomUUID();
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      await locks.insertOne({
        _id: LOCK_ID,
        owner,
        host: hostname(),
        pid: process.pid,
        expiresAt: new Date(Date.now() + ttlMs),
      });
      break;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    // Held: take it over when its holder stopped renewing it, otherwise wait.
    const expired = await locks.deleteOne({ _id: LOCK_ID, expiresAt: { $lt: new Date() } });
    if (expired.deletedCount > 0) continue;
    if (Date.now() >= until) {
      const holder = await locks.findOne({ _id: LOCK_ID });
      throw new Error(
        `another process (${holder ? `pid ${holder.pid} on ${holder.host}` : 'unknown'}) has been ` +
          `running the migrations for more than ${Math.round(waitMs / 1000)} s; ` +
          `if it is gone, delete the document "${LOCK_ID}" of the collection ${LOCK_COLLECTION}`,
      );
    }
    await sleep(pollMs);
  }
  const renew = setInterval(
    () => {
      locks
        .updateOne({ _id: LOCK_ID, owner }, { $set: { expiresAt: new Date(Date.now() + ttlMs) } })
        .catch(() => undefined);
    },
    Math.max(10, Math.floor(ttlMs / 3)),
  );
  renew.unref();
  return {
    async release() {
      clearInterval(renew);
      await locks.deleteOne({ _id: LOCK_ID, owner });
    },
  };
}
