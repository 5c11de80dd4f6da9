/**
 * Text as a reader counts it. JavaScript's `length` counts UTF-16 code units, so 𠮷, an emoji or
 * a hentaigana letter counts as two, and 葛󠄀 (a letter with a variation selector) or 👩‍⚕️ as more.
 * Every limit Tsunagu shows or enforces (forms, schemas, the case-study counter in the browser)
 * counts user-perceived characters (grapheme clusters) instead, so the form, the schema and the
 * trainee agree.
 */
const graphemes = new Intl.Segmenter('ja', { granularity: 'grapheme' });

/** The number of characters a reader sees in `text` (grapheme clusters). */
export function countCharacters(text: string): number {
  // Printable ASCII is one code unit per character (the common case for addresses and codes).
  if (/^[\x20-\x7e]*$/.test(text)) return text.length;
  let count = 0;
  for (const _ of graphemes.segment(text)) count++;
  return count;
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
