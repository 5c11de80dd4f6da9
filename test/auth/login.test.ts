import { expect } from 'chai';
import request from 'supertest';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { ThrottleCounter, MAX_FAILURES_PER_ACCOUNT, accountKey } from '../../src/auth/throttle.js';
import { SESSION_IDLE_MINUTES } from '../../src/http/session.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { anonymousAgent, csrfFrom, signIn } from '../helpers/auth.js';
import { eventually } from '../helpers/eventually.js';
import { buildUser } from '../helpers/factories.js';

const FAILED = 'メールアドレスまたはパスワードが正しくありません。';

function sessionCookie(res: request.Response): string | undefined {
  const cookies = res.headers['set-cookie'] as unknown as string[] | undefined;
  return cookies?.find((cookie) => cookie.startsWith('tsunagu.sid='))?.split(';')[0];
}

describe('sign-in', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  describe('GET /login', () => {
    it('shows a Japanese form with a CSRF token', async () => {
      const res = await request(t.app).get('/login').expect(200);
      expect(res.text).to.contain('<h1>ログイン</h1>');
      expect(res.text).to.contain('name="email"');
      expect(res.text).to.contain('type="password"');
      expect(csrfFrom(res.text)).to.have.length.greaterThan(10);
    });
  });

  describe('POST /login', () => {
    it('signs in, regenerates the session id, records lastLoginAt and an audit event', async () => {
      const { user, password } = await buildUser({ email: 'Hanako@Example.jp' });
      const agent = request.agent(t.app);
      const page = await agent.get('/login').expect(200);
      const before = sessionCookie(page);
      expect(before).to.be.a('string');
      const res = await agent
        .post('/login')
        .type('form')
        .send({ email: ' HANAKO@example.jp ', password, _csrf: csrfFrom(page.text) })
        .expect(302);
      expect(res.headers.location).to.equal('/');
      const after = sessionCookie(res);
      expect(after).to.be.a('string').and.not.equal(before);

      const home = await agent.get('/').expect(200);
      expect(home.text).to.contain(`${user.name} さん`);
      expect(home.text).to.contain('ようこそ');
      // The CSRF token of the new session works.
      const token = csrfFrom(home.text);
      await agent.post('/logout').type('form').send({ _csrf: token }).expect(302);

      const stored = await User.findById(user._id).lean();
      expect(stored?.lastLoginAt).to.be.instanceOf(Date);
      const audit = await AuditEvent.findOne({ action: 'auth.login', actorId: user._id }).lean();
      expect(audit?.ip).to.be.a('string');
    });

    it('goes to the page asked for before signing in, but never off-site', async () => {
      const { user, password } = await buildUser();
      const { agent, csrfToken } = await anonymousAgent(t.app);
      const res = await agent
        .post('/login')
        .type('form')
        .send({ email: user.email, password, next: '/account', _csrf: csrfToken })
        .expect(302);
      expect(res.headers.location).to.equal('/account');
      const other = await anonymousAgent(t.app);
      const offsite = await other.agent
        .post('/login')
        .type('form')
        .send({ email: user.email, password, next: '//evil.example/x', _csrf: other.csrfToken })
        .expect(302);
      expect(offsite.headers.location).to.equal('/');
    });

    it('gives the same message for a wrong password and an unknown address, keeping the address', async () => {
      const { user } = await buildUser();
      const { agent, csrfToken } = await anonymousAgent(t.app);
      const wrong = await agent
        .post('/login')
        .type('form')
        .send({ email: user.email, password: 'not-the-password', _csrf: csrfToken })
        .expect(401);
      const unknown = await agent
        .post('/login')
        .type('form')
        .send({ email: 'nobody@example.jp', password: 'not-the-password', _csrf: csrfToken })
        .expect(401);
      expect(wrong.text).to.contain(FAILED);
      expect(unknown.text).to.contain(FAILED);
      expect(wrong.text).to.contain(`value="${user.email}"`);
      expect(wrong.text).not.to.contain('not-the-password');
      const failures = await AuditEvent.find({ action: 'auth.login_failed' }).lean();
      expect(failures.length).to.be.at.least(2);
      for (const event of failures) {
        expect(JSON.stringify(event)).not.to.contain('@example.jp');
        expect((event.details as { emailHash: string }).emailHash).to.match(/^[0-9a-f]{16}$/);
      }
    });

    it('asks for missing fields with field-level messages', async () => {
      const { agent, csrfToken } = await anonymousAgent(t.app);
      const res = await agent.post('/login').type('form').send({ _csrf: csrfToken }).expect(422);
      expect(res.text).to.contain('メールアドレスを入力してください。');
      expect(res.text).to.contain('パスワードを入力してください。');
    });

    it('rejects operator injection in the form and in JSON', async () => {
      const { user } = await buildUser();
      const { agent, csrfToken } = await anonymousAgent(t.app);
      await agent
        .post('/login')
        .type('form')
        .send(`email%5B%24gt%5D=&password%5B%24gt%5D=&_csrf=${encodeURIComponent(csrfToken)}`)
        .expect(422);
      const json = await agent
        .post('/login')
        .set('x-csrf-token', csrfToken)
        .send({ email: { $gt: '' }, password: { $gt: '' } })
        .expect(422);
      expect(json.text).not.to.contain(user.name);
      const json2 = await agent
        .post('/login')
        .set('x-csrf-token', csrfToken)
        .send({ email: user.email, password: { $ne: 'x' } })
        .expect(422);
      expect(json2.headers.location).to.equal(undefined);
    });

    it('refuses a POST without a CSRF token', async () => {
      const { user, password } = await buildUser();
      const agent = request.agent(t.app);
      await agent.get('/login').expect(200);
      const res = await agent
        .post('/login')
        .type('form')
        .send({ email: user.email, password })
        .expect(403);
      expect(res.text).to.contain('ページの有効期限が切れたか');
    });

    it('does not let a suspended or pending user sign in', async () => {
      for (const status of ['suspended', 'pending'] as const) {
        const { user, password } = await buildUser({ status });
        const { agent, csrfToken } = await anonymousAgent(t.app);
        const res = await agent
          .post('/login')
          .type('form')
          .send({ email: user.email, password, _csrf: csrfToken })
          .expect(403);
        expect(res.text).to.contain(
          status === 'suspended' ? '利用が停止されています' : 'まだ承認されていません',
        );
        const home = await agent.get('/').expect(200);
        expect(home.text).not.to.contain(`${user.name} さん`);
      }
    });

    it('signs out a user suspended during their session at the next request', async () => {
      const { user, password } = await buildUser();
      const session = await signIn(t.app, user, password);
      expect((await session.get('/').expect(200)).text).to.contain(`${user.name} さん`);
      await User.updateOne({ _id: user._id }, { $set: { status: 'suspended' } });
      const home = await session.get('/').expect(200);
      expect(home.text).not.to.contain(`${user.name} さん`);
      expect(home.text).to.contain('href="/login"');
    });
  });

  describe('throttling', () => {
    it(`blocks an account after ${MAX_FAILURES_PER_ACCOUNT} failures, even with the right password, and says how long`, async () => {
      const { user, password } = await buildUser();
      const { agent, csrfToken } = await anonymousAgent(t.app);
      for (let i = 0; i < MAX_FAILURES_PER_ACCOUNT; i++) {
        await agent
          .post('/login')
          .type('form')
          .send({ email: user.email, password: 'wrong-password-123', _csrf: csrfToken })
          .expect(401);
      }
      const blocked = await agent
        .post('/login')
        .type('form')
        .send({ email: user.email, password, _csrf: csrfToken })
        .expect(429);
      expect(blocked.text).to.match(/約\d+分後にもう一度お試しください/);
      expect(await AuditEvent.countDocuments({ action: 'auth.login_blocked' })).to.be.at.least(1);
    });

    it('answers an unknown address exactly like a known one', async () => {
      const { agent, csrfToken } = await anonymousAgent(t.app);
      for (let i = 0; i < MAX_FAILURES_PER_ACCOUNT; i++) {
        await agent
          .post('/login')
          .type('form')
          .send({ email: 'ghost@example.jp', password: 'wrong-password-123', _csrf: csrfToken })
          .expect(401);
      }
      const res = await agent
        .post('/login')
        .type('form')
        .send({ email: 'ghost@example.jp', password: 'wrong-password-123', _csrf: csrfToken })
        .expect(429);
      expect(res.text).to.match(/約\d+分後/);
    });

    it('clears an account’s failures after a successful sign-in and stores no address', async () => {
      const { user, password } = await buildUser();
      const { agent, csrfToken } = await anonymousAgent(t.app);
      const addressAttempts = async () =>
        (await ThrottleCounter.find().lean())
          .filter((counter) => counter.key.startsWith('ip:'))
          .reduce((sum, counter) => sum + counter.attempts.length, 0);
      const before = await addressAttempts();
      await agent
        .post('/login')
        .type('form')
        .send({ email: user.email, password: 'wrong-password-123', _csrf: csrfToken })
        .expect(401);
      const stored = await ThrottleCounter.find().lean();
      expect(JSON.stringify(stored)).not.to.contain('@');
      await agent
        .post('/login')
        .type('form')
        .send({ email: user.email, password, _csrf: csrfToken })
        .expect(302);
      expect(await ThrottleCounter.countDocuments({ key: accountKey(user.email) })).to.equal(0);
      // The address keeps its failure; the successful attempt was given back.
      expect(await addressAttempts()).to.equal(before + 1);
    });
  });

  describe('session lifetime', () => {
    it('uses an httpOnly, sameSite cookie that ends with the browser and is not re-sent on every page', async () => {
      const { user, password } = await buildUser();
      const agent = request.agent(t.app);
      const page = await agent.get('/login').expect(200);
      const res = await agent
        .post('/login')
        .type('form')
        .send({ email: user.email, password, _csrf: csrfFrom(page.text) })
        .expect(302);
      const cookie = (res.headers['set-cookie'] as unknown as string[]).find((c) =>
        c.startsWith('tsunagu.sid='),
      )!;
      expect(cookie)
        .to.match(/HttpOnly/i)
        .and.match(/SameSite=Lax/i);
      expect(cookie).not.to.match(/Max-Age|Expires/i);
      // The page after signing in shows the welcome message and only clears its cookie.
      const next = await agent.get('/').expect(200);
      const cookies = (next.headers['set-cookie'] ?? []) as unknown as string[];
      expect(cookies.filter((c) => c.startsWith('tsunagu.sid='))).to.deep.equal([]);
      const again = await agent.get('/').expect(200);
      expect(again.headers['set-cookie']).to.equal(undefined);
    });

    it(`keeps the idle timeout in the database: ${SESSION_IDLE_MINUTES} minutes from the last use`, async () => {
      const { user, password } = await buildUser();
      const session = await signIn(t.app, user, password);
      const sessions = t.database.connection.db!.collection<{ expires: Date }>('sessions');
      const stored = await sessions.find({}).sort({ expires: -1 }).limit(1).next();
      const minutesLeft = (stored!.expires.getTime() - Date.now()) / 60_000;
      expect(minutesLeft).to.be.within(SESSION_IDLE_MINUTES - 1, SESSION_IDLE_MINUTES + 0.1);
      // A session left unused past its expiry is over, whatever the cookie says. (Written
      // behind the app's back, so its session cache learns of it through the change feed.)
      await sessions.updateMany({}, { $set: { expires: new Date(Date.now() - 1000) } });
      await eventually(async () => {
        const res = await session.get('/learn');
        return res.status === 302 && /^\/login/.test(res.headers.location ?? '');
      }, 'the expired session is refused');
    });
  });

  describe('POST /logout', () => {
    it('ends the session and records it', async () => {
      const { user, password } = await buildUser();
      const session = await signIn(t.app, user, password);
      const res = await session.post('/logout').expect(302);
      expect(res.headers.location).to.equal('/');
      const home = await session.get('/').expect(200);
      expect(home.text).to.contain('ログアウトしました。');
      expect(home.text).not.to.contain(`${user.name} さん`);
      expect(
        await AuditEvent.countDocuments({ action: 'auth.logout', actorId: user._id }),
      ).to.equal(1);
    });

    it('needs the CSRF token', async () => {
      const { user, password } = await buildUser();
      const session = await signIn(t.app, user, password);
      await session.agent.post('/logout').type('form').send({}).expect(403);
      expect((await session.get('/').expect(200)).text).to.contain(`${user.name} さん`);
    });
  });
});
