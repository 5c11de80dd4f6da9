import mongoose, { Schema, type HydratedDocument, type InferSchemaType } from 'mongoose';
import { cleanIfText, withinCharacters } from '../lib/text.js';

/** Most characters in the name printed on a certificate (the page shrinks the type to fit). */
export const CERTIFICATE_NAME_MAX = 100;

export const CERTIFICATE_KINDS = ['automatic', 'manual'] as const;
export type CertificateKind = (typeof CERTIFICATE_KINDS)[number];

/**
 * A completion certificate (修了証書). The PDF is drawn on demand from this record, so a name
 * corrected by an administrator yields a corrected PDF with the same number.
 *
 * Shared with the tracking reports (src/tracking), which read it through this model: a certificate
 * counts while `valid` is true (`VALID_CERTIFICATE`).
 */
const certificateSchema = new Schema(
  {
    /** Readable number, unique, without gaps per fiscal year (see certificate numbering). */
    number: { type: String, required: true },
    /** Fiscal year (年度, April to March) of issue, and the serial within it (1, 2, …). */
    fiscalYear: { type: Number, required: true },
    serial: { type: Number, required: true, min: 1 },
    userId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    programId: { type: String, required: true },
    /** As printed; an administrator may correct it (audit-logged). */
    name: {
      type: String,
      required: true,
      set: cleanIfText,
      validate: [
        withinCharacters(CERTIFICATE_NAME_MAX),
        `at most ${CERTIFICATE_NAME_MAX} characters`,
      ],
    },
    /** The organisation's name as printed, taken at issue. */
    organisationName: { type: String, default: '' },
    /** The holder's area and organisation at issue (reports count the holder's current area). */
    municipalityId: { type: Schema.Types.ObjectId, ref: 'Municipality', default: null },
    regionId: { type: Schema.Types.ObjectId, ref: 'Region', default: null },
    organisationId: { type: Schema.Types.ObjectId, ref: 'Organisation', default: null },
    /** The program's title as printed, taken at issue. */
    programTitle: { type: String, required: true },
    /** The day the program was completed (printed on the certificate). */
    completedAt: { type: Date, required: true },
    issuedAt: { type: Date, required: true, default: () => new Date() },
    kind: { type: String, enum: CERTIFICATE_KINDS, required: true, default: 'automatic' },
    /** The administrator who issued a manual certificate, and why. */
    issuedBy: { type: Schema.Types.ObjectId, ref: 'User', default: null },
    issueReason: { type: String, default: null },
    /**
     * The code in the verification URL (/verify/<code>): ≥ 128 random bits, base64url. Printed on
     * the certificate and in its QR code; the number alone finds nothing.
     */
    verificationCode: { type: String, required: true },
    /**
     * True until revoked. A flag beside revokedAt because MongoDB's partial indexes take `$eq: true`
     * but not a test for null; revocation sets both in one update.
     */
    valid: { type: Boolean, required: true, default: true },
    revokedAt: { type: Date, default: null },
    revokedBy: { type: Schema.Types.ObjectId, ref: 'User', default: null },
    revokeReason: { type: String, default: null },
  },
  { timestamps: true },
);
certificateSchema.index({ number: 1 }, { unique: true });
certificateSchema.index({ fiscalYear: 1, serial: 1 }, { unique: true });
certificateSchema.index({ verificationCode: 1 }, { unique: true });
// One valid certificate per learner and program, also when two processes see the completion.
certificateSchema.index(
  { userId: 1, programId: 1 },
  {
    unique: true,
    partialFilterExpression: { valid: { $eq: true } },
    name: 'one_valid_per_program',
  },
);
certificateSchema.index({ userId: 1, issuedAt: -1 });
certificateSchema.index({ municipalityId: 1, issuedAt: -1 });
certificateSchema.index({ programId: 1, issuedAt: 1 });

/** Filter for certificates that count: not revoked. */
export const VALID_CERTIFICATE = { valid: true } as const;

export type CertificateAttrs = InferSchemaType<typeof certificateSchema>;
export type CertificateDocument = HydratedDocument<CertificateAttrs>;
export const Certificate = mongoose.model('Certificate', certificateSchema, 'certificates');
