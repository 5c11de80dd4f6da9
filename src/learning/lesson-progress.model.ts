import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/**
 * One learner's reading of one lesson, written when they mark it as read: when they had opened it
 * (the opening itself is kept in the learner's summary until then; records of earlier versions
 * also exist for lessons opened and never read), when they marked it, and roughly how long they
 * spent. Addressed by stable content ids, so editing a lesson's
 * text keeps the record. municipalityId and regionId are copied from the user so reports by area
 * need no join.
 */
const lessonProgressSchema = new Schema(
  {
    userId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    programId: { type: String, required: true },
    moduleId: { type: String, required: true },
    lessonId: { type: String, required: true },
    municipalityId: { type: Schema.Types.ObjectId, ref: 'Municipality', default: null },
    regionId: { type: Schema.Types.ObjectId, ref: 'Region', default: null },
    firstOpenedAt: { type: Date, required: true },
    lastOpenedAt: { type: Date, required: true },
    /** Null until the learner presses 「読了にする」. */
    readAt: { type: Date, default: null },
    /** Time between opening and marking as read, capped (see LESSON_TIME_CAP_SECONDS). */
    secondsSpent: { type: Number, default: 0, min: 0 },
  },
  { timestamps: true },
);
lessonProgressSchema.index({ userId: 1, programId: 1, lessonId: 1 }, { unique: true });
lessonProgressSchema.index({ programId: 1, userId: 1 });
lessonProgressSchema.index({ programId: 1, municipalityId: 1 });
lessonProgressSchema.index({ programId: 1, regionId: 1 });

export type LessonProgressAttrs = InferSchemaType<typeof lessonProgressSchema>;
export const LessonProgress = mongoose.model(
  'LessonProgress',
  lessonProgressSchema,
  'lesson_progress',
);
