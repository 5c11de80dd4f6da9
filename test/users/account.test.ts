import { expect } from 'chai';
import request from 'supertest';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { anonymousAgent, lastMailTo, linkIn, readOutbox, signIn } from '../helpers/auth.js';
import { eventually } from '../helpers/eventually.js';
import { buildUser } from '../helpers/factories.js';

describe('/account', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('shows one’s own profile', async () => {
    const { user, password } = await buildUser({
      roles: ['trainee', 'supervisor'],
      municipality: '松本市',
    });
    const session = await signIn(t.app, user, password);
    const res = await session.get('/account').expect(200);
    expect(res.text).to.contain(user.name);
    expect(res.text).to.contain(user.email);
    expect(res.text).to.contain('受講者、スーパーバイザー');
    expect(res.text).to.contain('松本市');
    expect(res.text).to.contain('松本圏域');
  });

  it('sends anonymous visitors to the login page', async () => {
    await request(t.app).get('/account').expect(302).expect('location', '/login?next=%2Faccount');
    await request(t.app).get('/account').set('accept', 'application/json').expect(401);
  });

  it('changes the password when the current one is given, keeping this session', async () => {
    const { user, password } = await buildUser();
    const session = await signIn(t.app, user, password);
    const other = await signIn(t.app, user, password);
    const wrong = await session
      .post('/account/password', {
        currentPassword: 'not-my-password',
        password: 'karuizawa-summer-88',
        passwordConfirm: 'karuizawa-summer-88',
      })
      .expect(422);
    expect(wrong.text).to.contain('現在のパスワードが正しくありません。');
    const weak = await session
      .post('/account/password', {
        currentPassword: password,
        password: 'qwertyuiop',
        passwordConfirm: 'qwertyuiop',
      })
      .expect(422);
    expect(weak.text).to.contain('推測されやすい');
    const same = await session
      .post('/account/password', {
        currentPassword: password,
        password: user.email,
        passwordConfirm: user.email,
      })
      .expect(422);
    expect(same.text).to.contain('メールアドレスや氏名と同じパスワードは使えません。');

    await session
      .post('/account/password', {
        currentPassword: password,
        password: 'karuizawa-summer-88',
        passwordConfirm: 'karuizawa-summer-88',
      })
      .expect(302)
      .expect('location', '/account');
    const page = await session.get('/account').expect(200);
    expect(page.text).to.contain('パスワードを変更しました。');
    // The other session ended.
    expect((await other.get('/').expect(200)).text).not.to.contain(`${user.name} さん`);
    await signIn(t.app, user, 'karuizawa-summer-88');
    const { agent, csrfToken } = await anonymousAgent(t.app);
    await agent
      .post('/login')
      .type('form')
      .send({ email: user.email, password, _csrf: csrfToken })
      .expect(401);
    expect((await lastMailTo(t.config, user.email)).subject).to.contain(
      'パスワードが変更されました',
    );
    expect(
      await AuditEvent.countDocuments({ action: 'auth.password_changed', targetId: user._id }),
    ).to.equal(1);
  });

  it('limits wrong current passwords to 5 in 15 minutes per account, even from new sessions', async () => {
    const { user, password } = await buildUser();
    const change = (session: Awaited<ReturnType<typeof signIn>>, currentPassword: string) =>
      session.post('/account/password', {
        currentPassword,
        password: 'nozawa-onsen-snow-7',
        passwordConfirm: 'nozawa-onsen-snow-7',
      });
    const first = await signIn(t.app, user, password);
    for (let i = 0; i < 3; i++) await change(first, `guess-number-${i}`).expect(422);
    const second = await signIn(t.app, user, password);
    for (let i = 3; i < 5; i++) await change(second, `guess-number-${i}`).expect(422);
    const blocked = await change(second, password).expect(429);
    expect(blocked.text).to.contain('一時的にパスワードの変更を制限しています');
    expect(blocked.text).to.contain('約15分後にもう一度お試しください');
    // The password did not change.
    await signIn(t.app, user, password);
    expect(
      await AuditEvent.countDocuments({ action: 'auth.password_changed', targetId: user._id }),
    ).to.equal(0);
  });

  it('does not count the right current password towards the limit', async () => {
    const { user, password } = await buildUser();
    const session = await signIn(t.app, user, password);
    for (let i = 0; i < 6; i++) {
      await session
        .post('/account/password', {
          currentPassword: password,
          password: user.email,
          passwordConfirm: user.email,
        })
        .expect(422);
    }
  });

  it('ends older password-reset links when the password is changed here', async () => {
    const { user, password } = await buildUser();
    const { agent, csrfToken } = await anonymousAgent(t.app);
    await agent
      .post('/password/forgot')
      .type('form')
      .send({ email: user.email, _csrf: csrfToken })
      .expect(200);
    await eventually(
      async () => (await readOutbox(t.config)).some((mail) => mail.to.includes(user.email)),
      'the reset link is written',
    );
    const link = linkIn(await lastMailTo(t.config, user.email), '/password/reset?token=');
    await request(t.app).get(link).expect(200);
    const session = await signIn(t.app, user, password);
    await session
      .post('/account/password', {
        currentPassword: password,
        password: 'nozawa-onsen-snow-7',
        passwordConfirm: 'nozawa-onsen-snow-7',
      })
      .expect(302);
    const res = await request(t.app).get(link).expect(404);
    expect(res.text).to.contain('このリンクは無効です');
  });
});

describe('/admin/outbox', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('lists the written messages and opens one for an admin', async () => {
    const { user: admin, password } = await buildUser({ roles: ['admin'] });
    const { user } = await buildUser();
    const { agent, csrfToken } = await anonymousAgent(t.app);
    await agent
      .post('/password/forgot')
      .type('form')
      .send({ email: user.email, _csrf: csrfToken })
      .expect(200);
    // The link is mailed after the answer.
    await eventually(
      async () => (await readOutbox(t.config)).some((mail) => mail.to.includes(user.email)),
      'the reset link is written',
    );
    const session = await signIn(t.app, admin, password);
    const list = await session.get('/admin/outbox').expect(200);
    expect(list.text).to.contain('【つなぐ】パスワードの再設定');
    expect(list.text).to.contain(user.email);
    const id = /href="\/admin\/outbox\/([0-9a-f-]+)"/.exec(list.text)![1];
    const message = await session.get(`/admin/outbox/${id}`).expect(200);
    expect(message.text).to.contain('/password/reset?token=');
    expect(message.text).to.contain(user.name);
    await session.get('/admin/outbox/..%2F..%2Fsession-secret').expect(404);
    await session.get('/admin/outbox/0000000000000-00000000').expect(404);
  });

  it('is for administrators only', async () => {
    const { user, password } = await buildUser({ roles: ['coordinator'] });
    const session = await signIn(t.app, user, password);
    await session.get('/admin/outbox').expect(403);
    await request(t.app).get('/admin/outbox').expect(302);
  });
});
