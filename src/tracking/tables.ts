import { formatDate } from '../lib/dates.js';
import { suppressionMarks, tableLines, type Mark } from './suppression.js';

/** A value in a report table or export. Dates are shown as days in Japan time. */
export type CellValue = string | number | Date | null;

/** A count that is not shown (see suppression.ts). */
export interface MaskedCell {
  masked: Mark;
}
export type Cell = CellValue | MaskedCell;

export interface Column {
  header: string;
  /** Column width in the xlsx (characters). */
  width?: number;
  /** Counts and numbers are right-aligned on screen and numeric in exports. */
  numeric?: boolean;
}

/** What a chart beside a table draws: labels from one column, one series per listed column. */
export interface ChartSpec {
  type: 'bar' | 'line';
  label: number;
  series: number[];
  /** Horizontal bars (long label lists). */
  horizontal?: boolean;
}

/** One table of a report, shown on screen and exported with the same cells. */
export interface ReportTable {
  /** Used in the export URL (/export/<id>.csv). */
  id: string;
  title: string;
  columns: Column[];
  rows: Cell[][];
  /** Index of the totals row, when there is one (shown in bold). */
  totalRow?: number;
  /** Rows to highlight (e.g. nobody certified). */
  highlight?: Set<number>;
  chart?: ChartSpec;
  note?: string;
}

export function isMasked(cell: Cell): cell is MaskedCell {
  return typeof cell === 'object' && cell !== null && 'masked' in cell;
}

/** The text of a cell as every view and export shows it. */
export function cellText(cell: Cell, threshold: number): string {
  if (cell === null) return '';
  if (isMasked(cell)) return cell.masked === 'small' ? `${threshold}未満` : '秘匿';
  if (cell instanceof Date) return formatDate(cell);
  if (typeof cell === 'number') return cell.toLocaleString('ja-JP', { maximumFractionDigits: 1 });
  return cell;
}

/** A chart's figures: masked counts become null (a gap), the table beside it says why. */
export function chartData(table: ReportTable, threshold: number) {
  const spec = table.chart;
  if (!spec) return null;
  const body = table.rows.filter((_, index) => index !== table.totalRow);
  return {
    type: spec.type,
    horizontal: spec.horizontal ?? false,
    labels: body.map((row) => cellText(row[spec.label], threshold)),
    datasets: spec.series.map((column) => ({
      label: table.columns[column].header,
      data: body.map((row) => {
        const cell = row[column];
        return typeof cell === 'number' ? cell : null;
      }),
    })),
  };
}

export interface CountTableInput {
  id: string;
  title: string;
  /** Headers of the label columns (left), then of the count columns. */
  labelHeaders: string[];
  countHeaders: string[];
  rows: { labels: CellValue[]; counts: number[]; highlight?: boolean }[];
  /** Label of the totals row (sums of each count column); omit for no totals row. */
  totalLabel?: string;
  /** A count column holding the sum of other count columns (indexes within countHeaders). */
  rowSum?: { total: number; parts: number[] };
  /** Columns that are not counts of people (never suppressed; summed in the totals row). */
  plain?: number[];
  /** Columns whose totals row stays empty (not a sum, e.g. municipalities covering a sector). */
  noTotal?: number[];
  /** Suppress small counts (viewer outside the center) with this threshold; null: exact. */
  threshold: number | null;
  chart?: Omit<ChartSpec, 'label'> & { label?: number };
  note?: string;
}

/**
 * A table of counts of people with its totals row, suppressed for viewers outside the center
 * (both the shown cells and the totals, so nothing is given back by subtraction).
 */
export function countTable(input: CountTableInput): ReportTable {
  const labelCount = input.labelHeaders.length;
  const plain = new Set(input.plain ?? []);
  const countRows = input.rows.map((row) => row.counts);
  const grid = [...countRows];
  if (input.totalLabel !== undefined) {
    grid.push(
      input.countHeaders.map((_, column) => countRows.reduce((sum, row) => sum + row[column], 0)),
    );
  }
  const countColumns = input.countHeaders.map((_, index) => index).filter((i) => !plain.has(i));
  let marks: (Mark | null)[][] | null = null;
  if (input.threshold !== null) {
    const masked = grid.map((row) => row.map((value, column) => (plain.has(column) ? 0 : value)));
    const lines = tableLines(
      grid.length,
      input.totalLabel !== undefined ? countColumns : [],
      input.rowSum,
    );
    marks = suppressionMarks(masked, lines, input.threshold);
  }
  const rows: Cell[][] = grid.map((counts, rowIndex) => {
    const labels: CellValue[] =
      rowIndex < input.rows.length
        ? input.rows[rowIndex].labels
        : [input.totalLabel ?? '', ...Array<CellValue>(labelCount - 1).fill('')];
    const isTotal = rowIndex === input.rows.length;
    return [
      ...labels,
      ...counts.map((value, column): Cell => {
        if (isTotal && input.noTotal?.includes(column)) return null;
        const mark = marks?.[rowIndex][column] ?? null;
        return mark && !plain.has(column) ? { masked: mark } : value;
      }),
    ];
  });
  const highlight = new Set<number>();
  input.rows.forEach((row, index) => row.highlight && highlight.add(index));
  return {
    id: input.id,
    title: input.title,
    columns: [
      ...input.labelHeaders.map((header) => ({ header, width: 16 })),
      ...input.countHeaders.map((header) => ({ header, width: 12, numeric: true })),
    ],
    rows,
    totalRow: input.totalLabel !== undefined ? rows.length - 1 : undefined,
    highlight,
    chart: input.chart
      ? {
          ...input.chart,
          label: input.chart.label ?? 0,
          series: input.chart.series.map((i) => i + labelCount),
        }
      : undefined,
    note: input.note,
  };
}
