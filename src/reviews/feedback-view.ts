import type { CaseStudyDocument } from '../case-studies/case-study.model.js';
import type { CaseStudyAssignment, Program } from '../courses/catalog.types.js';
import { DECISION_LABELS, type Decision, type ReviewRoundAttrs } from './review-round.model.js';
import { decidedRounds } from './review.service.js';

type Round = ReviewRoundAttrs & {
  _id: unknown;
  comments: (ReviewRoundAttrs['comments'][number] & { _id: unknown })[];
};

export interface RoundView {
  versionNumber: number;
  decision: Decision | null;
  decisionLabel: string;
  decidedAt: Date | null;
  ratings: { title: string; level: string | null; comment: string }[];
  sections: {
    id: string;
    title: string;
    comments: { id: string; quote: string; text: string; answer: string }[];
  }[];
  overallComment: string;
  /** The supervisor's marks on the previous round's comments. */
  addressed: { sectionTitle: string; text: string; addressed: boolean }[];
}

/** A round as the trainee's page and the review page show it. */
export function roundView(
  assignment: CaseStudyAssignment,
  round: Round,
  previous: Round | null,
): RoundView {
  const earlier = new Map((previous?.comments ?? []).map((c) => [String(c._id), c] as const));
  const titleOf = (sectionId: string) =>
    assignment.sections.find((s) => s.id === sectionId)?.title ?? sectionId;
  return {
    versionNumber: round.versionNumber,
    decision: round.decision ?? null,
    decisionLabel: round.decision === 'approved' ? '承認' : round.decision ? '修正依頼' : '',
    decidedAt: round.decidedAt ?? null,
    ratings: assignment.rubric.criteria.map((criterion) => {
      const rating = round.ratings.find((r) => r.criterionId === criterion.id);
      return {
        title: criterion.title,
        level: rating?.level ?? null,
        comment: rating?.comment ?? '',
      };
    }),
    sections: assignment.sections
      .map((section) => ({
        id: section.id,
        title: section.title,
        comments: round.comments
          .filter((c) => c.sectionId === section.id)
          .map((c) => ({
            id: String(c._id),
            quote: c.quote ?? '',
            text: c.text,
            answer: c.answer ?? '',
          })),
      }))
      .filter((section) => section.comments.length > 0),
    overallComment: round.overallComment ?? '',
    addressed: (round.addressed ?? []).flatMap((mark) => {
      const comment = earlier.get(String(mark.commentId));
      return comment
        ? [
            {
              sectionTitle: titleOf(comment.sectionId),
              text: comment.text,
              addressed: mark.addressed,
            },
          ]
        : [];
    }),
  };
}

export interface TraineeFeedback {
  caseStudyId: string;
  rounds: RoundView[];
  /** The round whose comments the trainee may answer now (the case is back with them). */
  answerable: RoundView | null;
}

/** Registered with the case studies: what the trainee's page shows (decided rounds only). */
export async function traineeFeedback(
  caseStudy: CaseStudyDocument,
  program: Program,
): Promise<TraineeFeedback | null> {
  const assignment = program.caseStudy;
  if (!assignment || caseStudy.versionCount === 0) return null;
  const rounds = (await decidedRounds(caseStudy._id)) as unknown as Round[];
  if (rounds.length === 0) return null;
  const views = rounds.map((round, i) =>
    roundView(assignment, round, i > 0 ? rounds[i - 1] : null),
  );
  const last = views[views.length - 1];
  const answerable =
    caseStudy.state === 'revision_requested' &&
    last.decision === 'revision_requested' &&
    last.versionNumber === caseStudy.versionCount
      ? last
      : null;
  return { caseStudyId: String(caseStudy._id), rounds: views.reverse(), answerable };
}

export { DECISION_LABELS };
