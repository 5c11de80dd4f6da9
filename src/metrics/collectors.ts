import { open, readdir } from 'node:fs/promises';
import type { CommandFailedEvent, CommandSucceededEvent } from 'mongodb';
import { Counter, Histogram } from 'prom-client';
import { CACHE_NAMES, readCaches } from '../cache/read-caches.js';
import type { Database } from '../db.js';
import { OUTBOX_ID } from '../mail/mailer.js';
import { lastBackup } from '../operations/scheduled-backup.js';
import { sharedWhilePending } from '../lib/shared-call.js';
import { metricsRegistry, registerGauge } from './registry.js';

const dbDuration = new Histogram({
  name: 'tsunagu_db_command_duration_seconds',
  help: 'Round trip of database commands as the driver measured it, by command.',
  labelNames: ['command'],
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  registers: [metricsRegistry],
});

/** Commands timed; others count as "other". getMore is left out: change streams wait in it. */
const COMMANDS = new Set([
  'find',
  'insert',
  'update',
  'delete',
  'aggregate',
  'count',
  'distinct',
  'findAndModify',
  'createIndexes',
  'listCollections',
  'listIndexes',
  'ping',
]);

function timeCommand(event: CommandSucceededEvent | CommandFailedEvent): void {
  if (event.commandName === 'getMore') return;
  const command = COMMANDS.has(event.commandName) ? event.commandName : 'other';
  dbDuration.observe({ command }, event.duration / 1000);
}

const timedClients = new WeakSet<object>();

/** The read caches' lookups since start: hits and misses (a miss reads the database). */
const cacheLookups = new Counter({
  name: 'tsunagu_read_cache_lookups_total',
  help: 'Lookups in the read caches (src/cache), by cache and result (hit or miss).',
  labelNames: ['cache', 'result'],
  registers: [metricsRegistry],
  collect() {
    this.reset();
    const caches = readCaches();
    if (!caches) return;
    for (const name of CACHE_NAMES) {
      this.inc({ cache: name, result: 'hit' }, caches[name].hits);
      this.inc({ cache: name, result: 'miss' }, caches[name].misses);
    }
  },
});
void cacheLookups;

/** Outbox ids already read, with whether the SMTP server refused them (files never change). */
const undeliveredById = new Map<string, boolean>();

/** Whether the message's headers carry X-Tsunagu-Undelivered (only its first 8 kB are read). */
async function isUndelivered(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(8192);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const text = buffer.subarray(0, bytesRead).toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    return /^X-Tsunagu-Undelivered:/im.test(end >= 0 ? text.slice(0, end) : text);
  } finally {
    await handle.close();
  }
}

/** Messages in DATA_DIR/outbox, and those among them the mail server refused. */
export async function outboxCounts(
  outboxDir: string,
): Promise<{ messages: number; undelivered: number }> {
  let names: string[];
  try {
    names = await readdir(outboxDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { messages: 0, undelivered: 0 };
    throw error;
  }
  const ids = names
    .filter((name) => name.endsWith('.eml') && OUTBOX_ID.test(name.slice(0, -4)))
    .map((name) => `${outboxDir}/${name.slice(0, -4)}`);
  let undelivered = 0;
  for (const id of ids) {
    let refused = undeliveredById.get(id);
    if (refused === undefined) {
      refused = await isUndelivered(`${id}.eml`).catch(() => false);
      undeliveredById.set(id, refused);
    }
    if (refused) undelivered++;
  }
  if (undeliveredById.size > ids.length * 2 + 100) {
    const present = new Set(ids);
    for (const id of undeliveredById.keys()) if (!present.has(id)) undeliveredById.delete(id);
  }
  return { messages: ids.length, undelivered };
}

/**
 * Points the scrape-time metrics at this app's database and outbox (the latest app built wins:
 * one per process in production) and times the database's commands. Called by createApp.
 */
export function configureMetrics({
  database,
  outboxDir,
}: {
  database: Database;
  outboxDir: string;
}): void {
  const client = database.connection.getClient();
  if (!timedClients.has(client)) {
    timedClients.add(client);
    client.on('commandSucceeded', timeCommand);
    client.on('commandFailed', timeCommand);
  }

  const storeFigure = (key: 'journalBytes' | 'snapshotBytes' | 'documents') => async () => {
    if (database.kind !== 'embedded') return null;
    await database.refresh();
    const value = database.stats()[key];
    return typeof value === 'number' ? value : null;
  };
  registerGauge({
    name: 'tsunagu_store_journal_bytes',
    help: 'Size of the embedded store journal files (no sample on MongoDB).',
    read: storeFigure('journalBytes'),
  });
  registerGauge({
    name: 'tsunagu_store_snapshot_bytes',
    help: 'Size of the embedded store snapshot (no sample on MongoDB).',
    read: storeFigure('snapshotBytes'),
  });
  registerGauge({
    name: 'tsunagu_store_documents',
    help: 'Documents held by the embedded store (no sample on MongoDB).',
    read: storeFigure('documents'),
  });
  registerGauge({
    name: 'tsunagu_read_cache_entries',
    help: 'Entries held by each read cache (src/cache).',
    labelNames: ['cache'],
    read: () => {
      const caches = readCaches();
      if (!caches) return null;
      return CACHE_NAMES.map((name) => ({ labels: { cache: name }, value: caches[name].size }));
    },
  });
  registerGauge({
    name: 'tsunagu_read_cache_hit_ratio',
    help: 'Share of read-cache lookups answered from memory since start, by cache.',
    labelNames: ['cache'],
    read: () => {
      const caches = readCaches();
      if (!caches) return null;
      return CACHE_NAMES.flatMap((name) => {
        const { hits, misses } = caches[name];
        return hits + misses === 0
          ? []
          : [{ labels: { cache: name }, value: hits / (hits + misses) }];
      });
    },
  });
  // The two backup gauges of one scrape share one query.
  const lastScheduledBackup = sharedWhilePending(async () => {
    const db = database.connection.db;
    return db ? lastBackup(db) : null;
  });
  registerGauge({
    name: 'tsunagu_backup_last_age_seconds',
    help: 'Seconds since the last successful scheduled backup finished (no sample before the first).',
    read: async () => {
      const last = await lastScheduledBackup();
      return last ? (Date.now() - last.at.getTime()) / 1000 : null;
    },
  });
  registerGauge({
    name: 'tsunagu_backup_last_bytes',
    help: 'Size of the last successful scheduled backup (no sample before the first).',
    read: async () => {
      const last = await lastScheduledBackup();
      return last ? last.bytes : null;
    },
  });
  registerGauge({
    name: 'tsunagu_mail_outbox_messages',
    help: 'Messages in DATA_DIR/outbox, by state: written (no SMTP_URL) or undelivered (refused by the SMTP server).',
    labelNames: ['state'],
    read: async () => {
      const { messages, undelivered } = await outboxCounts(outboxDir);
      return [
        { labels: { state: 'written' }, value: messages - undelivered },
        { labels: { state: 'undelivered' }, value: undelivered },
      ];
    },
  });
}
