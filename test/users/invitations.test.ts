import { expect } from 'chai';
import request from 'supertest';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { Invitation } from '../../src/users/invitation.model.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { csrfFrom, lastMailTo, linkIn, readOutbox, signIn } from '../helpers/auth.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';

const NEW_PASSWORD = 'zenkoji-temple-2026';

async function acceptForm(t: TestApp, path: string, form: Record<string, string>) {
  const agent = request.agent(t.app);
  const page = await agent.get(path).expect(200);
  const token = /name="token" value="([^"]+)"/.exec(page.text)![1];
  const res = await agent
    .post('/invitations/accept')
    .type('form')
    .send({ token, _csrf: csrfFrom(page.text), ...form });
  return { agent, page, res };
}

describe('invitations', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  describe('POST /invitations by an administrator', () => {
    it('mails a single-use link that creates an active account with the chosen roles', async () => {
      const { user: admin, password } = await buildUser({ roles: ['admin'] });
      const matsumoto = await buildMunicipality('松本市');
      const session = await signIn(t.app, admin, password);
      const form = await session.get('/invitations/new').expect(200);
      expect(form.text).to.contain('センター管理者');
      expect(form.text).to.contain('松本市');

      const res = await session
        .post('/invitations', {
          email: 'Sensei@School.example.jp',
          roles: ['trainee', 'supervisor'],
          municipalityId: String(matsumoto._id),
        })
        .expect(302);
      expect(res.headers.location).to.equal('/invitations');
      const stored = await Invitation.findOne({ email: 'sensei@school.example.jp' }).lean();
      expect(stored?.tokenHash).to.match(/^[0-9a-f]{64}$/);
      const days = (stored!.expiresAt.getTime() - Date.now()) / 86_400_000;
      expect(days).to.be.closeTo(7, 0.01);

      const mail = await lastMailTo(t.config, 'sensei@school.example.jp');
      expect(mail.subject).to.equal('【つなぐ】研修システムへの招待');
      expect(mail.text).to.contain('松本市');
      expect(mail.text).to.contain('受講者、スーパーバイザー');
      const path = linkIn(mail, '/invitations/accept?token=');
      expect(mail.text).not.to.contain(stored!.tokenHash);

      const {
        agent,
        page,
        res: accepted,
      } = await acceptForm(t, path, {
        name: '松本 先生',
        nameKana: 'まつもと せんせい',
        profession: '教員',
        password: NEW_PASSWORD,
        passwordConfirm: NEW_PASSWORD,
      });
      expect(page.text).to.contain('sensei@school.example.jp');
      expect(accepted.status).to.equal(302);
      const home = await agent.get('/').expect(200);
      expect(home.text).to.contain('松本 先生 さん');

      const created = await User.findOne({ email: 'sensei@school.example.jp' }).lean();
      expect(created?.status).to.equal('active');
      // The production cost (test users from the factory carry a cheaper one).
      const { passwordHash } = (await User.findById(created!._id).select('+passwordHash').lean())!;
      expect(passwordHash).to.match(/^scrypt\$N=32768,r=8,p=1\$/);
      expect(created?.roles).to.deep.equal(['trainee', 'supervisor']);
      expect(String(created?.municipalityId)).to.equal(String(matsumoto._id));
      expect(String(created?.regionId)).to.equal(String(matsumoto.regionId));
      expect(await AuditEvent.countDocuments({ action: 'invitation.created' })).to.be.at.least(1);
      expect(
        await AuditEvent.countDocuments({ action: 'invitation.accepted', targetId: created!._id }),
      ).to.equal(1);

      // Single use.
      const again = await request(t.app).get(path).expect(404);
      expect(again.text).to.contain('この招待リンクは無効です');
    });

    it('refuses an expired link', async () => {
      const { user: admin, password } = await buildUser({ roles: ['admin'] });
      const session = await signIn(t.app, admin, password);
      await session.post('/invitations', { email: 'late@example.jp', roles: 'admin' }).expect(302);
      await Invitation.updateOne(
        { email: 'late@example.jp' },
        { $set: { expiresAt: new Date(Date.now() - 1000) } },
      );
      const path = linkIn(
        await lastMailTo(t.config, 'late@example.jp'),
        '/invitations/accept?token=',
      );
      const res = await request(t.app).get(path).expect(404);
      expect(res.text).to.contain('有効期限（7日間）');
    });

    it('keeps the input and explains each field when the form is wrong', async () => {
      const { user: admin, password } = await buildUser({ roles: ['admin'] });
      const { user: existing } = await buildUser();
      const session = await signIn(t.app, admin, password);
      const res = await session
        .post('/invitations', { email: 'not-an-address', roles: [] })
        .expect(422);
      expect(res.text).to.contain('メールアドレスの形式が正しくありません');
      expect(res.text).to.contain('役割を1つ以上選択してください。');
      expect(res.text).to.contain('value="not-an-address"');
      const taken = await session.post('/invitations', {
        email: existing.email,
        roles: 'trainee',
        municipalityId: '',
      });
      expect(taken.status).to.equal(422);
      expect(taken.text).to.contain('すでに登録されています');
      expect(taken.text).to.contain('市町村を選択してください。');
    });

    it('shows field messages on the acceptance form and keeps the input', async () => {
      const { user: admin, password } = await buildUser({ roles: ['admin'] });
      const session = await signIn(t.app, admin, password);
      const nagano = await buildMunicipality('長野市');
      await session
        .post('/invitations', {
          email: 'typo@example.jp',
          roles: 'trainee',
          municipalityId: String(nagano._id),
        })
        .expect(302);
      const path = linkIn(
        await lastMailTo(t.config, 'typo@example.jp'),
        '/invitations/accept?token=',
      );
      const { res } = await acceptForm(t, path, {
        name: '長野 太郎',
        nameKana: 'Nagano',
        profession: '',
        password: 'password123',
        passwordConfirm: 'password123',
      });
      expect(res.status).to.equal(422);
      expect(res.text).to.contain('value="長野 太郎"');
      expect(res.text).to.contain('ふりがなは、ひらがなまたはカタカナで入力してください。');
      expect(res.text).to.contain('職種を選択してください。');
      expect(res.text).to.contain('推測されやすいため');
      const mismatch = await acceptForm(t, path, {
        name: '長野 太郎',
        nameKana: 'ながの たろう',
        profession: '保健師',
        password: NEW_PASSWORD,
        passwordConfirm: NEW_PASSWORD + 'x',
      });
      expect(mismatch.res.status).to.equal(422);
      expect(mismatch.res.text).to.contain('確認用のパスワードが一致しません');
      expect(await User.countDocuments({ email: 'typo@example.jp' })).to.equal(0);
    });
  });

  describe('POST /invitations by a coordinator', () => {
    it('invites trainees into the coordinator’s own municipality only', async () => {
      const { user: coordinator, password } = await buildUser({
        roles: ['coordinator'],
        municipality: '長野市',
      });
      const matsumoto = await buildMunicipality('松本市');
      const session = await signIn(t.app, coordinator, password);
      const form = await session.get('/invitations/new').expect(200);
      expect(form.text).not.to.contain('value="supervisor"');
      expect(form.text).to.contain('長野市');

      // A forged municipality is ignored: the invitation is for 長野市.
      await session
        .post('/invitations', {
          email: 'trainee1@example.jp',
          roles: 'trainee',
          municipalityId: String(matsumoto._id),
        })
        .expect(302);
      const invitation = await Invitation.findOne({ email: 'trainee1@example.jp' }).lean();
      expect(String(invitation?.municipalityId)).to.equal(String(coordinator.municipalityId));

      const res = await session
        .post('/invitations', { email: 'boss@example.jp', roles: 'admin' })
        .expect(422);
      expect(res.text).to.contain('選択できない役割が含まれています。');
      expect(await Invitation.countDocuments({ email: 'boss@example.jp' })).to.equal(0);
      const outbox = await readOutbox(t.config);
      expect(outbox.some((mail) => mail.to.includes('boss@example.jp'))).to.equal(false);
    });

    it('lists and revokes only its own municipality’s invitations', async () => {
      const { user: admin, password: adminPassword } = await buildUser({ roles: ['admin'] });
      const matsumoto = await buildMunicipality('松本市');
      const adminSession = await signIn(t.app, admin, adminPassword);
      await adminSession
        .post('/invitations', {
          email: 'other@example.jp',
          roles: 'trainee',
          municipalityId: String(matsumoto._id),
        })
        .expect(302);
      const other = await Invitation.findOne({ email: 'other@example.jp' }).lean();

      const { user: coordinator, password } = await buildUser({
        roles: ['coordinator'],
        municipality: '長野市',
      });
      const session = await signIn(t.app, coordinator, password);
      const list = await session.get('/invitations').expect(200);
      expect(list.text).not.to.contain('other@example.jp');
      await session.post(`/invitations/${String(other!._id)}/revoke`).expect(404);
      expect((await Invitation.findById(other!._id).lean())?.revokedAt).to.equal(null);
    });

    it('is refused to trainees and supervisors', async () => {
      const { user, password } = await buildUser({ roles: ['trainee', 'supervisor'] });
      const session = await signIn(t.app, user, password);
      await session.get('/invitations/new').expect(403);
      await session.post('/invitations', { email: 'x@example.jp', roles: 'trainee' }).expect(403);
    });
  });
});
