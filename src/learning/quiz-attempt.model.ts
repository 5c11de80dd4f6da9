import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { clearCachesOnWrite, singleValue } from '../cache/document-cache.js';
import { currentFeed } from '../cache/read-caches.js';

const shownQuestionSchema = new Schema(
  {
    id: { type: String, required: true },
    type: { type: String, enum: ['single', 'multiple'], required: true },
    text: { type: String, required: true },
    /** Options in the (shuffled) order this learner saw them. */
    options: [
      { _id: false, id: { type: String, required: true }, text: { type: String, required: true } },
    ],
    answer: [{ type: String }],
    explanation: { type: String, default: '' },
  },
  { _id: false },
);

const givenAnswerSchema = new Schema(
  {
    questionId: { type: String, required: true },
    optionIds: [{ type: String }],
    correct: { type: Boolean, required: true },
  },
  { _id: false },
);

/**
 * One attempt at a module quiz. Starting creates it with the question and option order shown
 * (a snapshot of the quiz at that moment, so results stay readable after the content changes);
 * submitting fills answers and score exactly once (submittedAt null → set, atomically).
 */
const quizAttemptSchema = new Schema(
  {
    /** Public id used in URLs. */
    attemptId: { type: String, required: true },
    userId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    programId: { type: String, required: true },
    moduleId: { type: String, required: true },
    quizId: { type: String, required: true },
    /** Content fingerprint of the quiz version this attempt was started on. */
    fingerprint: { type: String, required: true },
    passPercent: { type: Number, required: true },
    municipalityId: { type: Schema.Types.ObjectId, ref: 'Municipality', default: null },
    regionId: { type: Schema.Types.ObjectId, ref: 'Region', default: null },
    questions: { type: [shownQuestionSchema], required: true },
    answers: { type: [givenAnswerSchema], default: undefined },
    /** Percent of questions answered fully correctly, rounded down. */
    score: { type: Number, default: null },
    correctCount: { type: Number, default: null },
    total: { type: Number, required: true },
    passed: { type: Boolean, default: null },
    startedAt: { type: Date, required: true },
    submittedAt: { type: Date, default: null },
  },
  { timestamps: true },
);
quizAttemptSchema.index({ attemptId: 1 }, { unique: true });
quizAttemptSchema.index({ userId: 1, programId: 1, quizId: 1, startedAt: -1 });
quizAttemptSchema.index({ programId: 1, userId: 1 });
quizAttemptSchema.index({ programId: 1, municipalityId: 1 });
quizAttemptSchema.index({ programId: 1, regionId: 1 });
// The attempts cache (src/cache) holds attempts by attemptId: writes through the model drop them.
clearCachesOnWrite(quizAttemptSchema, currentFeed, 'quiz_attempts', (source) =>
  singleValue(source, 'attemptId'),
);

export type QuizAttemptAttrs = InferSchemaType<typeof quizAttemptSchema>;
export const QuizAttempt = mongoose.model('QuizAttempt', quizAttemptSchema, 'quiz_attempts');
