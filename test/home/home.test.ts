import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import mongoose from 'mongoose';
import { CaseStudy } from '../../src/case-studies/case-study.model.js';
import { createInvitation } from '../../src/users/invitations.service.js';
import { completeTexts, postForm } from '../case-studies/helpers.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';

/** The count shown next to a to-do line of the home page. */
function countAfter(html: string, label: string): string | null {
  const at = html.indexOf(label);
  if (at < 0) return null;
  return /home-todo__count">([^<]+)/.exec(html.slice(at))?.[1] ?? null;
}

describe('GET / (a home page per role)', () => {
  let t: TestApp;
  let admin: SignedIn;
  let coordinator: SignedIn;
  let regional: SignedIn;
  let supervisor: SignedIn;
  let trainee: SignedIn;
  let naganoAuthorName: string;

  before(async function () {
    this.timeout(60_000);
    t = await createTestApp();
    await buildMunicipality('飯田市');
    await buildMunicipality('松本市');
    const a = await buildUser({ roles: ['admin'] });
    admin = await signIn(t.app, a.user, a.password);
    const c = await buildUser({ roles: ['coordinator'] });
    coordinator = await signIn(t.app, c.user, c.password);
    const r = await buildUser({ roles: ['regional_viewer'] });
    regional = await signIn(t.app, r.user, r.password);
    const s = await buildUser({ roles: ['supervisor', 'trainee'] });
    supervisor = await signIn(t.app, s.user, s.password);
    const tr = await buildUser({ name: '松代 一郎' });
    trainee = await signIn(t.app, tr.user, tr.password);

    // A case from 長野市 (the supervisor's region) and one from 飯田市, which nobody covers.
    const author = await buildUser({ name: '若穂 花子' });
    naganoAuthorName = author.user.name;
    const naganoAuthor = await signIn(t.app, author.user, author.password);
    await postForm(naganoAuthor, { texts: await completeTexts(), action: 'submit' }, 303);
    const iida = await buildUser({ municipality: '飯田市' });
    const iidaAuthor = await signIn(t.app, iida.user, iida.password);
    await postForm(iidaAuthor, { texts: await completeTexts(), action: 'submit' }, 303);

    // Two registrations waiting: one in 長野市, one in 松本市; one open invitation in 長野市.
    await buildUser({ status: 'pending' });
    await buildUser({ status: 'pending', municipality: '松本市' });
    await createInvitation({
      email: 'waiting@example.jp',
      roles: ['trainee'],
      municipalityId: String(c.user.municipalityId),
      invitedBy: String(c.user._id),
    });
  });
  after(async () => {
    await t.close();
  });

  it('shows a visitor what Tsunagu is and the sign-in button', async () => {
    const res = await request(t.app).get('/').expect(200);
    expect(res.text).to.contain('ログインして研修を始める');
    expect(res.text).not.to.contain('さんのホーム');
  });

  it('shows a trainee their progress and the first lesson as the next step', async () => {
    const res = await trainee.get('/').expect(200);
    expect(res.text).to.contain('松代 一郎 さんのホーム');
    expect(res.text).to.contain('home-progress__percent">0%');
    expect(res.text).to.match(
      /href="\/learn\/basic-training\/understanding\/[^"]+">学習を始める：/,
    );
    expect(res.text).not.to.contain('確認を待っているレポート');
    expect(res.text).not.to.contain('承認待ちの利用登録');
  });

  it('shows a supervisor who is also a trainee both parts, with the case waiting for them', async () => {
    const res = await supervisor.get('/').expect(200);
    expect(res.text).to.contain('確認を待っているレポート');
    expect(res.text).to.contain('1件のレポートが確認を待っています');
    const waiting = await CaseStudy.findOne({
      state: 'submitted',
      assignedSupervisorIds: mongoose.trusted({ $size: 1 }),
    });
    expect(res.text).to.contain(
      `href="/review/${String(waiting!._id)}">${naganoAuthorName} さん（長野市）`,
    );
    expect(res.text).to.contain('home-progress__percent">0%');
  });

  it("shows a coordinator their municipality's waiting registrations and invitations only", async () => {
    const res = await coordinator.get('/').expect(200);
    expect(res.text).to.contain('長野市の担当業務');
    expect(countAfter(res.text, '承認待ちの利用登録')).to.equal('1件');
    expect(countAfter(res.text, '登録を待っている招待')).to.equal('1件');
    expect(res.text).not.to.contain('home-progress__percent');
  });

  it('counts the trainees of the municipality and those who have begun learning', async () => {
    let res = await coordinator.get('/').expect(200);
    expect(res.text).to.contain('受講者（学習を始めた方 0人）');
    expect(countAfter(res.text, '受講者（学習を始めた方')).to.equal('3人');
    await trainee.get('/learn/basic-training/understanding/numbers').expect(200);
    res = await coordinator.get('/').expect(200);
    expect(res.text).to.contain('受講者（学習を始めた方 1人）');
  });

  it('shows a regional viewer their region', async () => {
    const res = await regional.get('/').expect(200);
    expect(res.text).to.contain('長野圏域の状況');
    expect(countAfter(res.text, '承認待ちの利用登録')).to.equal('1件');
  });

  it('shows an administrator unassigned cases, pending registrations and undelivered mail', async () => {
    let res = await admin.get('/').expect(200);
    expect(res.text).to.contain('対応が必要なこと');
    expect(countAfter(res.text, '担当のスーパーバイザーが決まっていないレポート')).to.equal('1件');
    expect(countAfter(res.text, '承認待ちの利用登録')).to.equal('2件');
    expect(res.text).not.to.contain('届かなかったメール');

    // A message the mail server refused is kept in the outbox, marked (src/mail/mailer.ts).
    const outbox = path.join(t.config.dataDir, 'outbox');
    await mkdir(outbox, { recursive: true });
    await writeFile(
      path.join(outbox, `${Date.now()}-0a1b2c3d.eml`),
      'From: a@example.jp\r\nTo: b@example.jp\r\nSubject: test\r\nX-Tsunagu-Undelivered: SMTP delivery failed\r\n\r\nbody\r\n',
    );
    res = await admin.get('/').expect(200);
    expect(countAfter(res.text, '届かなかったメール')).to.equal('1通');
  });
});

describe('GET / (an administrator with nothing to do)', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('says that nothing needs attention', async () => {
    const a = await buildUser({ roles: ['admin'] });
    const session = await signIn(t.app, a.user, a.password);
    const res = await session.get('/').expect(200);
    expect(res.text).to.contain('いま対応が必要なことはありません。');
  });
});

describe("the footer's center contact (CENTER_CONTACT)", () => {
  it('shows the configured contact on every page, and no contact line when unset', async () => {
    const withContact = await createTestApp({
      CENTER_CONTACT: '電話 026-000-0000（平日 8:30〜17:15）',
    });
    try {
      for (const url of ['/', '/login', '/no-such-page']) {
        const res = await request(withContact.app).get(url);
        expect(res.text, url).to.contain(
          '<p class="site-footer__contact">お問い合わせ：電話 026-000-0000（平日 8:30〜17:15）</p>',
        );
      }
    } finally {
      await withContact.close();
    }
    const without = await createTestApp();
    try {
      const res = await request(without.app).get('/').expect(200);
      expect(res.text).not.to.contain('site-footer__contact');
    } finally {
      await without.close();
    }
  });
});
