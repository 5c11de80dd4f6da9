import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import jsQRModule from 'jsqr';
import type request from 'supertest';
import { extractText, getDocumentProxy } from 'unpdf';

const run = promisify(execFile);
// jsqr is CommonJS with an ES-style default export in its types: the function is `.default`.
const jsQR = jsQRModule.default;

/** The text of every page of a PDF, as pdf.js reads it (through the fonts' ToUnicode maps). */
export async function pdfText(pdf: Buffer): Promise<string> {
  const { text } = await extractText(new Uint8Array(pdf), { mergePages: true });
  return text;
}

export interface PlacedText {
  text: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The text runs of page 1 with their boxes in PDF points (origin bottom left), and the page size. */
export async function pdfTextRuns(
  pdf: Buffer,
): Promise<{ runs: PlacedText[]; width: number; height: number }> {
  const doc = await getDocumentProxy(new Uint8Array(pdf));
  const page = await doc.getPage(1);
  const viewport = page.getViewport({ scale: 1 });
  const content = await page.getTextContent();
  const runs = content.items
    .filter((item): item is Extract<typeof item, { str: string }> => 'str' in item)
    .map((item) => ({
      text: item.str,
      x: item.transform[4] as number,
      y: item.transform[5] as number,
      width: item.width,
      height: item.height,
    }));
  return { runs, width: viewport.width, height: viewport.height };
}

/**
 * Renders page 1 with poppler's pdftoppm (as a printer would see it) and decodes the QR code on
 * it with jsQR. Returns the decoded text, or null when no QR code is found.
 */
export async function decodeQrOnPage(pdf: Buffer, dpi = 150): Promise<string | null> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tsunagu-qr-'));
  try {
    const file = path.join(dir, 'page.pdf');
    await writeFile(file, pdf);
    // Without -png, pdftoppm writes a binary PPM (P6): trivial to read.
    await run('pdftoppm', [
      '-r',
      String(dpi),
      '-f',
      '1',
      '-l',
      '1',
      '-singlefile',
      file,
      path.join(dir, 'page'),
    ]);
    const { width, height, rgba } = readPpm(await readFile(path.join(dir, 'page.ppm')));
    return jsQR(rgba, width, height)?.data ?? null;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function readPpm(data: Buffer): { width: number; height: number; rgba: Uint8ClampedArray } {
  // Header: P6 <whitespace> width <ws> height <ws> maxval <single ws> pixels
  const header = /^P6\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(data.subarray(0, 64).toString('latin1'));
  if (!header) throw new Error('not a binary PPM');
  const [whole, w, h] = header;
  const width = Number(w);
  const height = Number(h);
  const pixels = data.subarray(whole.length);
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += 3) {
    rgba[i * 4] = pixels[j];
    rgba[i * 4 + 1] = pixels[j + 1];
    rgba[i * 4 + 2] = pixels[j + 2];
    rgba[i * 4 + 3] = 255;
  }
  return { width, height, rgba };
}

type Parser = Extract<Parameters<request.Test['parse']>[0], (res: never, done: never) => void>;

/** supertest's parser for binary downloads: the body as one Buffer. */
export const binary: Parser = (res, done) => {
  // In Node, superagent hands the parser the response stream itself.
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
  stream.on('error', (error: Error) => done(error, null));
};
