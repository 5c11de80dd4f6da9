import { expect } from 'chai';
import request from 'supertest';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { anonymousAgent, lastMailTo, readOutbox, signIn } from '../helpers/auth.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';

const PASSWORD = 'matsumoto-castle-1594';

describe('self-registration and approvals', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  async function register(form: Record<string, string>) {
    const { agent, csrfToken } = await anonymousAgent(t.app);
    return agent
      .post('/register')
      .type('form')
      .send({ ...form, _csrf: csrfToken });
  }

  async function validForm(email: string, municipality = '長野市') {
    const m = await buildMunicipality(municipality);
    return {
      name: '善光寺 花子',
      nameKana: 'ぜんこうじ はなこ',
      email,
      profession: '社会福祉士',
      municipalityId: String(m._id),
      organisationId: '',
      password: PASSWORD,
      passwordConfirm: PASSWORD,
    };
  }

  it('GET /register shows municipalities grouped by region', async () => {
    await buildMunicipality('長野市');
    await buildMunicipality('松本市');
    const res = await request(t.app).get('/register').expect(200);
    expect(res.text).to.contain('<optgroup label="長野圏域">');
    expect(res.text).to.contain('松本市');
  });

  it('creates a pending account, mails the applicant and the coordinator, who approves it', async () => {
    const { user: coordinator, password } = await buildUser({
      roles: ['coordinator'],
      municipality: '長野市',
    });
    const res = await register(await validForm('Applicant@Example.jp'));
    expect(res.status).to.equal(201);
    expect(res.text).to.contain('利用登録の申請を受け付けました');
    const pending = await User.findOne({ email: 'applicant@example.jp' }).lean();
    expect(pending?.status).to.equal('pending');
    expect(pending?.roles).to.deep.equal(['trainee']);
    expect((await lastMailTo(t.config, 'applicant@example.jp')).subject).to.contain(
      '受け付けました',
    );
    expect((await lastMailTo(t.config, coordinator.email)).text).to.contain('/approvals');

    // Cannot sign in yet.
    const early = await anonymousAgent(t.app);
    const refused = await early.agent
      .post('/login')
      .type('form')
      .send({ email: 'applicant@example.jp', password: PASSWORD, _csrf: early.csrfToken })
      .expect(403);
    expect(refused.text).to.contain('まだ承認されていません');

    const session = await signIn(t.app, coordinator, password);
    const list = await session.get('/approvals').expect(200);
    expect(list.text).to.contain('善光寺 花子');
    await session.post(`/approvals/${String(pending!._id)}/approve`).expect(302);
    const approved = await User.findById(pending!._id).lean();
    expect(approved?.status).to.equal('active');
    expect(String(approved?.approvedBy)).to.equal(String(coordinator._id));
    expect((await lastMailTo(t.config, 'applicant@example.jp')).subject).to.contain(
      '承認されました',
    );
    expect(
      await AuditEvent.countDocuments({ action: 'user.approved', targetId: pending!._id }),
    ).to.equal(1);

    await signIn(t.app, { email: 'applicant@example.jp' }, PASSWORD);
  });

  it('does not let a coordinator of another municipality see or approve the application (404)', async () => {
    const { user: matsumotoCoordinator, password } = await buildUser({
      roles: ['coordinator'],
      municipality: '松本市',
    });
    await register(await validForm('naganoperson@example.jp', '長野市'));
    const pending = await User.findOne({ email: 'naganoperson@example.jp' }).lean();
    const session = await signIn(t.app, matsumotoCoordinator, password);
    const list = await session.get('/approvals').expect(200);
    expect(list.text).not.to.contain('naganoperson@example.jp');
    await session.post(`/approvals/${String(pending!._id)}/approve`).expect(404);
    await session.post(`/approvals/${String(pending!._id)}/reject`).expect(404);
    expect((await User.findById(pending!._id).lean())?.status).to.equal('pending');
  });

  it('lets an admin reject an application: removed, mailed and audited', async () => {
    const { user: admin, password } = await buildUser({ roles: ['admin'] });
    await register(await validForm('rejectme@example.jp', '松本市'));
    const pending = await User.findOne({ email: 'rejectme@example.jp' }).lean();
    const session = await signIn(t.app, admin, password);
    await session.post(`/approvals/${String(pending!._id)}/reject`).expect(302);
    expect(await User.countDocuments({ email: 'rejectme@example.jp' })).to.equal(0);
    expect((await lastMailTo(t.config, 'rejectme@example.jp')).subject).to.equal(
      '【つなぐ】利用登録について',
    );
    expect(
      await AuditEvent.countDocuments({ action: 'user.rejected', targetId: pending!._id }),
    ).to.equal(1);
  });

  it('answers an address that already has an account exactly as a new one, and mails its owner', async () => {
    const { user } = await buildUser({ name: '既存 利用者' });
    const fresh = await register(await validForm('brand-new@example.jp'));
    const taken = await register(await validForm(user.email.toUpperCase()));
    expect(taken.status).to.equal(fresh.status);
    const same = (res: request.Response, email: string) =>
      res.text.replace(/name="_csrf" value="[^"]+"/g, '').replaceAll(email, '<address>');
    expect(same(taken, user.email)).to.equal(same(fresh, 'brand-new@example.jp'));
    expect(taken.text).not.to.contain('すでに登録されています');
    // Nothing changed on the account; its owner is told instead.
    expect(await User.countDocuments({ email: user.email })).to.equal(1);
    const stored = await User.findById(user._id).lean();
    expect(stored!.name).to.equal('既存 利用者');
    expect(stored!.status).to.equal('active');
    const mail = await lastMailTo(t.config, user.email);
    expect(mail.subject).to.equal('【つなぐ】利用登録の申請について');
    expect(mail.text).to.contain('新しいアカウントは作成していません');
    expect(mail.text).to.contain('/password/forgot');
  });

  it('validates every field in Japanese and keeps the input', async () => {
    const res = await register({
      name: '',
      nameKana: 'hanako',
      email: 'bad',
      profession: 'wizard',
      municipalityId: 'abc',
      password: 'short',
      passwordConfirm: 'short',
    });
    expect(res.status).to.equal(422);
    for (const message of [
      '氏名を入力してください。',
      'ふりがなは、ひらがなまたはカタカナで入力してください。',
      'メールアドレスの形式が正しくありません',
      '職種を選択してください。',
      '市町村を選択してください。',
      'パスワードは10文字以上で入力してください。',
    ]) {
      expect(res.text).to.contain(message);
    }
    expect(res.text).to.contain('value="hanako"');
    expect(res.text).not.to.contain('value="short"');
  });

  it('rejects operator injection in the body', async () => {
    const { agent, csrfToken } = await anonymousAgent(t.app);
    const form = await validForm('inject@example.jp');
    const res = await agent
      .post('/register')
      .set('x-csrf-token', csrfToken)
      .send({ ...form, municipalityId: { $ne: null }, email: { $gt: '' } });
    expect(res.status).to.equal(422);
    expect(await User.countDocuments({ email: 'inject@example.jp' })).to.equal(0);
  });

  it('refuses the approvals page to trainees and anonymous visitors', async () => {
    await request(t.app)
      .get('/approvals')
      .expect(302)
      .expect('location', '/login?next=%2Fapprovals');
    const { user, password } = await buildUser();
    const session = await signIn(t.app, user, password);
    await session.get('/approvals').expect(403);
    const mails = await readOutbox(t.config);
    expect(mails.length).to.be.greaterThan(0);
  });
});
