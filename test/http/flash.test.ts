import { expect } from 'chai';
import request from 'supertest';
import { flashKey, sealFlash } from '../../src/http/flash.js';
import { createTestApp, testStore, type TestApp } from '../helpers/app.js';
import { csrfFrom, signIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

const LESSON = '/learn/basic-training/understanding/numbers';
const READ_MESSAGE = '」を読了にしました。';

const setCookies = (res: request.Response) =>
  (res.headers['set-cookie'] ?? []) as unknown as string[];
const flashCookieOf = (res: request.Response) =>
  setCookies(res).find((c) => c.startsWith('tsunagu.flash='));

/** Writes to the sessions collection the shared store has answered so far. */
async function sessionWrites(): Promise<number> {
  const counts = (await testStore()!).commandCounts();
  return (
    (counts['update sessions'] ?? 0) +
    (counts['insert sessions'] ?? 0) +
    (counts['findAndModify sessions'] ?? 0) +
    (counts['delete sessions'] ?? 0)
  );
}

describe('one-time messages (flash) travel in a short-lived sealed cookie', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  async function trainee() {
    const { user, password } = await buildUser({ roles: ['trainee'] });
    return { user, session: await signIn(t.app, user, password) };
  }

  it('shows the message of 読了にする on the next page once, without writing the session', async function () {
    if (!testStore()) this.skip(); // counts commands of the embedded store
    const { session } = await trainee();
    await session.get(LESSON).expect(200);
    const before = await sessionWrites();

    const read = await session.post(`${LESSON}/read`).expect(303);
    const cookie = flashCookieOf(read);
    expect(cookie, 'the flash cookie').to.be.a('string');
    expect(cookie)
      .to.match(/HttpOnly/i)
      .and.match(/SameSite=Lax/i)
      .and.match(/Max-Age=300/)
      .and.match(/Path=\//);

    const page = await session.get(read.headers.location).expect(200);
    expect(page.text).to.contain(READ_MESSAGE);
    expect(flashCookieOf(page)).to.match(/^tsunagu\.flash=;.*Max-Age=0/);
    const again = await session.get(LESSON).expect(200);
    expect(again.text).not.to.contain(READ_MESSAGE);
    expect(again.headers['set-cookie']).to.equal(undefined);

    expect(await sessionWrites(), 'session writes').to.equal(before);
  });

  it('keeps the message for the page when /healthz is asked in between', async () => {
    const { session } = await trainee();
    const read = await session.post(`${LESSON}/read`).expect(303);
    const health = await session.get('/healthz');
    expect(flashCookieOf(health)).to.equal(undefined);
    const page = await session.get(read.headers.location).expect(200);
    expect(page.text).to.contain(READ_MESSAGE);
  });

  it('hides the text from the browser and ignores a changed, forged or expired cookie', async () => {
    const { user, password } = await buildUser({ roles: ['trainee'], name: '秘密 花子' });
    const agent = request.agent(t.app);
    const login = await agent.get('/login').expect(200);
    const res = await agent
      .post('/login')
      .type('form')
      .send({ email: user.email, password, _csrf: csrfFrom(login.text) })
      .expect(302);
    const cookie = flashCookieOf(res)!;
    const value = cookie.split(';')[0].slice('tsunagu.flash='.length);
    const raw = Buffer.from(value, 'base64url');
    for (const secret of ['秘密 花子', 'ようこそ']) {
      expect(raw.includes(Buffer.from(secret)), secret).to.equal(false);
    }

    const sid = setCookies(res)
      .find((c) => c.startsWith('tsunagu.sid='))!
      .split(';')[0];
    const pageWith = (flashValue: string) =>
      request(t.app).get('/').set('cookie', `${sid}; tsunagu.flash=${flashValue}`).expect(200);

    const changed = Buffer.from(raw);
    changed[changed.length - 1] ^= 1;
    expect((await pageWith(changed.toString('base64url'))).text).not.to.contain('ようこそ');
    expect((await pageWith('not-a-sealed-value')).text).not.to.contain('ようこそ');
    const otherKey = flashKey('another-secret-another-secret-0123456789');
    const forged = sealFlash(otherKey, [{ kind: 'error', text: '偽のお知らせ' }]);
    expect((await pageWith(forged)).text).not.to.contain('偽のお知らせ');
    const key = flashKey(t.config.sessionSecret);
    const sixMinutesAgo = Date.now() - 6 * 60_000;
    const expired = sealFlash(key, [{ kind: 'info', text: '古いお知らせ' }], sixMinutesAgo);
    expect((await pageWith(expired)).text).not.to.contain('古いお知らせ');
    const fresh = sealFlash(key, [{ kind: 'info', text: '新しいお知らせ' }]);
    expect((await pageWith(fresh)).text).to.contain('新しいお知らせ');
    // The real cookie, unchanged, still shows the welcome message.
    expect((await pageWith(value)).text).to.contain('秘密 花子 さん、ようこそ。');
  });

  it('says ログアウトしました on the page after signing out', async () => {
    const { session } = await trainee();
    const out = await session.post('/logout').expect(302);
    expect(flashCookieOf(out)).to.be.a('string');
    const page = await session.get('/').expect(200);
    expect(page.text).to.contain('ログアウトしました。');
  });
});
