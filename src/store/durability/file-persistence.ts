import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { serialize, type DeserializeOptions, type Document } from 'bson';
import type { Logger } from '../../lib/logger.js';
import type { Persistence } from '../persistence.js';
import {
  FILE_MODE,
  SNAPSHOT_FILE,
  SNAPSHOT_TEMP_FILE,
  diskError,
  fsyncDir,
  journalFileName,
} from './files.js';
import { encodeFrame, encodeMetaFrame } from './frames.js';
import { JournalWriter, type FsyncPolicy, type JournalFile } from './journal-writer.js';
import type { DirLock } from './lock.js';
import {
  FORMAT_VERSION,
  SNAPSHOT_FORMAT,
  journalMeta,
  replayJournals,
  replaySnapshot,
  type ReplayFigures,
  type SnapshotMeta,
} from './replay.js';

const SNAPSHOT_FRAME_BYTES = 1 << 20;
const COMPACTION_RETRY_MS = 60_000;

export interface FilePersistenceSetup {
  dir: string;
  lock: DirLock;
  snapshot: SnapshotMeta | null;
  /** Journal generations to replay, ascending; the last one is appended to. */
  journals: { generation: number; bytes: number }[];
  policy: FsyncPolicy;
  logger: Logger;
  compactAfterBytes: number;
  deserializeOptions: DeserializeOptions;
  wrapJournalFile: (file: JournalFile) => JournalFile;
}

interface LiveJournal {
  generation: number;
  /** Size and records before load, for journals not being written. */
  bytes: number;
  records: number;
  writer?: JournalWriter;
}

export class FilePersistence implements Persistence {
  private phase: 'new' | 'loading' | 'ready' | 'closed' = 'new';
  private failure: Error | null = null;
  private journals: LiveJournal[];
  private writer: JournalWriter | null = null;
  private snapshot: SnapshotMeta | null;
  private compactions: Promise<void> = Promise.resolve();
  private compacting = 0;
  /** After a failed compaction (a full disk, say), wait before trying again. */
  private retryCompactionAt = 0;

  constructor(private readonly setup: FilePersistenceSetup) {
    this.snapshot = setup.snapshot;
    this.journals = setup.journals.map((j) => ({ ...j, records: 0 }));
  }

  async *load(): AsyncIterable<Document> {
    if (this.phase !== 'new') throw new Error('load() may be called only once, before append()');
    this.phase = 'loading';
    const { dir, logger, deserializeOptions } = this.setup;
    const started = performance.now();
    const figures: ReplayFigures = { records: 0, bytes: 0, truncated: [] };
    if (this.snapshot) {
      for await (const docs of replaySnapshot(dir, this.snapshot, deserializeOptions, figures)) {
        for (const doc of docs) yield doc;
      }
    }
    const snapshotRecords = figures.records;
    const generations = this.journals.map((j) => j.generation);
    for await (const docs of replayJournals(
      dir,
      generations,
      deserializeOptions,
      logger,
      figures,
    )) {
      for (const doc of docs) yield doc;
    }
    // Only the journal total is known; it is attributed to the first file (stats are sums).
    this.journals[0].records = figures.records - snapshotRecords;
    const active = this.journals[this.journals.length - 1];
    this.writer = this.openWriter(active.generation, 'existing');
    active.writer = this.writer;
    await this.writer.ready();
    this.phase = 'ready';
    logger.info(
      {
        records: figures.records,
        bytes: figures.bytes,
        ms: Math.round(performance.now() - started),
        snapshotRecords,
        journalFiles: generations.length,
        droppedTails: figures.truncated.length,
      },
      `store replayed ${figures.records} records (${figures.bytes} bytes) in ` +
        `${Math.round(performance.now() - started)} ms`,
    );
  }

  append(records: Document[]): Promise<void> {
    const refused = this.refusal('append');
    if (refused) return Promise.reject(refused);
    if (records.length === 0) return Promise.resolve();
    // Serialized now: the caller may change its documents as soon as append() returns.
    let payloads: Uint8Array[];
    try {
      payloads = records.map((doc) => serialize(doc));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return this.writer!.append(payloads, records.length);
  }

  wantsCompaction(): boolean {
    if (this.phase !== 'ready' || this.failure || this.compacting > 0) return false;
    if (Date.now() < this.retryCompactionAt) return false;
    const { journalBytes, snapshotBytes } = this.stats();
    return journalBytes > this.setup.compactAfterBytes && journalBytes > snapshotBytes;
  }

  /**
   * Consumes `state` synchronously, before returning: it must describe exactly the records
   * appended before this call. Appends made after it go to a new journal generation, which the
   * snapshot does not cover, so nothing is lost or replayed twice whenever the process dies.
   */
  compact(state: Iterable<Document>): Promise<void> {
    const refused = this.refusal('compact');
    if (refused) return Promise.reject(refused);
    let snapshot: { frames: Buffer[]; records: number };
    try {
      snapshot = this.serializeState(state);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const oldWriter = this.writer!;
    const generation = this.journals[this.journals.length - 1].generation + 1;
    const newWriter = this.openWriter(generation, 'new', oldWriter);
    this.writer = newWriter;
    this.journals.push({ generation, bytes: 0, records: 0, writer: newWriter });
    this.compacting++;
    // Compactions run one after another, so an older snapshot never replaces a newer one.
    const run = this.compactions.then(() => this.writeSnapshot(generation, newWriter, snapshot));
    this.compactions = run.catch(() => undefined);
    return run.finally(() => {
      this.compacting--;
    });
  }

  stats() {
    let journalBytes = 0;
    let records = this.snapshot?.records ?? 0;
    for (const journal of this.journals) {
      journalBytes += journal.writer ? journal.writer.size : journal.bytes;
      records += journal.records + (journal.writer?.records ?? 0);
    }
    return { journalBytes, snapshotBytes: this.snapshot?.bytes ?? 0, records };
  }

  async close(): Promise<void> {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    try {
      await this.compactions;
      // A failure already reported stays reported; closing still releases the lock.
      await this.writer?.close().catch((error) => {
        if (!this.failure) throw error;
      });
    } finally {
      await this.setup.lock.release();
    }
  }

  private refusal(what: string): Error | null {
    if (this.failure) {
      return new Error(
        `the store refuses to ${what} after a failed write (${this.failure.message}); ` +
          'fix the disk problem and restart the store',
        { cause: this.failure },
      );
    }
    if (this.phase === 'closed') return new Error(`cannot ${what}: the store's files are closed`);
    if (this.phase !== 'ready') return new Error(`cannot ${what} before load() has finished`);
    return null;
  }

  private fail = (error: Error): void => {
    if (this.failure) return;
    this.failure = error;
    this.setup.logger.error({ err: error }, 'store journal write failed; refusing further writes');
  };

  /**
   * A writer for journal `generation`. A new journal is created only after `previous` has written
   * and fsync'd everything queued to it, so the order of appends holds across the switch.
   */
  private openWriter(
    generation: number,
    mode: 'existing' | 'new',
    previous?: JournalWriter,
  ): JournalWriter {
    const file = path.join(this.setup.dir, journalFileName(generation));
    const opened = (async () => {
      await previous?.close();
      try {
        const handle = await open(file, mode === 'new' ? 'w' : 'r+', FILE_MODE);
        const wrapped = this.setup.wrapJournalFile(handle);
        let size = (await handle.stat()).size;
        if (mode === 'new') {
          const meta = journalMeta(generation);
          await wrapped.write(meta, 0, meta.length, 0);
          await wrapped.datasync();
          await fsyncDir(this.setup.dir);
          size = meta.length;
        }
        return { handle: wrapped, size };
      } catch (error) {
        throw diskError('opening the store journal', file, error);
      }
    })();
    return new JournalWriter(file, opened, this.setup.policy, this.fail);
  }

  private serializeState(state: Iterable<Document>) {
    const frames: Buffer[] = [];
    let chunk: Uint8Array[] = [];
    let chunkBytes = 0;
    let records = 0;
    for (const doc of state) {
      const bytes = serialize(doc);
      chunk.push(bytes);
      chunkBytes += bytes.byteLength;
      records++;
      if (chunkBytes >= SNAPSHOT_FRAME_BYTES) {
        frames.push(encodeFrame(chunk, chunk.length));
        chunk = [];
        chunkBytes = 0;
      }
    }
    if (chunk.length > 0) frames.push(encodeFrame(chunk, chunk.length));
    return { frames, records };
  }

  /** Temp file, fsync, rename over the old snapshot, fsync the directory, drop old journals. */
  private async writeSnapshot(
    generation: number,
    newWriter: JournalWriter,
    snapshot: { frames: Buffer[]; records: number },
  ): Promise<void> {
    const { dir, logger } = this.setup;
    const started = performance.now();
    const temp = path.join(dir, SNAPSHOT_TEMP_FILE);
    const target = path.join(dir, SNAPSHOT_FILE);
    const meta = encodeMetaFrame({
      format: SNAPSHOT_FORMAT,
      version: FORMAT_VERSION,
      generation,
      records: snapshot.records,
      createdAt: new Date(),
    });
    let bytes: number;
    try {
      const handle = await open(temp, 'w', FILE_MODE);
      try {
        let position = 0;
        for (const frame of [meta, ...snapshot.frames]) {
          await writeFully(handle, frame, position);
          position += frame.length;
        }
        bytes = position;
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsyncDir(dir);
      // The journal of this generation exists (durably) before the snapshot that points at it.
      await newWriter.ready();
      await rename(temp, target);
      await fsyncDir(dir);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      const failure = diskError('writing the store snapshot', temp, error);
      this.retryCompactionAt = Date.now() + COMPACTION_RETRY_MS;
      logger.error({ err: failure }, 'store compaction failed; the journal keeps everything');
      throw failure;
    }
    this.snapshot = { generation, records: snapshot.records, bytes };
    const obsolete = this.journals.filter((j) => j.generation < generation);
    this.journals = this.journals.filter((j) => j.generation >= generation);
    for (const journal of obsolete) {
      await unlink(path.join(dir, journalFileName(journal.generation))).catch(() => undefined);
    }
    await fsyncDir(dir).catch(() => undefined);
    logger.info(
      {
        generation,
        records: snapshot.records,
        snapshotBytes: bytes,
        ms: Math.round(performance.now() - started),
      },
      `store compacted ${snapshot.records} records into a ${bytes}-byte snapshot`,
    );
  }
}

async function writeFully(
  handle: { write: JournalFile['write'] },
  buf: Buffer,
  position: number,
): Promise<void> {
  let written = 0;
  while (written < buf.length) {
    const { bytesWritten } = await handle.write(
      buf,
      written,
      buf.length - written,
      position + written,
    );
    if (bytesWritten === 0) throw new Error('the write made no progress');
    written += bytesWritten;
  }
}
