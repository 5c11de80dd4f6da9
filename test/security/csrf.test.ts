/**
 * CSRF on every unsafe route. The routes come from the app's own router (test/helpers/routes.ts),
 * so a new POST route is checked the day it is added: a row in ROUTES says who may use it and
 * with which form (a form that would change something, so that a skipped check shows in the
 * database too); a route without a row is sent by an administrator (a trainee under /learn) with
 * its parameters filled in by name.
 *
 * For each route: without a token, with another session's valid token, with a made-up token in
 * the header → 403 with the CSRF message, and the database (and the outbox) unchanged. Then, as a
 * control, the same request with the right token is not refused: the role and form do reach
 * the route, so the 403 above was the CSRF check's and nothing else's.
 */
import { expect } from 'chai';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import { issueCertificate } from '../../src/certificates/certificate.service.js';
import { learnerOf } from '../../src/learning/learner.js';
import { startAttempt } from '../../src/learning/quiz.service.js';
import { Organisation } from '../../src/organisations/organisation.model.js';
import { toSessionUser } from '../../src/auth/passport.js';
import { createInvitation } from '../../src/users/invitations.service.js';
import { createTestApp, testCatalog, type TestApp } from '../helpers/app.js';
import { anonymousAgent, signIn } from '../helpers/auth.js';
import { buildMunicipality, buildUser, DEFAULT_TEST_PASSWORD } from '../helpers/factories.js';
import { appRoutes, type AppRoute } from '../helpers/routes.js';
import { CSRF_REFUSED, expectUnchanged, snapshot } from './helpers.js';

type Who = 'anonymous' | 'trainee' | 'coordinator' | 'admin' | 'changer';
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Paths whose success signs in or out, or renews the session (and its token). */
const SESSION_CHANGING = new Set([
  '/login',
  '/logout',
  '/register',
  '/invitations/accept',
  '/account/password',
]);
const NEW_PASSWORD = 'another-horse-battery-staple-9';

interface Row {
  who: Who;
  /** The concrete path; `:name` parts are fixtures. */
  path: string;
  form?: Record<string, string | string[]>;
  /** A multipart upload (the CSV import): the form goes as fields, with this file. */
  file?: { field: string; name: string; content: string };
}

/** Who sends each unsafe route, by its pattern, with a form that would change something. */
const ROUTES: Record<string, Row> = {
  'POST /login': {
    who: 'anonymous',
    path: '/login',
    form: { email: ':traineeEmail', password: DEFAULT_TEST_PASSWORD },
  },
  'POST /logout': { who: 'trainee', path: '/logout' },
  'POST /password/forgot': {
    who: 'anonymous',
    path: '/password/forgot',
    form: { email: ':traineeEmail' },
  },
  'POST /password/reset': {
    who: 'anonymous',
    path: '/password/reset',
    form: { token: 'x'.repeat(43), password: NEW_PASSWORD, passwordConfirm: NEW_PASSWORD },
  },
  'POST /register': {
    who: 'anonymous',
    path: '/register',
    form: {
      name: '登録 花子',
      nameKana: 'とうろく はなこ',
      email: 'csrf-register@example.jp',
      profession: '保健師',
      municipalityId: ':naganoId',
      password: NEW_PASSWORD,
      passwordConfirm: NEW_PASSWORD,
    },
  },
  'POST /invitations/accept': {
    who: 'anonymous',
    path: '/invitations/accept',
    form: {
      token: ':invitationToken',
      name: '招待 太郎',
      nameKana: 'しょうたい たろう',
      profession: '保健師',
      password: NEW_PASSWORD,
      passwordConfirm: NEW_PASSWORD,
    },
  },
  'POST /invitations': {
    who: 'coordinator',
    path: '/invitations',
    form: { email: 'csrf-invite@example.jp', roles: 'trainee' },
  },
  'POST /invitations/:id/revoke': { who: 'coordinator', path: '/invitations/:invitationId/revoke' },
  'POST /approvals/:id/approve': { who: 'coordinator', path: '/approvals/:pendingId/approve' },
  'POST /approvals/:id/reject': { who: 'coordinator', path: '/approvals/:pendingId/reject' },
  'POST /account/password': {
    who: 'changer',
    path: '/account/password',
    form: {
      currentPassword: DEFAULT_TEST_PASSWORD,
      password: NEW_PASSWORD,
      passwordConfirm: NEW_PASSWORD,
    },
  },
  'POST /admin/organisations': {
    who: 'admin',
    path: '/admin/organisations',
    form: { name: 'CSRF 相談室', sector: '行政', municipalityId: ':naganoId' },
  },
  'POST /admin/organisations/:id': {
    who: 'admin',
    path: '/admin/organisations/:organisationId',
    form: { name: '改名された課', sector: '行政', municipalityId: ':naganoId' },
  },
  'POST /admin/users/import': {
    who: 'coordinator',
    path: '/admin/users/import',
    file: {
      field: 'file',
      name: 'users.csv',
      content:
        '氏名,ふりがな,メールアドレス,市町村\n山田 花子,やまだ はなこ,csrf-csv@example.jp,長野市\n',
    },
  },
  'POST /admin/users/import/:id/confirm': {
    who: 'coordinator',
    path: '/admin/users/import/:batchId/confirm',
  },
  'POST /admin/users/import/:id/discard': {
    who: 'coordinator',
    path: '/admin/users/import/:batchId/discard',
  },
  'POST /admin/users/:id/roles': {
    who: 'admin',
    path: '/admin/users/:rolesTargetId/roles',
    form: { roles: ['trainee', 'supervisor'] },
  },
  'POST /admin/users/:id/suspend': { who: 'coordinator', path: '/admin/users/:targetId/suspend' },
  'POST /admin/users/:id/reactivate': {
    who: 'coordinator',
    path: '/admin/users/:suspendedId/reactivate',
  },
  'POST /learn/:program/:module/:lesson/read': {
    who: 'trainee',
    path: '/learn/basic-training/understanding/numbers/read',
  },
  'POST /learn/:program/:module/quiz/attempts/:attemptId': {
    who: 'trainee',
    path: '/learn/basic-training/understanding/quiz/attempts/:attemptId',
  },
  'POST /admin/certificates': {
    who: 'admin',
    path: '/admin/certificates',
    form: {
      email: ':traineeEmail',
      programId: 'basic-training',
      completedOn: '2026-04-10',
      reason: '集合研修の修了',
    },
  },
  'POST /admin/certificates/:id/revoke': {
    who: 'admin',
    path: '/admin/certificates/:certificateId/revoke',
    form: { reason: '本人からの申し出' },
  },
  'POST /admin/certificates/:id/name': {
    who: 'admin',
    path: '/admin/certificates/:certificateId/name',
    form: { name: '訂正 太郎' },
  },
};

/** Route parameters by name, for routes without a row (added after this file). */
const PARAMS: Record<string, string> = {
  program: 'basic-training',
  module: 'understanding',
  lesson: 'numbers',
  attemptId: ':attemptId',
  id: ':targetId',
};

/** The row for a route: its own, or one made from the pattern. */
function rowFor(route: AppRoute): Row {
  const own = ROUTES[`${route.method} ${route.pattern}`];
  if (own) return own;
  const path = route.pattern
    .replace(/\/+$/, '')
    .replace(/:(\w+)/g, (whole, name: string) => PARAMS[name] ?? whole);
  return { who: route.pattern.startsWith('/learn') ? 'trainee' : 'admin', path, form: {} };
}

interface Session {
  agent: TestAgent;
  csrfToken: string;
}

describe('security: CSRF on every unsafe route', () => {
  let t: TestApp;
  let fixtures: Record<string, string>;
  const credentials = new Map<Who, { email: string; password: string }>();
  let unsafe: AppRoute[];

  before(async () => {
    t = await createTestApp();
    const nagano = await buildMunicipality('長野市');
    const [trainee, coordinator, admin, changer, target, rolesTarget, suspended, pending] =
      await Promise.all([
        buildUser({ roles: ['trainee'], municipality: nagano }),
        buildUser({ roles: ['coordinator'], municipality: nagano }),
        buildUser({ roles: ['admin'] }),
        buildUser({ roles: ['trainee'], municipality: nagano }),
        buildUser({ roles: ['trainee'], municipality: nagano }),
        buildUser({ roles: ['trainee'], municipality: nagano }),
        buildUser({ roles: ['trainee'], municipality: nagano, status: 'suspended' }),
        buildUser({ roles: ['trainee'], municipality: nagano, status: 'pending' }),
      ]);
    for (const [who, built] of [
      ['trainee', trainee],
      ['coordinator', coordinator],
      ['admin', admin],
      ['changer', changer],
    ] as const) {
      credentials.set(who, { email: built.user.email, password: built.password });
    }
    const { invitation, token } = await createInvitation({
      email: 'csrf-invited@example.jp',
      roles: ['trainee'],
      municipalityId: String(nagano._id),
      invitedBy: String(admin.user._id),
    });
    const organisation = await Organisation.create({
      name: '長野市 福祉課',
      sector: '行政',
      municipalityId: nagano._id,
    });
    const catalog = await testCatalog(t.config);
    const program = catalog.programs.find((p) => p.id === 'basic-training')!;
    const module = program.modules.find((m) => m.id === 'understanding')!;
    const attemptId = await startAttempt(
      learnerOf(toSessionUser(trainee.user)),
      program,
      module,
      module.quiz!,
    );
    const coordinatorSession = await sessionOf('coordinator');
    const upload = await coordinatorSession.agent
      .post('/admin/users/import')
      .field('_csrf', coordinatorSession.csrfToken)
      .attach(
        'file',
        Buffer.from(
          '氏名,ふりがな,メールアドレス,市町村\n佐藤 一郎,さとう いちろう,csrf-batch@example.jp,長野市\n',
        ),
        'users.csv',
      )
      .expect(303);
    fixtures = {
      traineeEmail: trainee.user.email,
      naganoId: String(nagano._id),
      invitationId: String(invitation._id),
      invitationToken: token,
      pendingId: String(pending.user._id),
      organisationId: String(organisation._id),
      batchId: String(upload.headers.location).split('/').pop()!,
      targetId: String(target.user._id),
      rolesTargetId: String(rolesTarget.user._id),
      suspendedId: String(suspended.user._id),
      attemptId,
      certificateId: String(
        (
          await issueCertificate({
            userId: String(target.user._id),
            program: { id: 'basic-training', title: 'ひきこもり支援者 多職種基礎研修' },
            completedAt: new Date(),
            kind: 'automatic',
          })
        )._id,
      ),
    };
    unsafe = appRoutes(t.app).filter((route) => UNSAFE.has(route.method));
  });
  after(async () => {
    await t.close();
  });

  /** A fresh session of `who` (anonymous: a session with a CSRF token, as after GET /login). */
  async function sessionOf(who: Who): Promise<Session> {
    if (who === 'anonymous') return anonymousAgent(t.app);
    return signIn(t.app, { email: credentials.get(who)!.email }, credentials.get(who)!.password);
  }

  const fill = (value: string) =>
    value.replace(/:(\w+)/g, (whole, name: string) => fixtures[name] ?? whole);

  /** Sends the row's request; `token` undefined sends none, `header` puts it in x-csrf-token. */
  function send(
    session: Session,
    method: string,
    row: Row,
    token: { value?: string; header?: boolean },
  ): request.Test {
    const path = fill(row.path);
    const form: Record<string, string | string[]> = {};
    for (const [key, value] of Object.entries(row.form ?? {}))
      form[key] = Array.isArray(value) ? value.map(fill) : fill(value);
    const test = session.agent[method.toLowerCase() as 'post'](path);
    if (token.value !== undefined && token.header) test.set('x-csrf-token', token.value);
    if (row.file) {
      for (const [key, value] of Object.entries(form)) test.field(key, value);
      if (token.value !== undefined && !token.header) test.field('_csrf', token.value);
      return test.attach(row.file.field, Buffer.from(row.file.content), row.file.name);
    }
    if (token.value !== undefined && !token.header) form._csrf = token.value;
    return test.type('form').send(form);
  }

  it('finds the unsafe routes (and every row still names one)', () => {
    expect(unsafe.length, 'unsafe routes found').to.be.greaterThan(15);
    const patterns = new Set(unsafe.map((route) => `${route.method} ${route.pattern}`));
    const stale = Object.keys(ROUTES).filter((key) => !patterns.has(key));
    expect(stale, 'rows for routes the app no longer has').to.deep.equal([]);
  });

  it('refuses every unsafe route without a token or with a wrong one, and changes nothing', async function () {
    this.timeout(180_000);
    const other = await anonymousAgent(t.app);
    const failures: string[] = [];
    // Refused requests change nothing, so one session per user serves every route.
    const sessions = new Map<Who, Session>();
    // The database as the last route's requests left it, when they changed nothing and no
    // sign-in came since: that route's `after` is the next one's `before`.
    let unchangedSince: Record<string, string> | undefined;
    for (const route of unsafe) {
      const row = rowFor(route);
      if (!sessions.has(row.who)) {
        sessions.set(row.who, await sessionOf(row.who));
        unchangedSince = undefined;
      }
      const session = sessions.get(row.who)!;
      const before = unchangedSince ?? (await snapshot(t.database.connection, t.config.dataDir));
      const attempts = [
        { label: 'no token', token: {} },
        { label: "another session's token", token: { value: other.csrfToken } },
        { label: 'a made-up header token', token: { value: 'x'.repeat(40), header: true } },
        { label: 'an empty token', token: { value: '' } },
      ];
      for (const { label, token } of attempts) {
        const res = await send(session, route.method, row, token);
        if (res.status !== 403 || !res.text.includes(CSRF_REFUSED)) {
          failures.push(`${route.method} ${route.pattern} (${label}): ${res.status}`);
        }
      }
      const after = await snapshot(t.database.connection, t.config.dataDir);
      unchangedSince = undefined;
      try {
        expectUnchanged(before, after, `${route.method} ${route.pattern}`);
        unchangedSince = after;
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
    expect(failures).to.deep.equal([]);
  });

  it('(control) lets each of those requests through with the right token', async function () {
    this.timeout(180_000);
    const refused: string[] = [];
    const sessions = new Map<Who, Session>();
    for (const route of unsafe) {
      const row = rowFor(route);
      if (!sessions.has(row.who)) sessions.set(row.who, await sessionOf(row.who));
      const session = sessions.get(row.who)!;
      const res = await send(session, route.method, row, { value: session.csrfToken });
      if (res.status === 403) refused.push(`${route.method} ${route.pattern}`);
      // Signing in or out, and a password change, renew or end the session.
      if (SESSION_CHANGING.has(fill(row.path))) sessions.delete(row.who);
    }
    expect(refused, 'refused with a valid token: the row does not reach the route').to.deep.equal(
      [],
    );
  });
});
