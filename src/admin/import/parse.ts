import { Readable } from 'node:stream';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { parse, type Info } from 'csv-parse';
import { cleanSingleLine, exceedsCharacters } from '../../lib/text.js';
import { IMPORT_COLUMNS, MAX_CELL_CHARACTERS, MAX_IMPORT_ROWS, type RawRow } from './columns.js';

export type ParseResult =
  { ok: true; rows: { line: number; values: RawRow }[] } | { ok: false; messages: string[] };

/** Headers compared without surrounding spaces (half or full width). */
const clean = (value: string) => value.normalize('NFKC').trim();

/** Bytes handed to the parser at a time; the event loop runs between them. */
const CHUNK_BYTES = 16 * 1024;

async function* chunksOf(buffer: Buffer): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < buffer.length; offset += CHUNK_BYTES) {
    yield buffer.subarray(offset, offset + CHUNK_BYTES);
    // Let other requests run: a 1 MB file would otherwise hold the server for a good while.
    await yieldToEventLoop();
  }
}

/**
 * Most bytes in one row, checked while parsing (the parser slows down sharply on a field of
 * hundreds of kilobytes). Seven cells of MAX_CELL_CHARACTERS fit several times over.
 */
const MAX_RECORD_BYTES = 64 * 1024;

const cellTooLong = (line: number, column?: string) =>
  `${line}行目${column ? `の「${column}」` : ''}に、${MAX_CELL_CHARACTERS}文字を超える項目があります。1つの項目は${MAX_CELL_CHARACTERS}文字以内にしてください。`;

const tooManyRows = () =>
  `1回に登録できるのは${MAX_IMPORT_ROWS}人までです（${MAX_IMPORT_ROWS}行を超えています）。ファイルを分けてください。`;

/**
 * Splits the decoded text into rows keyed by field. The header line must name every required
 * column (any order; unknown columns are ignored). Blank lines are skipped. Cells are cleaned of
 * invisible and control characters (src/lib/text.ts).
 *
 * Parsing runs in small chunks with the event loop free in between, and stops at the first cell
 * over MAX_CELL_CHARACTERS or the first row over MAX_IMPORT_ROWS, so a hostile file costs little
 * and nothing of it is kept.
 */
export async function parseImportCsv(text: string): Promise<ParseResult> {
  const parser = Readable.from(chunksOf(Buffer.from(text))).pipe(
    parse({
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
      max_record_size: MAX_RECORD_BYTES,
    }),
  );
  let header: string[] | null = null;
  const indexOf = new Map<string, number>();
  const rows: { line: number; values: RawRow }[] = [];
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: string[];
      info: Info;
    }>) {
      const long = record.findIndex((cell) => exceedsCharacters(cell, MAX_CELL_CHARACTERS));
      if (long !== -1) {
        const column = header ? header[long] : undefined;
        return { ok: false, messages: [cellTooLong(info.lines, column)] };
      }
      if (!record.some((cell) => cell.trim() !== '')) continue;
      if (!header) {
        header = record.map(clean);
        const messages = checkHeader(header, indexOf);
        if (messages.length > 0) return { ok: false, messages };
        continue;
      }
      if (rows.length === MAX_IMPORT_ROWS) return { ok: false, messages: [tooManyRows()] };
      const values = Object.fromEntries(
        IMPORT_COLUMNS.map((column) => {
          const index = indexOf.get(column.field);
          return [column.field, index === undefined ? '' : cleanSingleLine(record[index] ?? '')];
        }),
      ) as RawRow;
      // Line numbers as a text editor shows them (the header is line 1), for the error list.
      rows.push({ line: info.lines, values });
    }
  } catch (error) {
    const { code, lines: line } = error as { code?: string; lines?: number };
    if (code === 'CSV_MAX_RECORD_SIZE') return { ok: false, messages: [cellTooLong(line ?? 1)] };
    return {
      ok: false,
      messages: [
        `CSVの形式に誤りがあります${line ? `（${line}行目付近）` : ''}。「"」で囲んだ項目が閉じられているかご確認ください。`,
      ],
    };
  } finally {
    parser.destroy();
  }
  if (!header) return { ok: false, messages: ['ファイルに見出し行がありません。'] };
  if (rows.length === 0) return { ok: false, messages: ['登録する利用者の行がありません。'] };
  return { ok: true, rows };
}

/** Messages for missing required columns; fills `indexOf` with each known column's position. */
function checkHeader(headers: string[], indexOf: Map<string, number>): string[] {
  const messages: string[] = [];
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
  }
  return messages;
}
