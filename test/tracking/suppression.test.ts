import { expect } from 'chai';
import { suppressionMarks, tableLines, type Line } from '../../src/tracking/suppression.js';
import { countTable } from '../../src/tracking/tables.js';

/** True when no line has exactly one hidden member (nothing can be recomputed by subtraction). */
function safe(marks: (string | null)[][], lines: Line[]): boolean {
  return lines.every(
    (line) => [...line.cells, line.total].filter(([r, c]) => marks[r][c] !== null).length !== 1,
  );
}

describe('small-number suppression', () => {
  it('hides counts from 1 to threshold−1 and shows zero', () => {
    const marks = suppressionMarks([[0, 1, 2, 3, 10]], [], 3);
    expect(marks).to.deep.equal([[null, 'small', 'small', null, null]]);
  });

  it('hides a second cell when a column has one hidden count above its total', () => {
    // Column: 7, 1, 0 with total 8: the 1 is small; 7 must go too, or 8 − 7 gives it back.
    const grid = [[7], [1], [0], [8]];
    const lines = tableLines(4, [0]);
    const marks = suppressionMarks(grid, lines, 3);
    expect(marks.map((row) => row[0])).to.deep.equal(['hidden', 'small', null, null]);
    expect(safe(marks, lines)).to.equal(true);
  });

  it('hides the smallest shown non-zero cell; a small total counts as hidden', () => {
    expect(
      suppressionMarks([[9], [4], [2], [15]], tableLines(4, [0]), 3).map((r) => r[0]),
    ).to.deep.equal([null, 'hidden', 'small', null]);
    expect(suppressionMarks([[2], [2]], tableLines(2, [0]), 3).map((r) => r[0])).to.deep.equal([
      'small',
      'small',
    ]);
  });

  it('follows a hidden cell into the crossing row until every line is safe', () => {
    // Rows: municipalities; columns: sector A, sector B, total (A + B). Last row: column totals.
    const grid = [
      [1, 5, 6],
      [4, 6, 10],
      [5, 11, 16],
    ];
    const lines = tableLines(3, [0, 1, 2], { total: 2, parts: [0, 1] });
    const marks = suppressionMarks(grid, lines, 3);
    expect(marks[0][0]).to.equal('small');
    expect(safe(marks, lines)).to.equal(true);
    // Without the second round a reader could take 16 − 10 = 6, then 6 − 5 = 1.
    expect(marks.flat().filter((m) => m !== null).length).to.be.at.least(4);
  });

  it('is safe on random tables (table-driven check of the invariant)', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let round = 0; round < 200; round++) {
      const rows = 2 + Math.floor(random() * 6);
      const body = Array.from({ length: rows }, () =>
        Array.from({ length: 3 }, () => Math.floor(random() * random() * 12)),
      ).map((row) => [...row, row[0] + row[1] + row[2]]);
      const totals = [0, 1, 2, 3].map((c) => body.reduce((s, row) => s + row[c], 0));
      const grid = [...body, totals];
      const lines = tableLines(grid.length, [0, 1, 2, 3], { total: 3, parts: [0, 1, 2] });
      const marks = suppressionMarks(grid, lines, 3);
      expect(safe(marks, lines), JSON.stringify(grid)).to.equal(true);
      grid.forEach((row, r) =>
        row.forEach((value, c) => {
          if (value > 0 && value < 3) expect(marks[r][c]).to.equal('small');
        }),
      );
    }
  });

  it('leaves administrators exact figures (no threshold)', () => {
    const table = countTable({
      id: 't',
      title: 't',
      labelHeaders: ['分野'],
      countHeaders: ['修了者'],
      rows: [
        { labels: ['福祉'], counts: [1] },
        { labels: ['教育'], counts: [7] },
      ],
      totalLabel: '合計',
      threshold: null,
    });
    expect(table.rows).to.deep.equal([
      ['福祉', 1],
      ['教育', 7],
      ['合計', 8],
    ]);
  });
});
