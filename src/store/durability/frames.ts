import { crc32 } from 'node:zlib';
import { deserializeStream, serialize, type DeserializeOptions, type Document } from 'bson';

/**
 * The framing shared by journal and snapshot files.
 *
 * A file is a sequence of frames. Each frame is a 20-byte header and a payload:
 *
 *   u32 magic          FRAME_MAGIC, so a reader can find frame starts after damage
 *   u32 payloadLength
 *   u32 recordCount    0 for a meta frame (its payload is one BSON document describing the file)
 *   u32 payloadCrc     CRC-32 of the payload
 *   u32 headerCrc      CRC-32 of the 16 bytes above, so a damaged length is never trusted
 *
 * all little-endian, then `recordCount` BSON documents back to back. A frame is the unit of
 * atomicity: it is replayed whole or not at all.
 */

export const FRAME_MAGIC = 0x314a5354; // "TSJ1" read as bytes
export const HEADER_BYTES = 20;
/** Larger frames are refused as corrupt even when the header checksum matches. */
export const MAX_PAYLOAD_BYTES = 1 << 30;

/** Encodes already serialized BSON documents as one frame. */
export function encodeFrame(payloads: readonly Uint8Array[], recordCount: number): Buffer {
  let length = 0;
  for (const p of payloads) length += p.byteLength;
  const frame = Buffer.allocUnsafe(HEADER_BYTES + length);
  let at = HEADER_BYTES;
  for (const p of payloads) {
    frame.set(p, at);
    at += p.byteLength;
  }
  frame.writeUInt32LE(FRAME_MAGIC, 0);
  frame.writeUInt32LE(length, 4);
  frame.writeUInt32LE(recordCount, 8);
  frame.writeUInt32LE(crc32(frame.subarray(HEADER_BYTES)), 12);
  frame.writeUInt32LE(crc32(frame.subarray(0, 16)), 16);
  return frame;
}

export function encodeMetaFrame(meta: Document): Buffer {
  return encodeFrame([serialize(meta)], 0);
}

export type FrameCheck =
  | { kind: 'frame'; recordCount: number; payloadStart: number; end: number }
  | { kind: 'incomplete'; needed: number }
  /** recordCount and frameBytes are given when the header is intact (so they can be trusted). */
  | { kind: 'bad'; reason: string; recordCount?: number; frameBytes?: number };

/**
 * Checks the frame starting at `at` in `buf`, where `buf` holds the file from some offset on and
 * `atEof` says whether `buf` reaches the end of the file.
 */
export function checkFrame(buf: Buffer, at: number, atEof: boolean): FrameCheck {
  const available = buf.length - at;
  if (available < HEADER_BYTES) {
    return atEof
      ? { kind: 'bad', reason: `torn frame header (${available} of ${HEADER_BYTES} bytes)` }
      : { kind: 'incomplete', needed: HEADER_BYTES };
  }
  if (buf.readUInt32LE(at) !== FRAME_MAGIC) return { kind: 'bad', reason: 'no frame marker' };
  if (crc32(buf.subarray(at, at + 16)) !== buf.readUInt32LE(at + 16)) {
    return { kind: 'bad', reason: 'frame header checksum mismatch' };
  }
  const length = buf.readUInt32LE(at + 4);
  const recordCount = buf.readUInt32LE(at + 8);
  if (length > MAX_PAYLOAD_BYTES)
    return { kind: 'bad', reason: `frame length ${length} too large` };
  const end = at + HEADER_BYTES + length;
  if (end > buf.length) {
    return atEof
      ? {
          kind: 'bad',
          reason: `torn frame (${available} of ${HEADER_BYTES + length} bytes)`,
          recordCount,
          frameBytes: HEADER_BYTES + length,
        }
      : { kind: 'incomplete', needed: HEADER_BYTES + length };
  }
  if (crc32(buf.subarray(at + HEADER_BYTES, end)) !== buf.readUInt32LE(at + 12)) {
    return {
      kind: 'bad',
      reason: 'frame checksum mismatch',
      recordCount,
      frameBytes: HEADER_BYTES + length,
    };
  }
  return { kind: 'frame', recordCount, payloadStart: at + HEADER_BYTES, end };
}

/** True when some complete, valid frame starts after `from` in `buf` (which reaches EOF). */
export function hasValidFrameAfter(buf: Buffer, from: number, dataOnly: boolean): boolean {
  const marker = Buffer.alloc(4);
  marker.writeUInt32LE(FRAME_MAGIC, 0);
  for (let at = buf.indexOf(marker, from); at !== -1; at = buf.indexOf(marker, at + 1)) {
    const check = checkFrame(buf, at, true);
    if (check.kind === 'frame' && (!dataOnly || check.recordCount > 0)) return true;
  }
  return false;
}

/**
 * Decodes a checked frame's documents. A frame whose checksum matched but whose documents do not
 * parse was written wrong, not torn: that is always an error.
 */
export function decodeRecords(
  buf: Buffer,
  frame: { recordCount: number; payloadStart: number; end: number },
  options: DeserializeOptions,
): Document[] {
  const count = Math.max(frame.recordCount, 1);
  const docs: Document[] = [];
  let at = frame.payloadStart;
  for (let i = 0; i < count; i++) {
    if (at + 5 > frame.end) throw new Error(`frame holds fewer than ${count} documents`);
    const size = buf.readInt32LE(at);
    if (size < 5 || at + size > frame.end) throw new Error(`bad document length ${size}`);
    at = deserializeStream(buf, at, 1, docs, docs.length, options);
  }
  if (at !== frame.end) throw new Error(`${frame.end - at} stray bytes after the documents`);
  return docs;
}
