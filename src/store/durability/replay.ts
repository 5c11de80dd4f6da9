import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { deserialize, type DeserializeOptions, type Document } from 'bson';
import type { Logger } from '../../lib/logger.js';
import { SNAPSHOT_FILE, diskError, journalFileName } from './files.js';
import { decodeRecords, encodeMetaFrame } from './frames.js';
import { scanFrames, validDataFollows, type ScanEvent } from './scan.js';

export const SNAPSHOT_FORMAT = 'tsunagu-snapshot';
export const JOURNAL_FORMAT = 'tsunagu-journal';
export const FORMAT_VERSION = 1;

export interface SnapshotMeta {
  /** The snapshot holds everything written to journals of lower generations. */
  generation: number;
  records: number;
  bytes: number;
}

export interface ReplayFigures {
  records: number;
  bytes: number;
  truncated: { file: string; offset: number; droppedBytes: number; reason: string }[];
}

export function journalMeta(generation: number): Buffer {
  return encodeMetaFrame({ format: JOURNAL_FORMAT, version: FORMAT_VERSION, generation });
}

function metaOf(event: ScanEvent & { kind: 'frame' }): Document {
  return deserialize(event.buf.subarray(event.payloadStart, event.end));
}

function decode(file: string, event: ScanEvent & { kind: 'frame' }, options: DeserializeOptions) {
  try {
    return decodeRecords(event.buf, event, options);
  } catch (error) {
    throw new Error(
      `store file ${file} holds an unreadable record at byte ${event.offset} although its ` +
        `checksum matches: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Reads the snapshot's meta frame, or null when there is no snapshot yet. */
export async function readSnapshotMeta(dir: string): Promise<SnapshotMeta | null> {
  const file = path.join(dir, SNAPSHOT_FILE);
  const handle = await open(file, 'r').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw diskError('opening the store snapshot', file, error);
  });
  if (!handle) return null;
  try {
    const { size } = await handle.stat();
    for await (const [event] of scanFrames(handle, size)) {
      const meta = event.kind === 'frame' && event.recordCount === 0 ? metaOf(event) : null;
      if (meta?.format !== SNAPSHOT_FORMAT || meta.version !== FORMAT_VERSION) break;
      return { generation: Number(meta.generation), records: Number(meta.records), bytes: size };
    }
    throw new Error(`store snapshot ${file} has no valid header: it is damaged or not a snapshot`);
  } finally {
    await handle.close();
  }
}

/**
 * Yields the snapshot's records, a chunk at a time. Any damage is fatal: a snapshot is written
 * whole or not at all.
 */
export async function* replaySnapshot(
  dir: string,
  meta: SnapshotMeta,
  options: DeserializeOptions,
  figures: ReplayFigures,
): AsyncGenerator<Document[]> {
  const file = path.join(dir, SNAPSHOT_FILE);
  const handle = await open(file, 'r');
  let records = 0;
  try {
    const { size } = await handle.stat();
    for await (const events of scanFrames(handle, size)) {
      const docs: Document[] = [];
      for (const event of events) {
        if (event.kind === 'bad') {
          throw new Error(
            `store snapshot ${file} is damaged at byte ${event.offset} (${event.reason}); ` +
              'the store cannot start without it: restore the data directory from a backup',
          );
        }
        if (event.recordCount > 0) docs.push(...decode(file, event, options));
      }
      records += docs.length;
      yield docs;
    }
    if (records !== meta.records) {
      throw new Error(
        `store snapshot ${file} holds ${records} records but its header says ${meta.records}; ` +
          'restore the data directory from a backup',
      );
    }
    figures.records += records;
    figures.bytes += size;
  } finally {
    await handle.close();
  }
}

/**
 * Yields the records of the journals `generations` in order, a chunk at a time. Damage after which no valid frame
 * follows (in this file or a later one) is a torn tail: it is logged and cut off. Damage with valid
 * frames after it is refused, since skipping it would silently lose acknowledged writes.
 */
export async function* replayJournals(
  dir: string,
  generations: number[],
  options: DeserializeOptions,
  logger: Logger,
  figures: ReplayFigures,
): AsyncGenerator<Document[]> {
  for (const [i, generation] of generations.entries()) {
    const file = path.join(dir, journalFileName(generation));
    const handle = await open(file, 'r+').catch((error) => {
      throw diskError('opening the store journal', file, error);
    });
    try {
      const { size } = await handle.stat();
      let first = true;
      let bad: (ScanEvent & { kind: 'bad' }) | null = null;
      for await (const events of scanFrames(handle, size)) {
        const docs: Document[] = [];
        for (const event of events) {
          if (event.kind === 'bad') {
            bad = event;
          } else if (first) {
            const meta = event.recordCount === 0 ? metaOf(event) : null;
            if (meta?.format !== JOURNAL_FORMAT || meta.generation !== generation) {
              throw new Error(`store journal ${file} does not start with its header`);
            }
            first = false;
          } else {
            docs.push(...decode(file, event, options));
          }
        }
        figures.records += docs.length;
        if (docs.length > 0) yield docs;
      }
      if (!bad) {
        // An empty file is what a crash right after creating it leaves: give it its header.
        if (first) await writeHeader(handle, generation);
        figures.bytes += first ? 0 : size;
        continue;
      }
      // With an intact header, look past the damaged frame: its payload is data, not frames.
      const after = bad.offset + (bad.frameBytes ?? 1);
      const followedBy = (await validDataFollows(handle, size, after))
        ? 'valid records follow in the same file'
        : (await laterJournalHasData(dir, generations.slice(i + 1)))
          ? 'later journal files hold records'
          : null;
      if (followedBy) {
        throw new Error(
          `store journal ${file} is damaged at byte ${bad.offset} (${bad.reason}) and ${followedBy}; ` +
            'refusing to start rather than skip them. Restore the data directory from a backup, ' +
            `or accept the loss of everything after that point by truncating the file to ${bad.offset} bytes`,
        );
      }
      // A damaged header leaves nothing worth keeping: start the file afresh.
      const keep = first ? 0 : bad.offset;
      const dropped = {
        file,
        offset: bad.offset,
        droppedBytes: size - keep,
        reason: bad.reason,
        ...(bad.recordCount === undefined ? {} : { droppedRecords: bad.recordCount }),
      };
      logger.warn(
        dropped,
        `store journal ${path.basename(file)}: dropping ${size - keep} bytes of a torn or damaged ` +
          `tail at byte ${bad.offset} (${bad.reason})`,
      );
      await handle.truncate(keep);
      if (keep === 0) await writeHeader(handle, generation);
      await handle.sync();
      figures.truncated.push(dropped);
      figures.bytes += keep;
    } finally {
      await handle.close();
    }
  }
}

async function writeHeader(handle: FileHandle, generation: number): Promise<void> {
  const meta = journalMeta(generation);
  await handle.write(meta, 0, meta.length, 0);
  await handle.sync();
}

async function laterJournalHasData(dir: string, generations: number[]): Promise<boolean> {
  for (const generation of generations) {
    const file = path.join(dir, journalFileName(generation));
    const handle = await open(file, 'r');
    try {
      if (await validDataFollows(handle, (await stat(file)).size, 0)) return true;
    } finally {
      await handle.close();
    }
  }
  return false;
}
