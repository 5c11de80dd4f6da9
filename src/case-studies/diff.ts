import { diffChars } from 'diff';
import type { CaseStudySection } from '../courses/catalog.types.js';

export type DiffPart = { kind: 'same' | 'ins' | 'del'; text: string };

export interface SectionDiff {
  id: string;
  title: string;
  changed: boolean;
  parts: DiffPart[];
}

/**
 * Two versions compared section by section, character by character: Japanese has no spaces
 * between words, so a word diff would mark whole sentences.
 */
export function diffVersions(
  sections: readonly CaseStudySection[],
  older: ReadonlyMap<string, string>,
  newer: ReadonlyMap<string, string>,
): SectionDiff[] {
  return sections.map((section) => {
    const before = older.get(section.id) ?? '';
    const after = newer.get(section.id) ?? '';
    const parts: DiffPart[] =
      before === after
        ? [{ kind: 'same', text: after }]
        : diffChars(before, after).map((change) => ({
            kind: change.added ? 'ins' : change.removed ? 'del' : 'same',
            text: change.value,
          }));
    return { id: section.id, title: section.title, changed: before !== after, parts };
  });
}
