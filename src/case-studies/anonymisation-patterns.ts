import type { IdentifierKind } from './anonymisation.js';
import { SUGGESTIONS } from './anonymisation-messages.js';

/** A finding before overlaps are resolved. */
export interface Candidate {
  start: number;
  end: number;
  kind: IdentifierKind;
  suggestion: string;
}

/**
 * Full-width letters, digits and signs folded to ASCII, and every dash-like character (including
 * ー, often typed between digits by a Japanese IME) to '-', one code unit for one code unit, so
 * that offsets in the folded text are offsets in the original.
 */
export function foldWidth(text: string): string {
  return text.replace(/[\uff01-\uff5e\u3000\u2010-\u2015\u2212\u30fc\uff70\u301c]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code >= 0xff01 && code <= 0xff5e) return String.fromCharCode(code - 0xfee0);
    if (c === '\u3000') return ' ';
    if (c === '\u301c') return '~';
    return '-';
  });
}

/** A number in digits or kanji numerals (as in 三丁目, 十二月). */
const NUM = String.raw`(?:\d{1,4}|[〇一二三四五六七八九十百千]{1,4})`;
const ERA = String.raw`(?:明治|大正|昭和|平成|令和)`;
const ERA_LETTER = String.raw`(?:[MTSHRmtshr]|明|大|昭|平|令)`;
/** What may follow a number that counts something (2-3回, 100-200人). */
const COUNTER = String.raw`[か箇ヶ件回人日時歳年月週割%倍校社名つ個分円]`;
const BIRTH = String.raw`(?:生まれ|生(?![活徒産命計き]))`;

interface Rule {
  kind: IdentifierKind;
  pattern: RegExp;
  suggestion: string;
  /** Extra check on the folded match; false drops it. */
  accept?: (match: string) => boolean;
}

function digitsOf(match: string): string {
  return match.replace(/\D/g, '');
}

function isPhoneNumber(match: string): boolean {
  const digits = digitsOf(match);
  if (match.startsWith('+')) return digits.startsWith('81') && /^\d{11,12}$/.test(digits);
  return digits.startsWith('0') && (digits.length === 10 || digits.length === 11);
}

/** The month and day (the last two of the three numbers the pattern matched) exist. */
function isCalendarDate(match: string): boolean {
  const [month, day] = (match.match(/\d+/g) ?? []).slice(-2).map(Number);
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

const RULES: Rule[] = [
  {
    kind: 'email',
    pattern: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g,
    suggestion: SUGGESTIONS.email,
  },
  {
    kind: 'phone',
    pattern: /(?<![\d.\-/])(?:\+81[ -]?)?(?:\(\d{1,5}\) ?|\d)[\d ()-]{6,15}\d(?![\d/])/g,
    suggestion: SUGGESTIONS.phone,
    accept: (match) => isPhoneNumber(match) && !/ {2}|- | -/.test(match),
  },
  {
    kind: 'postal-code',
    pattern: /〒 ?\d{3}-?\d{4}(?!\d)|(?<![\d-])\d{3}-\d{4}(?![\d-])/g,
    suggestion: SUGGESTIONS.postalCode,
  },
  {
    kind: 'date',
    pattern: new RegExp(
      String.raw`(?:(?:${ERA} ?(?:\d{1,2}|元|[一二三四五六七八九十]{1,3})|\d{4}) ?年 ?)?(?<![\d〇一二三四五六七八九十])${NUM} ?月 ?${NUM} ?日(?:${BIRTH})?`,
      'g',
    ),
    suggestion: SUGGESTIONS.date,
  },
  {
    kind: 'date',
    pattern: new RegExp(
      String.raw`(?<![\d.])(?:(?:19|20)\d{2}|${ERA_LETTER}\.? ?\d{1,2})[/.-]\d{1,2}[/.-]\d{1,2}(?![\d.])`,
      'g',
    ),
    suggestion: SUGGESTIONS.date,
    accept: isCalendarDate,
  },
  {
    kind: 'date',
    pattern: /(?<!\d)(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?!\d)/g,
    suggestion: SUGGESTIONS.date,
  },
  {
    kind: 'date',
    // A month and day with a weekday, as in notes (5/14(火)); without the weekday, 1/2 or 3/4 is
    // more often a fraction than a date.
    pattern:
      /(?<![\d/.])(?:1[0-2]|0?[1-9])\/(?:3[01]|[12]\d|0?[1-9]) ?\([月火水木金土日](?:曜日?)?\)/g,
    suggestion: SUGGESTIONS.date,
  },
  {
    kind: 'date',
    pattern: new RegExp(
      String.raw`(?:${ERA} ?(?:\d{1,2}|元|[一二三四五六七八九十]{1,3})|(?:19|20)\d{2}) ?年(?: ?\d{1,2} ?月)? ?${BIRTH}`,
      'g',
    ),
    suggestion: SUGGESTIONS.birth,
  },
  {
    kind: 'age',
    // Not ranges (15~39歳), decades (20歳代), 3歳児健診, limits (18歳以上) or differences (3歳年上).
    pattern: new RegExp(
      String.raw`(?<![\d〇一二三四五六七八九十])(?<!(?:から|[~\-〜・、]) ?)(?:満 ?)?(?:\d{1,3}|[一二三四五六七八九十]{1,3}) ?(?:歳|才)(?!代|台|児|以上|以下|未満|前後|前|頃|ごろ|ころ|くらい|ぐらい|程度|を?過ぎ|を?すぎ|年上|年下|上|下|違い|差|の差|(?:から|まで|[~\-〜・、]) ?\d)`,
      'g',
    ),
    suggestion: SUGGESTIONS.age,
  },
  {
    kind: 'address',
    pattern: new RegExp(
      [
        String.raw`${NUM} ?丁目(?: ?${NUM} ?番(?:地)?(?: ?(?:の ?)?${NUM} ?号?)?|(?: ?\d{1,4}(?:-\d{1,4}){0,2}))?`,
        String.raw`${NUM} ?番地(?: ?(?:の ?|-)?${NUM}(?: ?号)?)?`,
        String.raw`${NUM} ?番 ?${NUM} ?号`,
        String.raw`\d{1,5} ?号室`,
        // 中央2-3-4, 笹賀1234-5 (lot numbers of rural addresses); never 0… (a phone number)
        // nor 3-4 digits (a postal code), nor a range of counts (市内2-3か所).
        String.raw`(?<=[\p{sc=Han}々ヶケ])(?!0)\d{1,4}-\d{1,4}-\d{1,4}(?![\d-])`,
        String.raw`(?<=[\p{sc=Han}々ヶケ])(?!0|\d{3}-\d{4}(?!\d))\d{3,5}-\d{1,4}(?![\d-]|${COUNTER})`,
        String.raw`(?:大字|(?<![\p{sc=Han}々])字)[\p{sc=Han}々ヶケ]{1,6}(?=[\d ])`,
      ].join('|'),
      'gu',
    ),
    suggestion: SUGGESTIONS.address,
  },
];

/** A place name (town, district) written right before a house number is part of the address. */
function extendAddressBack(text: string, start: number): number {
  const limit = Math.max(start - 12, 0); // 12 letters at most
  let begin = start;
  while (begin > limit && /[\p{sc=Han}々ヶケ]/u.test(text[begin - 1])) begin--;
  return begin;
}

/** The identifiers that have a fixed shape: phone numbers, addresses, dates, ages … */
export function findPatterns(text: string): Candidate[] {
  const folded = foldWidth(text);
  const found: Candidate[] = [];
  for (const rule of RULES) {
    for (const match of folded.matchAll(rule.pattern)) {
      const value = match[0].trimEnd();
      if (!value || (rule.accept && !rule.accept(value))) continue;
      let start = match.index;
      if (rule.kind === 'address') start = extendAddressBack(text, start);
      found.push({
        start,
        end: match.index + value.length,
        kind: rule.kind,
        suggestion: rule.suggestion,
      });
    }
  }
  return found;
}
