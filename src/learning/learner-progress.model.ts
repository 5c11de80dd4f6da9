import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { clearCachesOnWrite, singleValue } from '../cache/document-cache.js';
import { currentFeed } from '../cache/read-caches.js';

/** Per-quiz summary kept in LearnerProgress.quizzes[quizId]. */
export interface QuizSummary {
  /** True once any attempt passed; never set back (an earlier pass stays valid after a quiz changes). */
  passed?: boolean;
  passedAt?: Date;
  bestScore?: number;
  lastScore?: number;
  attempts?: number;
}

/**
 * One learner's summary of one program, kept next to the detailed LessonProgress and QuizAttempt
 * records so the overview and lesson pages need a single read: lessons read, modules opened, quiz
 * results, time spent, and the last position for "resume". Written together with the detail records.
 */
const learnerProgressSchema = new Schema(
  {
    userId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    programId: { type: String, required: true },
    municipalityId: { type: Schema.Types.ObjectId, ref: 'Municipality', default: null },
    regionId: { type: Schema.Types.ObjectId, ref: 'Region', default: null },
    /** Ids of lessons marked as read (lesson ids are unique within a program). */
    readLessons: { type: [String], default: [] },
    /** Ids of modules where a lesson or the quiz has been opened. */
    openedModules: { type: [String], default: [] },
    /** quizId → QuizSummary. */
    quizzes: { type: Schema.Types.Mixed, default: {} },
    /** Approximate learning time: lessons (open → read, capped) and quizzes (start → submit, capped). */
    secondsSpent: { type: Number, default: 0 },
    /** Where the learner was last: resume from here. */
    position: {
      moduleId: { type: String, default: null },
      lessonId: { type: String, default: null },
      at: { type: Date, default: null },
    },
    /** lessonId → when the lesson was last opened: the start of the time counted when it is read. */
    lessonOpenedAt: { type: Schema.Types.Mixed, default: {} },
  },
  { timestamps: true, minimize: false },
);
learnerProgressSchema.index({ userId: 1, programId: 1 }, { unique: true });
learnerProgressSchema.index({ programId: 1, municipalityId: 1 });
learnerProgressSchema.index({ programId: 1, regionId: 1 });
// The progress cache is keyed by "<user id>/<program id>" (progress.service.ts getProgress).
clearCachesOnWrite(learnerProgressSchema, currentFeed, 'learner_progress', (source) => {
  const userId = singleValue(source, 'userId');
  const programId = singleValue(source, 'programId');
  return userId && programId ? `${userId}/${programId}` : null;
});

export type LearnerProgressAttrs = InferSchemaType<typeof learnerProgressSchema>;
export const LearnerProgress = mongoose.model(
  'LearnerProgress',
  learnerProgressSchema,
  'learner_progress',
);
