/**
 * Session fixation: whatever session id a visitor holds before signing in (one the app gave them,
 * or one an attacker planted, signed or not) is not the session they are signed in with, and the
 * old id opens nothing. Signing out destroys the stored session.
 */
import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import request from 'supertest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { csrfFrom } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

const COOKIE = 'tsunagu.sid';

/** The session id in a Set-Cookie header list, or null. */
function sessionIdFrom(setCookie: string[] | string | undefined): string | null {
  const list = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  for (const header of list) {
    const match = new RegExp(`^${COOKIE.replace('.', '\\.')}=([^;]*)`).exec(header);
    if (!match) continue;
    const value = decodeURIComponent(match[1]);
    // express-session signs as "s:<id>.<signature>"
    return value.startsWith('s:') ? value.slice(2, value.lastIndexOf('.')) : value;
  }
  return null;
}

/** A cookie for `id` signed with `secret`, as express-session (cookie-signature) signs it. */
function signedCookie(id: string, secret: string): string {
  const signature = createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '');
  return `${COOKIE}=${encodeURIComponent(`s:${id}.${signature}`)}`;
}

describe('security: session fixation and sign-out', () => {
  let t: TestApp;
  let email: string;
  let password: string;

  before(async () => {
    t = await createTestApp();
    const built = await buildUser({ roles: ['trainee'] });
    email = built.user.email;
    password = built.password;
  });
  after(async () => {
    await t.close();
  });

  const sessions = () => t.database.connection.db!.collection<{ _id: string }>('sessions');

  /** Signs in with the given cookie header; returns the new session's cookie and id. */
  async function signInWith(cookie: string, token: string) {
    const res = await request(t.app)
      .post('/login')
      .set('cookie', cookie)
      .type('form')
      .send({ email, password, _csrf: token })
      .expect(302);
    const id = sessionIdFrom(res.headers['set-cookie']);
    expect(id, 'a new session cookie at sign-in').to.be.a('string');
    return { id: id!, cookie: String(res.headers['set-cookie'][0]).split(';')[0] };
  }

  it('gives a new session id at sign-in; the one from before opens nothing and is gone', async () => {
    const page = await request(t.app).get('/login').expect(200);
    const before = sessionIdFrom(page.headers['set-cookie']);
    expect(before, 'the login page keeps a session for its form token').to.be.a('string');
    const beforeCookie = String(page.headers['set-cookie'][0]).split(';')[0];
    const after = await signInWith(beforeCookie, csrfFrom(page.text));
    expect(after.id).not.to.equal(before);
    await request(t.app).get('/account').set('cookie', after.cookie).expect(200);
    const replay = await request(t.app).get('/account').set('cookie', beforeCookie).expect(302);
    expect(replay.headers.location).to.match(/^\/login/);
    expect(await sessions().countDocuments({ _id: before! })).to.equal(0);
  });

  it('never adopts a session id the visitor brings (planted, validly signed or not)', async () => {
    // Control: a validly signed cookie of a stored session is honoured, so the planted cookies
    // below are signed as the app signs them.
    const page0 = await request(t.app).get('/login').expect(200);
    const real = await signInWith(
      String(page0.headers['set-cookie'][0]).split(';')[0],
      csrfFrom(page0.text),
    );
    const stored = await sessions().findOne({ _id: real.id });
    await sessions().insertOne({ ...stored!, _id: 'copied-session-for-control' });
    await request(t.app)
      .get('/account')
      .set('cookie', signedCookie('copied-session-for-control', t.config.sessionSecret))
      .expect(200);

    for (const planted of [
      signedCookie('planted-by-an-attacker-0001', t.config.sessionSecret),
      `${COOKIE}=s%3Aplanted-by-an-attacker-0002.bad-signature`,
      `${COOKIE}=planted-by-an-attacker-0003`,
    ]) {
      const page = await request(t.app).get('/login').set('cookie', planted).expect(200);
      const given = sessionIdFrom(page.headers['set-cookie']);
      expect(given ?? '', planted).not.to.contain('planted');
      const cookie = given ? String(page.headers['set-cookie'][0]).split(';')[0] : planted;
      const signedIn = await signInWith(cookie, csrfFrom(page.text));
      expect(signedIn.id, planted).not.to.contain('planted');
    }
    expect(await sessions().countDocuments({ _id: { $regex: /^planted/ } })).to.equal(0);
  });

  it('destroys the stored session at sign-out, so its cookie opens nothing afterwards', async () => {
    const page = await request(t.app).get('/login').expect(200);
    const first = String(page.headers['set-cookie'][0]).split(';')[0];
    const signedIn = await signInWith(first, csrfFrom(page.text));
    const home = await request(t.app).get('/').set('cookie', signedIn.cookie).expect(200);
    expect(await sessions().countDocuments({ _id: signedIn.id })).to.equal(1);
    await request(t.app)
      .post('/logout')
      .set('cookie', signedIn.cookie)
      .type('form')
      .send({ _csrf: csrfFrom(home.text) })
      .expect(302);
    expect(await sessions().countDocuments({ _id: signedIn.id })).to.equal(0);
    const replay = await request(t.app).get('/account').set('cookie', signedIn.cookie).expect(302);
    expect(replay.headers.location).to.match(/^\/login/);
  });

  it('stores no session for anonymous requests that keep nothing', async () => {
    const before = await sessions().countDocuments();
    for (let i = 0; i < 20; i++) {
      const res = await request(t.app).get(`/no-such-page-${i}`).expect(404);
      expect(res.headers['set-cookie'] ?? [], 'a session cookie for a 404').to.deep.equal([]);
    }
    await request(t.app).get('/healthz').expect(200);
    expect(await sessions().countDocuments()).to.equal(before);
  });
});
