import type { Db } from 'mongodb';
import type { Logger } from '../lib/logger.js';
import { ChangeFeed } from './change-feed.js';
import { DocumentCache, type CacheOptions } from './document-cache.js';

/**
 * The reads every signed-in request makes — its session, its user, the learner's progress — and
 * the quiz attempt a quiz's pages read, kept in memory between requests and dropped the moment the
 * database says they changed (see ChangeFeed). Without a live feed every read goes to the
 * database, as before.
 */
export interface ReadCaches {
  feed: ChangeFeed;
  sessions: DocumentCache<CachedSession>;
  users: DocumentCache<object>;
  progress: DocumentCache<object>;
  /** Quiz attempts by attemptId: the attempt page, its submission and the result read one each. */
  attempts: DocumentCache<object>;
}

/** A stored session as the session store reads it (the session itself stays JSON text). */
export interface CachedSession {
  json: string;
  expires: Date | null;
  lastModified: Date | null;
}

const OPTIONS: CacheOptions = { max: 20_000, ttlMs: 10 * 60_000 };
/**
 * An attempt holds its questions, options and explanations (a few kB) and is read within minutes
 * of its start (page, submission, result): fewer entries, for a shorter time.
 */
const ATTEMPT_OPTIONS: CacheOptions = { max: 2_000, ttlMs: 10 * 60_000 };

/** The caches by the name /metrics and /healthz give them. */
export const CACHE_NAMES = ['sessions', 'users', 'progress', 'attempts'] as const;

let current: ReadCaches | null = null;

/** The caches of the connected database, or null (not connected, or caches turned off). */
export function readCaches(): ReadCaches | null {
  return current;
}

/** The change feed of the connected database (for the models' write hooks). */
export function currentFeed(): ChangeFeed | null {
  return current?.feed ?? null;
}

/**
 * @param compareTimes The database is the embedded store, whose read and change times can be
 *   compared (see ChangeFeed).
 */
export function startReadCaches(db: Db, logger: Logger, compareTimes: boolean): ReadCaches {
  const feed = new ChangeFeed(db, logger, compareTimes);
  const caches: ReadCaches = {
    feed,
    sessions: new DocumentCache('sessions', feed, OPTIONS),
    users: new DocumentCache('users', feed, OPTIONS),
    progress: new DocumentCache('learner_progress', feed, OPTIONS),
    attempts: new DocumentCache('quiz_attempts', feed, ATTEMPT_OPTIONS),
  };
  current = caches;
  feed.start();
  return caches;
}

export async function stopReadCaches(caches: ReadCaches): Promise<void> {
  if (current === caches) current = null;
  await caches.feed.close();
}
