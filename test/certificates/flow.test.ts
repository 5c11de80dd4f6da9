import { expect } from 'chai';
import request from 'supertest';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { CaseStudy } from '../../src/case-studies/case-study.model.js';
import { Certificate } from '../../src/certificates/certificate.model.js';
import { issueCertificate } from '../../src/certificates/certificate.service.js';
import { Notification } from '../../src/notifications/notification.model.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';
import { completeModule, realCatalog } from '../learning/helpers.js';
import { PROGRAM, completeTexts, postForm } from '../case-studies/helpers.js';
import { allLevels, postFeedback } from '../reviews/helpers.js';
import { binary, decodeQrOnPage, pdfText } from './helpers.js';

const BASE_URL = 'https://tsunagu.example.jp';
const squeeze = (text: string) => text.replace(/\s+/g, '');

describe('certificates: from completion to verification', function () {
  this.timeout(120_000);
  let t: TestApp;
  let trainee: SignedIn;
  let traineeId: string;
  let admin: SignedIn;
  let naganoCoordinator: SignedIn;
  let matsumotoCoordinator: SignedIn;
  let naganoId: string;

  before(async () => {
    t = await createTestApp({ BASE_URL });
    const nagano = await buildMunicipality('長野市');
    await buildMunicipality('松本市');
    naganoId = String(nagano._id);
    const [u, s, a, nc, mc] = await Promise.all([
      buildUser({ municipality: nagano, name: '𠮷野 髙橋' }),
      buildUser({ roles: ['supervisor'], municipality: nagano }),
      buildUser({ roles: ['admin'] }),
      buildUser({ roles: ['coordinator'], municipality: nagano }),
      buildUser({ roles: ['coordinator'], municipality: '松本市' }),
    ]);
    traineeId = String(u.user._id);
    trainee = await signIn(t.app, u.user, u.password);
    admin = await signIn(t.app, a.user, a.password);
    naganoCoordinator = await signIn(t.app, nc.user, nc.password);
    matsumotoCoordinator = await signIn(t.app, mc.user, mc.password);

    // The whole program through the real pages: case study approved, then every module.
    const supervisor = await signIn(t.app, s.user, s.password);
    await postForm(trainee, { texts: await completeTexts(), action: 'submit' }, 303);
    const caseStudy = await CaseStudy.findOne({ userId: u.user._id });
    await postFeedback(
      supervisor,
      String(caseStudy!._id),
      { action: 'decide', decision: 'approved', levels: await allLevels() },
      303,
    );
    for (const module of (await realCatalog()).program(PROGRAM)!.modules) {
      await completeModule(
        trainee,
        module.id,
        module.lessons.map((l) => l.id),
      );
    }
  });
  after(async () => {
    await t.close();
  });

  const certificateOf = () => Certificate.findOne({ userId: traineeId, valid: true }).lean();
  const download = (session: SignedIn | request.Agent, id: string, status = 200) => {
    const agent = 'agent' in session ? session.agent : session;
    return agent.get(`/certificates/${id}/pdf`).buffer(true).parse(binary).expect(status);
  };

  it('issues one certificate on completion, numbered in the fiscal year, and notifies the learner', async () => {
    const certificates = await Certificate.find({ userId: traineeId }).lean();
    expect(certificates).to.have.length(1);
    const [certificate] = certificates;
    expect(certificate.number).to.match(/^NAGANO-\d{4}-00001$/);
    expect(certificate).to.include({ name: '𠮷野 髙橋', programId: PROGRAM, kind: 'automatic' });
    expect(String(certificate.municipalityId)).to.equal(naganoId);
    expect(certificate.verificationCode).to.match(/^[A-Za-z0-9_-]{24}$/);
    const notification = await Notification.findOne({
      userId: traineeId,
      kind: 'certificate.issued',
    });
    expect(notification?.link).to.equal('/learn/me');
    expect(await AuditEvent.countDocuments({ action: 'certificate.issued' })).to.equal(1);
  });

  it('does not issue again when a quiz is passed again', async () => {
    const module = (await realCatalog()).program(PROGRAM)!.modules[0];
    await completeModule(trainee, module.id, []);
    expect(await Certificate.countDocuments({ userId: traineeId })).to.equal(1);
  });

  it('issues a missed certificate when the learner opens /learn/me', async () => {
    // As after a crash between the approval and the issue: completed, no certificate.
    await Certificate.deleteMany({ userId: traineeId });
    const page = await trainee.get('/learn/me').expect(200);
    const certificate = await certificateOf();
    expect(certificate, 'issued on the visit').not.to.equal(null);
    expect(page.text).to.contain(`/certificates/${String(certificate!._id)}/pdf`);
    expect(page.text).to.contain(certificate!.number);
    // Opening the page again issues nothing more.
    await trainee.get('/learn/me').expect(200);
    expect(await Certificate.countDocuments({ userId: traineeId })).to.equal(1);
  });

  it('lets the learner download the PDF, whose URL and QR code verify it without signing in', async () => {
    const certificate = (await certificateOf())!;
    const res = await download(trainee, String(certificate._id));
    expect(res.headers['content-type']).to.match(/^application\/pdf/);
    expect(res.headers['content-disposition']).to.contain(`${certificate.number}.pdf`);
    const pdf = res.body as Buffer;
    const url = `${BASE_URL}/verify/${certificate.verificationCode}`;
    const text = await pdfText(pdf);
    expect(squeeze(text)).to.contain('𠮷野髙橋');
    expect(text).to.contain(certificate.number);
    expect(text).to.contain(url);
    expect(await decodeQrOnPage(pdf)).to.equal(url);

    const page = await request(t.app).get(new URL(url).pathname).expect(200);
    expect(page.text).to.contain('この修了証書は有効です');
    expect(page.text).to.contain('𠮷野 髙橋');
    expect(page.text).to.contain(certificate.number);
    expect(page.text).to.contain('ひきこもり支援者 多職種基礎研修');
    const user = await User.findById(traineeId).lean();
    expect(page.text).not.to.contain(user!.email);
    expect(page.text).not.to.contain('長野市');
  });

  it('finds nothing by the number alone or by an unknown code (a plain 404)', async () => {
    const certificate = (await certificateOf())!;
    const byNumber = await request(t.app).get(`/verify/${certificate.number}`).expect(404);
    const unknown = await request(t.app)
      .get(`/verify/${'A'.repeat(24)}`)
      .expect(404);
    expect(byNumber.text).to.equal(unknown.text);
    expect(unknown.text).not.to.contain('失効');
  });

  it('refuses a manual issue while a valid certificate exists, with the message next to the field', async () => {
    const user = await User.findById(traineeId).lean();
    const res = await admin
      .post('/admin/certificates', {
        email: user!.email,
        programId: PROGRAM,
        completedOn: '2026-04-10',
        reason: '集合研修の修了',
      })
      .expect(422);
    expect(res.text).to.match(
      /field__error" id="field-programId-error">この利用者には、この研修の有効な修了証書がすでにあります/,
    );
    expect(res.text).to.contain('集合研修の修了'); // the input is kept
    expect(await Certificate.countDocuments({ userId: traineeId })).to.equal(1);
  });

  it('corrects the printed name: same number, audit-logged, the next PDF has the new name', async () => {
    const certificate = (await certificateOf())!;
    await admin
      .post(`/admin/certificates/${String(certificate._id)}/name`, { name: '𠮷野 髙橋 﨑子' })
      .expect(303);
    const after = (await certificateOf())!;
    expect(after.number).to.equal(certificate.number);
    expect(after.verificationCode).to.equal(certificate.verificationCode);
    const event = await AuditEvent.findOne({ action: 'certificate.name_corrected' }).lean();
    expect(event?.details).to.deep.include({ before: '𠮷野 髙橋', after: '𠮷野 髙橋 﨑子' });
    const pdf = (await download(admin, String(certificate._id))).body as Buffer;
    expect(squeeze(await pdfText(pdf))).to.contain('𠮷野髙橋﨑子');
  });

  it('lets the coordinator of the municipality list and download; another municipality gets 404', async () => {
    const certificate = (await certificateOf())!;
    const id = String(certificate._id);
    const list = await naganoCoordinator.get('/admin/certificates').expect(200);
    expect(list.text).to.contain(certificate.number);
    await download(naganoCoordinator, id);
    const other = await matsumotoCoordinator.get('/admin/certificates').expect(200);
    expect(other.text).not.to.contain(certificate.number);
    await download(matsumotoCoordinator, id, 404);
    await matsumotoCoordinator
      .get(`/admin/certificates/municipalities/${naganoId}/zip`)
      .expect(404);
  });

  it('streams a ZIP of the municipality’s valid certificates', async () => {
    const { user } = await buildUser({ municipality: '長野市', name: '山﨑 齋藤' });
    const admin2 = admin;
    await admin2
      .post('/admin/certificates', {
        email: user.email,
        programId: PROGRAM,
        completedOn: '2026-04-10',
        reason: '令和7年度の集合研修を修了',
      })
      .expect(303);
    const res = await naganoCoordinator.agent
      .get(`/admin/certificates/municipalities/${naganoId}/zip`)
      .buffer(true)
      .parse(binary)
      .expect(200);
    expect(res.headers['content-type']).to.match(/^application\/zip/);
    const zip = res.body as Buffer;
    expect(zip.subarray(0, 4).toString('latin1')).to.equal('PK\u0003\u0004');
    const numbers = (await Certificate.find({ municipalityId: naganoId, valid: true }).lean()).map(
      (c) => c.number,
    );
    expect(numbers).to.have.length(2);
    for (const number of numbers) expect(zip.includes(Buffer.from(number))).to.equal(true);
    expect(zip.includes(Buffer.from('山﨑 齋藤'))).to.equal(true); // UTF-8 file names
    // The PDFs are stored as they are (no second compression): two whole files inside.
    expect(zip.toString('latin1').split('%PDF-').length - 1).to.equal(2);
  });

  it('revokes once however often asked; the page and the PDF then say 失効', async () => {
    const certificate = (await certificateOf())!;
    const id = String(certificate._id);
    await admin.post(`/admin/certificates/${id}/revoke`, { reason: '' }).expect(422);
    await admin
      .post(`/admin/certificates/${id}/revoke`, { reason: '本人からの申し出' })
      .expect(303);
    const first = await Certificate.findById(id).lean();
    await admin.post(`/admin/certificates/${id}/revoke`, { reason: 'もう一度' }).expect(303);
    const second = await Certificate.findById(id).lean();
    expect(second!.valid).to.equal(false);
    expect(second!.revokedAt).to.deep.equal(first!.revokedAt);
    expect(second!.revokeReason).to.equal('本人からの申し出');
    expect(await AuditEvent.countDocuments({ action: 'certificate.revoked' })).to.equal(1);

    const page = await request(t.app).get(`/verify/${certificate.verificationCode}`).expect(200);
    expect(page.text).to.contain('この修了証書は失効しています');
    expect(page.text).not.to.contain('この修了証書は有効です');
    const pdf = (await download(trainee, id)).body as Buffer;
    expect(squeeze(await pdfText(pdf))).to.contain('失効しています');

    // A revocation stands: completing a quiz again issues nothing.
    const module = (await realCatalog()).program(PROGRAM)!.modules[1];
    await completeModule(trainee, module.id, []);
    await trainee.get('/learn/me').expect(200);
    expect(await Certificate.countDocuments({ userId: traineeId, valid: true })).to.equal(0);
    const me = await trainee.get('/learn/me').expect(200);
    expect(me.text).to.contain('失効');

    // An administrator may issue a new one by hand: a new number, the revoked one kept.
    const user = await User.findById(traineeId).lean();
    await admin
      .post('/admin/certificates', {
        email: user!.email,
        programId: PROGRAM,
        completedOn: '2026-04-10',
        reason: '氏名の誤りにより再発行',
      })
      .expect(303);
    const reissued = (await certificateOf())!;
    expect(reissued.number).not.to.equal(certificate.number);
    expect(reissued).to.include({ kind: 'manual', issueReason: '氏名の誤りにより再発行' });
    expect(await Certificate.countDocuments({ userId: traineeId })).to.equal(2);
  });

  it('shows the administrators a sample PDF for any name', async () => {
    const res = await admin.agent
      .get('/admin/certificates/preview/pdf')
      .query({ name: '齋藤 邉' })
      .buffer(true)
      .parse(binary)
      .expect(200);
    const text = squeeze(await pdfText(res.body as Buffer));
    expect(text).to.contain('齋藤邉');
    expect(text).to.contain('見本');
    await trainee.get('/admin/certificates/preview/pdf').expect(403);
  });
});

describe('certificates: the public page escapes what it shows', function () {
  this.timeout(30_000);
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('prints a name with markup as text', async () => {
    const { user } = await buildUser({ name: '<img src=x onerror=alert(1)> 花子' });
    const certificate = await issueCertificate({
      userId: String(user._id),
      program: { id: PROGRAM, title: '<b>研修</b>' },
      completedAt: new Date(),
      kind: 'automatic',
    });
    const page = await request(t.app).get(`/verify/${certificate.verificationCode}`).expect(200);
    expect(page.text).not.to.contain('<img src=x');
    expect(page.text).not.to.contain('<b>研修');
    expect(page.text).to.contain('&lt;img src=x onerror=alert(1)&gt; 花子');
  });
});

describe('certificates: verification is throttled', function () {
  this.timeout(60_000);
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('answers 429 after 30 lookups from one address within 15 minutes', async () => {
    for (let i = 0; i < 30; i++) {
      await request(t.app)
        .get(`/verify/${'B'.repeat(24)}`)
        .expect(404);
    }
    const res = await request(t.app)
      .get(`/verify/${'B'.repeat(24)}`)
      .expect(429);
    expect(res.text).to.contain('短い時間に多くの確認がありました');
  });
});
