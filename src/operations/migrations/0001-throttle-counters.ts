import type { ObjectId } from 'mongodb';
import type { Migration } from './types.js';

/**
 * Sign-in throttling kept one document per failed attempt in `login_failures` ({ key, at }, a TTL
 * index on `at`) until commit 7d0491b, which replaced it by one document per key in
 * `throttle_counters` ({ key, attempts: [{ id, at }], expiresAt }). Two things were left behind
 * in a database upgraded across that change:
 * - the failures of the current window were forgotten, so an upgrade reset every lock-out (an
 *   account under a password-guessing run got five fresh attempts);
 * - `login_failures` itself stayed, with its indexes: client IP addresses nobody reads any more.
 * This carries the failures still inside the window over to `throttle_counters` (merged with any
 * counted since, newest kept up to the key's limit) and drops `login_failures`.
 *
 * The limits and window are written here as they were then (15 minutes; 5 per account, 30 per
 * address), not imported: a later change of src/auth/throttle.ts must not change this migration.
 * Idempotent: a carried attempt's id is derived from its old document, so a run interrupted
 * before the drop adds nothing twice.
 */
const WINDOW_MS = 15 * 60_000;
const MAX_BY_PREFIX: Record<string, number> = { account: 5, ip: 30 };

interface OldFailure {
  _id: ObjectId;
  key: string;
  at: Date;
}

interface Counter {
  key: string;
  attempts: Array<{ id: string; at: Date }>;
  expiresAt: Date;
}

const migration: Migration = {
  id: '0001',
  description: 'sign-in failures: login_failures (one document per failure) into throttle_counters',
  async up({ db, logger }) {
    const exists = await db
      .listCollections({ name: 'login_failures' }, { nameOnly: true })
      .hasNext();
    if (!exists) return;
    const since = new Date(Date.now() - WINDOW_MS);
    const failures = await db
      .collection<OldFailure>('login_failures')
      .find({ at: { $gt: since } })
      .sort({ at: 1 })
      .toArray();
    const byKey = new Map<string, OldFailure[]>();
    for (const failure of failures) {
      if (typeof failure.key !== 'string' || !(failure.at instanceof Date)) continue;
      const list = byKey.get(failure.key) ?? [];
      list.push(failure);
      byKey.set(failure.key, list);
    }
    const counters = db.collection<Counter>('throttle_counters');
    let carried = 0;
    for (const [key, list] of byKey) {
      const max = MAX_BY_PREFIX[key.slice(0, key.indexOf(':'))];
      if (!max) continue;
      const existing = await counters.findOne({ key }, { projection: { attempts: 1 } });
      const present = new Set((existing?.attempts ?? []).map((attempt) => attempt.id));
      const attempts = list
        .map((failure) => ({ id: `login_failures:${failure._id.toHexString()}`, at: failure.at }))
        .filter((attempt) => !present.has(attempt.id));
      if (attempts.length === 0) continue;
      const last = attempts[attempts.length - 1].at;
      await counters.updateOne(
        { key },
        {
          $push: { attempts: { $each: attempts, $sort: { at: 1 }, $slice: -max } },
          $max: { expiresAt: new Date(last.getTime() + WINDOW_MS) },
        },
        { upsert: true },
      );
      carried += attempts.length;
    }
    await db.dropCollection('login_failures');
    logger.info({ keys: byKey.size, attempts: carried }, 'sign-in failures carried over');
  },
};

export default migration;
