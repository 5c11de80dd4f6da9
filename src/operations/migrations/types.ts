import type { Db } from 'mongodb';
import type { Logger } from '../../lib/logger.js';

/**
 * One change of data shape between versions, in a numbered file (`0001-….ts`) listed in
 * index.ts. `up` works on the raw driver (no mongoose models: a model describes today's shape,
 * a migration the way from yesterday's) and must be idempotent: a migration interrupted by a
 * crash runs again from the start on the next start-up.
 */
export interface Migration {
  /** Four digits, the file's number: migrations run in this order. */
  id: string;
  /** One English line: what changes and why. Recorded as the migration's name. */
  description: string;
  up(context: MigrationContext): Promise<void>;
}

export interface MigrationContext {
  db: Db;
  /** For figures only (counts, durations): never documents, addresses or names. */
  logger: Logger;
}
