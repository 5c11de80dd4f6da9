import throttleCounters from './0001-throttle-counters.js';
import type { Migration } from './types.js';

/**
 * Every migration, in order. A new one: the next number's file (`0002-what-changes.ts`) default-
 * exporting a Migration, added at the end of this list. Never renumber or edit a released one.
 */
export const MIGRATIONS: readonly Migration[] = [throttleCounters];
