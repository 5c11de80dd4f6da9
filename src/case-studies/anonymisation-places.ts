import { SUGGESTIONS } from './anonymisation-messages.js';
import { PLACEHOLDER } from './anonymisation-names.js';
import type { Candidate } from './anonymisation-patterns.js';
import { anonymisationWords, type InstitutionType } from './anonymisation-words.js';
import type { Token, TokenIndex } from './japanese-tokens.js';

/**
 * What may follow a bare place name when it means the place (松本の病院, 上田で, 佐久出身): a
 * particle or a place word. の followed by someone's words (松本の話では) is left alone.
 */
const PLACE_CONTEXT = new RegExp(
  '^(?:の(?!(?:話|言|意見|考え|ほう|方|こと|件|気持ち|思い))|で|に|へ|から|まで|出身|在住|育ち|生まれ|' +
    '駅|周辺|近郊|近辺|方面|地域|地区|エリア|界隈|あたり|辺り|市内|町内|村内|市街|郊外|中心部|駅前|' +
    '市民|町民|村民|在籍|転居|の実家)',
);

/** After a region's name (木曽地域), it names the region, not the municipality of that name. */
const REGION_CONTEXT = /^(?:地域|地方|圏域|管内|広域)/;

const LETTER_BEFORE = /[\p{sc=Han}\p{sc=Katakana}々ー]/u;

/**
 * The municipalities of the organisation seed: the full name (南牧村) where it begins a word, the
 * bare name (松本) only where it means the place (PLACE_CONTEXT) and is a word of its own.
 */
export function findMunicipalities(text: string, index: TokenIndex): Candidate[] {
  const { places, regions } = anonymisationWords();
  const found: Candidate[] = [];
  for (const name of places) {
    for (
      let start = text.indexOf(name.text);
      start >= 0;
      start = text.indexOf(name.text, start + 1)
    ) {
      const end = start + name.text.length;
      // 原村 inside 高原村, 伊那 inside 上伊那: a name must begin a word.
      if (index.startingAt(start) === undefined && start > 0 && LETTER_BEFORE.test(text[start - 1]))
        continue;
      if (!name.full) {
        if (start > 0 && LETTER_BEFORE.test(text[start - 1])) continue;
        const after = text.slice(end, end + 4);
        if (index.endingAt(end) === undefined || !PLACE_CONTEXT.test(after)) continue;
        if (regions.has(name.text) && REGION_CONTEXT.test(after)) continue;
      }
      found.push({ start, end, kind: 'municipality', suggestion: SUGGESTIONS.municipality });
    }
  }
  return found;
}

/** What remains of `words` once generic words, numbers and placeholders are taken off both ends. */
function properPart(words: string): string {
  let rest = words;
  for (let changed = true; changed && rest;) {
    changed = false;
    for (const generic of anonymisationWords().genericWords) {
      if (rest.endsWith(generic)) rest = rest.slice(0, -generic.length);
      else if (rest.startsWith(generic)) rest = rest.slice(generic.length);
      else continue;
      changed = true;
      break;
    }
  }
  rest = rest.replace(/[\d０-９一二三四五六七八九十]+(?:つ|か所|ヶ所|校|件)?/g, '');
  return PLACEHOLDER.test(rest) ? '' : rest;
}

function isNameWord(token: Token): boolean {
  if (token.pos === '接頭詞') return true;
  if (token.pos === '記号') return token.surface === '・';
  return token.pos === '名詞' && !['代名詞', '非自立', '副詞可能'].includes(token.detail1);
}

function candidate(start: number, end: number, type: InstitutionType): Candidate {
  return { start, end, kind: 'institution', suggestion: SUGGESTIONS[type] };
}

/**
 * Schools, hospitals, universities and companies: a suffix (高校, 病院, 株式会社 …) with words
 * before it (or after a company form) that are left once the generic words are taken off.
 */
export function findInstitutions(text: string, index: TokenIndex): Candidate[] {
  const { tokens } = index;
  const { suffixes, companyForms } = anonymisationWords();
  const found: Candidate[] = [];
  for (const [suffix, type] of suffixes) {
    for (let at = text.indexOf(suffix); at >= 0; at = text.indexOf(suffix, at + suffix.length)) {
      const end = at + suffix.length;
      if (text[end] === '街') continue; // 商店街
      // The words before the suffix: the head of the token it starts in (信州大学), then nouns.
      const within = index.containing(at);
      if (within === undefined) continue;
      let start = tokens[within].start;
      for (let before = within - 1; before >= 0 && at - tokens[before].start <= 15; before--) {
        if (!isNameWord(tokens[before])) break;
        start = tokens[before].start;
      }
      if (properPart(text.slice(start, at))) {
        found.push(candidate(start, end, type));
        continue;
      }
      if (!companyForms.has(suffix)) continue;
      // 株式会社タナカ: the name follows.
      let after = end;
      for (let next = index.startingAt(end); next !== undefined && next < tokens.length; next++) {
        if (!isNameWord(tokens[next]) || tokens[next].end - end > 15) break;
        after = tokens[next].end;
      }
      if (properPart(text.slice(end, after))) found.push(candidate(at, after, type));
    }
  }
  return found;
}
