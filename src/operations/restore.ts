import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { Db, Document } from 'mongodb';
import tar from 'tar-stream';
import {
  BsonSplitter,
  decodeExact,
  entryOf,
  parseMetadata,
  verifyChecksum,
  type CollectionMetadata,
} from './archive.js';

/**
 * `npm run restore`: loads a backup made by backup.ts (or mongodump's layout packed as .tar.gz)
 * into a database. The checksum is verified and the whole archive read through (gzip, tar, every
 * document's BSON, every metadata.json) before anything is written, so a damaged archive whose
 * checksum was made after the damage is refused as well; a database that holds
 * collections is refused unless `drop` is set, which drops them all first (the result is the
 * backup, nothing else). Indexes are built after the documents, as mongorestore does.
 */

export interface RestoreOptions {
  drop?: boolean;
  onProgress?: (progress: { collection: string; documents: number }) => void;
}

export interface RestoredCollection {
  name: string;
  documents: number;
  indexes: number;
}

export interface RestoreResult {
  sha256: string;
  collections: RestoredCollection[];
}

/** Refused before anything was written (bad archive, non-empty target). */
export class RestoreRefused extends Error {}

/** Failed after writing began: the target holds part of the backup. */
export class RestoreFailed extends Error {}

const maxBatchDocuments = 1000;
const maxBatchBytes = 8 * 1024 * 1024;

async function userCollections(db: Db): Promise<string[]> {
  const list = await db.listCollections({}, { nameOnly: true }).toArray();
  return list.map((c) => c.name).filter((name) => !name.startsWith('system.'));
}

export async function restoreDatabase(
  db: Db,
  archive: string,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  let sha256: string;
  try {
    sha256 = await verifyChecksum(archive);
  } catch (error) {
    throw new RestoreRefused((error as Error).message);
  }
  try {
    await inspectArchive(archive);
  } catch (error) {
    throw new RestoreRefused(`the archive cannot be read: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const existing = await userCollections(db);
  if (existing.length && !options.drop) {
    throw new RestoreRefused(
      `the database "${db.databaseName}" is not empty (${existing.length} collections); ` +
        'restore into an empty database, or give --drop to replace its contents',
    );
  }

  const metadata = new Map<string, CollectionMetadata>();
  const counts = new Map<string, number>();
  try {
    for (const name of existing) await db.collection(name).drop();

    await forEachArchiveEntry(archive, async (what, entry) => {
      if (what.kind === 'metadata') {
        metadata.set(what.collection, parseMetadata(await readAll(entry)));
        return;
      }
      await insertAll(db, what.collection, entry, metadata.get(what.collection), (n) => {
        counts.set(what.collection, n);
        options.onProgress?.({ collection: what.collection, documents: n });
      });
      counts.set(what.collection, counts.get(what.collection) ?? 0);
    });

    const restored: RestoredCollection[] = [];
    const names = [...new Set([...metadata.keys(), ...counts.keys()])].sort();
    for (const name of names) {
      const meta = metadata.get(name);
      if (!counts.has(name)) await createCollection(db, name, meta);
      const indexes = (meta?.indexes ?? [])
        .filter((spec) => spec.name !== '_id_')
        .map((spec) => {
          const { ns: _ns, v: _v, ...rest } = spec;
          return rest;
        });
      if (indexes.length) {
        await db.command({ createIndexes: name, indexes: indexes as Document[] });
      }
      restored.push({ name, documents: counts.get(name) ?? 0, indexes: indexes.length + 1 });
    }
    return { sha256, collections: restored };
  } catch (error) {
    throw new RestoreFailed(
      `${(error as Error).message}; the database "${db.databaseName}" now holds part of the ` +
        'backup: run the restore again with --drop',
    );
  }
}

/**
 * Reads the whole archive without writing anything: the gzip and tar framing, one database,
 * every metadata.json, every document a whole, well-formed BSON document. Throws at the first
 * problem; returns the number of collections.
 */
async function inspectArchive(archive: string): Promise<number> {
  const collections = new Set<string>();
  await forEachArchiveEntry(archive, async (what, entry) => {
    collections.add(what.collection);
    try {
      if (what.kind === 'metadata') {
        parseMetadata(await readAll(entry));
        return;
      }
      const splitter = new BsonSplitter();
      for await (const chunk of entry) {
        for (const bytes of splitter.push(chunk as Buffer)) decodeExact(bytes);
      }
      splitter.end();
    } catch (error) {
      throw new Error(`${entry.header.name}: ${(error as Error).message}`, { cause: error });
    }
  });
  if (collections.size === 0) throw new Error('it holds no collection');
  return collections.size;
}

type ArchiveEntry = NonNullable<ReturnType<typeof entryOf>>;
type TarEntry = AsyncIterable<unknown> & { header: { name: string }; resume(): void };

/**
 * Streams the archive's files in order to `onEntry` (metadata and documents of one database;
 * anything else is skipped), refusing an archive that holds more than one database.
 */
async function forEachArchiveEntry(
  archive: string,
  onEntry: (what: ArchiveEntry, entry: TarEntry) => Promise<void>,
): Promise<void> {
  const extract = tar.extract();
  let archiveDb: string | null = null;
  const consume = async () => {
    for await (const entry of extract) {
      const what = entry.header.type === 'file' ? entryOf(entry.header.name) : null;
      if (!what) {
        entry.resume();
        continue;
      }
      if (archiveDb !== null && what.db !== archiveDb) {
        throw new Error(`it holds more than one database (${archiveDb}, ${what.db})`);
      }
      archiveDb = what.db;
      await onEntry(what, entry);
    }
  };
  await Promise.all([pipeline(createReadStream(archive), createGunzip(), extract), consume()]);
}

async function readAll(entry: AsyncIterable<unknown>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of entry) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

async function createCollection(db: Db, name: string, meta: CollectionMetadata | undefined) {
  const options = { ...(meta?.options ?? {}) };
  await db.command({ create: name, ...options });
}

/** Inserts the entry's documents in batches (ordered), with their exact BSON types. */
async function insertAll(
  db: Db,
  name: string,
  source: AsyncIterable<unknown>,
  meta: CollectionMetadata | undefined,
  onCount: (documents: number) => void,
): Promise<void> {
  await createCollection(db, name, meta);
  const collection = db.collection(name);
  const splitter = new BsonSplitter();
  let batch: Document[] = [];
  let batchBytes = 0;
  let documents = 0;
  const flush = async () => {
    if (!batch.length) return;
    await collection.insertMany(batch, { ordered: true, forceServerObjectId: false });
    documents += batch.length;
    batch = [];
    batchBytes = 0;
    onCount(documents);
  };
  for await (const chunk of source) {
    for (const bytes of splitter.push(chunk as Buffer)) {
      batch.push(decodeExact(bytes));
      batchBytes += bytes.length;
      if (batch.length >= maxBatchDocuments || batchBytes >= maxBatchBytes) await flush();
    }
  }
  splitter.end();
  await flush();
}
