import type { Document } from 'bson';
import type { Logger } from '../../lib/logger.js';
import type { CursorRegistry } from '../cursors.js';
import type { Engine } from '../engine.js';
import { StoreError, notSupported } from '../errors.js';
import { validateCollectionName } from '../engine.js';
import { isPlainObject, toNumber, type Doc } from '../values.js';

export interface CommandContext {
  engine: Engine;
  cursors: CursorRegistry;
  /** Database the command was sent to. */
  db: string;
  connectionId: number;
  logger: Logger;
  startedAt: Date;
}

export type Handler = (body: Document, ctx: CommandContext) => Document | Promise<Document>;

/** The collection name a command names in its first field. */
export function collectionName(body: Document, command: string): string {
  const name = body[command] as unknown;
  if (typeof name !== 'string' || name.length === 0) {
    throw new StoreError(73, `collection name has invalid type ${typeof name}`);
  }
  return name;
}

export function checkedCollection(body: Document, command: string, db: string): string {
  const name = collectionName(body, command);
  validateCollectionName(db, name);
  return name;
}

/** Refuses collation (not implemented) instead of ignoring it. */
export function refuseCollation(spec: unknown): void {
  if (spec !== undefined && spec !== null) {
    if (isPlainObject(spec) && (spec.locale === 'simple' || Object.keys(spec).length === 0)) return;
    throw notSupported('collation');
  }
}

export function optionalDoc(v: unknown, what: string): Doc {
  if (v === undefined || v === null) return {};
  if (!isPlainObject(v))
    throw new StoreError(14, `BSON field '${what}' is the wrong type, expected an object`);
  return v;
}

export function optionalNumber(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  return toNumber(v);
}
