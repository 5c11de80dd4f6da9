/**
 * Text as a reader counts it. JavaScript's `length` counts UTF-16 code units, so 𠮷, an emoji or
 * a hentaigana letter counts as two, and 葛󠄀 (a letter with a variation selector) or 👩‍⚕️ as more.
 * Every limit Tsunagu shows or enforces (forms, schemas, the case-study counter in the browser)
 * counts user-perceived characters (grapheme clusters) instead, so the form, the schema and the
 * trainee agree.
 */
const graphemes = new Intl.Segmenter('ja', { granularity: 'grapheme' });

/**
 * Text made only of these is one code unit per character: printable ASCII, CJK ideographs, kana
 * (not the combining voiced marks U+3099–309A), Japanese punctuation (not the combining tone marks
 * U+302A–302F) and full-width forms (not the half-width voiced marks U+FF9E–FF9F). None of them
 * joins its neighbours, so the common case for names and addresses skips the segmenter.
 */
const SIMPLE =
  /^[\x20-\x7e\u3000-\u3029\u3030-\u303f\u3041-\u3096\u309b-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff9d]*$/;

/** The number of characters a reader sees in `text` (grapheme clusters). */
export function countCharacters(text: string): number {
  if (SIMPLE.test(text)) return text.length;
  let count = 0;
  for (const _ of graphemes.segment(text)) count++;
  return count;
}

/** True when `text` has more than `max` characters; stops counting as soon as it knows. */
export function exceedsCharacters(text: string, max: number): boolean {
  if (text.length <= max) return false;
  if (SIMPLE.test(text)) return true;
  let count = 0;
  for (const _ of graphemes.segment(text)) if (++count > max) return true;
  return false;
}

/** The first `max` characters of `text`, never splitting a character in two. */
export function truncateCharacters(text: string, max: number): string {
  if (text.length <= max) return text;
  let out = '';
  let count = 0;
  for (const { segment } of graphemes.segment(text)) {
    if (count === max) break;
    out += segment;
    count++;
  }
  return out;
}

// Characters that show nothing but can change how text is read or compared: format characters
// (zero-width space and joiners, bidi embeddings, overrides and isolates, U+FEFF, soft hyphen,
// tag characters…), the combining grapheme joiner and the Hangul fillers.
const INVISIBLE = /[\p{Cf}\u034f\u115f\u1160\u3164\uffa0]/gu;
// A zero-width joiner between two pictographs is part of one emoji (👩‍⚕️) and is kept.
const EMOJI_JOINER = /(?<=\p{Extended_Pictographic}\ufe0f?)\u200d(?=\p{Extended_Pictographic})/gu;
// Control characters, line and paragraph separators, and spaces other than the ideographic
// space (used between family and given name) become an ordinary space.
const SPACE_LIKE = /[\p{Cc}\u2028\u2029\u00a0\u1680\u2000-\u200a\u202f\u205f]/gu;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * `text` with each half of a broken surrogate pair (possible in JSON input) replaced by U+FFFD:
 * one code unit for one, so every index into the text stays where it was.
 */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd');
}

/**
 * A single-line text as a person meant to type it: invisible characters removed (zero-width,
 * bidi controls, byte-order marks…), control characters and unusual spaces turned into a space,
 * runs of spaces collapsed, and the ends trimmed. Letters with variation selectors (葛󠄀) and emoji
 * sequences stay whole. A text made only of invisible characters becomes ''.
 *
 * Used for names and other short fields typed by users (src/users/forms.ts, the schemas, CSV
 * import), so that a name cannot hide characters that reorder or disguise what others see.
 */
export function cleanSingleLine(text: string): string {
  const repaired = wellFormed(text);
  const emojiJoiners = new Set([...repaired.matchAll(EMOJI_JOINER)].map((match) => match.index));
  return repaired
    .replace(INVISIBLE, (character: string, offset: number) =>
      emojiJoiners.has(offset) ? character : '',
    )
    .replace(SPACE_LIKE, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
}

/** cleanSingleLine for a schema setter: anything that is not a string passes untouched. */
export function cleanIfText<T>(value: T): T | string {
  return typeof value === 'string' ? cleanSingleLine(value) : value;
}

/** A check for schemas: true when `value` is not a string or has at most `max` characters. */
export function withinCharacters(max: number): (value: unknown) => boolean {
  return (value) => typeof value !== 'string' || !exceedsCharacters(value, max);
}
