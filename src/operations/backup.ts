import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { BSON, Binary, type Db, type Document } from 'mongodb';
import tar from 'tar-stream';
import {
  BsonSplitter,
  checksumFile,
  checksumLine,
  metadataJson,
  type CollectionMetadata,
} from './archive.js';

/**
 * `npm run backup`: the whole database as a .tar.gz in mongodump's layout (see archive.ts).
 *
 * Consistency. Neither the embedded store nor a standalone MongoDB offers a read of several
 * collections at one instant, so the snapshot is per collection:
 * - Each collection is read by one cursor. On the embedded store a find fixes its result (the
 *   stored documents, which writes replace rather than change) when it runs, so a collection is
 *   captured at one instant; on MongoDB each document is whole but writes made during the scan
 *   may or may not appear. Documents are always written whole (their exact BSON bytes).
 * - Ordinary collections are read first, GridFS buckets last, `<bucket>.files` before
 *   `<bucket>.chunks`: a record saved before the files were read can only point at a file
 *   uploaded before it (uploads write the chunks, then the files document), so it is in the
 *   backup unless it was deleted meanwhile.
 * - Within a bucket, chunks without a files document in the backup (an upload in progress) are
 *   left out, and a file whose chunks are incomplete (deleted during the backup) is left out, so
 *   every file in the backup is whole.
 * Stop the app (or take the backup when nobody works) when a single instant across collections
 * matters more than staying online.
 */

export interface BackupProgress {
  collection: string;
  collectionsDone: number;
  collections: number;
  documents: number;
  /** BSON bytes read so far (before compression). */
  bytes: number;
}

export interface CollectionSummary {
  name: string;
  documents: number;
  bytes: number;
  indexes: number;
}

export interface BackupResult {
  file: string;
  sha256: string;
  /** Size of the archive on disk. */
  archiveBytes: number;
  collections: CollectionSummary[];
  /** GridFS files left out because they were being uploaded or deleted during the backup. */
  skippedFiles: number;
}

export interface BackupOptions {
  /** The directory name inside the archive; defaults to the database's name. */
  dbName?: string;
  onProgress?: (progress: BackupProgress) => void;
  /** Stops the backup (app shutdown): it then fails like any other, leaving nothing behind. */
  signal?: AbortSignal;
  /**
   * Opens the files the backup writes (its temp files and the archive). Tests pass one that
   * fails as a full disk does; everyone else leaves the default.
   */
  openFile?: (file: string) => Writable;
}

/** Errors of the file system under the backup (as opposed to the database's). */
const FILE_SYSTEM_CODES = new Set([
  'ENOSPC',
  'EDQUOT',
  'EACCES',
  'EPERM',
  'ENOENT',
  'EIO',
  'EROFS',
]);

/** The message of a backup that could not be written, plainer for the usual causes. */
function writeFailure(error: unknown, target: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const dir = path.dirname(target);
  const reason =
    code === 'ENOSPC'
      ? `no space left on the device of ${dir} (ENOSPC)`
      : code === 'EDQUOT'
        ? `disk quota exceeded in ${dir} (EDQUOT)`
        : code === 'EACCES' || code === 'EPERM'
          ? `no permission to write in ${dir} (${code})`
          : code === 'ENOENT'
            ? `the folder ${dir} does not exist (ENOENT)`
            : (error as Error).message;
  return new Error(`${reason}; no backup was written and its temporary files were removed`, {
    cause: error,
  });
}

interface CollectionInfo {
  name: string;
  type?: string;
  options?: Document;
  info?: { uuid?: unknown };
}

const batchSize = 1000;

/** The collections to back up: ordinary ones first (by name), then GridFS buckets. */
export function backupOrder(names: string[]): { plain: string[]; buckets: string[] } {
  const set = new Set(names);
  const buckets = names
    .filter((n) => n.endsWith('.files') && set.has(`${n.slice(0, -'.files'.length)}.chunks`))
    .map((n) => n.slice(0, -'.files'.length))
    .sort();
  const inBuckets = new Set(buckets.flatMap((b) => [`${b}.files`, `${b}.chunks`]));
  return { plain: names.filter((n) => !inBuckets.has(n)).sort(), buckets };
}

/** A key for any _id value (ObjectId, string, number …), equal for equal BSON values. */
function idKey(value: unknown): string {
  return Buffer.from(BSON.serialize({ v: value })).toString('base64');
}

function uuidText(value: unknown): string | undefined {
  if (value instanceof Binary) return Buffer.from(value.buffer).toString('hex');
  return typeof value === 'string' ? value : undefined;
}

/** Settles on `event`, or rejects when the stream fails or closes first (a full disk). */
function settled(out: Writable, event: 'drain' | 'finish'): Promise<void> {
  if (out.errored) return Promise.reject(out.errored);
  if (out.destroyed) return Promise.reject(new Error('the file was closed while being written'));
  return new Promise<void>((resolve, reject) => {
    const done = (error?: Error | null) => {
      out.off(event, onEvent);
      out.off('error', onError);
      out.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onEvent = () => done();
    const onError = (error: Error) => done(error);
    const onClose = () => done(out.errored ?? new Error('the file was closed while being written'));
    out.once(event, onEvent);
    out.once('error', onError);
    out.once('close', onClose);
  });
}

async function writeChunk(out: Writable, bytes: Buffer): Promise<void> {
  if (out.errored) throw out.errored;
  if (!out.write(bytes)) await settled(out, 'drain');
}

async function closeStream(out: Writable): Promise<void> {
  const finished = settled(out, 'finish');
  out.end();
  await finished;
}

/** Copies `from` (concatenated BSON) to `to`, keeping the documents `keep` accepts. */
async function filterBsonFile(
  from: string,
  to: string,
  keep: (doc: Buffer) => boolean,
  openFile: (file: string) => Writable,
) {
  const out = openFile(to);
  const splitter = new BsonSplitter();
  let documents = 0;
  let bytes = 0;
  for await (const chunk of createReadStream(from)) {
    for (const doc of splitter.push(chunk as Buffer)) {
      if (!keep(doc)) continue;
      documents++;
      bytes += doc.length;
      await writeChunk(out, doc);
    }
  }
  splitter.end();
  await closeStream(out);
  return { documents, bytes };
}

export async function backupDatabase(
  db: Db,
  out: string,
  options: BackupOptions = {},
): Promise<BackupResult> {
  const target = path.resolve(out);
  const openStream =
    options.openFile ?? ((file: string) => createWriteStream(file, { mode: 0o600 }));
  const openFile = (file: string) => {
    const stream = openStream(file);
    // A write error (a full disk) must not go unhandled between writes: it is read from
    // `errored` by the next write or the close, which fail the backup.
    stream.on('error', () => undefined);
    return stream;
  };
  options.signal?.throwIfAborted();
  const dbName = options.dbName ?? db.databaseName;
  const infos = (await db.listCollections().toArray()) as CollectionInfo[];
  const collections = infos.filter(
    (c) => (c.type === undefined || c.type === 'collection') && !c.name.startsWith('system.'),
  );
  const byName = new Map(collections.map((c) => [c.name, c]));
  const { plain, buckets } = backupOrder([...byName.keys()]);

  // Everything is written next to the target (same file system, so the rename is atomic).
  let work: string;
  try {
    work = await mkdtemp(path.join(path.dirname(target), `.${path.basename(target)}.tmp-`));
  } catch (error) {
    throw writeFailure(error, target);
  }
  const partial = path.join(work, 'archive.tar.gz');
  const pack = tar.pack();
  const hash = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  // A failure of the archive's pipeline (a full disk) or a stop stops the reading too.
  const stop = new AbortController();
  const onAbort = () => stop.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const written = pipeline(pack, createGzip(), hashing, openFile(partial));
  let archiveFailure: unknown;
  written.catch((error: unknown) => {
    archiveFailure ??= error;
    stop.abort(error);
  });

  const summaries: CollectionSummary[] = [];
  const progress: BackupProgress = {
    collection: '',
    collectionsDone: 0,
    collections: byName.size,
    documents: 0,
    bytes: 0,
  };
  let skippedFiles = 0;
  let tempCount = 0;

  /** Reads a collection's documents (exact bytes) into a temp file. */
  const dump = async (name: string, keep?: (doc: Buffer) => boolean) => {
    progress.collection = name;
    options.onProgress?.({ ...progress });
    const file = path.join(work, `${tempCount++}.bson`);
    const sink = openFile(file);
    let documents = 0;
    let bytes = 0;
    const cursor = db.collection(name).find({}, { raw: true, batchSize });
    try {
      for await (const raw of cursor) {
        stop.signal.throwIfAborted();
        const doc = raw as unknown as Buffer;
        if (keep && !keep(doc)) continue;
        documents++;
        bytes += doc.length;
        progress.documents++;
        progress.bytes += doc.length;
        await writeChunk(sink, doc);
        if (documents % batchSize === 0) options.onProgress?.({ ...progress });
      }
    } finally {
      await cursor.close();
      await closeStream(sink);
    }
    return { file, documents, bytes };
  };

  const metadataOf = async (name: string): Promise<CollectionMetadata> => {
    const info = byName.get(name)!;
    const specs = (await db.collection(name).listIndexes().toArray()) as Document[];
    const indexes = specs.map((spec): Document => {
      const { ns: _ns, ...rest } = spec;
      return rest;
    });
    const uuid = uuidText(info.info?.uuid);
    return {
      options: info.options ?? {},
      indexes,
      ...(uuid ? { uuid } : {}),
      collectionName: name,
      type: 'collection',
    };
  };

  const addEntry = async (name: string, metadata: CollectionMetadata, dumped: Dumped) => {
    pack.entry({ name: `${dbName}/${name}.metadata.json` }, metadataJson(metadata));
    const entry = pack.entry({ name: `${dbName}/${name}.bson`, size: dumped.bytes });
    await pipeline(createReadStream(dumped.file), entry, { signal: stop.signal });
    await rm(dumped.file);
    summaries.push({
      name,
      documents: dumped.documents,
      bytes: dumped.bytes,
      indexes: metadata.indexes.length,
    });
    progress.collectionsDone++;
    options.onProgress?.({ ...progress });
  };
  type Dumped = Awaited<ReturnType<typeof dump>>;

  try {
    for (const name of plain) {
      const metadata = await metadataOf(name);
      await addEntry(name, metadata, await dump(name));
    }
    for (const bucket of buckets) {
      const filesName = `${bucket}.files`;
      const chunksName = `${bucket}.chunks`;
      const filesMeta = await metadataOf(filesName);
      const chunksMeta = await metadataOf(chunksName);
      const expected = new Map<string, number>();
      const files = await dump(filesName, (raw) => {
        const doc = BSON.deserialize(raw);
        const length = Number(doc.length ?? 0);
        const chunkSize = Number(doc.chunkSize ?? 0);
        expected.set(
          idKey(doc._id),
          length > 0 && chunkSize > 0 ? Math.ceil(length / chunkSize) : 0,
        );
        return true;
      });
      const found = new Map<string, number>();
      let chunks = await dump(chunksName, (raw) => {
        const key = idKey(BSON.deserialize(raw, { promoteBuffers: false }).files_id);
        if (!expected.has(key)) return false; // an upload that had not finished
        found.set(key, (found.get(key) ?? 0) + 1);
        return true;
      });
      const incomplete = new Set(
        [...expected].filter(([key, count]) => (found.get(key) ?? 0) < count).map(([key]) => key),
      );
      let filesKept = files;
      if (incomplete.size) {
        skippedFiles += incomplete.size;
        const keptFiles = path.join(work, `${tempCount++}.bson`);
        const f = await filterBsonFile(
          files.file,
          keptFiles,
          (raw) => !incomplete.has(idKey(BSON.deserialize(raw)._id)),
          openFile,
        );
        await rm(files.file);
        filesKept = { file: keptFiles, ...f };
        const keptChunks = path.join(work, `${tempCount++}.bson`);
        const c = await filterBsonFile(
          chunks.file,
          keptChunks,
          (raw) => !incomplete.has(idKey(BSON.deserialize(raw).files_id)),
          openFile,
        );
        await rm(chunks.file);
        chunks = { file: keptChunks, ...c };
      }
      await addEntry(filesName, filesMeta, filesKept);
      await addEntry(chunksName, chunksMeta, chunks);
    }
    stop.signal.throwIfAborted();
    pack.finalize();
    await written;
    const handle = await open(partial, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const sha256 = hash.digest('hex');
    const partialChecksum = path.join(work, 'checksum');
    await writeFile(partialChecksum, checksumLine(sha256, target), { mode: 0o600 });
    // The checksum first: a crash between the two renames leaves an archive that fails its
    // check (refused by restore), never one that passes it wrongly.
    await rename(partialChecksum, checksumFile(target));
    await rename(partial, target);
    const { size } = await stat(target);
    return { file: target, sha256, archiveBytes: size, collections: summaries, skippedFiles };
  } catch (error) {
    // The first cause: a full disk under the archive shows here as an abort of the reading.
    const cause = archiveFailure ?? error;
    pack.destroy();
    await written.catch(() => undefined);
    if (options.signal?.aborted) throw new Error('the backup was stopped', { cause: error });
    const code = (cause as NodeJS.ErrnoException).code;
    throw code && FILE_SYSTEM_CODES.has(code) ? writeFailure(cause, target) : cause;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await rm(work, { recursive: true, force: true });
  }
}
