import { expect } from 'chai';
import request from 'supertest';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { ThrottleCounter } from '../../src/auth/throttle.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { anonymousAgent } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

const FORGED = '203.0.113.9';

/** One failed sign-in sent with X-Forwarded-For; returns the addresses throttling and the audit log saw. */
async function failedSignIn(t: TestApp, forwardedFor: string) {
  const { user } = await buildUser({ roles: ['trainee'] });
  const { agent, csrfToken } = await anonymousAgent(t.app);
  await agent
    .post('/login')
    .set('x-forwarded-for', forwardedFor)
    .type('form')
    .send({ email: user.email, password: 'not-the-password', _csrf: csrfToken })
    .expect(401);
  const counters = await ThrottleCounter.find({ key: /^ip:/ }).lean();
  const audit = await AuditEvent.findOne({ action: 'auth.login_failed' }).sort({ at: -1 }).lean();
  return { throttledAs: counters.map((c) => c.key.slice(3)), auditedAs: audit?.ip };
}

describe('TRUST_PROXY: whose X-Forwarded-For counts', () => {
  describe('unset', () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp();
    });
    after(async () => {
      await t.close();
    });

    it('ignores X-Forwarded-For: throttling and the audit log see the connection', async () => {
      const { throttledAs, auditedAs } = await failedSignIn(t, FORGED);
      expect(throttledAs).to.have.length(1);
      expect(throttledAs[0]).to.match(/127\.0\.0\.1|::1/);
      expect(auditedAs).to.match(/127\.0\.0\.1|::1/);
    });
  });

  describe('naming a proxy that is not the client', () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp({ TRUST_PROXY: '10.0.0.0/8' });
    });
    after(async () => {
      await t.close();
    });

    it('ignores X-Forwarded-For from anyone else', async () => {
      const { throttledAs, auditedAs } = await failedSignIn(t, FORGED);
      expect(throttledAs).not.to.include(FORGED);
      expect(auditedAs).not.to.equal(FORGED);
    });
  });

  describe('naming the proxy (loopback)', () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp({ TRUST_PROXY: 'loopback' });
    });
    after(async () => {
      await t.close();
    });

    it("uses the client's address the proxy reports for throttling and the audit log", async () => {
      const { throttledAs, auditedAs } = await failedSignIn(t, `198.51.100.1, ${FORGED}`);
      expect(throttledAs).to.deep.equal([FORGED]);
      expect(auditedAs).to.equal(FORGED);
    });
  });

  describe('in production', () => {
    // Unset in production used to mean one trusted hop: any client could pick its address.
    it('sets the Secure session cookie only when a trusted proxy reports HTTPS', async () => {
      const sessionCookie = async (env: Record<string, string>) => {
        const t = await createTestApp({ NODE_ENV: 'production', ...env });
        try {
          const res = await request(t.app)
            .get('/login')
            .set('x-forwarded-proto', 'https')
            .expect(200);
          return res.headers['set-cookie'] ? String(res.headers['set-cookie']) : null;
        } finally {
          await t.close();
        }
      };
      expect(await sessionCookie({})).to.equal(null);
      const cookie = await sessionCookie({ TRUST_PROXY: 'loopback' });
      expect(cookie).to.match(/tsunagu\.sid=.*; Secure/i);
    });
  });
});
