import mongoose, { Schema, type HydratedDocument, type InferSchemaType } from 'mongoose';

export const DECISIONS = ['revision_requested', 'approved'] as const;
export type Decision = (typeof DECISIONS)[number];
export const DECISION_LABELS: Record<Decision, string> = {
  revision_requested: '修正を依頼する',
  approved: '承認する',
};

/** One rubric criterion's level (one of program.yaml's levels, or null) and comment. */
const ratingSchema = new Schema(
  {
    criterionId: { type: String, required: true },
    level: { type: String, default: null },
    comment: { type: String, default: '' },
  },
  { _id: false },
);

/** A comment anchored to a section (and optionally a quoted passage); the trainee may answer it. */
const commentSchema = new Schema({
  sectionId: { type: String, required: true },
  quote: { type: String, default: '' },
  text: { type: String, required: true },
  /** The trainee's answer, written before resubmitting. */
  answer: { type: String, default: '' },
  answeredAt: { type: Date, default: null },
});

/** The supervisor's judgement of one comment of the previous round. */
const addressedSchema = new Schema(
  {
    commentId: { type: Schema.Types.ObjectId, required: true },
    addressed: { type: Boolean, required: true },
  },
  { _id: false },
);

/**
 * One review of one submitted version. A draft until the supervisor decides; the trainee sees a
 * round only once it is decided, and nothing of it changes after that (except the answers).
 */
const reviewRoundSchema = new Schema(
  {
    caseStudyId: { type: Schema.Types.ObjectId, ref: 'CaseStudy', required: true },
    /** The version reviewed (one round per version: round n reviews version n). */
    versionNumber: { type: Number, required: true },
    supervisorId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    state: { type: String, enum: ['draft', 'decided'], required: true, default: 'draft' },
    ratings: { type: [ratingSchema], default: [] },
    comments: { type: [commentSchema], default: [] },
    /** Marks on the previous round's comments. */
    addressed: { type: [addressedSchema], default: [] },
    overallComment: { type: String, default: '' },
    decision: { type: String, enum: [...DECISIONS, null], default: null },
    decidedAt: { type: Date, default: null },
    /** Incremented by every save, so a stale tab's save cannot overwrite a newer one. */
    revision: { type: Number, required: true, default: 0 },
  },
  { timestamps: true },
);
reviewRoundSchema.index({ caseStudyId: 1, versionNumber: 1 }, { unique: true });

export type ReviewRoundAttrs = InferSchemaType<typeof reviewRoundSchema>;
export type ReviewRoundDocument = HydratedDocument<ReviewRoundAttrs>;
export const ReviewRound = mongoose.model('ReviewRound', reviewRoundSchema, 'review_rounds');
