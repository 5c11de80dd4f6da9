/**
 * Operator injection: MongoDB operators and prototype keys in query strings, form bodies and JSON
 * bodies, at sign-in, in the search filters and in id parameters. Nothing may sign anyone in,
 * show a record outside the viewer's area, change a record, or answer 500.
 */
import { expect } from 'chai';
import request from 'supertest';
import { PasswordReset } from '../../src/auth/password-reset.model.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { anonymousAgent, signIn, type SignedIn } from '../helpers/auth.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';

/** Bodies that try to match any account instead of naming one. */
const LOGIN_BODIES: Record<string, unknown>[] = [
  { email: { $ne: 'x' }, password: { $ne: 'x' } },
  { email: { $gt: '' }, password: { $gt: '' } },
  { email: { $regex: '.*' }, password: 'correct-horse-battery-staple' },
  { email: ':victim', password: { $ne: null } },
  { email: [':victim'], password: ['correct-horse-battery-staple'] },
  { email: ':victim', password: { toString: 'x' } },
  JSON.parse('{"__proto__": {"email": ":victim", "password": "x"}}') as Record<string, unknown>,
  { constructor: { prototype: { email: ':victim' } }, email: ':victim', password: 'x' },
];

/** The same as form fields (urlencoded, as a browser would send them). */
const LOGIN_FORMS = [
  'email[$ne]=x&password[$ne]=x',
  'email[$gt]=&password[$gt]=',
  'email=:victim&password[$ne]=null',
  'email=:victim&email=x&password=x&password=y',
  '__proto__[email]=:victim&__proto__[password]=x',
];

describe('security: operator injection in queries and bodies', () => {
  let t: TestApp;
  let admin: SignedIn;
  let coordinator: SignedIn;
  let victimEmail: string;
  let victimId: string;
  let hiddenName: string;
  let matsumotoUserId: string;

  before(async function () {
    this.timeout(60_000);
    t = await createTestApp();
    const nagano = await buildMunicipality('長野市');
    const matsumoto = await buildMunicipality('松本市');
    const a = await buildUser({ roles: ['admin'] });
    const c = await buildUser({ roles: ['coordinator'], municipality: nagano });
    const victim = await buildUser({ roles: ['trainee'], municipality: nagano });
    const hidden = await buildUser({
      roles: ['trainee'],
      municipality: matsumoto,
      name: '松本 秘匿',
    });
    victimEmail = victim.user.email;
    victimId = String(victim.user._id);
    hiddenName = hidden.user.name;
    matsumotoUserId = String(hidden.user._id);
    admin = await signIn(t.app, a.user, a.password);
    coordinator = await signIn(t.app, c.user, c.password);
  });
  after(async () => {
    await t.close();
  });

  const withVictim = (value: unknown): unknown =>
    JSON.parse(JSON.stringify(value).replaceAll(':victim', victimEmail));

  async function expectSignedOut(agent: Awaited<ReturnType<typeof anonymousAgent>>['agent']) {
    const res = await agent.get('/account');
    expect(res.status, 'signed in by an injected body').to.equal(302);
    expect(res.headers.location).to.match(/^\/login/);
  }

  it('never signs in with operators in a JSON body', async () => {
    for (const body of LOGIN_BODIES) {
      const { agent, csrfToken } = await anonymousAgent(t.app);
      const res = await agent
        .post('/login')
        .set('content-type', 'application/json')
        .send(JSON.stringify({ ...(withVictim(body) as object), _csrf: csrfToken }));
      expect(res.status, JSON.stringify(body)).to.be.oneOf([401, 422]);
      await expectSignedOut(agent);
    }
  });

  it('never signs in with operators in form fields', async () => {
    for (const form of LOGIN_FORMS) {
      const { agent, csrfToken } = await anonymousAgent(t.app);
      const res = await agent
        .post('/login')
        .type('form')
        .send(`${form.replaceAll(':victim', encodeURIComponent(victimEmail))}&_csrf=${csrfToken}`);
      expect(res.status, form).to.be.oneOf([401, 422]);
      await expectSignedOut(agent);
    }
  });

  it('sends no reset mail and creates no reset token for an operator as the address', async () => {
    for (const email of [{ $ne: null }, { $gt: '' }, { $regex: '.*' }, [victimEmail]]) {
      const { agent, csrfToken } = await anonymousAgent(t.app);
      const res = await agent
        .post('/password/forgot')
        .set('content-type', 'application/json')
        .send(JSON.stringify({ email, _csrf: csrfToken }));
      expect(res.status, JSON.stringify(email)).to.be.below(500);
    }
    expect(await PasswordReset.countDocuments()).to.equal(0);
  });

  it('finds no invitation or reset by an operator instead of a token', async () => {
    const paths = [
      '/invitations/accept?token[$ne]=x',
      '/invitations/accept?token[$regex]=.*',
      '/invitations/accept?token=a&token=b',
      '/password/reset?token[$ne]=x',
      '/password/reset?token[$gt]=',
    ];
    for (const path of paths) {
      const res = await request(t.app).get(path);
      expect(res.status, path).to.equal(404);
    }
    for (const url of ['/invitations/accept', '/password/reset']) {
      const { agent, csrfToken } = await anonymousAgent(t.app);
      const res = await agent
        .post(url)
        .set('content-type', 'application/json')
        .send(JSON.stringify({ token: { $ne: null }, _csrf: csrfToken }));
      expect(res.status, url).to.equal(404);
    }
  });

  it('keeps search filters literal and inside the viewer’s area', async () => {
    const probes = [
      'q[$regex]=.*',
      'q=.*',
      'q=%5E',
      'q=(a%2B)%2B%24',
      'q[$ne]=x',
      'municipalityId[$ne]=000000000000000000000000',
      'municipalityId=%7B%22%24ne%22%3Anull%7D',
      'regionId[$ne]=x',
      'status[$ne]=active',
      'role[$in][]=admin',
      'q=a&q=b',
      'page[$gt]=1',
      'page=-1',
      'page=1e400',
      '__proto__[q]=x',
      'constructor[prototype][q]=x',
    ];
    for (const query of probes) {
      const res = await coordinator.get(`/admin/users?${query}`);
      expect(res.status, query).to.equal(200);
      expect(res.text, `${query}: a 松本市 user shown to a 長野市 coordinator`).not.to.contain(
        hiddenName,
      );
    }
    // A literal search: ".*" matches no one (no name or address contains those two characters).
    const dotStar = await admin.get('/admin/users?q=.*').expect(200);
    expect(dotStar.text).not.to.contain(hiddenName);
    for (const base of ['/admin/organisations', '/admin/audit']) {
      for (const query of [...probes, 'actor[$ne]=x', 'from[$gt]=', 'action[$ne]=x']) {
        const res = await admin.get(`${base}?${query}`);
        expect(res.status, `${base}?${query}`).to.equal(200);
      }
    }
  });

  it('answers 404 for operators and odd values in id parameters', async () => {
    const ids = [
      '%7B%22%24ne%22%3Anull%7D',
      '%5Bobject%20Object%5D',
      '%24ne',
      '..%2F..%2F',
      '000000000000000000000000%00',
      'ffffffffffffffffffffffff',
      "1'%20or%20'1'='1",
    ];
    for (const id of ids) {
      for (const path of [
        `/admin/users/${id}`,
        `/admin/users/import/${id}`,
        `/admin/organisations/${id}/edit`,
        `/learn/basic-training/understanding/quiz/attempts/${id}`,
      ]) {
        const res = await admin.get(path);
        expect(res.status, path).to.equal(404);
      }
    }
    const other = await coordinator.get(`/admin/users/${matsumotoUserId}`);
    expect(other.status).to.equal(404);
  });

  it('changes nothing with operators in the bodies of admin forms', async () => {
    const before = await User.findById(victimId).lean();
    const bodies: [string, Record<string, unknown>][] = [
      [`/admin/users/${victimId}/roles`, { roles: { $ne: 'x' } }],
      [`/admin/users/${victimId}/roles`, { roles: [{ $ne: 'x' }] }],
      [`/admin/users/${victimId}/roles`, JSON.parse('{"__proto__": {"roles": ["admin"]}}')],
      ['/invitations', { email: { $gt: '' }, roles: ['trainee'] }],
      ['/invitations', { email: 'new@example.jp', roles: { $ne: null } }],
      [
        '/admin/organisations',
        { name: { $ne: null }, sector: '行政', municipalityId: { $ne: '' } },
      ],
      [`/admin/users/import/${'0'.repeat(24)}/confirm`, { id: { $ne: null } }],
    ];
    for (const [path, body] of bodies) {
      const res = await admin.agent
        .post(path)
        .set('content-type', 'application/json')
        .send(JSON.stringify({ ...body, _csrf: admin.csrfToken }));
      expect(res.status, `${path} ${JSON.stringify(body)}`).to.be.below(500);
    }
    const after = await User.findById(victimId).lean();
    expect(after!.roles).to.deep.equal(before!.roles);
    expect(await User.countDocuments({ roles: 'admin' })).to.equal(1);
  });

  it('pollutes no prototype with __proto__ or constructor keys', async () => {
    const visitor = await anonymousAgent(t.app);
    const payload =
      '{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}, ' +
      `"_csrf": "${visitor.csrfToken}"}`;
    for (const path of ['/login', '/register', '/password/forgot', '/invitations/accept']) {
      const res = await visitor.agent
        .post(path)
        .set('content-type', 'application/json')
        .send(payload);
      expect(res.status, path).to.be.below(500);
    }
    await visitor.agent
      .post('/login')
      .type('form')
      .send(
        `__proto__[polluted]=yes&constructor[prototype][polluted]=yes&_csrf=${visitor.csrfToken}`,
      );
    await request(t.app).get('/login?__proto__[polluted]=yes&constructor[prototype][polluted]=yes');
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    expect(Object.prototype).not.to.have.property('polluted');
  });
});
