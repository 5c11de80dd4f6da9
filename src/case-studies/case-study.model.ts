import mongoose, { Schema, type HydratedDocument, type InferSchemaType } from 'mongoose';

/**
 * draft → submitted → (in_review → revision_requested → resubmitted …) → approved, or withdrawn.
 * in_review and the revision round belong to the supervisor review (issue 10).
 */
export const CASE_STUDY_STATES = [
  'draft',
  'submitted',
  'in_review',
  'revision_requested',
  'resubmitted',
  'approved',
  'withdrawn',
] as const;
export type CaseStudyState = (typeof CASE_STUDY_STATES)[number];

export const CASE_STUDY_STATE_LABELS: Record<CaseStudyState, string> = {
  draft: '下書き',
  submitted: '提出済み',
  in_review: '確認中',
  revision_requested: '修正依頼あり',
  resubmitted: '再提出済み',
  approved: '承認済み',
  withdrawn: '取り下げ',
};

/** States in which the author edits the draft. */
export const EDITABLE_STATES: readonly CaseStudyState[] = ['draft', 'revision_requested'];
/** States in which the author may withdraw the case study. */
export const WITHDRAWABLE_STATES: readonly CaseStudyState[] = [
  'draft',
  'submitted',
  'in_review',
  'revision_requested',
  'resubmitted',
];

/** A file attached to the draft or a version: the GridFS file and what the trainee sees. */
const attachmentSchema = new Schema(
  {
    fileId: { type: Schema.Types.ObjectId, required: true },
    /** The original name, cleaned for display only; never used as a path. */
    name: { type: String, required: true },
    /** The type detected from the bytes (file-type), not the browser's claim. */
    mime: { type: String, required: true },
    ext: { type: String, required: true },
    size: { type: Number, required: true },
    uploadedAt: { type: Date, required: true },
  },
  { _id: false },
);

/** The text being written: edited in place until the next submission. */
const draftSchema = new Schema(
  {
    /** Section id (program.yaml caseStudy.sections) → text. */
    sections: { type: Map, of: String, default: () => new Map() },
    attachments: { type: [attachmentSchema], default: [] },
    /** Incremented by every save; a save naming an older revision is refused (409). */
    revision: { type: Number, required: true, default: 0 },
    savedAt: { type: Date, default: null },
  },
  { _id: false },
);

/**
 * One trainee's case study for one program. The draft is edited in place (optimistic concurrency
 * through draft.revision); each submission freezes a numbered CaseStudyVersion.
 */
const caseStudySchema = new Schema(
  {
    userId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    programId: { type: String, required: true },
    /** The author's area and organisation at creation, for reports without joins (tracking issue). */
    municipalityId: { type: Schema.Types.ObjectId, ref: 'Municipality', default: null },
    regionId: { type: Schema.Types.ObjectId, ref: 'Region', default: null },
    organisationId: { type: Schema.Types.ObjectId, ref: 'Organisation', default: null },
    state: { type: String, enum: CASE_STUDY_STATES, required: true, default: 'draft' },
    /**
     * True while the case study is not withdrawn. The partial unique index on (userId, programId)
     * covers open ones only, so a withdrawn case study may be started again.
     */
    open: { type: Boolean, default: true },
    draft: { type: draftSchema, required: true, default: () => ({}) },
    /** Number of the newest frozen version (0: never submitted). */
    versionCount: { type: Number, required: true, default: 0 },
    /** Supervisors who may read the case (set by the review issue's allocation). */
    assignedSupervisorIds: { type: [Schema.Types.ObjectId], ref: 'User', default: [] },
    submittedAt: { type: Date, default: null },
    approvedAt: { type: Date, default: null },
    withdrawnAt: { type: Date, default: null },
    stateChangedAt: { type: Date, required: true, default: () => new Date() },
    /** When the retention sweep deleted the attachments (CASE_FILE_RETENTION_DAYS). */
    filesDeletedAt: { type: Date, default: null },
  },
  { timestamps: true },
);
caseStudySchema.index(
  { userId: 1, programId: 1 },
  { unique: true, partialFilterExpression: { open: { $eq: true } }, name: 'one_open_per_program' },
);
// The learning hook asks "approved?" on every overview; the page lists withdrawn ones.
caseStudySchema.index({ userId: 1, programId: 1, state: 1 });
caseStudySchema.index({ programId: 1, municipalityId: 1 });
caseStudySchema.index({ programId: 1, regionId: 1 });
caseStudySchema.index({ state: 1, approvedAt: 1 });

export type CaseStudyAttrs = InferSchemaType<typeof caseStudySchema>;
export type CaseStudyDocument = HydratedDocument<CaseStudyAttrs>;
export type AttachmentAttrs = InferSchemaType<typeof attachmentSchema>;
export const CaseStudy = mongoose.model('CaseStudy', caseStudySchema, 'case_studies');

/** A finding of the anonymisation guard that the trainee confirmed as not identifying. */
const confirmationSchema = new Schema(
  {
    /** Section id, or `attachment` for a file name. */
    sectionId: { type: String, required: true },
    kind: { type: String, required: true },
    text: { type: String, required: true },
    confirmedAt: { type: Date, required: true },
  },
  { _id: false },
);

/** A submitted version: frozen, never updated (the next edits go to the draft). */
const caseStudyVersionSchema = new Schema(
  {
    caseStudyId: { type: Schema.Types.ObjectId, ref: 'CaseStudy', required: true },
    userId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    number: { type: Number, required: true },
    sections: { type: Map, of: String, required: true },
    attachments: { type: [attachmentSchema], default: [] },
    confirmations: { type: [confirmationSchema], default: [] },
    submittedAt: { type: Date, required: true },
  },
  { timestamps: true },
);
caseStudyVersionSchema.index({ caseStudyId: 1, number: 1 }, { unique: true });

export type CaseStudyVersionAttrs = InferSchemaType<typeof caseStudyVersionSchema>;
export const CaseStudyVersion = mongoose.model(
  'CaseStudyVersion',
  caseStudyVersionSchema,
  'case_study_versions',
);

/** Who opened which case study's text or file, and when (read by administrators). */
const caseStudyAccessSchema = new Schema({
  userId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
  caseStudyId: { type: Schema.Types.ObjectId, ref: 'CaseStudy', required: true },
  /** draft | version | diff | file */
  what: { type: String, enum: ['draft', 'version', 'diff', 'file'], required: true },
  /** The version opened (diff: the newer one); null for the draft. */
  versionNumber: { type: Number, default: null },
  fromVersionNumber: { type: Number, default: null },
  fileId: { type: Schema.Types.ObjectId, default: null },
  /** The file's display name as it was when opened. */
  fileName: { type: String, default: null },
  at: { type: Date, required: true, default: () => new Date() },
});
caseStudyAccessSchema.index({ at: -1 });
caseStudyAccessSchema.index({ caseStudyId: 1, at: -1 });

export type CaseStudyAccessAttrs = InferSchemaType<typeof caseStudyAccessSchema>;
export const CaseStudyAccess = mongoose.model(
  'CaseStudyAccess',
  caseStudyAccessSchema,
  'case_study_access',
);
