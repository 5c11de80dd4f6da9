import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { expect } from 'chai';
import request from 'supertest';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { emailHash } from '../../src/audit/audit.service.js';
import { User } from '../../src/users/user.model.js';
import {
  hashPassword,
  hashingSaturated,
  setHashBudget,
  setHashWaitLimit,
  verifyPassword,
} from '../../src/auth/password.js';
import {
  ThrottleCounter,
  accountKey,
  formLimit,
  ipKey,
  recordAttempt,
} from '../../src/auth/throttle.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { anonymousAgent, csrfFrom } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

describe('throttling per client address', () => {
  let u: TestApp;
  beforeEach(async () => {
    u = await createTestApp();
  });
  afterEach(async () => {
    await u.close();
  });

  // The client may reach supertest's server over IPv4 or IPv6: fill all the keys it may use.
  const LOCAL_ADDRESSES = ['::ffff:127.0.0.1', '127.0.0.1', '::1'];

  /** Counts `n` attempts under each key, `minutesAgo` minutes ago. */
  async function attempts(keys: string[], n: number, minutesAgo = 0) {
    const at = new Date(Date.now() - minutesAgo * 60_000);
    for (let i = 0; i < n; i++)
      await recordAttempt(
        keys.map((key) => ({ key, max: n })),
        at,
      );
  }

  it('blocks an address after 30 failures, whichever accounts they were for', async () => {
    const { agent, csrfToken } = await anonymousAgent(u.app);
    await attempts(LOCAL_ADDRESSES.map(ipKey), 30);
    const { user, password } = await buildUser();
    const res = await agent
      .post('/login')
      .type('form')
      .send({ email: user.email, password, _csrf: csrfToken })
      .expect(429);
    expect(res.text).to.match(/約\d+分後にもう一度お試しください/);
  });

  it('limits self-registrations per address', async () => {
    const { agent, csrfToken } = await anonymousAgent(u.app);
    await agent.post('/register').type('form').send({ _csrf: csrfToken }).expect(422);
    expect(await ThrottleCounter.countDocuments()).to.equal(0); // invalid forms are not counted
    await attempts(
      LOCAL_ADDRESSES.map((address) => formLimit('register', address).key),
      10,
    );
    const res = await agent
      .post('/register')
      .type('form')
      .send({ _csrf: csrfToken, name: '長野 花子' })
      .expect(429);
    expect(res.text).to.contain('短い時間に多くの送信がありました');
    expect(res.text).to.contain('value="長野 花子"');
  });
});

describe('sign-in attempts are counted before the password is checked', () => {
  let u: TestApp;
  let server: Server;
  beforeEach(async () => {
    u = await createTestApp();
    server = u.app.listen(0, '127.0.0.1');
  });
  afterEach(async () => {
    server.close();
    await u.close();
  });

  async function loginAgent() {
    const agent = request.agent(server);
    const page = await agent.get('/login').expect(200);
    const csrfToken = csrfFrom(page.text);
    return (email: string, password: string) =>
      agent.post('/login').type('form').send({ email, password, _csrf: csrfToken });
  }

  it('checks only 5 of 60 parallel guesses for one account; the right password after them does not sign in', async function () {
    this.timeout(60_000);
    const { user, password } = await buildUser();
    const login = await loginAgent();
    // The queue's half-second wait limit is lifted: on a loaded machine it would refuse some of
    // the 5 checks as busy (503, not counted), and the count below would depend on the load.
    const restore = setHashWaitLimit(60_000);
    let answers;
    try {
      answers = await Promise.all(
        Array.from({ length: 60 }, (_, i) => login(user.email, `wrong-guess-${i}-xyz`)),
      );
    } finally {
      restore();
    }
    const statuses = answers.map((res) => res.status);
    expect(
      statuses.filter((status) => status === 401).length,
      `statuses: ${statuses.join(',')}`,
    ).to.equal(5);
    expect(statuses.filter((status) => status === 429)).to.have.length(55);
    for (const res of answers.filter((answer) => answer.status === 429)) {
      expect(res.text).to.contain('一時的にログインを制限しています');
      expect(res.text).to.match(/約\d+分後にもう一度お試しください/);
    }
    const last = await login(user.email, password);
    expect(last.status).to.equal(429);
    expect(last.headers.location).to.equal(undefined);
    const stored = await User.findById(user._id).lean();
    expect(stored!.lastLoginAt).to.equal(null);
    expect(await AuditEvent.countDocuments({ action: 'auth.login' })).to.equal(0);
  });

  it('counts every letter case and spacing of an address as the same account', async () => {
    const { user, password } = await buildUser({ email: 'Hanako.Zenkoji@Example.jp' });
    const login = await loginAgent();
    const variants = [
      'hanako.zenkoji@example.jp',
      'HANAKO.ZENKOJI@EXAMPLE.JP',
      ' Hanako.Zenkoji@Example.jp ',
      'hanako.ZENKOJI@example.JP',
      'HaNaKo.ZeNkOjI@eXaMpLe.Jp',
    ];
    for (const email of variants) await login(email, 'wrong-password-123').expect(401);
    const res = await login(user.email, password).expect(429);
    expect(res.text).to.contain('約15分後にもう一度お試しください');
  });

  it('forgets failures older than 15 minutes', async () => {
    const { user, password } = await buildUser();
    const key = accountKey(user.email);
    const login = await loginAgent();
    // Five failures 16 minutes ago no longer count.
    for (let i = 0; i < 5; i++) await recordAttempt([{ key, max: 5 }], minutesAgo(16));
    await login(user.email, 'wrong-password-123').expect(401);
    // Five failures 14 minutes ago do: allowed again in about a minute.
    for (let i = 0; i < 5; i++) await recordAttempt([{ key, max: 5 }], minutesAgo(14));
    const blocked = await login(user.email, password).expect(429);
    expect(blocked.text).to.contain('約1分後にもう一度お試しください');
  });

  it('gives a pending account’s right password back, not counting it as a failure', async () => {
    const { user, password } = await buildUser({ status: 'pending' });
    const login = await loginAgent();
    for (let i = 0; i < 6; i++) await login(user.email, password).expect(403);
  });

  it('writes one audit event per account and window for repeated throttled sign-ins, with a count', async () => {
    const { user } = await buildUser();
    const other = await buildUser();
    const login = await loginAgent();
    for (let i = 0; i < 5; i++) await login(user.email, 'wrong-password-123').expect(401);
    for (let i = 0; i < 5; i++) await login(other.user.email, 'wrong-password-123').expect(401);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        login(i % 2 ? user.email : other.user.email, 'wrong-password-123').expect(429),
      ),
    );
    const events = await AuditEvent.find({ action: 'auth.login_blocked' }).lean();
    expect(events).to.have.length(2);
    const counts = events.map((event) => (event.details as { count: number }).count);
    expect(counts).to.deep.equal([20, 20]);
    const hashes = events.map((event) => (event.details as { emailHash: string }).emailHash);
    expect(hashes.sort()).to.deep.equal(
      [emailHash(user.email), emailHash(other.user.email)].sort(),
    );
  });
});

function minutesAgo(minutes: number): Date {
  return new Date(Date.now() - minutes * 60_000);
}

describe('sign-in while password hashing is saturated', () => {
  let u: TestApp;
  // The hashes that fill the queue, waited for even when the test fails or times out: a full
  // queue would answer 503 to the sign-ins of the next test files in this process.
  let load: Promise<unknown>[] = [];
  // Seconds of deliberately slow hashes: paid from a budget of their own, not the one the next
  // test files of this process sign in with.
  let restoreBudget: () => void;
  beforeEach(async () => {
    u = await createTestApp();
    restoreBudget = setHashBudget({ share: 1, burstMs: Infinity });
  });
  afterEach(async function () {
    this.timeout(300_000);
    await Promise.allSettled(load);
    restoreBudget();
    await u?.close();
  });

  // Fill the queue for real (hashes run in their own thread, so nothing can be patched): one
  // slow check runs (p = 16 makes scrypt 16 times longer without more memory) while 16 cheap
  // ones wait behind it. The slow one is a stored hash no password matches, written out rather
  // than made by hashPassword: its check costs the whole slow scrypt all the same, and making it
  // first cost as much again (seconds of CPU per test).
  async function saturateHashing(): Promise<void> {
    const slow = `scrypt$N=32768,r=8,p=16$${randomBytes(16).toString('base64url')}$${Buffer.alloc(64).toString('base64url')}`;
    const cheap = await hashPassword('some other passphrase', { N: 1024, r: 8, p: 1 });
    // The cheap ones behind it are refused as busy after the wait limit: settled, not errors.
    load = [slow, ...Array.from({ length: 16 }, () => cheap)].map((stored) =>
      verifyPassword('guess', stored).catch(() => false),
    );
    expect(hashingSaturated(), 'saturated while the slow hash runs').to.equal(true);
  }

  /** A sign-in sent while hashing is saturated; answered at once (it does not wait for a slot). */
  async function signInWhileSaturated(email: string, password: string) {
    const { agent, csrfToken } = await anonymousAgent(u.app);
    await saturateHashing();
    return agent
      .post('/login')
      .type('form')
      .send({ email, password, _csrf: csrfToken })
      .timeout(10_000);
  }

  it('answers 503 at once with a Japanese message, keeps the address and counts no failure', async function () {
    this.timeout(120_000);
    const { user } = await buildUser();
    const res = await signInWhileSaturated(user.email, 'wrong-password-123');
    expect(res.status).to.equal(503);
    expect(res.text).to.contain('ただいま混み合っています');
    expect(res.text).to.contain(`value="${user.email}"`);
    const counter = await ThrottleCounter.findOne({ key: accountKey(user.email) }).lean();
    expect(counter?.attempts ?? []).to.have.length(0);
  });

  it('tells an address already at its limit to wait (429), not to try again, without a write', async function () {
    this.timeout(120_000);
    const { user, password } = await buildUser();
    const key = accountKey(user.email);
    for (let i = 0; i < 5; i++) await recordAttempt([{ key, max: 5 }], minutesAgo(2));
    const before = await ThrottleCounter.findOne({ key }).lean();
    const res = await signInWhileSaturated(user.email, password);
    expect(res.status).to.equal(429);
    expect(res.text).to.contain('一時的にログインを制限しています');
    expect(res.text).to.match(/約13分後にもう一度お試しください/);
    expect(res.text).to.contain(`value="${user.email}"`);
    const after = await ThrottleCounter.findOne({ key }).lean();
    expect(after!.attempts).to.deep.equal(before!.attempts);
  });
});
