import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as fontkit from 'fontkit';
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';
import { formatEraDate, isoDate } from '../lib/dates.js';

/** What a certificate page prints: the stored record plus the program file's wording. */
export interface CertificatePage {
  /** e.g. NAGANO-2026-00042 (or 見本 on a sample). */
  number: string;
  name: string;
  organisationName: string;
  programTitle: string;
  /** The program file's certificate section (title, body with {name}/{program}, issuer). */
  title: string;
  body: string;
  issuer: string;
  completedAt: Date;
  /** The absolute verification URL, printed and in the QR code. */
  verificationUrl: string;
  /** Set on a revoked certificate: the page is marked 失効 with the date. */
  revokedAt?: Date | null;
  /** A preview for the wording: marked 見本 across the page. */
  sample?: boolean;
}

// Noto Serif JP (SIL Open Font License 1.1) from the @expo-google-fonts package: full TrueType
// files with Japanese glyph forms and the characters outside the basic plane (𠮷). Parsed once
// per process; each PDF embeds a subset of the glyphs it uses.
const require = createRequire(import.meta.url);
const FONT_FILES = {
  regular: '@expo-google-fonts/noto-serif-jp/400Regular/NotoSerifJP_400Regular.ttf',
  bold: '@expo-google-fonts/noto-serif-jp/700Bold/NotoSerifJP_700Bold.ttf',
} as const;
type FontName = keyof typeof FONT_FILES;
type Font = ReturnType<typeof fontkit.create>;

let fonts: Record<FontName, Font> | null = null;
/** How many times the font files were read (the bench checks it stays 1). */
export let fontLoads = 0;

function loadFonts(): Record<FontName, Font> {
  if (!fonts) {
    fontLoads += 1;
    const open = (file: string) => fontkit.create(readFileSync(require.resolve(file)));
    fonts = { regular: open(FONT_FILES.regular), bold: open(FONT_FILES.bold) };
  }
  return fonts;
}

/** True when the certificate font has a glyph for every character of the text. */
export function fontCovers(text: string): boolean {
  const font = loadFonts().regular as fontkit.Font;
  return [...text].every((ch) => /\s/.test(ch) || font.hasGlyphForCodePoint(ch.codePointAt(0)!));
}

// A4 portrait, in points.
const PAGE = { width: 595.28, height: 841.89 };
const INK = '#1a1a1a';
const FRAME = '#1f3a5f';
const RED = '#b3261e';
/** The frame sits 11 mm inside the paper edge, clear of any printer's unprintable margin. */
const FRAME_INSET = 31;
/** Text stays inside this box. */
const CONTENT = { left: 78, right: PAGE.width - 78 };
const CONTENT_WIDTH = CONTENT.right - CONTENT.left;

type Doc = PDFKit.PDFDocument;

/** Draws the certificate and returns the PDF file. */
export async function renderCertificatePdf(page: CertificatePage): Promise<Buffer> {
  const { regular, bold } = loadFonts();
  // pdfkit takes a parsed fontkit font as well as a path or bytes (PDFFontFactory.open), which
  // is what lets every document share the fonts parsed once; its type definitions omit that.
  const doc = new PDFDocument({
    size: 'A4',
    layout: 'portrait',
    margin: 0,
    // Our font from the start: pdfkit would otherwise load Helvetica's metrics for each document.
    font: regular as unknown as string,
    info: {
      Title: `${page.title} ${page.number}`,
      Author: page.issuer,
      Subject: page.programTitle,
    },
    lang: 'ja-JP',
    pdfVersion: '1.7',
  });
  doc.registerFont('regular', regular as unknown as string);
  doc.registerFont('bold', bold as unknown as string);
  const done = collect(doc);

  drawFrame(doc);

  // Number, top right.
  doc
    .font('regular')
    .fontSize(10.5)
    .fillColor(INK)
    .text(`第 ${page.number} 号`, CONTENT.left, 78, { width: CONTENT_WIDTH, align: 'right' });

  // Title, spaced like a printed 賞状.
  doc.font('bold').fontSize(40);
  const spacing = 16;
  const titleWidth = doc.widthOfString(page.title, { characterSpacing: spacing }) - spacing;
  doc.text(page.title, (PAGE.width - titleWidth) / 2, 128, {
    characterSpacing: spacing,
    lineBreak: false,
  });

  let y = 232;
  if (page.organisationName) {
    doc.font('regular').fontSize(13);
    const size = Math.min(13, (13 * CONTENT_WIDTH) / doc.widthOfString(page.organisationName));
    doc
      .fontSize(size)
      .text(page.organisationName, CONTENT.left, y, { width: CONTENT_WIDTH, align: 'center' });
  }
  y += 30;
  y = drawName(doc, page.name, y);

  // Body: the program file's wording.
  const body = page.body
    .replaceAll('{name}', page.name)
    .replaceAll('{program}', `「${page.programTitle}」`)
    .trim();
  doc
    .font('regular')
    .fontSize(14.5)
    .fillColor(INK)
    .text(body, CONTENT.left + 12, y + 34, {
      width: CONTENT_WIDTH - 24,
      lineGap: 9,
      align: 'justify',
      indent: 14.5,
    });

  // Completion date (era and Western), then the issuer.
  const dateY = Math.max(doc.y + 40, 548);
  doc
    .fontSize(13)
    .text(
      `修了年月日\u3000${formatEraDate(page.completedAt)}（${isoDate(page.completedAt)}）`,
      CONTENT.left + 12,
      dateY,
      { width: CONTENT_WIDTH - 24 },
    );
  doc
    .font('bold')
    .fontSize(17)
    .text(page.issuer, CONTENT.left, dateY + 70, { width: CONTENT_WIDTH - 12, align: 'right' });

  drawVerification(doc, page.verificationUrl);
  if (page.revokedAt) drawRevoked(doc, page.revokedAt);
  if (page.sample) drawStamp(doc, '見本', '#9aa0a6');

  doc.end();
  return done;
}

function collect(doc: Doc): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
}

/** A double frame with small corner squares, in dark blue. */
function drawFrame(doc: Doc): void {
  const outer = FRAME_INSET;
  const inner = FRAME_INSET + 7;
  doc.save().strokeColor(FRAME);
  doc
    .lineWidth(2.6)
    .rect(outer, outer, PAGE.width - 2 * outer, PAGE.height - 2 * outer)
    .stroke();
  doc
    .lineWidth(0.8)
    .rect(inner, inner, PAGE.width - 2 * inner, PAGE.height - 2 * inner)
    .stroke();
  const corner = 9;
  for (const [x, y] of [
    [outer, outer],
    [PAGE.width - outer, outer],
    [outer, PAGE.height - outer],
    [PAGE.width - outer, PAGE.height - outer],
  ]) {
    doc.rect(x - corner / 2, y - corner / 2, corner, corner).fillAndStroke(FRAME, FRAME);
  }
  doc.restore();
}

const NAME_MAX_SIZE = 30;
/** Below this a one-line name is split over two lines instead of shrinking further. */
const NAME_ONE_LINE_MIN = 20;
const HONORIFIC = '殿';

/**
 * The name with 殿, centred: as large as fits on one line, or on two lines broken at the space
 * nearest the middle (else between two characters, never inside one), each line shrunk to fit.
 * Returns the y below it.
 */
function drawName(doc: Doc, name: string, top: number): number {
  doc.font('bold').fillColor(INK);
  const width = (text: string) => doc.fontSize(1).widthOfString(text);
  const honorificGap = 0.6; // em between the name and 殿
  const honorific = width(HONORIFIC) + honorificGap;
  const available = CONTENT_WIDTH - 20;

  const oneLine = Math.min(NAME_MAX_SIZE, available / (width(name) + honorific));
  let lines: string[];
  let size: number;
  if (oneLine >= NAME_ONE_LINE_MIN) {
    lines = [name];
    size = oneLine;
  } else {
    lines = splitName(name, width);
    size = Math.min(
      NAME_MAX_SIZE,
      available / Math.max(width(lines[0]), width(lines[1]) + honorific),
      oneLine * 2,
    );
  }
  // Lines sit on a fixed band, so what follows stays in place however the name is set.
  const lineHeight = size * 1.35;
  let y = top + (lines.length === 1 ? 6 : 0);
  lines.forEach((line, index) => {
    const last = index === lines.length - 1;
    const lineWidth = width(line) * size + (last ? honorific * size : 0);
    const x = (PAGE.width - lineWidth) / 2;
    const honorificX = x + (width(line) + honorificGap) * size;
    doc.fontSize(size).text(line, x, y, { lineBreak: false });
    if (last) {
      doc.font('regular').fontSize(size * 0.75);
      doc.text(HONORIFIC, honorificX, y + size * 0.28, { lineBreak: false });
      doc.font('bold');
    }
    y += lineHeight;
  });
  // Underline, as on a printed certificate.
  const ruleY = Math.max(y, top + 50) + 4;
  doc
    .save()
    .lineWidth(0.6)
    .strokeColor(INK)
    .moveTo(CONTENT.left + 40, ruleY)
    .lineTo(CONTENT.right - 40, ruleY)
    .stroke()
    .restore();
  return ruleY;
}

const segmenter = new Intl.Segmenter('ja', { granularity: 'grapheme' });

/** Two lines of about equal width: at the space nearest the middle, else between characters. */
export function splitName(name: string, width: (text: string) => number): [string, string] {
  const graphemes = [...segmenter.segment(name)].map((s) => s.segment);
  // Widths character by character (one measurement each, not one per prefix): close enough to
  // choose a break; the lines are measured whole afterwards.
  const widths = new Map<string, number>();
  for (const g of graphemes) if (!widths.has(g)) widths.set(g, width(g));
  const total = graphemes.reduce((sum, g) => sum + widths.get(g)!, 0);
  let best: { at: number; score: number } | null = null;
  let bestSpace: { at: number; score: number } | null = null;
  let sofar = 0;
  for (let at = 1; at < graphemes.length; at++) {
    sofar += widths.get(graphemes[at - 1])!;
    const score = Math.abs(sofar - total / 2);
    if (!best || score < best.score) best = { at, score };
    // A break at a space keeps words whole, unless it leaves one line far longer.
    if (/\s/.test(graphemes[at - 1]) && (!bestSpace || score < bestSpace.score))
      bestSpace = { at, score };
  }
  const chosen = bestSpace && bestSpace.score < total * 0.3 ? bestSpace : best;
  if (!chosen) return [name, ''];
  return [
    graphemes.slice(0, chosen.at).join('').trim(),
    graphemes.slice(chosen.at).join('').trim(),
  ];
}

/** The QR code (the verification URL) at the bottom left, the URL printed beside it. */
function drawVerification(doc: Doc, url: string): void {
  const qr = QRCode.create(url, { errorCorrectionLevel: 'M' });
  const count = qr.modules.size;
  const side = 76;
  const module = side / count;
  const x0 = CONTENT.left;
  const y0 = PAGE.height - FRAME_INSET - 30 - side;
  // A hairline above the block sets it apart from the certificate's text.
  doc
    .save()
    .lineWidth(0.4)
    .strokeColor('#8a94a6')
    .moveTo(CONTENT.left, y0 - 16)
    .lineTo(CONTENT.right, y0 - 16)
    .stroke()
    .restore();
  doc.save().fillColor('#000000');
  for (let row = 0; row < count; row++) {
    for (let col = 0; col < count; col++) {
      if (qr.modules.get(row, col)) doc.rect(x0 + col * module, y0 + row * module, module, module);
    }
  }
  doc.fill().restore();

  const textX = x0 + side + 16;
  const textWidth = CONTENT.right - textX;
  doc
    .font('regular')
    .fillColor(INK)
    .fontSize(9)
    .text('この証書が有効かどうかは、次のURLまたは左のQRコードから確認できます。', textX, y0 + 14, {
      width: textWidth,
    });
  // The URL on one line, smaller if it is long.
  doc.fontSize(9);
  const urlSize = Math.min(9, (9 * textWidth) / doc.widthOfString(url));
  doc.fontSize(urlSize).text(url, textX, doc.y + 6, { width: textWidth, lineBreak: false });
}

function drawRevoked(doc: Doc, revokedAt: Date): void {
  drawStamp(doc, '失効', RED);
  doc
    .save()
    .font('bold')
    .fontSize(12)
    .fillColor(RED)
    .text(
      `この証書は${formatEraDate(revokedAt)}（${isoDate(revokedAt)}）に失効しています。`,
      CONTENT.left,
      196,
      { width: CONTENT_WIDTH, align: 'center' },
    )
    .restore();
}

/** A large word across the middle of the page (失効, 見本). */
function drawStamp(doc: Doc, word: string, color: string): void {
  doc.save();
  doc.rotate(-30, { origin: [PAGE.width / 2, PAGE.height / 2] });
  doc.font('bold').fontSize(150).fillColor(color).fillOpacity(0.22);
  const w = doc.widthOfString(word);
  doc.text(word, (PAGE.width - w) / 2, PAGE.height / 2 - 100, { lineBreak: false });
  doc.restore();
}
