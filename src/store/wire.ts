import { deserialize, serialize, type Document, type DeserializeOptions } from 'bson';
import { normalizeDecoded } from './records.js';

/** MongoDB wire protocol framing: OP_MSG both ways, legacy OP_QUERY in and OP_REPLY out. */

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_COMPRESSED = 2012;
export const OP_MSG = 2013;

export const maxMessageBytes = 48_000_000;
export const maxBsonObjectSize = 16 * 1024 * 1024;

const CHECKSUM_PRESENT = 1;
const MORE_TO_COME = 2;

/**
 * How the engine reads BSON: every numeric wrapper kept, binaries as Binary; then
 * `normalizeDecoded` (records.ts) gives the in-memory form described in values.ts.
 */
export const decodeOptions: DeserializeOptions = {
  promoteValues: false,
  promoteBuffers: false,
};

/** A message the server cannot parse; the connection that sent it is closed. */
export class MalformedMessage extends Error {}

export interface Request {
  requestId: number;
  opCode: number;
  /** Command body (sections merged for OP_MSG, unwrapped $query for OP_QUERY). */
  body: Document;
  /** Database name: `$db` (OP_MSG) or the namespace prefix (OP_QUERY). */
  db: string;
  /** The client wants no reply (OP_MSG moreToCome). */
  moreToCome: boolean;
}

function readDoc(buf: Buffer, at: number, end: number): [Document, number] {
  if (at + 5 > end) throw new MalformedMessage('truncated BSON document');
  const size = buf.readInt32LE(at);
  if (size < 5 || at + size > end) throw new MalformedMessage(`bad BSON document length ${size}`);
  try {
    return [normalizeDecoded(deserialize(buf.subarray(at, at + size), decodeOptions)), at + size];
  } catch (err) {
    throw new MalformedMessage(`invalid BSON: ${(err as Error).message}`);
  }
}

function readCString(buf: Buffer, at: number, end: number): [string, number] {
  const zero = buf.indexOf(0, at);
  if (zero < 0 || zero >= end) throw new MalformedMessage('unterminated string');
  return [buf.toString('utf8', at, zero), zero + 1];
}

/** Parses one complete message (header included). */
export function parseMessage(buf: Buffer): Request {
  if (buf.length < 16) throw new MalformedMessage('message shorter than its header');
  const requestId = buf.readInt32LE(4);
  const opCode = buf.readInt32LE(12);
  if (opCode === OP_MSG) {
    if (buf.length < 21) throw new MalformedMessage('OP_MSG too short');
    const flags = buf.readUInt32LE(16);
    const end = flags & CHECKSUM_PRESENT ? buf.length - 4 : buf.length;
    let at = 20;
    let body: Document | null = null;
    const sequences: [string, Document[]][] = [];
    while (at < end) {
      const kind = buf[at++];
      if (kind === 0) {
        if (body) throw new MalformedMessage('OP_MSG with two body sections');
        [body, at] = readDoc(buf, at, end);
      } else if (kind === 1) {
        if (at + 4 > end) throw new MalformedMessage('truncated document sequence');
        const size = buf.readInt32LE(at);
        const seqEnd = at + size;
        if (size < 5 || seqEnd > end)
          throw new MalformedMessage(`bad document sequence length ${size}`);
        let id: string;
        [id, at] = readCString(buf, at + 4, seqEnd);
        const docs: Document[] = [];
        while (at < seqEnd) {
          let doc: Document;
          [doc, at] = readDoc(buf, at, seqEnd);
          docs.push(doc);
        }
        sequences.push([id, docs]);
      } else {
        throw new MalformedMessage(`unknown OP_MSG section kind ${kind}`);
      }
    }
    if (!body) throw new MalformedMessage('OP_MSG without a body');
    for (const [id, docs] of sequences) body[id] = docs;
    const db = typeof body.$db === 'string' ? body.$db : 'admin';
    return { requestId, opCode, body, db, moreToCome: (flags & MORE_TO_COME) !== 0 };
  }
  if (opCode === OP_QUERY) {
    const [ns, nsEnd] = readCString(buf, 20, buf.length);
    let at = nsEnd;
    at += 8; // numberToSkip, numberToReturn
    let query: Document;
    [query] = readDoc(buf, at, buf.length);
    if (query.$query && typeof query.$query === 'object') query = query.$query as Document;
    const dot = ns.indexOf('.');
    const db = dot > 0 ? ns.slice(0, dot) : 'admin';
    return { requestId, opCode, body: query, db, moreToCome: false };
  }
  throw new MalformedMessage(`unsupported opCode ${opCode}`);
}

let nextRequestId = 1;

/** A reply buffer: the header and `extra` fixed bytes, then the BSON body, in one allocation. */
function reply(responseTo: number, opCode: number, extra: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(16 + extra + body.length);
  out.writeInt32LE(out.length, 0);
  out.writeInt32LE(nextRequestId++ & 0x7fffffff, 4);
  out.writeInt32LE(responseTo, 8);
  out.writeInt32LE(opCode, 12);
  out.fill(0, 16, 16 + extra);
  out.set(body, 16 + extra);
  return out;
}

export function encodeMsg(responseTo: number, doc: Document): Buffer {
  // flagBits (4 bytes, 0) and one body section (kind 0).
  return reply(responseTo, OP_MSG, 5, serialize(doc));
}

export function encodeReply(responseTo: number, doc: Document): Buffer {
  const out = reply(responseTo, OP_REPLY, 20, serialize(doc));
  // responseFlags 0, cursorID 0, startingFrom 0 (already zero); numberReturned 1.
  out.writeInt32LE(1, 16 + 16);
  return out;
}
