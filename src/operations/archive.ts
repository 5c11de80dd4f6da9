import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BSON, type Document } from 'mongodb';

/**
 * The backup archive: a .tar.gz holding mongodump's directory layout, so that `mongorestore` can
 * read it once unpacked (`tar xzf backup.tar.gz -C dump && mongorestore --dir dump`):
 *
 *   <db>/<collection>.metadata.json   { options, indexes, uuid, collectionName, type }
 *   <db>/<collection>.bson            the documents, concatenated BSON, nothing between them
 *
 * metadata.json is canonical Extended JSON, as mongodump writes it. The checksum file beside the
 * archive is `<archive>.sha256` in `sha256sum` format (`<hex>  <file name>`).
 */

/** The metadata.json of one collection, as mongodump writes it. */
export interface CollectionMetadata {
  options: Document;
  indexes: Document[];
  uuid?: string;
  collectionName: string;
  type: 'collection';
}

export function metadataJson(metadata: CollectionMetadata): string {
  return BSON.EJSON.stringify(metadata, { relaxed: false });
}

export function parseMetadata(text: string): CollectionMetadata {
  const parsed = BSON.EJSON.parse(text, { relaxed: false }) as Partial<CollectionMetadata>;
  if (!Array.isArray(parsed.indexes)) throw new Error('metadata.json without an indexes list');
  return {
    options: parsed.options ?? {},
    indexes: parsed.indexes,
    uuid: parsed.uuid,
    collectionName: parsed.collectionName ?? '',
    type: 'collection',
  };
}

/** What an entry of the archive holds: `<db>/<collection>.bson` or `.metadata.json`. */
export function entryOf(
  name: string,
): { db: string; collection: string; kind: 'bson' | 'metadata' } | null {
  const match = /^([^/]+)\/([^/]+?)\.(bson|metadata\.json)$/.exec(name);
  if (!match) return null;
  return {
    db: match[1],
    collection: match[2],
    kind: match[3] === 'bson' ? 'bson' : 'metadata',
  };
}

/**
 * Splits concatenated BSON (a .bson file, arriving in chunks of any size) into the documents'
 * bytes, holding at most one document plus one chunk in memory.
 */
export class BsonSplitter {
  private pending: Buffer = Buffer.alloc(0);

  /** The whole documents completed by `chunk`. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const documents: Buffer[] = [];
    let at = 0;
    while (this.pending.length - at >= 4) {
      const size = this.pending.readInt32LE(at);
      if (size < 5 || size > 48 * 1024 * 1024)
        throw new Error(`invalid BSON document size ${size}`);
      if (this.pending.length - at < size) break;
      documents.push(this.pending.subarray(at, at + size));
      at += size;
    }
    this.pending = this.pending.subarray(at);
    return documents;
  }

  /** Throws when the data ended inside a document. */
  end(): void {
    if (this.pending.length) throw new Error('the .bson data ends inside a document');
  }
}

/** Documents read back with their exact BSON types (an integral double stays a double). */
export function decodeExact(bytes: Buffer): Document {
  return BSON.deserialize(bytes, { promoteValues: false, bsonRegExp: true });
}

export function checksumFile(archive: string): string {
  return `${archive}.sha256`;
}

export function checksumLine(hex: string, archive: string): string {
  return `${hex}  ${path.basename(archive)}\n`;
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Checks the archive against its .sha256 file. Throws with a clear message when the checksum
 * file is missing or malformed, or the archive's bytes differ (truncated, altered).
 */
export async function verifyChecksum(archive: string): Promise<string> {
  let line: string;
  try {
    line = await readFile(checksumFile(archive), 'utf8');
  } catch {
    throw new Error(`no checksum file ${checksumFile(archive)} beside the archive`);
  }
  const expected = /^([0-9a-f]{64})\b/i.exec(line.trim())?.[1]?.toLowerCase();
  if (!expected) throw new Error(`${checksumFile(archive)} does not hold a SHA-256 checksum`);
  const actual = await sha256Of(archive);
  if (actual !== expected) {
    throw new Error('the archive does not match its checksum (truncated or altered)');
  }
  return actual;
}
