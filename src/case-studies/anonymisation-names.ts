import { SUGGESTIONS } from './anonymisation-messages.js';
import type { Candidate } from './anonymisation-patterns.js';
import { anonymisationWords } from './anonymisation-words.js';
import type { Token, TokenIndex } from './japanese-tokens.js';

/** A single letter (A, Ｂ), a placeholder (○, 某) or 甲乙: what the rules ask trainees to write. */
export const PLACEHOLDER = /^(?:[A-Za-zＡ-Ｚａ-ｚ][’'′]?|[○〇●◯×✕＊*某甲乙丙丁]+)$/;

function isPersonName(token: Token): boolean {
  return token.detail1 === '固有名詞' && token.detail2 === '人名';
}

function isSurname(token: Token): boolean {
  return isPersonName(token) && token.detail3 === '姓';
}

/** Letters the dictionary does not know (𠮷, a rare kanji, comes out as a 記号). */
function isUnknownWord(token: Token): boolean {
  return token.unknown && /\p{L}/u.test(token.surface);
}

/** A word that may be (part of) a name the dictionary does not know: 𠮷田, ユウキ. */
function mayBeName(token: Token): boolean {
  if (PLACEHOLDER.test(token.surface)) return false;
  return (token.pos === '名詞' && token.detail1 === '固有名詞') || isUnknownWord(token);
}

function isNounOfName(token: Token): boolean {
  if (isUnknownWord(token)) return true;
  return token.pos === '名詞' && !['代名詞', '非自立', '数', '接尾'].includes(token.detail1);
}

/** Children are called by their given name: 陽 + 菜 + ちゃん, two one-letter words, is a name. */
function isSplitGivenName(words: Token[], honorific: string): boolean {
  return (
    ['くん', '君', 'ちゃん'].includes(honorific) &&
    words.length >= 2 &&
    words.every((word) => word.surface.length === 1 && /\p{sc=Han}/u.test(word.surface))
  );
}

/** Hiragana names before くん/ちゃん (ゆうきくん), which the dictionary cuts anywhere. */
const HIRAGANA_RUN = /\p{sc=Hiragana}{2,12}?(?=くん|ちゃん)/gu;
/** Words that end a phrase: a name cannot contain them (ことを + ちゃんと, もっと + ちゃんと). */
const NOT_IN_NAMES = ['助詞', '助動詞', '副詞', '接続詞', '連体詞'];

export function findHiraganaNames(text: string, index: TokenIndex): Candidate[] {
  const { hiraganaNotNames } = anonymisationWords();
  const found: Candidate[] = [];
  for (const match of text.matchAll(HIRAGANA_RUN)) {
    const honorific = match.index + match[0].length;
    if (/\p{sc=Hiragana}/u.test(text[match.index - 1] ?? '')) continue; // not the whole run
    // The name begins after the last particle or adverb of the run (には + ゆい + ちゃん).
    let start = match.index;
    for (const token of index.tokens) {
      if (token.start >= honorific) break;
      if (token.end > start && token.end <= honorific && NOT_IN_NAMES.includes(token.pos))
        start = token.end;
    }
    const name = text.slice(start, honorific);
    if (name.length < 2 || name.length > 4 || hiraganaNotNames.has(name)) continue;
    const end = honorific + (text.startsWith('くん', honorific) ? 2 : 3);
    found.push(nameCandidate(start, end));
  }
  return found;
}

/** The honorific or title written right after `at`, if any (保健師 is two words for kuromoji). */
function nameEndingAt(text: string, at: number): string | undefined {
  for (const ending of anonymisationWords().nameEndings)
    if (text.startsWith(ending, at)) return ending;
  return undefined;
}

/**
 * Full names (a surname followed by a given name or another name word) and names before an
 * honorific or a title. A surname on its own is not reported: the dictionary knows 小川, 大町 and
 * 上伊那 as surnames too.
 */
export function findPersonNames(text: string, tokens: Token[]): Candidate[] {
  const { honorifics, notNames } = anonymisationWords();
  const found: Candidate[] = [];
  for (let index = 0; index < tokens.length; index++) {
    const token = tokens[index];
    const next = tokens[index + 1];
    if (isPersonName(token) && !(next && isPersonName(next))) {
      const fullName = index > 0 && isSurname(tokens[index - 1]);
      const start = fullName ? tokens[index - 1].start : token.start;
      const title = nameEndingAt(text, token.end);
      // A full name has three letters or more: 東 + 信 is a region (東信), not a person.
      if ((fullName && token.end - start >= 3) || title)
        found.push(nameCandidate(start, token.end + (title?.length ?? 0), title));
      continue;
    }
    // The dictionary reads 陽菜ちゃんと as 陽 + 菜 + ちゃんと (the adverb "properly").
    const honorific = token.surface === 'ちゃんと' ? 'ちゃん' : token.surface;
    if (!honorifics.has(honorific) || (token.pos !== '名詞' && honorific === token.surface))
      continue;
    // Walk back over the words that make up a name the dictionary does not know (𠮷 + 田).
    let first = index;
    while (first > 0 && index - first < 3) {
      if (!isNounOfName(tokens[first - 1])) break;
      first--;
    }
    const words = tokens.slice(first, index);
    if (words.some(isPersonName)) continue; // reported above
    const named = isSplitGivenName(words, honorific) ? 0 : words.findIndex(mayBeName);
    if (named < 0 || notNames.has(words.map((word) => word.surface).join(''))) continue;
    found.push(nameCandidate(words[named].start, token.start + honorific.length, honorific));
  }
  return found;
}

function nameCandidate(start: number, end: number, honorific?: string): Candidate {
  const suggestion = honorific === '先生' ? SUGGESTIONS.teacherName : SUGGESTIONS.personName;
  return { start, end, kind: 'person-name', suggestion };
}
