import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { stringify } from 'csv-stringify';
import type { CellValue } from 'exceljs';
import type { Response } from 'express';
import iconv from 'iconv-lite';
import { isoDate } from '../lib/dates.js';
import { neutraliseSpreadsheetCell } from '../lib/spreadsheet.js';
import { cellText, isMasked, type Cell, type Column } from './tables.js';

export type ExportFormat = 'csv' | 'xlsx';
/** utf8: UTF-8 with a BOM (Excel recognises it); sjis: Windows-31J, Excel's "Shift_JIS". */
export type CsvEncoding = 'utf8' | 'sjis';

export interface ExportRequest {
  format: ExportFormat;
  encoding: CsvEncoding;
  /** File name without extension (Japanese allowed). */
  name: string;
  sheetName: string;
  columns: Column[];
  /** Rows, produced as they are written: a cursor's rows never pile up in memory. */
  rows: AsyncIterable<Cell[]> | Iterable<Cell[]>;
  threshold: number;
}

const JST_OFFSET_MS = 9 * 3_600_000;

/**
 * Streams a table as CSV (csv-stringify; UTF-8 with BOM by default, Windows-31J on request via
 * iconv-lite) or xlsx (exceljs's streaming writer: Japanese headers, column widths, frozen header
 * row). Text cells are neutralised against formula injection; hidden counts are written as their
 * text (「3未満」, 「秘匿」). Zero rows give a file with the header row only.
 */
export async function sendExport(res: Response, request: ExportRequest): Promise<void> {
  const filename = `${request.name}.${request.format}`;
  res.setHeader(
    'content-disposition',
    `attachment; filename="${request.format === 'csv' ? 'report.csv' : 'report.xlsx'}"; filename*=UTF-8''${encodeURIComponent(filename)}`,
  );
  if (request.format === 'csv') await sendCsv(res, request);
  else await sendXlsx(res, request);
}

function textOf(cell: Cell, threshold: number): string | number {
  if (typeof cell === 'number') return cell;
  if (cell === null) return '';
  // A spreadsheet reads 2026-04-01 as a date value (the xlsx writes a date cell instead).
  if (cell instanceof Date) return isoDate(cell);
  if (isMasked(cell)) return cellText(cell, threshold);
  return neutraliseSpreadsheetCell(cell);
}

async function sendCsv(res: Response, request: ExportRequest): Promise<void> {
  const sjis = request.encoding === 'sjis';
  res.type(sjis ? 'text/csv; charset=Shift_JIS' : 'text/csv; charset=utf-8');
  const csv = stringify({
    bom: !sjis,
    header: true,
    columns: request.columns.map((column) => column.header),
    // Excel on Windows expects CRLF.
    record_delimiter: 'windows',
  });
  const toRecords = new Transform({
    objectMode: true,
    transform(row: Cell[], _encoding, done) {
      done(
        null,
        row.map((cell) => textOf(cell, request.threshold)),
      );
    },
  });
  const source = Readable.from(request.rows);
  if (sjis) await pipeline(source, toRecords, csv, toWindows31J(), res);
  else await pipeline(source, toRecords, csv, res);
}

/** UTF-8 bytes → Windows-31J bytes (a character split across chunks is kept for the next one). */
function toWindows31J(): Transform {
  const decoder = new StringDecoder('utf8');
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      done(null, iconv.encode(decoder.write(chunk), 'cp932'));
    },
    flush(done) {
      done(null, iconv.encode(decoder.end(), 'cp932'));
    },
  });
}

async function sendXlsx(res: Response, request: ExportRequest): Promise<void> {
  // Loaded on the first spreadsheet, not with the app: exceljs and its zip libraries are about
  // 0.4 s of CPU at every start of a process that may never export one.
  const { default: ExcelJS } = await import('exceljs');
  res.type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
    stream: res,
    useStyles: true,
    useSharedStrings: false,
  });
  const sheet = workbook.addWorksheet(request.sheetName.slice(0, 31), {
    views: [{ state: 'frozen', ySplit: 1 }],
  });
  sheet.columns = request.columns.map((column, index) => ({
    key: String(index),
    header: column.header,
    width: column.width ?? 14,
  }));
  sheet.getRow(1).font = { bold: true };
  sheet.getRow(1).commit();
  for await (const row of request.rows) {
    const values = row.map((cell): CellValue => {
      if (cell instanceof Date) {
        // The day in Japan time, as a date cell.
        const jst = new Date(cell.getTime() + JST_OFFSET_MS);
        return new Date(Date.UTC(jst.getUTCFullYear(), jst.getUTCMonth(), jst.getUTCDate()));
      }
      return textOf(cell, request.threshold);
    });
    const added = sheet.addRow(values);
    row.forEach((cell, index) => {
      if (cell instanceof Date) added.getCell(index + 1).numFmt = 'yyyy/mm/dd';
    });
    added.commit();
  }
  sheet.commit();
  await workbook.commit();
}
