import { crc32 } from 'node:zlib';
import type request from 'supertest';
import type { CaseStudySection } from '../../src/courses/catalog.types.js';
import type { SignedIn } from '../helpers/auth.js';
import { csrfFrom } from '../helpers/auth.js';
import { realCatalog } from '../learning/helpers.js';

export const PROGRAM = 'basic-training';
export const PAGE = `/learn/${PROGRAM}/case-study`;

/** The sections of the real program's case study (content, not code). */
export async function caseSections(): Promise<readonly CaseStudySection[]> {
  return (await realCatalog()).program(PROGRAM)!.caseStudy!.sections;
}

/** Anonymised filler text of at least `length` characters (nothing the guard flags). */
export function filler(
  length: number,
  seed = 'Aさんは支援開始から3か月ほどで少しずつ話をするようになった。',
): string {
  return seed.repeat(Math.ceil(length / seed.length) + 1);
}

/** Every section filled to its minimum and a little more. */
export async function completeTexts(): Promise<Record<string, string>> {
  const sections = await caseSections();
  return Object.fromEntries(sections.map((s) => [s.id, filler(s.minLength + 5)]));
}

export const field = (id: string) => `section:${id}`;

/** The form's current revision and CSRF token, from the page. */
export async function openPage(session: SignedIn): Promise<{ html: string; revision: string }> {
  const res = await session.get(PAGE).expect(200);
  const match = /name="revision" value="(\d+)"/.exec(res.text);
  return { html: res.text, revision: match ? match[1] : '' };
}

export interface Attach {
  name: string;
  bytes: Buffer;
}

/** Posts the page's form as multipart (what a browser without JavaScript sends). */
export async function postForm(
  session: SignedIn,
  options: {
    texts?: Record<string, string>;
    revision?: string;
    action?: 'save' | 'submit';
    files?: Attach[];
    confirm?: string[];
    remove?: string;
  },
  status: number,
): Promise<request.Response> {
  const revision = options.revision ?? (await openPage(session)).revision;
  let req = session.agent.post(PAGE).field('_csrf', session.csrfToken).field('revision', revision);
  for (const [id, text] of Object.entries(options.texts ?? {})) req = req.field(field(id), text);
  for (const file of options.files ?? []) req = req.attach('attachments', file.bytes, file.name);
  for (const key of options.confirm ?? []) req = req.field('confirm', key);
  if (options.remove) req = req.field('remove', options.remove);
  if (options.action) req = req.field('action', options.action);
  return req.expect(status);
}

/** Autosave as public/js/case-study.js does it. */
export function autosave(session: SignedIn, revision: number, sections: Record<string, string>) {
  return session.agent
    .post(`${PAGE}/draft`)
    .set('accept', 'application/json')
    .set('x-csrf-token', session.csrfToken)
    .send({ revision, sections });
}

/** The confirmation keys offered on a page with findings. */
export function confirmKeys(html: string): string[] {
  return [...html.matchAll(/name="confirm" value="([^"]+)"/g)].map((m) => m[1]);
}

export { csrfFrom };

// ── Small real files ─────────────────────────────────────────────────────────────────────────

/** A minimal PDF (one empty page). */
export function pdfBytes(): Buffer {
  return Buffer.from(
    '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
  );
}

/** A ZIP archive of stored (uncompressed) entries. */
export function zip(entries: Record<string, string>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(entries)) {
    const nameBytes = Buffer.from(name, 'utf8');
    const data = Buffer.from(content, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt32LE(0, 10);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, nameBytes, data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt32LE(0, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(entries).length, 8);
  end.writeUInt16LE(Object.keys(entries).length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

const WORD_MAIN = {
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml',
  docm: 'application/vnd.ms-word.document.macroEnabled.main+xml',
};

/** A minimal Word document (.docx), or the macro-enabled kind (.docm). */
export function wordBytes(kind: 'docx' | 'docm' = 'docx'): Buffer {
  return zip({
    '[Content_Types].xml': `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="${WORD_MAIN[kind]}"/></Types>`,
    'word/document.xml':
      '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>ジェノグラム</w:t></w:r></w:p></w:body></w:document>',
  });
}

/** The start of a Windows executable ("MZ" header and PE signature). */
export function exeBytes(): Buffer {
  const bytes = Buffer.alloc(512);
  bytes.write('MZ', 0, 'latin1');
  bytes.writeUInt32LE(0x80, 0x3c);
  bytes.write('PE\0\0', 0x80, 'latin1');
  return bytes;
}
