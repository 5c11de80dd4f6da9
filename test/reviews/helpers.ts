import type request from 'supertest';
import type { SignedIn } from '../helpers/auth.js';
import { realCatalog } from '../learning/helpers.js';
import { PROGRAM } from '../case-studies/helpers.js';

export const reviewUrl = (caseStudyId: string) => `/review/${caseStudyId}`;

/** The rubric and sections of the real program (content, not code). */
export async function realAssignment() {
  return (await realCatalog()).program(PROGRAM)!.caseStudy!;
}

/** The review form's hidden revision and version number, from the page. */
export async function openReview(
  session: SignedIn,
  caseStudyId: string,
): Promise<{ html: string; revision: string; versionNumber: string }> {
  const res = await session.get(reviewUrl(caseStudyId)).expect(200);
  return {
    html: res.text,
    revision: /name="revision" value="(\d+)"/.exec(res.text)?.[1] ?? '',
    versionNumber: /name="versionNumber" value="(\d+)"/.exec(res.text)?.[1] ?? '',
  };
}

export interface FeedbackForm {
  levels?: Record<string, string>;
  comments?: { sectionId: string; quote?: string; text: string }[];
  addressed?: Record<string, 'yes' | 'no'>;
  overall?: string;
  decision?: 'revision_requested' | 'approved';
  action: 'save' | 'decide';
  /** Defaults to the page's current values. */
  revision?: string;
  versionNumber?: string;
}

/** Posts the review form as a browser would (repeated fields for the comment rows). */
export async function postFeedback(
  session: SignedIn,
  caseStudyId: string,
  form: FeedbackForm,
  status: number,
): Promise<request.Response> {
  const page =
    form.revision === undefined || form.versionNumber === undefined
      ? await openReview(session, caseStudyId)
      : null;
  const body: Record<string, string | string[]> = {
    revision: form.revision ?? page!.revision,
    versionNumber: form.versionNumber ?? page!.versionNumber,
    action: form.action,
    overall: form.overall ?? '',
  };
  if (form.decision) body.decision = form.decision;
  for (const [id, level] of Object.entries(form.levels ?? {})) body[`level:${id}`] = level;
  for (const [id, mark] of Object.entries(form.addressed ?? {})) body[`addressed:${id}`] = mark;
  const comments = form.comments ?? [];
  body.commentSection = comments.map((c) => c.sectionId);
  body.commentQuote = comments.map((c) => c.quote ?? '');
  body.commentText = comments.map((c) => c.text);
  return session.post(reviewUrl(caseStudyId), body).expect(status);
}

/** Every criterion at the given level. */
export async function allLevels(level?: string): Promise<Record<string, string>> {
  const assignment = await realAssignment();
  const chosen = level ?? assignment.rubric.levels[assignment.rubric.levels.length - 1];
  return Object.fromEntries(assignment.rubric.criteria.map((c) => [c.id, chosen]));
}
