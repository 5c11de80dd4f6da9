import type { FileHandle } from 'node:fs/promises';
import { checkFrame, hasValidFrameAfter } from './frames.js';

/** Files are read in chunks this large: replay costs a few syscalls per 8 MiB, not per record. */
const CHUNK_BYTES = 8 << 20;
const BATCH_FRAMES = 256;

export type ScanEvent =
  | {
      kind: 'frame';
      offset: number;
      recordCount: number;
      buf: Buffer;
      payloadStart: number;
      end: number;
    }
  | { kind: 'bad'; offset: number; reason: string; recordCount?: number; frameBytes?: number };

async function readInto(handle: FileHandle, target: Buffer, from: number, position: number) {
  let filled = from;
  while (filled < target.length) {
    const { bytesRead } = await handle.read(target, filled, target.length - filled, position);
    if (bytesRead === 0) break;
    filled += bytesRead;
    position += bytesRead;
  }
  return filled;
}

/**
 * Yields the frames of a file in order, a few hundred at a time, stopping at the first bad one
 * (reported with its byte offset, as the last event). A frame's bytes stay valid afterwards.
 */
export async function* scanFrames(handle: FileHandle, size: number): AsyncGenerator<ScanEvent[]> {
  let buf = Buffer.alloc(0);
  let bufOffset = 0; // file offset of buf[0]
  let at = 0;
  let readPos = 0;
  let events: ScanEvent[] = [];
  for (;;) {
    const atEof = readPos >= size;
    if (atEof && at === buf.length) break;
    const check = checkFrame(buf, at, atEof);
    if (check.kind === 'frame') {
      const { recordCount, payloadStart, end } = check;
      events.push({ kind: 'frame', offset: bufOffset + at, recordCount, buf, payloadStart, end });
      at = check.end;
      // Small batches: their objects die young, which the garbage collector handles cheaply.
      if (events.length >= BATCH_FRAMES) {
        yield events;
        events = [];
      }
    } else if (check.kind === 'bad') {
      events.push({ ...check, offset: bufOffset + at });
      break;
    } else {
      if (events.length > 0) yield events;
      events = [];
      const leftover = buf.length - at;
      const want = Math.min(Math.max(CHUNK_BYTES, check.needed - leftover), size - readPos);
      const next = Buffer.allocUnsafe(leftover + want);
      buf.copy(next, 0, at);
      const filled = await readInto(handle, next, leftover, readPos);
      if (filled < next.length) size = readPos + (filled - leftover); // the file shrank
      readPos += filled - leftover;
      bufOffset += at;
      buf = next.subarray(0, filled);
      at = 0;
    }
  }
  if (events.length > 0) yield events;
}

/** Reads the file from `from` to its end and says whether a valid data frame starts there. */
export async function validDataFollows(
  handle: FileHandle,
  size: number,
  from: number,
): Promise<boolean> {
  if (from >= size) return false;
  const rest = Buffer.allocUnsafe(size - from);
  const filled = await readInto(handle, rest, 0, from);
  return hasValidFrameAfter(rest.subarray(0, filled), 0, true);
}
