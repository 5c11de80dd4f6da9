/**
 * Small-number suppression (小さな数の秘匿) for tables of counts of people.
 *
 * Primary: a count from 1 to threshold−1 is not shown (「3未満」 with the default threshold 3).
 * Zero is shown: "nobody" singles no one out.
 *
 * Secondary: a table's totals must not give a hidden count back by subtraction. Every "line" of a
 * table — a set of cells with the cell holding their sum (a column with its total row, a row of
 * sector counts with its total) — must have either no hidden cell or at least two. When a line
 * has exactly one, the smallest shown non-total cell of the line is hidden too (a non-zero one
 * first, then a zero), or its total when the line has no other cell. Hiding a cell can leave a
 * crossing line with one hidden cell, so the rule repeats until no line has exactly one. Cells
 * hidden by this rule are shown as 「秘匿」 (they may hold any number).
 *
 * Administrators (the center) see exact figures; everything seen by coordinators and regional
 * viewers, on screen and in exports, goes through this.
 */
export type Mark = 'small' | 'hidden';

/** A cell position in a grid: [row, column]. */
export type Position = readonly [number, number];

/** Cells whose values add up to the value of `total`. */
export interface Line {
  cells: Position[];
  total: Position;
}

/**
 * Which cells of `grid` must be hidden. Returns a grid of the same shape: null (shown), 'small'
 * (primary) or 'hidden' (secondary).
 */
export function suppressionMarks(
  grid: readonly (readonly number[])[],
  lines: readonly Line[],
  threshold: number,
): (Mark | null)[][] {
  const marks: (Mark | null)[][] = grid.map((row) =>
    row.map((value) => (value > 0 && value < threshold ? 'small' : null)),
  );
  const hidden = ([r, c]: Position) => marks[r][c] !== null;
  let changed = true;
  while (changed) {
    changed = false;
    for (const line of lines) {
      const members = [...line.cells, line.total];
      if (members.filter(hidden).length !== 1) continue;
      const candidates = line.cells.filter((cell) => !hidden(cell));
      const pick =
        smallest(
          grid,
          candidates.filter(([r, c]) => grid[r][c] > 0),
        ) ??
        smallest(grid, candidates) ??
        line.total;
      marks[pick[0]][pick[1]] = 'hidden';
      changed = true;
    }
  }
  return marks;
}

function smallest(grid: readonly (readonly number[])[], cells: Position[]): Position | undefined {
  let best: Position | undefined;
  for (const cell of cells)
    // Stryker disable next-line EqualityOperator: of equally small cells either may go (both leave the line safe); the first does.
    if (!best || grid[cell[0]][cell[1]] < grid[best[0]][best[1]]) best = cell;
  return best;
}

/**
 * The lines of a table whose last row holds the column totals (rows 0 … n−2 add up to row n−1 in
 * each of `columns`), and whose `rowTotal` column, when given, holds the sum of `rowParts` in each
 * row (the total row included).
 */
export function tableLines(
  rowCount: number,
  columns: readonly number[],
  rowSum?: { total: number; parts: readonly number[] },
): Line[] {
  const lines: Line[] = [];
  const last = rowCount - 1;
  for (const column of columns) {
    const cells: Position[] = [];
    for (let row = 0; row < last; row++) cells.push([row, column]);
    lines.push({ cells, total: [last, column] });
  }
  if (rowSum) {
    for (let row = 0; row <= last; row++)
      lines.push({
        cells: rowSum.parts.map((column) => [row, column] as Position),
        total: [row, rowSum.total],
      });
  }
  return lines;
}
