import { expect } from 'chai';
import {
  LoginFailure,
  MAX_FAILURES_PER_IP,
  MAX_REGISTRATIONS_PER_IP,
  formLimit,
  ipKey,
} from '../../src/auth/throttle.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { anonymousAgent } from '../helpers/auth.js';
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

  it(`blocks an address after ${MAX_FAILURES_PER_IP} failures, whichever accounts they were for`, async () => {
    const { agent, csrfToken } = await anonymousAgent(u.app);
    await LoginFailure.insertMany(
      LOCAL_ADDRESSES.flatMap((address) =>
        Array.from({ length: MAX_FAILURES_PER_IP }, () => ({
          key: ipKey(address),
          at: new Date(),
        })),
      ),
    );
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
    expect(await LoginFailure.countDocuments()).to.equal(0); // invalid forms are not counted
    await LoginFailure.insertMany(
      LOCAL_ADDRESSES.map((address) => formLimit('register', address).key).flatMap((k) =>
        Array.from({ length: MAX_REGISTRATIONS_PER_IP }, () => ({ key: k, at: new Date() })),
      ),
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
