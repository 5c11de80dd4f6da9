import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { expect } from 'chai';
import request from 'supertest';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { PasswordReset } from '../../src/auth/password-reset.model.js';
import { hashToken } from '../../src/auth/tokens.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import {
  anonymousAgent,
  csrfFrom,
  lastMailTo,
  linkIn,
  readOutbox,
  signIn,
} from '../helpers/auth.js';
import { eventually } from '../helpers/eventually.js';
import { buildUser } from '../helpers/factories.js';

const NEW_PASSWORD = 'suwa-lake-ice-2026';

describe('password reset', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  /** Asks for a link, and waits for the request's handling (which follows the answer). */
  async function requestReset(email: string) {
    const handled = () => AuditEvent.countDocuments({ action: 'auth.password_reset_requested' });
    const before = await handled();
    const { agent, csrfToken } = await anonymousAgent(t.app);
    const res = await agent
      .post('/password/forgot')
      .type('form')
      .send({ email, _csrf: csrfToken })
      .expect(200);
    await eventually(async () => (await handled()) > before, 'the request is handled');
    return res;
  }

  async function submitReset(path: string, password: string, confirm = password) {
    const agent = request.agent(t.app);
    const page = await agent.get(path).expect(200);
    const token = /name="token" value="([^"]+)"/.exec(page.text)![1];
    return agent
      .post('/password/reset')
      .type('form')
      .send({ token, password, passwordConfirm: confirm, _csrf: csrfFrom(page.text) });
  }

  it('mails a one-hour single-use link; the new password works and the old one and old sessions do not', async () => {
    const { user, password } = await buildUser();
    const oldSession = await signIn(t.app, user, password);
    const known = await requestReset(user.email);
    const mail = await lastMailTo(t.config, user.email);
    expect(mail.subject).to.equal('【つなぐ】パスワードの再設定');
    const path = linkIn(mail, '/password/reset?token=');
    const token = new URL(path, 'http://x').searchParams.get('token')!;
    const stored = await PasswordReset.findOne({ userId: user._id }).lean();
    expect(stored?.tokenHash).to.equal(hashToken(token));
    expect((stored!.expiresAt.getTime() - Date.now()) / 60_000).to.be.closeTo(60, 0.1);

    const weak = await submitReset(path, 'password1234');
    expect(weak.status).to.equal(422);
    expect(weak.text).to.contain('推測されやすい');
    const done = await submitReset(path, NEW_PASSWORD);
    expect(done.status).to.equal(302);
    expect(done.headers.location).to.equal('/login');

    await signIn(t.app, user, NEW_PASSWORD);
    const { agent, csrfToken } = await anonymousAgent(t.app);
    await agent
      .post('/login')
      .type('form')
      .send({ email: user.email, password, _csrf: csrfToken })
      .expect(401);
    // The session opened before the reset has ended.
    expect((await oldSession.get('/').expect(200)).text).not.to.contain(`${user.name} さん`);
    // Single use.
    await request(t.app).get(path).expect(404);
    expect((await lastMailTo(t.config, user.email)).subject).to.equal(
      '【つなぐ】パスワードが変更されました',
    );
    expect(
      await AuditEvent.countDocuments({ action: 'auth.password_reset', targetId: user._id }),
    ).to.equal(1);
    expect(known.text).to.contain('登録されている場合は');
  });

  it('answers an unknown address exactly as a known one and sends nothing', async () => {
    const before = (await readOutbox(t.config)).length;
    const unknown = await requestReset('nobody-here@example.jp');
    const { user } = await buildUser();
    const known = await requestReset(user.email);
    const strip = (html: string) => html.replace(/name="_csrf" value="[^"]+"/g, '');
    expect(strip(unknown.text)).to.equal(strip(known.text));
    expect((await readOutbox(t.config)).length).to.equal(before + 1);
  });

  it('refuses an expired link', async () => {
    const { user } = await buildUser();
    await requestReset(user.email);
    await PasswordReset.updateMany(
      { userId: user._id },
      { $set: { expiresAt: new Date(Date.now() - 1) } },
    );
    const path = linkIn(await lastMailTo(t.config, user.email), '/password/reset?token=');
    const res = await request(t.app).get(path).expect(404);
    expect(res.text).to.contain('有効期限（1時間）');
  });

  it('refuses a forged token and a malformed one', async () => {
    await request(t.app)
      .get('/password/reset?token=' + 'a'.repeat(43))
      .expect(404);
    await request(t.app).get('/password/reset?token[$ne]=x').expect(404);
    const { agent, csrfToken } = await anonymousAgent(t.app);
    await agent
      .post('/password/reset')
      .set('x-csrf-token', csrfToken)
      .send({ token: { $ne: null }, password: NEW_PASSWORD, passwordConfirm: NEW_PASSWORD })
      .expect(404);
  });

  it('does not mail a suspended account', async () => {
    const { user } = await buildUser({ status: 'suspended' });
    await requestReset(user.email);
    const mails = (await readOutbox(t.config)).filter((mail) => mail.to.includes(user.email));
    expect(mails).to.have.length(0);
  });
});

describe('POST /password/forgot with a slow mail server', () => {
  let t: TestApp;
  let smtp: Server;
  const sockets = new Set<Socket>();
  before(async () => {
    // A mail server that accepts connections and never answers.
    smtp = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const { port } = smtp.address() as AddressInfo;
    t = await createTestApp({ SMTP_URL: `smtp://127.0.0.1:${port}` });
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    smtp.close();
    await t.close();
  });

  it('answers without waiting for the mail, the same for a known and an unknown address', async () => {
    const { user } = await buildUser();
    const ask = async (email: string) => {
      const { agent, csrfToken } = await anonymousAgent(t.app);
      return agent
        .post('/password/forgot')
        .type('form')
        .send({ email, _csrf: csrfToken })
        .timeout(5_000)
        .expect(200);
    };
    const known = await ask(user.email);
    const unknown = await ask('nobody-here@example.jp');
    const strip = (html: string) => html.replace(/name="_csrf" value="[^"]+"/g, '');
    expect(strip(known.text)).to.equal(strip(unknown.text));
    // The link is made all the same, and the mail is on its way.
    await eventually(
      async () => (await PasswordReset.countDocuments({ userId: user._id })) === 1,
      'the link is made',
    );
  });
});
