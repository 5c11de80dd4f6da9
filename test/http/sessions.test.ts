import { expect } from 'chai';
import request from 'supertest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { csrfFrom, signIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

describe('sessions are stored only when something needs keeping', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  const storedSessions = () => t.database.connection.db!.collection('sessions').countDocuments();

  beforeEach(async () => {
    await t.database.connection.db!.collection('sessions').deleteMany({});
  });

  it('stores no session and sets no cookie for anonymous pages without a form', async () => {
    for (let i = 0; i < 30; i++) {
      for (const url of [`/no-such-page-${i}`, '/', '/public/css/app.css', '/healthz']) {
        const res = await request(t.app).get(url);
        expect(res.status, url).to.be.oneOf([200, 404]);
        expect(res.headers['set-cookie'], url).to.equal(undefined);
      }
    }
    expect(await storedSessions()).to.equal(0);
  });

  it('stores one session per client for the sign-in form, whose token then works', async () => {
    const agent = request.agent(t.app);
    const first = await agent.get('/login').expect(200);
    expect(String(first.headers['set-cookie'])).to.contain('tsunagu.sid=');
    const token = csrfFrom(first.text);
    for (let i = 0; i < 10; i++) {
      const again = await agent.get('/login').expect(200);
      expect(csrfFrom(again.text)).to.equal(token);
      await agent.get(`/no-such-page-${i}`).expect(404);
    }
    expect(await storedSessions()).to.equal(1);

    const { user, password } = await buildUser({ roles: ['trainee'] });
    await agent
      .post('/login')
      .type('form')
      .send({ email: user.email, password, _csrf: token })
      .expect(302);
    // Sign-in regenerates the session: still one stored session for this client.
    expect(await storedSessions()).to.equal(1);
  });

  it('refuses a POST from a client without a session, and stores nothing for it', async () => {
    const { user, password } = await buildUser({ roles: ['trainee'] });
    const res = await request(t.app)
      .post('/login')
      .type('form')
      .send({ email: user.email, password, _csrf: 'a'.repeat(256) });
    expect(res.status).to.equal(403);
    expect(res.headers['set-cookie']).to.equal(undefined);
    await request(t.app).post('/logout').set('x-csrf-token', 'a'.repeat(256)).expect(403);
    expect(await storedSessions()).to.equal(0);
  });

  it('keeps the session of a signed-in user across pages without a form', async () => {
    const { user, password } = await buildUser({ roles: ['trainee'] });
    const session = await signIn(t.app, user, password);
    await session.get('/no-such-page').expect(404);
    const home = await session.get('/').expect(200);
    expect(csrfFrom(home.text)).to.equal(session.csrfToken);
    expect(await storedSessions()).to.equal(1);
  });
});
