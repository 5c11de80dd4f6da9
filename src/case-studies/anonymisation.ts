import { KIND_LABELS } from './anonymisation-messages.js';
import { findPatterns, type Candidate } from './anonymisation-patterns.js';
import { findHiraganaNames, findPersonNames } from './anonymisation-names.js';
import { findInstitutions, findMunicipalities } from './anonymisation-places.js';
import { TokenIndex, tokenize } from './japanese-tokens.js';

export type IdentifierKind =
  | 'phone'
  | 'email'
  | 'postal-code'
  | 'address'
  | 'date'
  | 'age'
  | 'person-name'
  | 'municipality'
  | 'institution';

export interface IdentifierFinding {
  start: number;
  end: number;
  kind: IdentifierKind;
  text: string;
  suggestion: string;
}

/**
 * When findings overlap, they become one finding of the kind listed first: 松本市中央1丁目 is an
 * address, 松本深志高校 a school (not a person and a town), 安曇野市 a town although the
 * dictionary reads 安曇 as a surname (a bare 松本 counts as a town only before の/で/出身 …).
 */
const PRECEDENCE: IdentifierKind[] = [
  'email',
  'phone',
  'postal-code',
  'date',
  'age',
  'address',
  'institution',
  'municipality',
  'person-name',
];

function merge(candidates: Candidate[]): Candidate[] {
  const sorted = [...candidates].sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Candidate[] = [];
  for (const next of sorted) {
    const last = merged.at(-1);
    if (!last || next.start >= last.end) {
      merged.push({ ...next });
      continue;
    }
    if (PRECEDENCE.indexOf(next.kind) < PRECEDENCE.indexOf(last.kind)) {
      last.kind = next.kind;
      last.suggestion = next.suggestion;
    }
    last.end = Math.max(last.end, next.end);
  }
  return merged;
}

/**
 * The details in `text` that may identify a person, for the trainee to rewrite or confirm before
 * submitting a case study: what courses/basic-training/case-study.md asks them not to write.
 * start/end are string (UTF-16) indices into text; text === input.slice(start, end). Sorted by
 * start, non-overlapping. The first call loads the Japanese dictionary (a few seconds).
 */
export async function findIdentifiers(text: string): Promise<IdentifierFinding[]> {
  // Stryker disable next-line ConditionalExpression,MethodExpression: blank text has no tokens either; this only skips loading the dictionary
  if (!text.trim()) return [];
  const index = new TokenIndex(await tokenize(text));
  const candidates = [
    ...findPatterns(text),
    ...findPersonNames(text, index.tokens),
    ...findHiraganaNames(text, index),
    ...findMunicipalities(text, index),
    ...findInstitutions(text, index),
  ];
  return merge(candidates).map(({ start, end, kind, suggestion }) => ({
    start,
    end,
    kind,
    text: text.slice(start, end),
    suggestion,
  }));
}

/** Japanese label of a kind for the UI, e.g. 'phone' → '電話番号'. */
export function identifierKindLabel(kind: IdentifierKind): string {
  return KIND_LABELS[kind];
}
