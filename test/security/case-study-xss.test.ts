/**
 * Stored XSS in the case studies, which hold the most sensitive text of the system: markup in
 * every section and in attachments' names, looked for in every page that shows them — the
 * trainee's page (form, attachment list, messages, guard findings with their <mark>), a version,
 * the diff, the administrators' access log — and in the Content-Disposition of a download.
 * File names are sent with RFC 5987 `filename*` so that quotes, CR/LF and path parts arrive as
 * typed, as a hand-made request can send them.
 */
import { expect } from 'chai';
import { Types } from 'mongoose';
import { CaseStudy } from '../../src/case-studies/case-study.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';
import {
  PAGE,
  caseSections,
  confirmKeys,
  exeBytes,
  field,
  filler,
  openPage,
  pdfBytes,
} from '../case-studies/helpers.js';
import { escapeHtml, expectEscaped, expectNoLiveMarkup, xss } from './helpers.js';

/** The finding's sentence: markup on both sides of a telephone number the guard will mark. */
const CONTEXT_BEFORE = xss('context').script;
const CONTEXT_AFTER = xss('context').img;
const PHONE = '090-1234-5678';

/** Hostile attachment names, as sent (the app keeps the last path part, without controls). */
const FILE_NAMES = [
  `${xss('file-script').script}.pdf`,
  `${xss('file-img').img}.pdf`,
  `${xss('file-textarea').textarea}.pdf`,
  `${xss('file-js').js}.pdf`,
  `a"b\\c\r\nX-Injected: yes; filename="evil.exe".pdf`,
  '../../../etc/passwd.pdf',
  '..\\..\\windows\\家族図（最新）👪\u202egpj.pdf',
  `${PHONE}"><img src=x onerror=alert('af')>.pdf`,
];

/** RFC 5987 encoding of a parameter value. */
const ext = (value: string) =>
  encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);

/**
 * A multipart body written by hand: fields, then files named with `filename*` (busboy decodes
 * it, so the name reaches the app byte for byte, CR/LF included).
 */
function multipart(
  fields: [string, string][],
  files: { name: string; bytes: Buffer }[],
): { type: string; body: Buffer } {
  const boundary = `----tsunagu${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
      ),
    );
  }
  for (const file of files) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="attachments"; filename*=UTF-8''${ext(file.name)}\r\n` +
          'Content-Type: application/octet-stream\r\n\r\n',
      ),
      file.bytes,
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { type: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(parts) };
}

/** The page shown by the diff, without the diff's own <ins>/<del> tags. */
const withoutDiffTags = (html: string) =>
  html.replace(/<ins class="diff-ins">|<\/ins>|<del class="diff-del">|<\/del>/g, '');

/** A strict reading of `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266). */
const DISPOSITION =
  /^attachment; filename="([\x20\x21\x23-\x5b\x5d-\x7e]*)"; filename\*=UTF-8''((?:[A-Za-z0-9!#$&+.^_`|~-]|%[0-9A-F]{2})+)$/;

describe('security: stored XSS in case studies, on every page that shows them', () => {
  let t: TestApp;
  let trainee: SignedIn;
  let admin: SignedIn;
  let caseId: string;
  let sectionIds: string[];
  /** What each section holds at version 1 / version 2. */
  const v1 = new Map<string, string>();
  const v2 = new Map<string, string>();
  let storedNames: string[];
  let findingsHtml: string;

  async function post(
    session: SignedIn,
    fields: [string, string][],
    files: { name: string; bytes: Buffer }[],
  ) {
    const { type, body } = multipart([['_csrf', session.csrfToken], ...fields], files);
    return session.agent.post(PAGE).set('content-type', type).send(body);
  }

  async function submitConfirmingAll(texts: Map<string, string>): Promise<string> {
    const fields = () => [...texts].map(([id, text]): [string, string] => [field(id), text]);
    const first = await post(
      trainee,
      [['revision', (await openPage(trainee)).revision], ...fields(), ['action', 'submit']],
      [],
    );
    if (first.status === 303) return '';
    expect(first.status, 'a submit with findings').to.equal(422);
    const keys = confirmKeys(first.text);
    const again = await post(
      trainee,
      [
        ['revision', (await openPage(trainee)).revision],
        ...fields(),
        ...keys.map((key): [string, string] => ['confirm', key]),
        ['action', 'submit'],
      ],
      [],
    );
    expect(again.status, 'the submit with every finding confirmed').to.equal(303);
    return first.text;
  }

  before(async function () {
    this.timeout(60_000);
    t = await createTestApp({ CASE_ATTACHMENT_MAX_FILES: '12', CASE_ATTACHMENT_MAX_MB: '1' });
    const author = await buildUser({ roles: ['trainee'] });
    const a = await buildUser({ roles: ['admin'] });
    trainee = await signIn(t.app, author.user, author.password);
    admin = await signIn(t.app, a.user, a.password);

    const sections = await caseSections();
    sectionIds = sections.map((s) => s.id);
    for (const s of sections) {
      const p = xss(`section-${s.id}`);
      v1.set(s.id, `${filler(s.minLength + 5)}\n${p.script}${p.img}${p.textarea}${p.js}。`);
    }
    // One sentence the guard flags, with markup right before and after the flagged words.
    const first = sectionIds[0];
    v1.set(first, `${v1.get(first)!}\n${CONTEXT_BEFORE}${PHONE}${CONTEXT_AFTER}。`);

    const saved = await post(
      trainee,
      [
        ['revision', '0'],
        ...[...v1].map(([id, text]): [string, string] => [field(id), text]),
        ['action', 'save'],
      ],
      FILE_NAMES.map((name) => ({ name, bytes: pdfBytes() })),
    );
    expect(saved.status, saved.text.slice(0, 300)).to.equal(303);
    const doc = await CaseStudy.findOne({ userId: author.user._id });
    caseId = String(doc!._id);
    storedNames = doc!.draft.attachments.map((a) => a.name);
    expect(storedNames).to.have.length(FILE_NAMES.length);
  });
  after(async () => {
    await t.close();
  });

  it('stored every section as typed and every name without path parts or control characters', async () => {
    const doc = await CaseStudy.findById(caseId).lean();
    for (const [id, text] of v1) expect(doc!.draft.sections[id], id).to.equal(text);
    for (const name of storedNames) {
      expect(name).not.to.match(/[/\\\r\n\u202e]/);
    }
    // The markup without a slash is kept (the name is shown, never used as a path).
    expect(storedNames).to.include(`${xss('file-img').img}.pdf`);
    expect(storedNames).to.include('passwd.pdf');
  });

  it('the trainee’s page: every section in its textarea and every file name, escaped', async () => {
    const { html } = await openPage(trainee);
    expectNoLiveMarkup(html, 'case-study page');
    expect(html, 'a textarea closed by the text').not.to.match(/<\/textarea><b id=/);
    for (const [id, text] of v1) expectEscaped(html, text, `section ${id}`);
    for (const name of storedNames) {
      expect(html, name).to.contain(`>${escapeHtml(name)}</a>`);
      expect(html, name).to.contain(`data-confirm="「${escapeHtml(name)}」を削除します。`);
    }
  });

  it('a refused submit: the findings (with their <mark>) and their context, escaped', async () => {
    const res = await post(
      trainee,
      [
        ['revision', (await openPage(trainee)).revision],
        ...[...v1].map(([id, text]): [string, string] => [field(id), text]),
        ['action', 'submit'],
      ],
      [],
    );
    expect(res.status).to.equal(422);
    findingsHtml = res.text;
    expectNoLiveMarkup(findingsHtml, 'findings');
    expect(findingsHtml).to.contain(
      `${escapeHtml(CONTEXT_BEFORE)}<mark>${PHONE}</mark>${escapeHtml(CONTEXT_AFTER)}`,
    );
    // The attachment's name is a finding too: its markup is context, escaped.
    expect(findingsHtml).to.contain(
      `<mark>${PHONE}</mark>${escapeHtml(`"><img src=x onerror=alert('af')>.pdf`)}`,
    );
    for (const [id, text] of v1) expectEscaped(findingsHtml, text, `section ${id} (kept input)`);
    // Every <mark> holds text only.
    for (const [, inside] of findingsHtml.matchAll(/<mark>([\s\S]*?)<\/mark>/g)) {
      expect(inside).not.to.match(/[<>"]/);
    }
  });

  it('the messages that name a refused or oversized file, escaped', async () => {
    const revision = (await openPage(trainee)).revision;
    const refusedName = `"><img src=x onerror=alert('refused')>.pdf`;
    const refused = await post(
      trainee,
      [['revision', revision]],
      [{ name: refusedName, bytes: exeBytes() }],
    );
    expect(refused.status).to.equal(422);
    expectNoLiveMarkup(refused.text, 'refused file');
    expect(refused.text).to.contain(`「${escapeHtml(refusedName)}」は添付できません。`);

    const bigName = `"><img src=x onerror=alert('big')>.pdf`;
    const big = await post(
      trainee,
      [['revision', revision]],
      [{ name: bigName, bytes: Buffer.concat([pdfBytes(), Buffer.alloc(2 * 1024 * 1024)]) }],
    );
    expect(big.status).to.equal(413);
    expectNoLiveMarkup(big.text, 'oversized file');
    expect(big.text).to.contain(`「${escapeHtml(bigName)}」は大きすぎるため`);
  });

  it('a version page: every section, file name and confirmed finding, escaped', async () => {
    await submitConfirmingAll(v1);
    for (const session of [trainee, admin]) {
      const res = await session.get(`/case-studies/${caseId}/versions/1`).expect(200);
      expectNoLiveMarkup(res.text, 'version 1');
      for (const [id, text] of v1) expectEscaped(res.text, text, `version 1, ${id}`);
      for (const name of storedNames) expect(res.text, name).to.contain(`>${escapeHtml(name)}</a>`);
      expect(res.text).to.contain('提出時に確認した記述');
    }
    // The page after submitting lists the version (and no longer holds a form).
    const page = await trainee.get(PAGE).expect(200);
    expectNoLiveMarkup(page.text, 'page after submit');
    expect(page.text).to.contain(`/case-studies/${caseId}/versions/1`);
  });

  it('the diff page: inserted and kept markup, escaped', async () => {
    await CaseStudy.updateOne(
      { _id: new Types.ObjectId(caseId) },
      { $set: { state: 'revision_requested' } },
    );
    for (const [id, text] of v1) v2.set(id, `${xss(`v2-${id}`).img}${text}`);
    await submitConfirmingAll(v2);
    const res = await trainee.get(`/case-studies/${caseId}/diff?from=1&to=2`).expect(200);
    expectNoLiveMarkup(res.text, 'diff');
    expect(res.text).to.contain('<ins class="diff-ins">');
    const plain = withoutDiffTags(res.text);
    for (const [id, text] of v2) expect(plain, `diff, ${id}`).to.contain(escapeHtml(text));
    const versions = await trainee.get(PAGE).expect(200);
    expectNoLiveMarkup(versions.text, 'version list');
    expect(versions.text).to.contain(`/case-studies/${caseId}/diff?from=1&amp;to=2`);
  });

  it('downloads: a well-formed Content-Disposition for every hostile name', async () => {
    const doc = await CaseStudy.findById(caseId).lean();
    for (const attachment of doc!.draft.attachments) {
      const res = await trainee
        .get(`/case-studies/${caseId}/files/${String(attachment.fileId)}`)
        .buffer(true)
        .parse((r, done) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => done(null, Buffer.concat(chunks)));
        })
        .expect(200);
      const header = String(res.headers['content-disposition']);
      const match = DISPOSITION.exec(header);
      expect(match, `${attachment.name}: ${header}`).not.to.equal(null);
      expect(decodeURIComponent(match![2]), header).to.equal(attachment.name);
      expect(match![1], header).not.to.match(/\.\.[/\\]/);
      expect(res.headers['x-content-type-options']).to.equal('nosniff');
      expect(res.headers['content-type']).to.equal('application/pdf');
      expect(Buffer.compare(res.body as Buffer, pdfBytes())).to.equal(0);
    }
  });

  it('the administrators’ access log: the names of opened files, escaped', async () => {
    const doc = await CaseStudy.findById(caseId).lean();
    for (const attachment of doc!.draft.attachments) {
      await admin.get(`/case-studies/${caseId}/files/${String(attachment.fileId)}`).expect(200);
    }
    const res = await admin.get('/admin/case-study-access').expect(200);
    expectNoLiveMarkup(res.text, 'access log');
    for (const name of storedNames) expect(res.text, name).to.contain(`：${escapeHtml(name)}</td>`);
  });
});
