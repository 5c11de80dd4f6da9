import { expect } from 'chai';
import { countCharacters, truncateCharacters } from '../../src/lib/text.js';

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
