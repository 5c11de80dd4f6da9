/**
 * Who may open what: every route × every role, in one table. To add a route, add a row to ROWS
 * (use the helpers below for the usual shapes), with fixtures from `f` for ids.
 *
 * Paths may name fixtures: '/admin/users/:matsumotoTraineeId'.
 * Outcomes: 200 (or any other status number), 'login' (302 to /login), 'redirect' (302/303
 * elsewhere), 'skip' (not checked for that role, e.g. because it would change shared fixtures).
 * Rows run in table order; within a row roles run anonymous → admin, so put a mutating
 * outcome for admin last or mark it 'skip'.
 */
import { expect } from 'chai';
import request from 'supertest';
import { Organisation } from '../../src/organisations/organisation.model.js';
import type { Role } from '../../src/users/roles.js';
import { createInvitation } from '../../src/users/invitations.service.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';

type Who = 'anonymous' | 'trainee' | 'supervisor' | 'coordinator' | 'regional_viewer' | 'admin';
type Outcome = number | 'login' | 'redirect' | 'skip';
type Expectations = Record<Who, Outcome>;

const WHO: Who[] = [
  'anonymous',
  'trainee',
  'supervisor',
  'coordinator',
  'regional_viewer',
  'admin',
];

/** Ids of the records the rows point at. The coordinator and regional viewer belong to 長野市 / 長野圏域. */
interface Fixtures {
  naganoTraineeId: string;
  matsumotoTraineeId: string;
  naganoPendingId: string;
  matsumotoPendingId: string;
  matsumotoInvitationId: string;
  naganoOrganisationId: string;
  matsumotoOrganisationId: string;
  matsumotoTraineeName: string;
}

interface Row {
  method: 'GET' | 'POST';
  /** A path; `:name` parts are replaced by the fixture of that name (e.g. /admin/users/:matsumotoTraineeId). */
  path: string;
  form?: Record<string, string | string[]>;
  expect: Expectations;
  /** Why the row exists, when it is not obvious. */
  note?: string;
}

// ── Shorthands ───────────────────────────────────────────────────────────────────────────────
/** Everyone, signed in or not. */
const everyone = (status: Outcome = 200): Expectations =>
  Object.fromEntries(WHO.map((who) => [who, status])) as Expectations;
/** Anonymous visitors only; signed-in users are sent on. */
const anonymousOnly = (): Expectations => ({ ...everyone('redirect'), anonymous: 200 });
/** Every signed-in user; anonymous → login. */
const signedIn = (status: Outcome = 200): Expectations => ({
  ...everyone(status),
  anonymous: 'login',
});
/** Users holding one of `roles` (and admins) get `status`; other signed-in users 403; anonymous → login. */
const only = (
  roles: Role[],
  status: Outcome = 200,
  overrides: Partial<Expectations> = {},
): Expectations => ({
  anonymous: 'login',
  trainee: roles.includes('trainee') ? status : 403,
  supervisor: roles.includes('supervisor') ? status : 403,
  coordinator: roles.includes('coordinator') ? status : 403,
  regional_viewer: roles.includes('regional_viewer') ? status : 403,
  admin: status,
  ...overrides,
});

const ROWS: Row[] = [
  // ── Public pages ───────────────────────────────────────────────────────────────────────────
  { method: 'GET', path: '/', expect: everyone(200) },
  { method: 'GET', path: '/healthz', expect: everyone(200) },
  { method: 'GET', path: '/login', expect: anonymousOnly() },
  { method: 'GET', path: '/register', expect: anonymousOnly() },
  { method: 'GET', path: '/password/forgot', expect: everyone(200) },
  {
    method: 'GET',
    path: '/password/reset?token=' + 'x'.repeat(43),
    expect: everyone(404),
    note: 'unknown token',
  },
  {
    method: 'GET',
    path: '/invitations/accept?token=' + 'x'.repeat(43),
    expect: everyone(404),
    note: 'unknown token',
  },

  // ── Accounts (A1) ──────────────────────────────────────────────────────────────────────────
  { method: 'GET', path: '/account', expect: signedIn(200) },
  {
    method: 'POST',
    path: '/account/password',
    form: {},
    expect: signedIn(422),
    note: 'empty form',
  },
  {
    method: 'POST',
    path: '/logout',
    expect: { ...everyone('redirect') },
    note: 'last row of a session is re-signed in',
  },
  { method: 'GET', path: '/approvals', expect: only(['coordinator']) },
  { method: 'GET', path: '/invitations', expect: only(['coordinator']) },
  { method: 'GET', path: '/invitations/new', expect: only(['coordinator']) },
  {
    method: 'POST',
    path: '/invitations',
    form: {},
    expect: only(['coordinator'], 422),
    note: 'empty form',
  },
  {
    method: 'POST',
    path: '/approvals/:matsumotoPendingId/approve',
    expect: only(['coordinator'], 'skip', { coordinator: 404 }),
    note: 'a 長野市 coordinator cannot approve a 松本市 application',
  },
  {
    method: 'POST',
    path: '/approvals/:matsumotoPendingId/reject',
    expect: only(['coordinator'], 'skip', { coordinator: 404 }),
  },
  {
    method: 'POST',
    path: '/invitations/:matsumotoInvitationId/revoke',
    expect: only(['coordinator'], 'skip', { coordinator: 404 }),
  },
  { method: 'GET', path: '/admin/outbox', expect: only([]) },
  { method: 'GET', path: '/admin/outbox/0000000000000-00000000', expect: only([], 404) },

  // ── Organisations & admin (A2) ─────────────────────────────────────────────────────────────
  { method: 'GET', path: '/admin/users', expect: only(['coordinator', 'regional_viewer']) },
  {
    method: 'GET',
    path: '/admin/users/:naganoTraineeId',
    expect: only(['coordinator', 'regional_viewer']),
  },
  {
    method: 'GET',
    path: '/admin/users/:matsumotoTraineeId',
    expect: only(['coordinator', 'regional_viewer'], 200, {
      coordinator: 404,
      regional_viewer: 404,
    }),
    note: 'cross-municipality and cross-region: 404, not the user',
  },
  {
    method: 'GET',
    path: '/admin/users/000000000000000000000000',
    expect: only(['coordinator', 'regional_viewer'], 404),
  },
  {
    method: 'POST',
    path: '/admin/users/:matsumotoTraineeId/suspend',
    expect: only(['coordinator'], 'skip', { coordinator: 404 }),
  },
  {
    method: 'POST',
    path: '/admin/users/:matsumotoTraineeId/roles',
    form: { roles: 'admin' },
    expect: only([], 'skip'),
  },
  { method: 'GET', path: '/admin/users/import', expect: only(['coordinator']) },
  { method: 'GET', path: '/admin/audit', expect: only([]) },
  { method: 'GET', path: '/admin/organisations', expect: only(['coordinator', 'regional_viewer']) },
  { method: 'GET', path: '/admin/organisations/new', expect: only([]) },
  { method: 'GET', path: '/admin/organisations/:naganoOrganisationId/edit', expect: only([]) },

  // ── Learning (L) ───────────────────────────────────────────────────────────────────────────
  { method: 'GET', path: '/learn', expect: signedIn(200) },
  { method: 'GET', path: '/learn/me', expect: signedIn(200) },
  { method: 'GET', path: '/learn/basic-training', expect: signedIn(200) },
  { method: 'GET', path: '/learn/no-such-program', expect: signedIn(404) },
];

describe('access matrix: every route × every role', () => {
  let t: TestApp;
  let f: Fixtures;
  const sessions = new Map<Who, SignedIn>();
  const credentials = new Map<Who, { email: string; password: string }>();

  before(async () => {
    t = await createTestApp();
    const nagano = await buildMunicipality('長野市');
    const matsumoto = await buildMunicipality('松本市');
    const roles: Exclude<Who, 'anonymous'>[] = [
      'trainee',
      'supervisor',
      'coordinator',
      'regional_viewer',
      'admin',
    ];
    for (const role of roles) {
      const { user, password } = await buildUser({
        roles: [role],
        municipality: role === 'admin' ? null : nagano,
      });
      credentials.set(role, { email: user.email, password });
      sessions.set(role, await signIn(t.app, user, password));
    }
    const { user: admin } = await buildUser({ roles: ['admin'] });
    const [naganoTrainee, matsumotoTrainee, naganoPending, matsumotoPending] = await Promise.all([
      buildUser({ municipality: nagano }),
      buildUser({ municipality: matsumoto }),
      buildUser({ municipality: nagano, status: 'pending' }),
      buildUser({ municipality: matsumoto, status: 'pending' }),
    ]);
    const { invitation } = await createInvitation({
      email: 'invited-matsumoto@example.jp',
      roles: ['trainee'],
      municipalityId: String(matsumoto._id),
      invitedBy: String(admin._id),
    });
    const [naganoOrganisation, matsumotoOrganisation] = await Promise.all([
      Organisation.create({ name: '長野市 福祉課', sector: '行政', municipalityId: nagano._id }),
      Organisation.create({ name: '松本市 福祉課', sector: '行政', municipalityId: matsumoto._id }),
    ]);
    f = {
      naganoTraineeId: String(naganoTrainee.user._id),
      matsumotoTraineeId: String(matsumotoTrainee.user._id),
      naganoPendingId: String(naganoPending.user._id),
      matsumotoPendingId: String(matsumotoPending.user._id),
      matsumotoInvitationId: String(invitation._id),
      naganoOrganisationId: String(naganoOrganisation._id),
      matsumotoOrganisationId: String(matsumotoOrganisation._id),
      matsumotoTraineeName: matsumotoTrainee.user.name,
    };
  });
  after(async () => {
    await t.close();
  });

  async function send(who: Who, row: Row, path: string): Promise<request.Response> {
    if (who === 'anonymous') {
      // Anonymous POSTs carry a valid CSRF token of their own session, so the route itself answers.
      const agent = request.agent(t.app);
      if (row.method === 'GET') return agent.get(path);
      const page = await agent.get('/login');
      const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1];
      return agent
        .post(path)
        .type('form')
        .send({ ...row.form, _csrf: token });
    }
    const session = sessions.get(who)!;
    return row.method === 'GET' ? session.get(path) : session.post(path, row.form ?? {});
  }

  function check(res: request.Response, outcome: Outcome, label: string) {
    if (outcome === 'login') {
      expect(res.status, label).to.equal(302);
      expect(res.headers.location, label).to.match(/^\/login(\?|$)/);
    } else if (outcome === 'redirect') {
      expect(res.status, label).to.be.oneOf([302, 303]);
      expect(res.headers.location, label).not.to.match(/^\/login/);
    } else {
      expect(res.status, label).to.equal(outcome);
    }
  }

  function resolve(path: string): string {
    return path.replace(/:(\w+)/g, (whole, name: string) => {
      const value = (f as unknown as Record<string, string>)[name];
      if (!value) throw new Error(`no fixture ${name} for ${path}`);
      return value;
    });
  }

  for (const row of ROWS) {
    it(`${row.method} ${row.path}` + (row.note ? ` (${row.note})` : ''), async () => {
      const path = resolve(row.path);
      for (const who of WHO) {
        const outcome = row.expect[who];
        if (outcome === 'skip') continue;
        const res = await send(who, row, path);
        check(res, outcome, `${who}: ${row.method} ${path}`);
        if (row.method === 'POST' && path === '/logout' && who !== 'anonymous') {
          const { email, password } = credentials.get(who)!;
          sessions.set(who, await signIn(t.app, { email }, password));
        }
      }
    });
  }

  it('answers JSON clients 401 instead of a redirect', async () => {
    await request(t.app).get('/account').set('accept', 'application/json').expect(401);
    await request(t.app).get('/admin/users').set('accept', 'application/json').expect(401);
  });

  it('a 長野市 coordinator or 長野圏域 viewer never sees a 松本市 user in the user list', async () => {
    const res = await sessions.get('coordinator')!.get('/admin/users').expect(200);
    expect(res.text).not.to.contain(f.matsumotoTraineeName);
    const viewer = await sessions.get('regional_viewer')!.get('/admin/users').expect(200);
    expect(viewer.text).not.to.contain(f.matsumotoTraineeName);
    const admin = await sessions.get('admin')!.get('/admin/users').expect(200);
    expect(admin.text).to.contain(f.matsumotoTraineeName);
  });
});
