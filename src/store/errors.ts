import type { Document } from 'bson';

/** MongoDB error codes the store answers with, and their code names. */
export const codeNames: Record<number, string> = {
  1: 'InternalError',
  2: 'BadValue',
  9: 'FailedToParse',
  11: 'UserNotFound',
  14: 'TypeMismatch',
  20: 'IllegalOperation',
  26: 'NamespaceNotFound',
  27: 'IndexNotFound',
  28: 'PathNotViable',
  40: 'ConflictingUpdateOperators',
  52: 'DollarPrefixedFieldName',
  56: 'EmptyFieldName',
  43: 'CursorNotFound',
  48: 'NamespaceExists',
  59: 'CommandNotFound',
  66: 'ImmutableField',
  67: 'CannotCreateIndex',
  72: 'InvalidOptions',
  73: 'InvalidNamespace',
  85: 'IndexOptionsConflict',
  86: 'IndexKeySpecsConflict',
  115: 'CommandNotSupported',
  171: 'CannotIndexParallelArrays',
  237: 'CursorKilled',
  260: 'InvalidResumeToken',
  280: 'ChangeStreamFatalError',
  286: 'ChangeStreamHistoryLost',
  10334: 'BSONObjectTooLarge',
  11000: 'DuplicateKey',
};

/** An error to be answered to the client as `{ ok: 0, code, codeName, errmsg, … }`. */
export class StoreError extends Error {
  readonly code: number;
  readonly extra: Document;

  constructor(code: number, message: string, extra: Document = {}) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
    this.extra = extra;
  }

  get codeName(): string {
    return codeNames[this.code] ?? `Location${this.code}`;
  }

  /** The error as a top-level command reply. */
  toReply(): Document {
    return { ok: 0, errmsg: this.message, code: this.code, codeName: this.codeName, ...this.extra };
  }

  /** The error as one `writeErrors` entry. */
  toWriteError(index: number): Document {
    return { index, code: this.code, errmsg: this.message, ...this.extra };
  }
}

export const badValue = (msg: string): StoreError => new StoreError(2, msg);
export const notSupported = (what: string): StoreError =>
  new StoreError(115, `${what} is not supported by the embedded store`);

/** Converts anything thrown (mingo errors included) into a StoreError. */
export function toStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/immutable field '_id'/.test(message)) return new StoreError(66, message);
  if (/would create a conflict/.test(message)) {
    return new StoreError(40, message.charAt(0).toUpperCase() + message.slice(1));
  }
  return new StoreError(2, message);
}
