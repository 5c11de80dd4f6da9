import { expect } from 'chai';
import {
  cleanSingleLine,
  countCharacters,
  exceedsCharacters,
  truncateCharacters,
  withinCharacters,
} from '../../src/lib/text.js';

describe('countCharacters', () => {
  const cases: [string, number][] = [
    ['', 0],
    ['Aさん', 3],
    ['𠮷田', 2], // outside the basic plane: two UTF-16 units, one character
    ['葛󠄀飾', 2], // letter + variation selector
    ['👩‍⚕️', 1], // emoji ZWJ sequence
    ['か゚', 1], // kana + combining semi-voiced mark
    ['ｶﾞ', 1], // half-width kana + half-width voiced mark
    ['𛀁', 1], // hentaigana
    ['長野　花子（ナガノ）', 10], // ideographs, kana, full-width forms: one unit each
    ['か\u3099', 1], // kana + combining voiced mark
    ['ｶﾞﾅ', 2],
    ['a\r\nb', 3], // CR LF is one
  ];
  for (const [input, expected] of cases) {
    it(`counts ${JSON.stringify(input)} as ${expected}`, () => {
      expect(countCharacters(input)).to.equal(expected);
    });
  }
});

describe('truncateCharacters', () => {
  it('never splits a character', () => {
    expect(truncateCharacters('𠮷𠮷𠮷', 2)).to.equal('𠮷𠮷');
    expect(truncateCharacters('👩‍⚕️👩‍⚕️', 1)).to.equal('👩‍⚕️');
    expect(truncateCharacters('abc', 5)).to.equal('abc');
  });
});

describe('exceedsCharacters', () => {
  const cases: [string, number, boolean][] = [
    ['長野花子', 4, false],
    ['長野花子', 3, true],
    ['𠮷'.repeat(50), 50, false],
    ['𠮷'.repeat(51), 50, true],
    ['か\u3099'.repeat(3), 3, false], // decomposed: six code units
    ['ｶﾞ'.repeat(3), 3, false],
  ];
  for (const [text, max, expected] of cases) {
    it(`says ${expected} for ${JSON.stringify(text.slice(0, 6))} (${text.length} units) and ${max}`, () => {
      expect(exceedsCharacters(text, max)).to.equal(expected);
    });
  }
});

describe('withinCharacters', () => {
  it('counts characters, not UTF-16 units', () => {
    expect(withinCharacters(50)('𠮷'.repeat(50))).to.equal(true);
    expect(withinCharacters(50)('𠮷'.repeat(51))).to.equal(false);
    expect(withinCharacters(2)(undefined)).to.equal(true);
  });
});

describe('cleanSingleLine', () => {
  const cases: [string, string, string][] = [
    ['right-to-left override', '長野\u202e子花', '長野子花'],
    [
      'bidi embeddings and isolates',
      '\u202a\u202b\u202c\u202d長野\u2066\u2067\u2068\u2069',
      '長野',
    ],
    ['zero-width space, non-joiner, joiner', '長\u200b野\u200c花\u200d子', '長野花子'],
    ['word joiner and byte-order mark', '\ufeff長野\u2060花子', '長野花子'],
    ['soft hyphen, Hangul filler, combining grapheme joiner', 'a\u00adb\u3164c\u034fd', 'abcd'],
    ['left-to-right and right-to-left marks', '\u200e長野\u200f', '長野'],
    ['only invisible characters', '\u200b\u200d\ufeff\u202e', ''],
    ['control characters', '長野\t花子\n\u0007', '長野 花子'],
    ['line separator and unusual spaces', '長野\u2028\u00a0\u2003花子', '長野 花子'],
    ['the ideographic space between names', '  長野\u3000花子  ', '長野\u3000花子'],
    ['a letter with a variation selector', '葛󠄀飾', '葛󠄀飾'],
    ['an emoji ZWJ sequence', '👩‍⚕️ 山田', '👩‍⚕️ 山田'],
    ['characters outside the basic plane', '𠮷田 𛀁', '𠮷田 𛀁'],
    ['a lone surrogate', 'a\ud800b', 'a\ufffdb'],
  ];
  for (const [what, input, expected] of cases) {
    it(`handles ${what}`, () => {
      expect(cleanSingleLine(input)).to.equal(expected);
    });
  }
});
