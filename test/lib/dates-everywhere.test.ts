import { expect } from 'chai';
import { issueCertificate } from '../../src/certificates/certificate.service.js';
import { Invitation } from '../../src/users/invitation.model.js';
import { PROGRAM } from '../case-studies/helpers.js';
import { pdfText } from '../certificates/helpers.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { lastMailTo, signIn } from '../helpers/auth.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';

/** 2026年12月1日 and 2026年12月1日 18:05, written out (not read from src/lib/dates.ts). */
const DAY = /^\d{4}年\d{1,2}月\d{1,2}日$/;
const DAY_TIME = /^\d{4}年\d{1,2}月\d{1,2}日 \d{1,2}:\d{2}$/;

describe('one date format on pages, in mails and in exports', function () {
  this.timeout(60_000);
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('writes an invitation’s expiry the same way in the mail and on /invitations', async () => {
    const { user: admin, password } = await buildUser({ roles: ['admin'] });
    const session = await signIn(t.app, admin, password);
    const municipality = await buildMunicipality('松本市');
    await session
      .post('/invitations', {
        email: 'dates@example.jp',
        roles: ['trainee'],
        municipalityId: String(municipality._id),
      })
      .expect(302);
    const mail = await lastMailTo(t.config, 'dates@example.jp');
    const inMail = /このリンクは (.+) まで/.exec(mail.text)?.[1];
    expect(inMail).to.match(DAY_TIME);

    // The expiry in Japan time, written out by hand from the stored instant.
    const { expiresAt } = (await Invitation.findOne({ email: 'dates@example.jp' }).lean())!;
    const jst = new Date(expiresAt.getTime() + 9 * 3_600_000);
    const expected =
      `${jst.getUTCFullYear()}年${jst.getUTCMonth() + 1}月${jst.getUTCDate()}日 ` +
      `${jst.getUTCHours()}:${String(jst.getUTCMinutes()).padStart(2, '0')}`;
    expect(inMail).to.equal(expected);

    const page = await session.get('/invitations').expect(200);
    expect(page.text).to.contain(expected);
  });

  it('writes a completion day the same way on the certificates page and in the PDF', async () => {
    const { user: admin, password } = await buildUser({ roles: ['admin'] });
    const { user: trainee } = await buildUser({ name: '日付 確認' });
    const certificate = await issueCertificate({
      userId: String(trainee._id),
      program: { id: PROGRAM, title: '研修' },
      completedAt: new Date('2026-11-30T15:30:00Z'), // 1 December in Japan
      kind: 'automatic',
    });
    const session = await signIn(t.app, admin, password);

    const list = await session.get('/admin/certificates').expect(200);
    expect(list.text).to.contain('2026年12月1日');
    expect('2026年12月1日').to.match(DAY);
    expect(list.text).not.to.contain('2026-12-01');
    expect(list.text).not.to.contain('2026/12/01');

    const pdf = await session
      .get(`/certificates/${String(certificate._id)}/pdf`)
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      })
      .expect(200);
    const text = (await pdfText(pdf.body as Buffer)).replace(/\s+/g, '');
    // A document gives the era and the Western date as the issue asks: 令和8年12月1日（2026-12-01）.
    expect(text).to.contain('令和8年12月1日（2026-12-01）');
  });
});
