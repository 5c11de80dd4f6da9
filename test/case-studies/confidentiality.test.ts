import { expect } from 'chai';
import { Types } from 'mongoose';
import { AuditEvent } from '../../src/audit/audit.model.js';
import {
  CaseStudy,
  CaseStudyAccess,
  CaseStudyVersion,
} from '../../src/case-studies/case-study.model.js';
import { approveCaseStudy } from '../../src/case-studies/case-study.service.js';
import { sweepCaseStudyFiles } from '../../src/case-studies/retention.js';
import { listCaseStudyStatuses } from '../../src/case-studies/status.service.js';
import type { SessionUser } from '../../src/auth/session-user.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';
import { PAGE, PROGRAM, completeTexts, pdfBytes, postForm, wordBytes } from './helpers.js';

describe('case study: confidentiality, versions, retention', () => {
  let t: TestApp;
  const sessions: Record<string, SignedIn> = {};
  const users: Record<string, SessionUser> = {};
  let caseId: string;
  let fileId: string;
  let authorId: Types.ObjectId;
  const SECRET = '秘密の本文です。';

  before(async () => {
    t = await createTestApp();
    const nagano = await buildMunicipality('長野市');
    await buildMunicipality('松本市');
    const people = {
      author: { roles: ['trainee'], municipality: nagano },
      otherTrainee: { roles: ['trainee'], municipality: nagano },
      coordinator: { roles: ['coordinator'], municipality: nagano },
      viewer: { roles: ['regional_viewer'], municipality: nagano },
      supervisor: { roles: ['supervisor'], municipality: nagano },
      assigned: { roles: ['supervisor'], municipality: '松本市' },
      admin: { roles: ['admin'], municipality: null },
    } as const;
    for (const [key, options] of Object.entries(people)) {
      const { user, password } = await buildUser({
        roles: [...options.roles],
        municipality: options.municipality,
      });
      sessions[key] = await signIn(t.app, user, password);
      users[key] = {
        id: String(user._id),
        name: user.name,
        email: user.email,
        roles: user.roles,
        status: user.status,
        municipalityId: user.municipalityId ? String(user.municipalityId) : null,
        regionId: user.regionId ? String(user.regionId) : null,
      };
    }
    authorId = new Types.ObjectId(users.author.id);
    const texts = await completeTexts();
    texts['basic-info'] = SECRET + texts['basic-info'];
    await postForm(
      sessions.author,
      {
        texts,
        files: [
          { name: '家族図.pdf', bytes: pdfBytes() },
          { name: '経過.docx', bytes: wordBytes() },
        ],
        action: 'submit',
      },
      303,
    );
    const doc = await CaseStudy.findOne({ userId: authorId });
    caseId = String(doc!._id);
    fileId = String(doc!.draft.attachments[0].fileId);
    await CaseStudy.updateOne(
      { _id: doc!._id },
      { $set: { assignedSupervisorIds: [new Types.ObjectId(users.assigned.id)] } },
    );
  });
  after(async () => {
    await t.close();
  });

  const urls = () => [
    `/case-studies/${caseId}/versions/1`,
    `/case-studies/${caseId}/files/${fileId}`,
    `/case-studies/${caseId}/diff?from=1&to=1`,
  ];

  for (const who of ['otherTrainee', 'coordinator', 'viewer', 'supervisor']) {
    it(`answers 404 to a ${who} for the text, the diff and the files, and records nothing`, async () => {
      const before = await CaseStudyAccess.countDocuments();
      for (const url of urls()) {
        const res = await sessions[who].get(url).expect(404);
        expect(res.text, url).not.to.contain(SECRET);
      }
      expect(await CaseStudyAccess.countDocuments()).to.equal(before);
    });
  }

  it('answers 404 to guessed ids: another case id, another file id, a malformed id', async () => {
    const other = new Types.ObjectId().toHexString();
    for (const url of [
      `/case-studies/${other}/versions/1`,
      `/case-studies/${caseId}/files/${other}`,
      `/case-studies/${caseId}/versions/2`,
      `/case-studies/not-an-id/versions/1`,
      `/case-studies/${caseId}/files/not-an-id`,
    ]) {
      await sessions.author.get(url).expect(404);
      await sessions.admin.get(url).expect(404);
    }
  });

  it('does not let another trainee reach the case through their own page', async () => {
    const res = await sessions.otherTrainee.get(PAGE).expect(200);
    expect(res.text).not.to.contain(SECRET);
    expect(res.text).not.to.contain(caseId);
  });

  it('lets the author, the assigned supervisor and an administrator open the text and the files, and records each opening', async () => {
    for (const who of ['author', 'assigned', 'admin']) {
      const res = await sessions[who].get(`/case-studies/${caseId}/versions/1`).expect(200);
      expect(res.text, who).to.contain(SECRET);
      await sessions[who].get(`/case-studies/${caseId}/files/${fileId}`).expect(200);
      const viewer = new Types.ObjectId(users[who].id);
      expect(
        await CaseStudyAccess.countDocuments({ userId: viewer, what: 'version', versionNumber: 1 }),
      ).to.equal(1);
      expect(
        await CaseStudyAccess.countDocuments({
          userId: viewer,
          what: 'file',
          fileName: '家族図.pdf',
        }),
      ).to.equal(1);
    }
  });

  it('shows the access log to administrators only, naming who opened what', async () => {
    const res = await sessions.admin.get('/admin/case-study-access').expect(200);
    expect(res.text).to.contain('事例検討の閲覧記録');
    expect(res.text).to.contain(users.assigned.name);
    expect(res.text).to.contain('添付ファイル：家族図.pdf');
    expect(res.text).to.contain('提出した版：第1版');
    expect(res.text).not.to.contain(SECRET);
    for (const who of ['author', 'coordinator', 'viewer', 'supervisor']) {
      await sessions[who].get('/admin/case-study-access').expect(403);
    }
  });

  it('gives coordinators and regional viewers state and dates only (for tracking)', async () => {
    for (const who of ['coordinator', 'viewer', 'admin']) {
      const statuses = await listCaseStudyStatuses(users[who], PROGRAM);
      expect(statuses, who).to.have.length(1);
      expect(statuses[0]).to.include({ caseStudyId: caseId, state: 'submitted', versionCount: 1 });
      expect(Object.keys(statuses[0])).not.to.include('draft');
      expect(JSON.stringify(statuses[0])).not.to.contain(SECRET);
    }
    for (const who of ['otherTrainee', 'supervisor']) {
      expect(await listCaseStudyStatuses(users[who], PROGRAM), who).to.deep.equal([]);
    }
    const matsumotoCoordinator = await buildUser({
      roles: ['coordinator'],
      municipality: '松本市',
    });
    const u = matsumotoCoordinator.user;
    expect(
      await listCaseStudyStatuses(
        {
          id: String(u._id),
          name: u.name,
          email: u.email,
          roles: u.roles,
          status: u.status,
          municipalityId: String(u.municipalityId),
          regionId: String(u.regionId),
        },
        PROGRAM,
      ),
    ).to.deep.equal([]);
  });

  it('shows a character-level diff between two versions, section by section', async () => {
    // Back to the author for a second version (the review issue will do this).
    await CaseStudy.updateOne(
      { _id: new Types.ObjectId(caseId) },
      { $set: { state: 'revision_requested' } },
    );
    const texts = await completeTexts();
    texts['basic-info'] = SECRET + '本人は二十歳代前半の男性。' + texts['basic-info'];
    await postForm(sessions.author, { texts, action: 'submit' }, 303);
    const doc = await CaseStudy.findById(caseId);
    expect(doc!.state).to.equal('resubmitted');
    expect(doc!.versionCount).to.equal(2);
    const page = await sessions.author.get(PAGE).expect(200);
    expect(page.text).to.contain(`/case-studies/${caseId}/diff?from=1&amp;to=2`);

    const res = await sessions.author.get(`/case-studies/${caseId}/diff?from=1&to=2`).expect(200);
    expect(res.text).to.contain('<ins class="diff-ins">本人は二十歳代前半の男性。</ins>');
    expect(res.text).to.contain('変更なし');
    expect(
      await CaseStudyAccess.countDocuments({
        what: 'diff',
        versionNumber: 2,
        fromVersionNumber: 1,
      }),
    ).to.equal(1);
    const v1 = await CaseStudyVersion.findOne({ caseStudyId: doc!._id, number: 1 }).lean();
    expect(v1!.sections['basic-info']).not.to.contain('二十歳代');
    await sessions.coordinator.get(`/case-studies/${caseId}/diff?from=1&to=2`).expect(404);
  });

  it('an approved case study counts for the program (overview) once approved', async () => {
    const before = await sessions.author.get(`/learn/${PROGRAM}`).expect(200);
    expect(before.text).not.to.contain('承認済み');
    expect(await approveCaseStudy(caseId, users.admin.id)).to.equal(true);
    const after = await sessions.author.get(`/learn/${PROGRAM}`).expect(200);
    expect(after.text).to.contain('承認済み');
    const page = await sessions.author.get(PAGE).expect(200);
    expect(page.text).to.contain('承認済み');
    expect(page.text).not.to.contain('取り下げる</button>');
  });

  it('deletes the attachments of approved case studies after the retention period, keeps the text, and records it', async () => {
    const doc = await CaseStudy.findById(caseId);
    const files = () =>
      t.database.connection.db!.collection('case_study_files.files').countDocuments();
    expect(await files()).to.equal(2);
    // Approved moments ago: a 1-day retention does not touch it yet.
    expect(await sweepCaseStudyFiles(1)).to.equal(0);
    expect(await files()).to.equal(2);
    // Two days later it does.
    const later = new Date(doc!.approvedAt!.getTime() + 2 * 24 * 60 * 60 * 1000);
    expect(await sweepCaseStudyFiles(1, later)).to.equal(1);
    expect(await files()).to.equal(0);
    expect(
      await t.database.connection.db!.collection('case_study_files.chunks').countDocuments(),
    ).to.equal(0);
    const swept = await CaseStudy.findById(caseId);
    expect(swept!.filesDeletedAt).to.be.instanceOf(Date);
    const event = await AuditEvent.findOne({ action: 'case_study.files_deleted' }).lean();
    expect(event!.details).to.deep.equal({ files: 2, retentionDays: 1 });
    // The text stays; the file link answers 404 with a reason.
    const v1 = await sessions.author.get(`/case-studies/${caseId}/versions/1`).expect(200);
    expect(v1.text).to.contain(SECRET);
    expect(v1.text).to.contain('保存期間を過ぎたため');
    const gone = await sessions.author.get(`/case-studies/${caseId}/files/${fileId}`).expect(404);
    expect(gone.text).to.contain('保存期間を過ぎたため削除されました');
    // Sweeping again changes nothing.
    expect(await sweepCaseStudyFiles(1, later)).to.equal(0);
  });
});
