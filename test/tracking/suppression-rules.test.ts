import { expect } from 'chai';
import { suppressionMarks, tableLines } from '../../src/tracking/suppression.js';

/** Edges of the suppression rules that the examples in suppression.test.ts do not pin down. */
describe('small-number suppression: which cell goes second, and the lines of a table', () => {
  it('hides the smallest shown cell of the line even when it is not the last one', () => {
    // Column 4, 9, 7, 2 with total 22: the 2 is small; of 4, 9 and 7 the 4 must go (the cheapest
    // loss of information), not whichever cell comes last.
    const marks = suppressionMarks([[4], [9], [7], [2], [22]], tableLines(5, [0]), 3);
    expect(marks.map((row) => row[0])).to.deep.equal(['hidden', null, null, 'small', null]);
  });

  it('hides a shown zero only when no non-zero cell is left, and the total last of all', () => {
    // 0, 2 with total 2: the 2 and the total are both small, so the line already has two.
    expect(suppressionMarks([[0], [2], [2]], tableLines(3, [0]), 3).map((r) => r[0])).to.deep.equal(
      [null, 'small', 'small'],
    );
    // 5, 0, 1 with total 6: the 5 goes, not the zero.
    expect(
      suppressionMarks([[5], [0], [1], [6]], tableLines(4, [0]), 3).map((r) => r[0]),
    ).to.deep.equal(['hidden', null, 'small', null]);
    // 0, 1 with total 4 (another cell outside the line makes up the rest): the zero goes.
    expect(
      suppressionMarks(
        [[0, 1, 4]],
        [
          {
            cells: [
              [0, 0],
              [0, 1],
            ],
            total: [0, 2],
          },
        ],
        3,
      ),
    ).to.deep.equal([['hidden', 'small', null]]);
    // A line of one small cell and its total: the total goes.
    expect(suppressionMarks([[1, 7]], [{ cells: [[0, 0]], total: [0, 1] }], 3)).to.deep.equal([
      ['small', 'hidden'],
    ]);
  });

  it('makes a column line of every row above the total row, and a row line for every row', () => {
    expect(tableLines(3, [0, 2])).to.deep.equal([
      {
        cells: [
          [0, 0],
          [1, 0],
        ],
        total: [2, 0],
      },
      {
        cells: [
          [0, 2],
          [1, 2],
        ],
        total: [2, 2],
      },
    ]);
    expect(tableLines(2, [], { total: 2, parts: [0, 1] })).to.deep.equal([
      {
        cells: [
          [0, 0],
          [0, 1],
        ],
        total: [0, 2],
      },
      {
        cells: [
          [1, 0],
          [1, 1],
        ],
        total: [1, 2],
      },
    ]);
  });

  it('protects the total row: its row line forces a second hidden sector total', () => {
    // Sectors A and B per municipality, row totals in column 2, column totals in the last row.
    // Sector B's 2 is small in row 1 and again in the total row; the total row's own line
    // (11 + 2 = 13) would give it back unless the 11 is hidden too.
    const grid = [
      [6, 0, 6],
      [5, 2, 7],
      [11, 2, 13],
    ];
    const lines = tableLines(3, [0, 1, 2], { total: 2, parts: [0, 1] });
    const marks = suppressionMarks(grid, lines, 3);
    expect(marks[2][1]).to.equal('small');
    expect(marks[2][0]).to.equal('hidden');
  });
});
