import { Types } from 'mongoose';
import type { CaseStudyAssignment } from '../courses/catalog.types.js';
import { countCharacters } from '../lib/text.js';
import { DECISIONS, type Decision } from './review-round.model.js';
import type { FeedbackInput } from './review.service.js';

/** Longest comment, rubric note or overall comment (characters as a reader counts them). */
export const MAX_COMMENT_CHARACTERS = 5000;
/** Most characters in the trainee's answer to one comment. */
export const MAX_ANSWER_CHARACTERS = MAX_COMMENT_CHARACTERS;
/** Most anchored comments in one round. */
export const MAX_COMMENTS = 100;

export interface ParsedFeedback {
  input: FeedbackInput;
  /** field → message (level:<criterion>, comment:<n>, addressed:<comment id>, decision, overall). */
  errors: Record<string, string>;
  decision: Decision | null;
  /** What was typed, to show again when the form comes back. */
  kept: KeptFeedback;
}

export interface KeptFeedback {
  levels: Record<string, string>;
  ratingComments: Record<string, string>;
  comments: { sectionId: string; quote: string; text: string }[];
  addressed: Record<string, string>;
  overall: string;
  decision: string;
}

const text = (value: unknown): string =>
  typeof value === 'string' ? value.replace(/\r\n?/g, '\n').trim() : '';
const list = (value: unknown): string[] =>
  typeof value === 'string'
    ? [value]
    : Array.isArray(value)
      ? value.map((v) => (typeof v === 'string' ? v : ''))
      : [];

/**
 * Reads the review form. `deciding` adds the decision's rules: a decision is chosen, every earlier
 * comment is marked, and an approval has a level for every criterion.
 */
export function parseFeedback(
  body: Record<string, unknown>,
  assignment: CaseStudyAssignment,
  versionTexts: ReadonlyMap<string, string>,
  earlierCommentIds: readonly string[],
  deciding: boolean,
): ParsedFeedback {
  const errors: Record<string, string> = {};
  const tooLong = `${MAX_COMMENT_CHARACTERS.toLocaleString('ja-JP')}文字以内で書いてください。`;
  const kept: KeptFeedback = {
    levels: {},
    ratingComments: {},
    comments: [],
    addressed: {},
    overall: text(body.overall),
    decision: text(body.decision),
  };
  const ratings = assignment.rubric.criteria.map((criterion) => {
    const raw = text(body[`level:${criterion.id}`]);
    const comment = text(body[`ratingComment:${criterion.id}`]);
    kept.levels[criterion.id] = raw;
    kept.ratingComments[criterion.id] = comment;
    const level = raw === '' ? null : raw;
    if (level !== null && !assignment.rubric.levels.includes(level))
      errors[`level:${criterion.id}`] = `「${criterion.title}」の評価を一覧から選んでください。`;
    if (countCharacters(comment) > MAX_COMMENT_CHARACTERS)
      errors[`ratingComment:${criterion.id}`] = tooLong;
    return { criterionId: criterion.id, level, comment };
  });

  const sectionIds = list(body.commentSection);
  const quotes = list(body.commentQuote);
  const texts = list(body.commentText);
  const comments: FeedbackInput['comments'] = [];
  const rows = Math.max(sectionIds.length, texts.length);
  for (let i = 0; i < rows; i++) {
    const sectionId = text(sectionIds[i]);
    const quote = text(quotes[i]);
    const commentText = text(texts[i]);
    if (!commentText && !quote) continue; // an empty row of the form
    const n = kept.comments.length;
    kept.comments.push({ sectionId, quote, text: commentText });
    const section = assignment.sections.find((s) => s.id === sectionId);
    if (!section) errors[`comment:${n}`] = 'コメントの対象の欄を一覧から選んでください。';
    else if (!commentText) errors[`comment:${n}`] = 'コメントを書いてください。';
    else if (countCharacters(commentText) > MAX_COMMENT_CHARACTERS)
      errors[`comment:${n}`] = tooLong;
    else if (quote && !(versionTexts.get(sectionId) ?? '').includes(quote))
      errors[`comment:${n}`] =
        `引用した文が「${section.title}」の欄に見つかりません。本文からそのまま写してください。`;
    comments.push({ sectionId, quote, text: commentText });
  }
  if (comments.length > MAX_COMMENTS) errors._form = `コメントは${MAX_COMMENTS}件までです。`;

  const addressed: FeedbackInput['addressed'] = [];
  for (const id of earlierCommentIds) {
    const raw = text(body[`addressed:${id}`]);
    kept.addressed[id] = raw;
    if (raw === 'yes' || raw === 'no')
      addressed.push({ commentId: new Types.ObjectId(id), addressed: raw === 'yes' });
    else if (deciding)
      errors[`addressed:${id}`] = '前回のコメントに対応できているかを選んでください。';
  }
  if (countCharacters(kept.overall) > MAX_COMMENT_CHARACTERS * 2)
    errors.overall = `${(MAX_COMMENT_CHARACTERS * 2).toLocaleString('ja-JP')}文字以内で書いてください。`;

  let decision: Decision | null = null;
  if (deciding) {
    decision = (DECISIONS as readonly string[]).includes(kept.decision)
      ? (kept.decision as Decision)
      : null;
    if (!decision) errors.decision = '確認の結果（修正を依頼する・承認する）を選んでください。';
    if (decision === 'approved') {
      for (const criterion of assignment.rubric.criteria) {
        if (!kept.levels[criterion.id])
          errors[`level:${criterion.id}`] ??=
            `承認するには「${criterion.title}」の評価を選んでください。`;
      }
    }
  }
  return {
    input: { ratings, comments, addressed, overallComment: kept.overall },
    errors,
    decision,
    kept,
  };
}
