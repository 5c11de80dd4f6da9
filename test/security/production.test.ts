/**
 * The app as production runs it (NODE_ENV=production, behind a TLS-terminating proxy): security
 * headers on every page, session cookie flags, no caching of pages, and error pages that show a
 * reference number but never a stack, a file path or an error's own message.
 */
import { expect } from 'chai';
import request from 'supertest';
import { Region } from '../../src/organisations/region.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { csrfFrom } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

/** Requests as the proxy forwards them: the browser spoke HTTPS. */
const HTTPS = { 'x-forwarded-proto': 'https' };
/** A fault with a message and stack that must not reach the browser. */
const SECRET_MESSAGE = 'ENOENT: open /srv/tsunagu/data/secret-path.json';

function cspOf(res: request.Response): Map<string, string[]> {
  const header = String(res.headers['content-security-policy'] ?? '');
  return new Map(
    header
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .filter((words) => words[0])
      .map(([name, ...values]) => [name, values]),
  );
}

function expectNoInternals(text: string, label: string) {
  expect(text, `${label}: a stack frame`).not.to.match(/\n\s+at /);
  expect(text, `${label}: a file path`).not.to.match(/\/(src|node_modules|srv|home|tmp)\//);
  expect(text, `${label}: a source file`).not.to.match(/\.(ts|js):\d+/);
  expect(text, `${label}: the error's own message`).not.to.contain('ENOENT');
}

describe('security: production mode (headers, cookies, error pages)', () => {
  let t: TestApp;
  let email: string;
  let password: string;

  before(async () => {
    // TRUST_PROXY: production trusts the proxy only when told to (issue 17, item 9); until that
    // variable exists the config ignores it and production trusts one proxy anyway.
    t = await createTestApp({ NODE_ENV: 'production', TRUST_PROXY: '1' });
    const built = await buildUser({ roles: ['trainee'] });
    email = built.user.email;
    password = built.password;
  });
  after(async () => {
    await t.close();
  });

  async function signedInCookie(): Promise<{ cookie: string; setCookie: string }> {
    const page = await request(t.app).get('/login').set(HTTPS).expect(200);
    const first = String(page.headers['set-cookie'][0]).split(';')[0];
    const res = await request(t.app)
      .post('/login')
      .set(HTTPS)
      .set('cookie', first)
      .type('form')
      .send({ email, password, _csrf: csrfFrom(page.text) })
      .expect(302);
    const setCookie = String(res.headers['set-cookie'][0]);
    return { cookie: setCookie.split(';')[0], setCookie };
  }

  it('sends a strict Content-Security-Policy and the other security headers on pages', async () => {
    const { cookie } = await signedInCookie();
    for (const [path, status, signedIn] of [
      ['/login', 200, false],
      ['/', 200, true],
      ['/account', 200, true],
      ['/no-such-page', 404, false],
    ] as const) {
      const res = await request(t.app)
        .get(path)
        .set(HTTPS)
        .set('cookie', signedIn ? cookie : '')
        .expect(status);
      const csp = cspOf(res);
      const label = `${path}: CSP ${String(res.headers['content-security-policy'])}`;
      expect(res.headers['content-security-policy'], label).not.to.contain('unsafe-inline');
      expect(res.headers['content-security-policy'], label).not.to.contain('unsafe-eval');
      expect(csp.get('default-src'), label).to.deep.equal(["'self'"]);
      expect(csp.get('script-src'), label).to.deep.equal(["'self'"]);
      expect(csp.get('object-src'), label).to.deep.equal(["'none'"]);
      expect(csp.get('frame-ancestors'), label).to.deep.equal(["'none'"]);
      expect(csp.get('form-action'), label).to.deep.equal(["'self'"]);
      expect(csp.has('upgrade-insecure-requests'), label).to.equal(true);
      expect(res.headers['x-content-type-options'], path).to.equal('nosniff');
      expect(res.headers['x-frame-options'], path).to.be.oneOf(['DENY', 'SAMEORIGIN']);
      expect(res.headers['referrer-policy'], path).to.be.oneOf([
        'no-referrer',
        'same-origin',
        'strict-origin',
        'strict-origin-when-cross-origin',
      ]);
      const hsts = String(res.headers['strict-transport-security'] ?? '');
      expect(Number(/max-age=(\d+)/.exec(hsts)?.[1] ?? 0), `${path}: HSTS ${hsts}`).to.be.at.least(
        180 * 24 * 3600,
      );
      expect(res.headers['cache-control'], path).to.contain('no-store');
      expect(res.headers['x-powered-by'], path).to.equal(undefined);
    }
  });

  it('sets the session cookie HttpOnly, Secure and SameSite=Lax, for the browser session only', async () => {
    const anonymous = await request(t.app).get('/login').set(HTTPS).expect(200);
    const { setCookie } = await signedInCookie();
    for (const header of [String(anonymous.headers['set-cookie'][0]), setCookie]) {
      expect(header).to.match(/^tsunagu\.sid=/);
      const flags = header
        .split(';')
        .slice(1)
        .map((flag) => flag.trim().toLowerCase());
      expect(flags, header).to.include('httponly');
      expect(flags, header).to.include('secure');
      expect(flags, header).to.include('samesite=lax');
      expect(
        flags.some((flag) => flag.startsWith('max-age') || flag.startsWith('expires')),
      ).to.equal(false);
    }
  });

  it('sends no session cookie over plain HTTP', async () => {
    const res = await request(t.app).get('/login').expect(200);
    expect(res.headers['set-cookie'] ?? []).to.deep.equal([]);
  });

  it('shows a reference number but no stack, path or message on a 500 page (HTML and JSON)', async () => {
    const { cookie } = await signedInCookie();
    const original = Region.findById.bind(Region);
    // A fault deep in a page (the account page looks up the user's region).
    Region.findById = () => {
      throw new Error(SECRET_MESSAGE);
    };
    try {
      const html = await request(t.app)
        .get('/account')
        .set(HTTPS)
        .set('cookie', cookie)
        .expect(500);
      expectNoInternals(html.text, '500 page');
      const requestId = String(html.headers['x-request-id']);
      expect(html.text).to.contain('受付番号');
      expect(html.text).to.contain(requestId);
      const json = await request(t.app)
        .get('/account')
        .set(HTTPS)
        .set('cookie', cookie)
        .set('accept', 'application/json')
        .expect(500);
      expectNoInternals(json.text, '500 JSON');
      expect((json.body as { error: { requestId: string } }).error.requestId).to.equal(
        String(json.headers['x-request-id']),
      );
    } finally {
      Region.findById = original;
    }
    await request(t.app).get('/account').set(HTTPS).set('cookie', cookie).expect(200);
  });

  it('answers a malformed or oversized body without internals', async () => {
    const page = await request(t.app).get('/login').set(HTTPS).expect(200);
    const cookie = String(page.headers['set-cookie'][0]).split(';')[0];
    const bodies: [string, string][] = [
      ['application/json', '{"email": "a@example.jp", "password": '],
      ['application/json', '{"__proto__": {"x": 1}, "a": [[[[[[[[[[]]]]]]]]]], "b": '],
      [
        'application/x-www-form-urlencoded',
        `email=%E0%A4%A&password=%&_csrf=${csrfFrom(page.text)}`,
      ],
      ['application/json', JSON.stringify({ email: 'x'.repeat(300_000) })],
    ];
    for (const [type, body] of bodies) {
      for (const accept of ['text/html', 'application/json']) {
        const res = await request(t.app)
          .post('/login')
          .set(HTTPS)
          .set('cookie', cookie)
          .set('content-type', type)
          .set('accept', accept)
          .send(body);
        const label = `${type} ${body.slice(0, 40)} (${accept})`;
        expect(res.status, label).to.be.oneOf([400, 401, 413, 422]);
        if (accept === 'text/html') expect(res.text, label).to.contain('<html lang="ja">');
        expectNoInternals(res.text, label);
        expect(res.text, label).not.to.match(/SyntaxError|Unexpected|PayloadTooLarge|entity/i);
      }
    }
  });
});

// Its own app, after the production app is closed: a test app owns mongoose's one connection.
describe('security: error pages outside production (control)', () => {
  it('shows the stack outside production, so the fault above does carry one', async () => {
    const dev = await createTestApp({ NODE_ENV: 'test' });
    try {
      const built = await buildUser({ roles: ['trainee'] });
      const page = await request(dev.app).get('/login');
      const first = String(page.headers['set-cookie'][0]).split(';')[0];
      const login = await request(dev.app)
        .post('/login')
        .set('cookie', first)
        .type('form')
        .send({ email: built.user.email, password: built.password, _csrf: csrfFrom(page.text) })
        .expect(302);
      const cookie = String(login.headers['set-cookie'][0]).split(';')[0];
      const original = Region.findById.bind(Region);
      Region.findById = () => {
        throw new Error(SECRET_MESSAGE);
      };
      try {
        const res = await request(dev.app).get('/account').set('cookie', cookie).expect(500);
        expect(res.text).to.contain('ENOENT');
      } finally {
        Region.findById = original;
      }
    } finally {
      await dev.close();
    }
  });
});
