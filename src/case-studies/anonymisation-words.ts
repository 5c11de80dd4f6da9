import { readFileSync } from 'node:fs';
import { parse as parseCsv } from 'csv-parse/sync';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { sourceFile } from '../lib/paths.js';

/** A list of words, or of lines of words (prettier keeps short lines readable). */
const wordList = z
  .array(z.union([z.string().min(1), z.array(z.string().min(1))]))
  .transform((words) => words.flat());

const wordsSchema = z.object({
  names: z.object({
    honorifics: wordList,
    titles: wordList,
    notNames: wordList,
    hiraganaNotNames: wordList,
  }),
  places: z.object({ fullNameOnly: wordList }),
  institutions: z.object({
    suffixes: z.object({ school: wordList, medical: wordList, company: wordList }),
    companyForms: wordList,
    genericWords: wordList,
  }),
});

export type InstitutionType = 'school' | 'medical' | 'company';

/** The guard's word lists, ready to search: sets for lookups, lists longest first. */
export interface AnonymisationWords {
  honorifics: Set<string>;
  titles: string[];
  /** Honorifics and titles together, longest first: what may follow a known name. */
  nameEndings: string[];
  notNames: Set<string>;
  hiraganaNotNames: Set<string>;
  /** Municipalities as searched: the full name (松本市) or the bare name (松本), longest first. */
  places: { text: string; full: boolean }[];
  /** The ten regions (佐久, 木曽 …): 木曽地域 names a region of several municipalities. */
  regions: Set<string>;
  suffixes: [string, InstitutionType][];
  companyForms: Set<string>;
  genericWords: string[];
}

function longestFirst(words: Iterable<string>): string[] {
  return [...words].sort((a, b) => b.length - a.length);
}

let loaded: AnonymisationWords | undefined;

/**
 * Reads src/case-studies/anonymisation-words.yaml and the municipalities of the organisation seed
 * (src/organisations/nagano-municipalities.csv) once. A list that does not parse throws.
 */
export function anonymisationWords(): AnonymisationWords {
  // Stryker disable next-line ConditionalExpression: reading the lists again gives the same lists
  if (loaded) return loaded;
  const file = wordsSchema.parse(
    parseYaml(readFileSync(sourceFile('case-studies', 'anonymisation-words.yaml'), 'utf8')),
  );
  const municipalities = parseCsv<{ region: string; municipality: string }>(
    readFileSync(sourceFile('organisations', 'nagano-municipalities.csv'), 'utf8'),
    { columns: true, bom: true, skip_empty_lines: true, trim: true },
  );
  const fullNameOnly = new Set(file.places.fullNameOnly);
  const places: AnonymisationWords['places'] = [];
  for (const { municipality } of municipalities) {
    places.push({ text: municipality, full: true });
    const bare = municipality.slice(0, -1); // without 市/町/村
    if (!fullNameOnly.has(bare)) places.push({ text: bare, full: false });
  }
  const { suffixes } = file.institutions;
  loaded = {
    honorifics: new Set(file.names.honorifics),
    titles: longestFirst(file.names.titles),
    nameEndings: longestFirst([...file.names.honorifics, ...file.names.titles]),
    notNames: new Set(file.names.notNames),
    hiraganaNotNames: new Set(file.names.hiraganaNotNames),
    places: places.sort((a, b) => b.text.length - a.text.length),
    regions: new Set(municipalities.map(({ region }) => region)),
    suffixes: (['school', 'medical', 'company'] as const).flatMap((type) =>
      suffixes[type].map((suffix): [string, InstitutionType] => [suffix, type]),
    ),
    companyForms: new Set(file.institutions.companyForms),
    genericWords: longestFirst(file.institutions.genericWords),
  };
  return loaded;
}
