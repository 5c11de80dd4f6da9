import { createHash } from 'node:crypto';
import type { CaseStudySection } from '../courses/catalog.types.js';
import { findIdentifiers, identifierKindLabel, type IdentifierKind } from './anonymisation.js';

/** A guard finding placed in the case study, ready to show in context. */
export interface PlacedFinding {
  /** Stable across re-renders: the same words in the same place give the same key. */
  key: string;
  /** Section id, or `attachment`. */
  sectionId: string;
  where: string;
  kind: IdentifierKind;
  kindLabel: string;
  text: string;
  suggestion: string;
  /** The sentence around the finding, split so the view can mark the finding. */
  before: string;
  after: string;
}

const CONTEXT = 40;

export function findingKey(sectionId: string, kind: string, text: string): string {
  return createHash('sha256')
    .update(`${sectionId}\u0000${kind}\u0000${text}`)
    .digest('base64url')
    .slice(0, 16);
}

/** The sentence containing [start, end): from the previous 。！？ or line break to the next one. */
function sentenceAround(
  text: string,
  start: number,
  end: number,
): { before: string; after: string } {
  const boundary = /[。！？!?\n]/;
  let from = start;
  while (from > 0 && start - from < CONTEXT && !boundary.test(text[from - 1])) from--;
  let to = end;
  while (to < text.length && to - end < CONTEXT && !boundary.test(text[to])) to++;
  if (to < text.length && boundary.test(text[to]) && text[to] !== '\n') to++;
  // Never cut a character outside the basic plane (𠮷, emoji) in two at the edge of the context.
  if (from > 0 && isLowSurrogate(text.charCodeAt(from))) from--;
  if (to < text.length && isLowSurrogate(text.charCodeAt(to))) to++;
  return {
    before: (from > 0 && !boundary.test(text[from - 1]) ? '…' : '') + text.slice(from, start),
    after: text.slice(end, to) + (to < text.length && !boundary.test(text[to - 1]) ? '…' : ''),
  };
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * Runs the anonymisation guard on every section and on the attachments' names. Findings with the
 * same words in the same section are shown once (one confirmation covers them).
 */
export async function findingsFor(
  sections: readonly CaseStudySection[],
  texts: ReadonlyMap<string, string>,
  attachmentNames: readonly string[],
): Promise<PlacedFinding[]> {
  const sources = [
    ...sections.map((s) => ({ id: s.id, where: s.title, text: texts.get(s.id) ?? '' })),
    ...attachmentNames.map((name) => ({
      id: 'attachment',
      where: '添付ファイルの名前',
      text: name,
    })),
  ];
  const placed: PlacedFinding[] = [];
  const seen = new Set<string>();
  for (const source of sources) {
    if (!source.text) continue;
    for (const finding of await findIdentifiers(source.text)) {
      const key = findingKey(source.id, finding.kind, finding.text);
      if (seen.has(key)) continue;
      seen.add(key);
      placed.push({
        key,
        sectionId: source.id,
        where: source.where,
        kind: finding.kind,
        kindLabel: identifierKindLabel(finding.kind),
        text: finding.text,
        suggestion: finding.suggestion,
        ...sentenceAround(source.text, finding.start, finding.end),
      });
    }
  }
  return placed;
}
