import { parse } from 'csv-parse/sync';
import { cleanSingleLine } from '../../lib/text.js';
import { IMPORT_COLUMNS, MAX_IMPORT_ROWS, type RawRow } from './columns.js';

export type ParseResult =
  { ok: true; rows: { line: number; values: RawRow }[] } | { ok: false; messages: string[] };

/** Headers compared without surrounding spaces (half or full width). */
const clean = (value: string) => value.normalize('NFKC').trim();

/**
 * Splits the decoded text into rows keyed by field. The header line must name every required
 * column (any order; unknown columns are ignored). Blank lines are skipped.
 */
export function parseImportCsv(text: string): ParseResult {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    // With `info`, each record comes with where it ended in the file (the typings do not know).
    records = parse(text, {
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (error) {
    const line = (error as { lines?: number }).lines;
    return {
      ok: false,
      messages: [
        `CSVの形式に誤りがあります${line ? `（${line}行目付近）` : ''}。「"」で囲んだ項目が閉じられているかご確認ください。`,
      ],
    };
  }
  const nonBlank = records.filter(({ record }) => record.some((cell) => cell.trim() !== ''));
  if (nonBlank.length === 0) return { ok: false, messages: ['ファイルに見出し行がありません。'] };
  const [header, ...body] = nonBlank;
  const headers = header.record.map(clean);
  const messages: string[] = [];
  const indexOf = new Map<string, number>();
  for (const column of IMPORT_COLUMNS) {
    const index = headers.indexOf(column.header);
    if (index === -1) {
      if (column.required) messages.push(`見出し行に「${column.header}」の列がありません。`);
    } else {
      indexOf.set(column.field, index);
    }
  }
  if (messages.length > 0) {
    messages.push(
      `1行目には ${IMPORT_COLUMNS.map((column) => column.header).join('、')} の見出しを入れてください。`,
    );
    return { ok: false, messages };
  }
  if (body.length === 0) return { ok: false, messages: ['登録する利用者の行がありません。'] };
  if (body.length > MAX_IMPORT_ROWS) {
    return {
      ok: false,
      messages: [
        `1回に登録できるのは${MAX_IMPORT_ROWS}人までです（${body.length}行あります）。ファイルを分けてください。`,
      ],
    };
  }
  // Line numbers as a text editor shows them (the header is line 1), for the error list.
  const rows = body.map(({ record, info }) => {
    const values = Object.fromEntries(
      IMPORT_COLUMNS.map((column) => {
        const index = indexOf.get(column.field);
        return [column.field, index === undefined ? '' : cleanSingleLine(record[index] ?? '')];
      }),
    ) as RawRow;
    return { line: info.lines, values };
  });
  return { ok: true, rows };
}
