import mongoose, { Schema, type HydratedDocument, type InferSchemaType } from 'mongoose';

export const IMPORT_STATUSES = ['preview', 'importing', 'completed', 'failed'] as const;
export type ImportStatus = (typeof IMPORT_STATUSES)[number];

/** How long an unconfirmed preview is kept (its rows hold names and addresses). */
export const IMPORT_PREVIEW_HOURS = 24;

/**
 * One uploaded file between preview and confirmation. The checked rows live here, on the
 * server, referenced by id: the confirmation form carries nothing but that id and the CSRF token.
 * Rows are cleared once the import completes; only the counts stay.
 */
const importBatchSchema = new Schema(
  {
    createdBy: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    status: { type: String, required: true, enum: IMPORT_STATUSES, default: 'preview' },
    fileName: { type: String, default: '', maxlength: 255 },
    encoding: { type: String, required: true },
    /** CheckedRow[] (src/admin/import/validate.ts). */
    rows: { type: [Schema.Types.Mixed], default: [] },
    rowCount: { type: Number, required: true },
    errorRowCount: { type: Number, required: true },
    createdUserCount: { type: Number, default: 0 },
    createdOrganisationCount: { type: Number, default: 0 },
    /** Why a confirmation failed (shown to the importer; no personal data). */
    failure: { type: String, default: null },
    completedAt: { type: Date, default: null },
    /** Unconfirmed previews are removed after this (TTL index); null once completed. */
    expiresAt: { type: Date, default: null },
  },
  { timestamps: true },
);
importBatchSchema.index({ createdBy: 1, createdAt: -1 });
importBatchSchema.index({ expiresAt: 1 }, { expireAfterSeconds: 0 });

export type ImportBatchAttrs = InferSchemaType<typeof importBatchSchema>;
export type ImportBatchDocument = HydratedDocument<ImportBatchAttrs>;
export const ImportBatch = mongoose.model('ImportBatch', importBatchSchema);
