import mongoose, { Types } from 'mongoose';
import { recordAudit } from '../audit/audit.service.js';
import type { CaseStudyDocument } from '../case-studies/case-study.model.js';
import {
  approveCaseStudy,
  findCaseStudy,
  markInReview,
  requestRevision,
} from '../case-studies/case-study.service.js';
import type { Program } from '../courses/catalog.types.js';
import { isDuplicateKey } from '../lib/forms.js';
import { emitIfProgramCompleted } from '../learning/program-completion.js';
import { User } from '../users/user.model.js';
import { tellTrainee } from './notify.js';
import { ReviewRound, type Decision, type ReviewRoundDocument } from './review-round.model.js';

export interface FeedbackInput {
  ratings: { criterionId: string; level: string | null; comment: string }[];
  comments: { sectionId: string; quote: string; text: string }[];
  addressed: { commentId: Types.ObjectId; addressed: boolean }[];
  overallComment: string;
}

/** The round reviewing the case's newest version, if the supervisor has started it. */
export function currentRound(caseStudy: CaseStudyDocument): Promise<ReviewRoundDocument | null> {
  return ReviewRound.findOne({
    caseStudyId: caseStudy._id,
    versionNumber: caseStudy.versionCount,
  });
}

/** The decided round before the current version (the one the trainee has answered), if any. */
export function previousRound(caseStudy: CaseStudyDocument) {
  return ReviewRound.findOne({
    caseStudyId: caseStudy._id,
    versionNumber: mongoose.trusted({ $lt: caseStudy.versionCount }),
    state: 'decided',
  })
    .sort({ versionNumber: -1 })
    .lean();
}

export type SaveOutcome = 'saved' | 'conflict' | 'decided';

/**
 * Saves the feedback draft if it is still at `revision` (0: not started yet). Moves a newly
 * submitted case to in_review.
 */
export async function saveFeedbackDraft(
  caseStudy: CaseStudyDocument,
  supervisorId: string,
  revision: number,
  input: FeedbackInput,
): Promise<SaveOutcome> {
  const fields = { ...input, supervisorId: new Types.ObjectId(supervisorId) };
  if (revision === 0) {
    try {
      await ReviewRound.create({
        caseStudyId: caseStudy._id,
        versionNumber: caseStudy.versionCount,
        state: 'draft',
        revision: 1,
        ...fields,
      });
    } catch (error) {
      if (isDuplicateKey(error)) return outcomeOfMiss(caseStudy);
      throw error;
    }
  } else {
    const updated = await ReviewRound.findOneAndUpdate(
      {
        caseStudyId: caseStudy._id,
        versionNumber: caseStudy.versionCount,
        state: 'draft',
        revision,
      },
      { $set: fields, $inc: { revision: 1 } },
    );
    if (!updated) return outcomeOfMiss(caseStudy);
  }
  await markInReview(caseStudy._id);
  return 'saved';
}

async function outcomeOfMiss(caseStudy: CaseStudyDocument): Promise<'conflict' | 'decided'> {
  const round = await currentRound(caseStudy);
  return round?.state === 'decided' ? 'decided' : 'conflict';
}

export type DecideOutcome = 'decided' | 'already_decided' | 'conflict' | 'closed';

/**
 * Records the decision with one conditional update of the round (a second tab or a double click
 * finds it decided and records nothing), then moves the case study, releases the round to the
 * trainee and tells them. An approval may complete the trainee's program.
 */
export async function decide(
  caseStudy: CaseStudyDocument,
  program: Program,
  supervisorId: string,
  revision: number,
  input: FeedbackInput,
  decision: Decision,
  ip?: string,
): Promise<DecideOutcome> {
  const now = new Date();
  const fields = {
    ...input,
    supervisorId: new Types.ObjectId(supervisorId),
    state: 'decided' as const,
    decision,
    decidedAt: now,
  };
  let round: ReviewRoundDocument | null;
  if (revision === 0) {
    try {
      round = await ReviewRound.create({
        caseStudyId: caseStudy._id,
        versionNumber: caseStudy.versionCount,
        revision: 1,
        ...fields,
      });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      round = null;
    }
  } else {
    round = await ReviewRound.findOneAndUpdate(
      {
        caseStudyId: caseStudy._id,
        versionNumber: caseStudy.versionCount,
        state: 'draft',
        revision,
      },
      { $set: fields, $inc: { revision: 1 } },
      // Stryker disable next-line ObjectLiteral,StringLiteral: only the round's _id and versionNumber are read below, which the update leaves as they were
      { returnDocument: 'after' },
    );
  }
  if (!round)
    return (await outcomeOfMiss(caseStudy)) === 'decided' ? 'already_decided' : 'conflict';

  const moved =
    decision === 'approved'
      ? await approveCaseStudy(caseStudy._id, supervisorId, now)
      : await requestRevision(caseStudy._id, now);
  if (!moved) {
    // Withdrawn meanwhile: the round goes back to a draft nobody will see.
    await ReviewRound.updateOne(
      { _id: round._id },
      { $set: { state: 'draft', decision: null, decidedAt: null } },
    );
    return 'closed';
  }
  await recordAudit({
    actorId: supervisorId,
    action: 'review.decided',
    targetType: 'CaseStudy',
    targetId: caseStudy._id,
    municipalityId: caseStudy.municipalityId,
    ip: ip ?? null,
    details: { round: round.versionNumber, decision },
  });
  await tellTrainee(
    caseStudy.userId,
    decision === 'approved' ? 'case_study.approved' : 'case_study.feedback_released',
    caseStudy.programId,
  );
  if (decision === 'approved') {
    // Stryker disable next-line ObjectLiteral: the whole user has the same _id, municipality and region
    const trainee = await User.findById(caseStudy.userId, {
      municipalityId: 1,
      regionId: 1,
    }).lean();
    if (trainee) {
      await emitIfProgramCompleted(
        {
          userId: trainee._id,
          // Stryker disable next-line LogicalOperator: the completion check reads the learner's progress by user id only
          municipalityId: trainee.municipalityId ?? null,
          // Stryker disable next-line LogicalOperator: as above
          regionId: trainee.regionId ?? null,
        },
        program,
      );
    }
  }
  return 'decided';
}

/** The trainee answers the comments of the round that sent the case back (until resubmitting). */
export async function saveAnswers(
  caseStudy: CaseStudyDocument,
  answers: ReadonlyMap<string, string>,
): Promise<boolean> {
  const round = await ReviewRound.findOne({
    caseStudyId: caseStudy._id,
    versionNumber: caseStudy.versionCount,
    state: 'decided',
    decision: 'revision_requested',
  });
  if (!round || caseStudy.state !== 'revision_requested') return false;
  const now = new Date();
  for (const comment of round.comments) {
    const answer = answers.get(String(comment._id));
    if (answer !== undefined && answer !== comment.answer) {
      comment.answer = answer;
      comment.answeredAt = answer ? now : null;
    }
  }
  await round.save();
  return true;
}

/** Decided rounds of a case study, oldest first: all the trainee ever sees of the review. */
export function decidedRounds(caseStudyId: Types.ObjectId) {
  // Stryker disable next-line MethodExpression,ObjectLiteral: the embedded store answers through the unique (caseStudyId, versionNumber) index, already in this order; the sort keeps it so whatever the plan
  return ReviewRound.find({ caseStudyId, state: 'decided' }).sort({ versionNumber: 1 }).lean();
}

export { findCaseStudy };
