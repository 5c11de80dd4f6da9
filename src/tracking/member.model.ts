import mongoose, { Schema, type InferSchemaType } from 'mongoose';

export const STAGES = ['not_started', 'in_training', 'certified'] as const;
export type Stage = (typeof STAGES)[number];

/**
 * One person's standing in one program, flattened for the reports: the person's CURRENT area and
 * organisation (from users), sector, progress counts, case-study state and dates, the valid
 * certificate. Derived data only, rebuilt from users, organisations, learner_progress,
 * case_studies and certificates by src/tracking/sync.service.ts before every report; never
 * edited by hand. The reports group these rows in the database instead of joining five
 * collections on every request.
 */
const trackingMemberSchema = new Schema(
  {
    userId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    programId: { type: String, required: true },
    name: { type: String, required: true },
    nameKana: { type: String, default: '' },
    email: { type: String, default: '' },
    status: { type: String, required: true },
    roles: { type: [String], default: [] },
    profession: { type: String, default: null },
    /** The person's current area (users), not the area at issue of the certificate. */
    municipalityId: { type: Schema.Types.ObjectId, default: null },
    regionId: { type: Schema.Types.ObjectId, default: null },
    organisationId: { type: Schema.Types.ObjectId, default: null },
    organisationName: { type: String, default: null },
    /** The current organisation's sector; null without an organisation. */
    sector: { type: String, default: null },
    stage: { type: String, enum: STAGES, required: true },
    lessonsRead: { type: Number, default: 0 },
    quizzesPassed: { type: Number, default: 0 },
    /** First learning activity (the program's progress record was created). */
    startedAt: { type: Date, default: null },
    /** Latest of: progress changed, case study changed state. Null: never started. */
    lastActivityAt: { type: Date, default: null },
    caseState: { type: String, default: null },
    caseSubmittedAt: { type: Date, default: null },
    caseApprovedAt: { type: Date, default: null },
    certificateNumber: { type: String, default: null },
    certificateIssuedAt: { type: Date, default: null },
    /** Days from the first lesson to the certificate's completion date. */
    daysToCertificate: { type: Number, default: null },
    /** When the account was registered (for "stalled" of people who never started). */
    registeredAt: { type: Date, default: null },
  },
  { timestamps: true },
);
trackingMemberSchema.index({ userId: 1, programId: 1 }, { unique: true });
trackingMemberSchema.index({ programId: 1, municipalityId: 1, nameKana: 1 });
trackingMemberSchema.index({ programId: 1, regionId: 1 });
trackingMemberSchema.index({ organisationId: 1 });

export type TrackingMemberAttrs = InferSchemaType<typeof trackingMemberSchema>;
export const TrackingMember = mongoose.model(
  'TrackingMember',
  trackingMemberSchema,
  'tracking_members',
);

/** Where the incremental rebuild stands (one document per program). */
const trackingStateSchema = new Schema({
  _id: { type: String, required: true },
  /** Shape of tracking_members: a different number rebuilds everything. */
  version: { type: Number, required: true },
  /** Sources changed at or after this time are re-read by the next catch-up. */
  watermark: { type: Date, required: true },
});
export const TrackingState = mongoose.model('TrackingState', trackingStateSchema, 'tracking_state');
