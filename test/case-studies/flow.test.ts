import { expect } from 'chai';
import { Types } from 'mongoose';
import {
  CaseStudy,
  CaseStudyAccess,
  CaseStudyVersion,
} from '../../src/case-studies/case-study.model.js';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';
import {
  PAGE,
  autosave,
  caseSections,
  completeTexts,
  confirmKeys,
  exeBytes,
  filler,
  openPage,
  pdfBytes,
  postForm,
  wordBytes,
} from './helpers.js';

describe('case study: a trainee writes, attaches, is guarded and submits', () => {
  let t: TestApp;
  let trainee: SignedIn;
  let traineeId: string;

  before(async () => {
    t = await createTestApp();
    const { user, password } = await buildUser({ roles: ['trainee'] });
    traineeId = String(user._id);
    trainee = await signIn(t.app, user, password);
  });
  after(async () => {
    await t.close();
  });

  it('shows the instructions and a form made from the program file, with nothing saved yet', async () => {
    const { html, revision } = await openPage(trainee);
    expect(revision).to.equal('0');
    for (const section of await caseSections()) {
      expect(html).to.contain(section.title);
      expect(html).to.contain(section.guidance);
      expect(html).to.contain(`name="section:${section.id}"`);
      expect(html).to.contain(`data-min-length="${section.minLength}"`);
    }
    expect(html).to.contain('未着手');
    expect(html).to.contain('/public/js/case-study.js');
    expect(html).not.to.match(/<script>(?!<\/script>)/);
    expect(await CaseStudy.countDocuments()).to.equal(0);
  });

  it('is linked from the program overview and from /learn/me', async () => {
    for (const url of ['/learn/basic-training', '/learn/me']) {
      const res = await trainee.get(url).expect(200);
      expect(res.text, url).to.contain(`href="${PAGE}"`);
    }
  });

  it('writes over several sittings, attaches a PDF and a .docx, is warned, fixes one finding, confirms the other and submits version 1', async () => {
    const sections = await caseSections();
    const texts = await completeTexts();
    const [first, second, ...rest] = sections;

    // First sitting: the form without JavaScript (PRG, 「保存しました（H:mm）」).
    const saved = await postForm(
      trainee,
      {
        texts: { [first.id]: texts[first.id] },
        action: 'save',
      },
      303,
    );
    expect(saved.headers.location).to.equal(PAGE);
    const afterSave = await trainee.get(PAGE).expect(200);
    expect(afterSave.text).to.match(/保存しました（\d{1,2}:\d{2}）/);
    let doc = await CaseStudy.findOne({ userId: new Types.ObjectId(traineeId) });
    expect(doc!.state).to.equal('draft');
    expect(doc!.draft.revision).to.equal(1);
    expect(doc!.draft.sections.get(first.id)).to.equal(texts[first.id]);

    // Second sitting: autosave, as the page's script does.
    const auto = await autosave(trainee, 1, {
      [second.id]: `${texts[second.id]}相談先は 090-1234-5678 です。山田太郎さんが付き添った。`,
    }).expect(200);
    expect(auto.body.revision).to.equal(2);
    expect(auto.body.savedAtLabel).to.match(/^\d{1,2}:\d{2}$/);

    // Third sitting: the rest, with two files.
    const withFiles = await postForm(
      trainee,
      {
        texts: Object.fromEntries(rest.map((s) => [s.id, texts[s.id]])),
        files: [
          { name: 'ジェノグラム.pdf', bytes: pdfBytes() },
          { name: '支援経過.docx', bytes: wordBytes() },
        ],
        action: 'save',
      },
      303,
    );
    expect(withFiles.headers.location).to.equal(PAGE);
    doc = await CaseStudy.findById(doc!._id);
    expect(doc!.draft.sections.get(first.id)).to.equal(texts[first.id]);
    expect(doc!.draft.sections.get(second.id)).to.contain('090-1234-5678');
    expect(doc!.draft.attachments.map((a) => [a.name, a.ext])).to.deep.equal([
      ['ジェノグラム.pdf', 'pdf'],
      ['支援経過.docx', 'docx'],
    ]);

    // Submitting: the guard finds the phone number and the name, shown in their sentence.
    const warned = await postForm(trainee, { action: 'submit' }, 422);
    expect(warned.text).to.contain('確認が必要な記述（2件）');
    expect(warned.text).to.contain('<mark>090-1234-5678</mark>');
    expect(warned.text).to.contain('<mark>山田太郎さん</mark>');
    expect(warned.text).to.contain('相談先は ');
    expect(warned.text).to.contain('電話番号');
    expect(warned.text).to.contain('特定につながる情報ではないことを確認しました');
    expect(await CaseStudyVersion.countDocuments()).to.equal(0);

    // Fix the phone number; confirm the name (say it is a pseudonym the rules allow).
    const fixed = `${texts[second.id]}相談先は市町村の相談窓口です。山田太郎さんが付き添った。`;
    const stillWarned = await postForm(
      trainee,
      {
        texts: { [second.id]: fixed },
        action: 'submit',
      },
      422,
    );
    expect(stillWarned.text).to.contain('確認が必要な記述（1件）');
    expect(stillWarned.text).not.to.contain('090-1234-5678');
    const keys = confirmKeys(stillWarned.text);
    expect(keys).to.have.length(1);

    const submitted = await postForm(trainee, { action: 'submit', confirm: keys }, 303);
    expect(submitted.headers.location).to.equal(PAGE);
    const page = await trainee.get(PAGE).expect(200);
    expect(page.text).to.contain('第1版として提出しました');
    expect(page.text).to.contain('提出済み');
    expect(page.text).to.contain('/versions/1"');
    expect(page.text, 'no form once submitted').not.to.contain('name="section:');

    doc = await CaseStudy.findById(doc!._id);
    expect(doc!.state).to.equal('submitted');
    expect(doc!.versionCount).to.equal(1);
    expect(doc!.submittedAt).to.be.instanceOf(Date);
    const version = await CaseStudyVersion.findOne({ caseStudyId: doc!._id }).lean();
    expect(version!.number).to.equal(1);
    expect(version!.sections[second.id]).to.equal(fixed);
    expect(version!.attachments.map((a) => a.name)).to.deep.equal([
      'ジェノグラム.pdf',
      '支援経過.docx',
    ]);
    expect(version!.confirmations.map((c) => [c.sectionId, c.kind, c.text])).to.deep.equal([
      [second.id, 'person-name', '山田太郎さん'],
    ]);
    expect(
      await AuditEvent.countDocuments({ action: 'case_study.submitted', targetId: doc!._id }),
    ).to.equal(1);

    // The version page shows the text and the files; opening it is recorded.
    const v1 = await trainee.get(`/case-studies/${String(doc!._id)}/versions/1`).expect(200);
    expect(v1.text).to.contain('第1版');
    expect(v1.text).to.contain('相談先は市町村の相談窓口です。');
    expect(v1.text).to.contain('ジェノグラム.pdf');
    expect(
      await CaseStudyAccess.countDocuments({
        caseStudyId: doc!._id,
        what: 'version',
        versionNumber: 1,
      }),
    ).to.equal(1);
  });

  it('downloads a file as an attachment with its Japanese name, the detected type and nosniff', async () => {
    const doc = await CaseStudy.findOne({ userId: new Types.ObjectId(traineeId) });
    const pdf = doc!.draft.attachments[0];
    const res = await trainee
      .get(`/case-studies/${String(doc!._id)}/files/${String(pdf.fileId)}`)
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      })
      .expect(200);
    expect(res.headers['content-type']).to.equal('application/pdf');
    expect(res.headers['x-content-type-options']).to.equal('nosniff');
    expect(res.headers['content-disposition']).to.equal(
      `attachment; filename="______.pdf"; filename*=UTF-8''${encodeURIComponent('ジェノグラム.pdf')}`,
    );
    expect((res.body as Buffer).equals(pdfBytes())).to.equal(true);
    expect(
      await CaseStudyAccess.countDocuments({
        caseStudyId: doc!._id,
        what: 'file',
        fileId: pdf.fileId,
      }),
    ).to.equal(1);
  });

  it('keeps a submitted version from being changed: saving or autosaving is refused, the version stays', async () => {
    const doc = await CaseStudy.findOne({ userId: new Types.ObjectId(traineeId) });
    const sections = await caseSections();
    const before = await CaseStudyVersion.findOne({ caseStudyId: doc!._id }).lean();
    await postForm(
      trainee,
      {
        revision: String(doc!.draft.revision),
        texts: { [sections[0].id]: '書き換え' },
        action: 'save',
      },
      303,
    );
    const res = await autosave(trainee, doc!.draft.revision, { [sections[0].id]: '書き換え' });
    expect(res.status).to.equal(409);
    expect(res.body.error.message).to.contain('提出済み');
    const after = await CaseStudyVersion.findOne({ caseStudyId: doc!._id }).lean();
    expect(after!.sections).to.deep.equal(before!.sections);
    const now = await CaseStudy.findById(doc!._id);
    expect(now!.draft.sections.get(sections[0].id)).not.to.equal('書き換え');
  });

  it('withdraws with confirmation, and a new case study may then be started', async () => {
    const page = await trainee.get(PAGE).expect(200);
    expect(page.text).to.contain('data-confirm="この事例検討レポートを取り下げます');
    await trainee.post(`${PAGE}/withdraw`).expect(303);
    const withdrawn = await CaseStudy.findOne({ userId: new Types.ObjectId(traineeId) });
    expect(withdrawn!.state).to.equal('withdrawn');
    expect(withdrawn!.open).to.equal(false);

    const { html, revision } = await openPage(trainee);
    expect(revision).to.equal('0');
    expect(html).to.contain('取り下げた事例検討レポート');
    await postForm(trainee, { texts: { 'basic-info': filler(10) }, action: 'save' }, 303);
    expect(await CaseStudy.countDocuments({ userId: new Types.ObjectId(traineeId) })).to.equal(2);
    expect(
      await CaseStudy.countDocuments({ userId: new Types.ObjectId(traineeId), open: true }),
    ).to.equal(1);
  });
});

describe('case study: refused files', () => {
  let t: TestApp;
  let trainee: SignedIn;

  before(async () => {
    t = await createTestApp({ CASE_ATTACHMENT_MAX_MB: '1' });
    const { user, password } = await buildUser({ roles: ['trainee'] });
    trainee = await signIn(t.app, user, password);
  });
  after(async () => {
    await t.close();
  });

  const typed = 'Aさんは20歳代前半の男性。合成事例である。';

  it('refuses a program renamed from .exe to .pdf, naming it, and keeps the text typed', async () => {
    const res = await postForm(
      trainee,
      {
        texts: { 'basic-info': typed },
        files: [{ name: '資料.pdf', bytes: exeBytes() }],
        action: 'save',
      },
      422,
    );
    expect(res.text).to.contain('「資料.pdf」は添付できません');
    expect(res.text).to.contain('実行ファイル');
    expect(res.text).to.contain(`>${typed}</textarea>`);
    expect(await CaseStudy.countDocuments()).to.equal(0);
  });

  it('refuses a macro-enabled Word file (.docm) even when named .docx', async () => {
    const res = await postForm(
      trainee,
      {
        texts: { 'basic-info': typed },
        files: [{ name: 'report.docx', bytes: wordBytes('docm') }],
        action: 'save',
      },
      422,
    );
    expect(res.text).to.contain('「report.docx」は添付できません');
    expect(res.text).to.contain('マクロを含むWord文書');
    expect(res.text).to.contain(`>${typed}</textarea>`);
  });

  it('refuses a file over the size limit, naming it, and keeps the text typed', async () => {
    const big = Buffer.concat([pdfBytes(), Buffer.alloc(1024 * 1024 + 10)]);
    const res = await postForm(
      trainee,
      {
        texts: { 'basic-info': typed },
        files: [{ name: '大きな資料.pdf', bytes: big }],
        action: 'save',
      },
      413,
    );
    expect(res.text).to.contain('「大きな資料.pdf」は大きすぎるため添付できません');
    expect(res.text).to.contain('1MBまで');
    expect(res.text).to.contain(`>${typed}</textarea>`);
  });

  it('keeps the display name free of path parts and control characters', async () => {
    await postForm(
      trainee,
      {
        texts: { 'basic-info': typed },
        files: [{ name: '..\\..\\evil\u202e名前.png', bytes: pngBytes() }],
        action: 'save',
      },
      303,
    );
    const doc = await CaseStudy.findOne();
    expect(doc!.draft.attachments.map((a) => [a.name, a.ext])).to.deep.equal([
      ['evil名前.png', 'png'],
    ]);
  });

  it('removes an attachment from the draft, and its stored bytes', async () => {
    const doc = await CaseStudy.findOne();
    const fileId = String(doc!.draft.attachments[0].fileId);
    await postForm(trainee, { remove: fileId }, 303);
    const after = await CaseStudy.findById(doc!._id);
    expect(after!.draft.attachments).to.have.length(0);
    const files = await t.database.connection
      .db!.collection('case_study_files.files')
      .countDocuments({ _id: new Types.ObjectId(fileId) });
    expect(files).to.equal(0);
    await trainee.get(`/case-studies/${String(doc!._id)}/files/${fileId}`).expect(404);
  });
});

/** A 1×1 PNG. */
function pngBytes(): Buffer {
  return Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
    'base64',
  );
}
