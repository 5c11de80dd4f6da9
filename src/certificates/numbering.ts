import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Model } from 'mongoose';
import { isDuplicateKey } from '../lib/forms.js';
import type { CertificateAttrs } from './certificate.model.js';
import { tokyoYearMonth } from './dates.js';

/**
 * Certificate numbers: `NAGANO-<fiscal year>-<serial, 5 digits>`, e.g. NAGANO-2026-00042 for the
 * 42nd certificate of fiscal year 2026 (令和8年度: April 2026 to March 2027, in Japan's time).
 * ASCII only, so a number reads the same on the phone, in a file name and in a search box.
 */
export const NUMBER_PREFIX = 'NAGANO';

/** The fiscal year (年度, April to March in Japan) a moment falls in. */
export function fiscalYearOf(date: Date): number {
  const { year, month } = tokyoYearMonth(date);
  return month >= 4 ? year : year - 1;
}

export function formatCertificateNumber(fiscalYear: number, serial: number): string {
  return `${NUMBER_PREFIX}-${fiscalYear}-${String(serial).padStart(5, '0')}`;
}

/** The certificate fields the numbering fills in. */
type Numbered = 'number' | 'fiscalYear' | 'serial';

/** Raised when the learner already holds a valid certificate of the program (the partial index). */
export class AlreadyIssuedError extends Error {
  constructor() {
    // Stryker disable next-line StringLiteral: for logs only; callers tell it by its class
    super('a valid certificate of this program exists');
    // Stryker disable next-line StringLiteral: for logs only; callers tell it by its class
    this.name = 'AlreadyIssuedError';
  }
}

/** How often an insert may lose the race for a serial before giving up (each loss means another certificate was issued). */
const MAX_ATTEMPTS = 500;

/**
 * Inserts a certificate with the next serial of its fiscal year: gapless, unique, and atomic
 * across processes.
 *
 * Why no counter document: a counter incremented first and a certificate inserted second leave a
 * gap whenever the insert fails (the learner already holds one — two processes saw the same
 * completion —, a validation error, a crash in between), and a number, once handed out, cannot be
 * given back without a transaction. Here the certificates themselves are the counter: the serial
 * is the highest stored one plus one, and the unique index on (fiscalYear, serial) decides between
 * two inserts that chose the same serial. The loser reads again and takes the next one. A serial
 * therefore exists exactly when its certificate does; certificates are never deleted (revocation
 * keeps the record), so the serials of a year are 1..N without a gap or a duplicate.
 *
 * Takes the model so tests can issue through several connections at once.
 */
export async function insertWithNextSerial(
  model: Model<CertificateAttrs>,
  attrs: Omit<CertificateAttrs, Numbered | 'createdAt' | 'updatedAt'>,
): Promise<InstanceType<Model<CertificateAttrs>>> {
  const fiscalYear = fiscalYearOf(attrs.issuedAt);
  // Within one process (and connection), issues of a year take turns: they would only make each
  // other read again. Between processes the unique index alone decides, as described above.
  // Stryker disable next-line StringLiteral: one queue for all would be slower, not wrong
  const key = `${model.db.id}:${fiscalYear}`;
  const before = turns.get(key) ?? Promise.resolve();
  const mine = before.then(() => insertRacing(model, attrs, fiscalYear));
  const settled = mine.then(
    () => undefined,
    () => undefined,
  );
  turns.set(key, settled);
  // Stryker disable all: forgetting an empty queue only keeps the map small
  void settled.then(() => {
    if (turns.get(key) === settled) turns.delete(key);
  });
  // Stryker restore all
  return mine;
}

/** The tail of each queue of issues, by connection and fiscal year. */
const turns = new Map<string, Promise<void>>();

async function insertRacing(
  model: Model<CertificateAttrs>,
  attrs: Omit<CertificateAttrs, Numbered | 'createdAt' | 'updatedAt'>,
  fiscalYear: number,
): Promise<InstanceType<Model<CertificateAttrs>>> {
  // Stryker disable next-line UpdateOperator,EqualityOperator: the limit matters only after 500 lost races
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const last = await model
      // Stryker disable next-line ObjectLiteral: the projection only saves reading the rest
      .findOne({ fiscalYear: { $eq: fiscalYear } }, { serial: 1 })
      .sort({ serial: -1 })
      .lean();
    const serial = (last?.serial ?? 0) + 1;
    try {
      return await model.create({
        ...attrs,
        fiscalYear,
        serial,
        number: formatCertificateNumber(fiscalYear, serial),
      });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      const keys = Object.keys((error as { keyPattern?: object }).keyPattern ?? {});
      if (keys.includes('programId')) throw new AlreadyIssuedError();
      // Lost the serial (or, once in 2^144, the verification code) to another insert: read again.
      // After a few losses in a row, wait a moment so a crowd of issuers spreads out.
      // Stryker disable next-line all: the back-off changes only when a lost race is retried
      if (attempt >= 3) await sleep(Math.random() * Math.min(attempt, 20));
      // Stryker disable next-line ConditionalExpression: a fresh code after a lost serial is harmless
      if (keys.includes('verificationCode'))
        attrs = { ...attrs, verificationCode: newVerificationCode() };
    }
  }
  // Stryker disable next-line StringLiteral: reached only after 500 lost races
  throw new Error('no certificate serial after many attempts');
}

/**
 * The code in the verification URL: 144 random bits, base64url (24 characters). Unguessable, and
 * unrelated to the number, so a number alone finds nothing.
 */
export function newVerificationCode(): string {
  return randomBytes(18).toString('base64url');
}
