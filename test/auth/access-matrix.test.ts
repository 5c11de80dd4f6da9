/**
 * Who may open what: every route × every role, in one table. To add a route, add a row to ROWS
 * (use the helpers below for the usual shapes), with fixtures from `f` for ids. A check at the end
 * walks the routes the app registers and fails for any route no row reaches (see EXEMPT).
 *
 * Paths may name fixtures: '/admin/users/:matsumotoTraineeId'.
 * Outcomes: 200 (or any other status number), 'login' (302 to /login), 'redirect' (302/303
 * elsewhere), 'skip' (not checked for that role, e.g. because it would change shared fixtures).
 * Rows run in table order; within a row roles run anonymous → admin, so put a mutating
 * outcome for admin last or mark it 'skip'.
 */
import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { CaseStudy } from '../../src/case-studies/case-study.model.js';
import { issueCertificate } from '../../src/certificates/certificate.service.js';
import { Notification } from '../../src/notifications/notification.model.js';
import { notify } from '../../src/notifications/notifications.service.js';
import { Organisation } from '../../src/organisations/organisation.model.js';
import type { Role } from '../../src/users/roles.js';
import { createInvitation } from '../../src/users/invitations.service.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';
import { appRoutes, type AppRoute } from '../helpers/routes.js';
import { completeTexts, pdfBytes, postForm } from '../case-studies/helpers.js';

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
  /** A 長野市 trainee the suspend row may suspend (no other row uses it). */
  naganoSuspendableId: string;
  naganoPendingId: string;
  matsumotoPendingId: string;
  naganoInvitationId: string;
  matsumotoInvitationId: string;
  naganoOrganisationId: string;
  matsumotoOrganisationId: string;
  matsumotoTraineeName: string;
  /** CSV import previews uploaded by the admin: one to look at and confirm, one to discard. */
  adminImportBatchId: string;
  adminDiscardBatchId: string;
  /** A quiz attempt started by the signed-in trainee (attempts belong to their learner only). */
  traineeAttemptId: string;
  /** The signed-in trainee's submitted case study (version 1) and its attached PDF. */
  traineeCaseStudyId: string;
  traineeCaseFileId: string;
  /** A notification to the signed-in trainee (only they may open it). */
  traineeNotificationId: string;
  /** Certificates: the signed-in (長野市) trainee's, a 松本市 trainee's, and the two municipalities. */
  traineeCertificateId: string;
  traineeVerificationCode: string;
  matsumotoCertificateId: string;
  naganoMunicipalityId: string;
  matsumotoMunicipalityId: string;
  /** Municipalities and regions of the tracking reports (/reports). */
  naganoRegionId: string;
  matsumotoRegionId: string;
}

/** The module, lesson and quiz of the real course the learning rows open. */
const MODULE = '/learn/basic-training/understanding';
/** The case-study page of the real course. */
const CASE = '/learn/basic-training/case-study';

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

/** A record of `who`'s own: `who` gets `status`, every other signed-in user 404 (admins too); anonymous → login. */
const ownerOnly = (who: Who, status: Outcome = 200): Expectations => ({
  ...signedIn(404),
  [who]: status,
});

const ROWS: Row[] = [
  // ── Public pages ───────────────────────────────────────────────────────────────────────────
  { method: 'GET', path: '/', expect: everyone(200) },
  { method: 'GET', path: '/healthz', expect: everyone(200) },
  { method: 'GET', path: '/privacy', expect: everyone(200), note: 'the real courses/privacy.md' },
  {
    method: 'GET',
    path: '/public/css/app.css',
    expect: everyone(200),
    note: 'static files, not a route',
  },
  { method: 'GET', path: '/login', expect: anonymousOnly() },
  {
    method: 'POST',
    path: '/login',
    form: {},
    expect: everyone(422),
    note: 'empty form; no one is signed in or out',
  },
  { method: 'GET', path: '/register', expect: anonymousOnly() },
  {
    method: 'POST',
    path: '/register',
    form: {},
    expect: { ...everyone('redirect'), anonymous: 422 },
    note: 'empty form',
  },
  { method: 'GET', path: '/password/forgot', expect: everyone(200) },
  {
    method: 'POST',
    path: '/password/forgot',
    form: {},
    expect: everyone(422),
    note: 'empty form',
  },
  {
    method: 'GET',
    path: '/password/reset?token=' + 'x'.repeat(43),
    expect: everyone(404),
    note: 'unknown token',
  },
  {
    method: 'POST',
    path: '/password/reset',
    form: { token: 'x'.repeat(43) },
    expect: everyone(404),
    note: 'unknown token',
  },
  {
    method: 'GET',
    path: '/invitations/accept?token=' + 'x'.repeat(43),
    expect: everyone(404),
    note: 'unknown token',
  },
  {
    method: 'POST',
    path: '/invitations/accept',
    form: { token: 'x'.repeat(43) },
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
    path: '/approvals/:naganoPendingId/approve',
    expect: only(['coordinator'], 'redirect', { admin: 'skip' }),
    note: 'own municipality; approved by the coordinator, so no longer pending for the admin',
  },
  {
    method: 'POST',
    path: '/invitations/:matsumotoInvitationId/resend',
    expect: only(['coordinator'], 'skip', { coordinator: 404 }),
  },
  {
    method: 'POST',
    path: '/invitations/:naganoInvitationId/resend',
    expect: only(['coordinator'], 'redirect'),
    note: 'own municipality; a new link each time',
  },
  {
    method: 'POST',
    path: '/invitations/:matsumotoInvitationId/revoke',
    expect: only(['coordinator'], 'skip', { coordinator: 404 }),
  },
  {
    method: 'POST',
    path: '/invitations/:naganoInvitationId/revoke',
    expect: only(['coordinator'], 'redirect'),
    note: 'own municipality; revoking twice changes nothing',
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
    path: '/admin/users/:naganoTraineeId/roles',
    form: { roles: 'trainee' },
    expect: only([], 303),
    note: 'the roles it already has: nothing changes',
  },
  {
    method: 'POST',
    path: '/admin/users/:matsumotoTraineeId/roles',
    form: { roles: 'trainee' },
    expect: only([], 303),
    note: 'the roles it already has: nothing changes',
  },
  {
    method: 'POST',
    path: '/admin/users/:matsumotoTraineeId/suspend',
    expect: only(['coordinator'], 'skip', { coordinator: 404 }),
  },
  {
    method: 'POST',
    path: '/admin/users/:naganoSuspendableId/suspend',
    expect: only(['coordinator'], 'redirect'),
    note: 'own municipality, a trainee; suspending twice changes nothing',
  },
  {
    method: 'POST',
    path: '/admin/users/:naganoTraineeId/reactivate',
    expect: only(['coordinator'], 303),
    note: 'not suspended: nothing changes',
  },
  {
    method: 'POST',
    path: '/admin/users/:matsumotoTraineeId/reactivate',
    expect: only(['coordinator'], 303, { coordinator: 404 }),
  },
  {
    method: 'GET',
    path: '/admin/users/:naganoTraineeId/edit',
    expect: only(['coordinator']),
  },
  {
    method: 'GET',
    path: '/admin/users/:matsumotoTraineeId/edit',
    expect: only(['coordinator'], 200, { coordinator: 404 }),
  },
  {
    method: 'POST',
    path: '/admin/users/:naganoTraineeId/edit',
    form: {},
    expect: only(['coordinator'], 422),
    note: 'empty form: nothing changes',
  },
  {
    method: 'POST',
    path: '/admin/users/:matsumotoTraineeId/edit',
    form: {},
    expect: only(['coordinator'], 422, { coordinator: 404 }),
    note: 'empty form: nothing changes',
  },
  {
    method: 'GET',
    path: '/account/email/confirm',
    expect: everyone(404),
    note: 'no token: the invalid-link page',
  },
  { method: 'POST', path: '/account/email/confirm', form: {}, expect: everyone(404) },
  { method: 'GET', path: '/admin/users/import', expect: only(['coordinator']) },
  {
    method: 'POST',
    path: '/admin/users/import',
    form: {},
    expect: only(['coordinator'], 422),
    note: 'no file',
  },
  { method: 'GET', path: '/admin/users/import/template.csv', expect: only(['coordinator']) },
  {
    method: 'GET',
    path: '/admin/users/import/:adminImportBatchId',
    expect: only(['coordinator'], 200, { coordinator: 404 }),
    note: "someone else's import: 404",
  },
  {
    method: 'POST',
    path: '/admin/users/import/:adminImportBatchId/confirm',
    expect: only(['coordinator'], 303, { coordinator: 404 }),
    note: "someone else's import: 404; the admin's own is registered",
  },
  {
    method: 'POST',
    path: '/admin/users/import/:adminDiscardBatchId/discard',
    expect: only(['coordinator'], 303, { coordinator: 404 }),
    note: "someone else's import: 404; the admin's own is discarded",
  },
  { method: 'GET', path: '/admin/audit', expect: only([]) },
  { method: 'GET', path: '/admin/organisations', expect: only(['coordinator', 'regional_viewer']) },
  { method: 'GET', path: '/admin/organisations/new', expect: only([]) },
  {
    method: 'POST',
    path: '/admin/organisations',
    form: {},
    expect: only([], 422),
    note: 'empty form',
  },
  { method: 'GET', path: '/admin/organisations/:naganoOrganisationId/edit', expect: only([]) },
  {
    method: 'POST',
    path: '/admin/organisations/:naganoOrganisationId',
    form: {},
    expect: only([], 422),
    note: 'empty form',
  },

  // ── Learning (L) ───────────────────────────────────────────────────────────────────────────
  { method: 'GET', path: '/learn', expect: signedIn(200) },
  { method: 'GET', path: '/learn/me', expect: signedIn(200) },
  { method: 'GET', path: '/learn/basic-training', expect: signedIn(200) },
  { method: 'GET', path: '/learn/no-such-program', expect: signedIn(404) },
  { method: 'GET', path: MODULE, expect: signedIn(200) },
  { method: 'GET', path: `${MODULE}/numbers`, expect: signedIn(200) },
  {
    method: 'POST',
    path: `${MODULE}/numbers/read`,
    expect: signedIn('redirect'),
    note: "marks the lesson read in each user's own progress",
  },
  { method: 'GET', path: `${MODULE}/quiz`, expect: signedIn(200) },
  {
    method: 'GET',
    path: `${MODULE}/quiz/start`,
    expect: signedIn('redirect'),
    note: 'the old link: back to the quiz page, nothing created',
  },
  {
    method: 'POST',
    path: `${MODULE}/quiz/start`,
    expect: signedIn('redirect'),
    note: 'starts an attempt of their own',
  },
  {
    method: 'GET',
    path: `${MODULE}/quiz/attempts/:traineeAttemptId`,
    expect: ownerOnly('trainee'),
    note: "another learner's attempt: 404, admins included",
  },
  {
    method: 'POST',
    path: `${MODULE}/quiz/attempts/:traineeAttemptId`,
    form: {},
    expect: ownerOnly('trainee', 422),
    note: 'no answers: the owner gets the form back, others 404',
  },
  // ── Case studies (事例検討) ──────────────────────────────────────────────────────────────
  { method: 'GET', path: CASE, expect: signedIn(200), note: "each user's own case study page" },
  { method: 'GET', path: '/learn/no-such-program/case-study', expect: signedIn(404) },
  {
    method: 'GET',
    path: '/case-studies/:traineeCaseStudyId/versions/1',
    expect: { ...signedIn(404), trainee: 200, supervisor: 200, admin: 200 },
    note: 'the author, the assigned supervisor (the 長野市 one, allocated at submission) and admins; coordinators and viewers 404',
  },
  {
    method: 'GET',
    path: '/case-studies/:traineeCaseStudyId/diff?from=1&to=1',
    expect: { ...signedIn(404), trainee: 200, supervisor: 200, admin: 200 },
  },
  {
    method: 'GET',
    path: '/case-studies/:traineeCaseStudyId/files/:traineeCaseFileId',
    expect: { ...signedIn(404), trainee: 200, supervisor: 200, admin: 200 },
  },
  // ── Supervisor review (スーパーバイザーによる確認) ──────────────────────────────────────
  { method: 'GET', path: '/review', expect: only(['supervisor']), note: "each one's own queue" },
  {
    method: 'GET',
    path: '/review/:traineeCaseStudyId',
    expect: { ...only(['supervisor'], 200), admin: 404 },
    note: 'the assigned supervisor only; admins reassign but do not review',
  },
  {
    method: 'POST',
    path: '/review/:traineeCaseStudyId',
    form: {},
    expect: { ...only(['supervisor'], 'redirect'), admin: 404 },
    note: 'no version number: the assigned supervisor is sent back to the page, nothing saved',
  },
  {
    method: 'POST',
    path: '/review/:traineeCaseStudyId/answers',
    form: {},
    expect: signedIn(404),
    note: 'the author only, and only while the case is back with them (it is submitted here)',
  },
  { method: 'GET', path: '/admin/review', expect: only([]) },
  {
    method: 'POST',
    path: '/admin/review/:traineeCaseStudyId/assign',
    form: {},
    expect: only([], 'redirect'),
    note: 'no supervisor chosen: refused with a message',
  },
  {
    method: 'POST',
    path: '/admin/review/supervisors/:naganoTraineeId/regions',
    form: {},
    expect: only([], 404),
    note: 'not a supervisor',
  },
  { method: 'GET', path: '/admin/case-study-access', expect: only([]) },
  {
    method: 'POST',
    path: CASE,
    form: { revision: '0', action: 'save' },
    expect: signedIn('redirect'),
    note: "saves each user's own draft; the trainee's is submitted, so nothing changes",
  },
  {
    method: 'POST',
    path: `${CASE}/draft`,
    form: {},
    expect: signedIn(400),
    note: 'autosave takes JSON; an empty form is malformed',
  },
  {
    method: 'POST',
    path: `${CASE}/withdraw`,
    expect: signedIn('redirect'),
    note: "withdraws each user's own (the row above created one); last, as it ends the trainee's",
  },
  {
    method: 'GET',
    path: '/courses-assets/basic-training/understanding/no-such-file.png',
    expect: signedIn(404),
    note: 'the course has no attachments; anonymous is stopped before the lookup',
  },

  // ── Notifications (お知らせ) ───────────────────────────────────────────────────────────────
  { method: 'GET', path: '/notifications', expect: signedIn(200), note: "each user's own list" },
  {
    method: 'POST',
    path: '/notifications/:traineeNotificationId/open',
    expect: ownerOnly('trainee', 'redirect'),
    note: 'the addressee only; administrators too get 404',
  },
  {
    method: 'POST',
    path: '/notifications/read-all',
    expect: signedIn('redirect'),
    note: "marks each user's own",
  },
  {
    method: 'POST',
    path: '/account/notification-mail',
    form: { notificationMail: 'on' },
    expect: signedIn('redirect'),
    note: "each user's own setting (left on)",
  },

  // ── Certificates (修了証書) ──────────────────────────────────────────────────────────────
  {
    method: 'GET',
    path: '/verify/:traineeVerificationCode',
    expect: everyone(200),
    note: 'public: anyone holding the printed URL',
  },
  {
    method: 'GET',
    path: '/certificates/:traineeCertificateId/pdf',
    expect: { ...signedIn(404), trainee: 200, coordinator: 200, admin: 200 },
    note: 'the holder, the coordinator of their municipality, admins',
  },
  {
    method: 'GET',
    path: '/certificates/:matsumotoCertificateId/pdf',
    expect: { ...signedIn(404), admin: 200 },
    note: 'another municipality: 404 for the 長野市 coordinator',
  },
  { method: 'GET', path: '/admin/certificates', expect: only(['coordinator']) },
  {
    method: 'GET',
    path: '/admin/certificates/municipalities/:naganoMunicipalityId/zip',
    expect: only(['coordinator']),
  },
  {
    method: 'GET',
    path: '/admin/certificates/municipalities/:matsumotoMunicipalityId/zip',
    expect: only(['coordinator'], 200, { coordinator: 404 }),
    note: "another municipality's ZIP: 404",
  },
  { method: 'GET', path: '/admin/certificates/new', expect: only([]) },
  {
    method: 'POST',
    path: '/admin/certificates',
    form: {},
    expect: only([], 422),
    note: 'empty form',
  },
  { method: 'GET', path: '/admin/certificates/preview', expect: only([]) },
  { method: 'GET', path: '/admin/certificates/preview/pdf?name=x', expect: only([]) },
  { method: 'GET', path: '/admin/certificates/:traineeCertificateId', expect: only([]) },
  {
    method: 'POST',
    path: '/admin/certificates/:traineeCertificateId/name',
    form: {},
    expect: only([], 422),
    note: 'empty form',
  },
  {
    method: 'POST',
    path: '/admin/certificates/:traineeCertificateId/revoke',
    form: {},
    expect: only([], 422),
    note: 'no reason',
  },
  // ── Tracking reports (研修の実施状況) ──────────────────────────────────────────────────────
  // Outside the viewer's area: 404 (ids cannot be probed), also for roles with no report.
  {
    method: 'GET',
    path: '/reports',
    expect: { ...signedIn('redirect'), trainee: 404, supervisor: 404 },
    note: "to each viewer's own view",
  },
  { method: 'GET', path: '/reports/prefecture', expect: { ...signedIn(404), admin: 200 } },
  {
    method: 'GET',
    path: '/reports/prefecture/export/regions.csv',
    expect: { ...signedIn(404), admin: 200 },
  },
  {
    method: 'GET',
    path: '/reports/regions/:naganoRegionId',
    expect: { ...signedIn(404), regional_viewer: 200, admin: 200 },
  },
  {
    method: 'GET',
    path: '/reports/regions/:matsumotoRegionId',
    expect: { ...signedIn(404), admin: 200 },
  },
  {
    method: 'GET',
    path: '/reports/regions/:naganoRegionId/export/municipalities.xlsx',
    expect: { ...signedIn(404), regional_viewer: 200, admin: 200 },
  },
  {
    method: 'GET',
    path: '/reports/municipalities/:naganoMunicipalityId',
    expect: { ...signedIn(404), coordinator: 200, regional_viewer: 200, admin: 200 },
  },
  {
    method: 'GET',
    path: '/reports/municipalities/:matsumotoMunicipalityId',
    expect: { ...signedIn(404), admin: 200 },
  },
  {
    method: 'GET',
    path: '/reports/municipalities/:naganoMunicipalityId/export/members.csv',
    expect: { ...signedIn(404), coordinator: 200, regional_viewer: 200, admin: 200 },
  },
  {
    method: 'GET',
    path: '/reports/municipalities/:matsumotoMunicipalityId/export/sectors.xlsx',
    expect: { ...signedIn(404), admin: 200 },
  },
  {
    method: 'POST',
    path: '/reports/municipalities/:naganoMunicipalityId/reminders',
    form: {},
    expect: signedIn(404),
    note: 'no person named; who may send is in test/tracking/reports.test.ts',
  },
];

/**
 * Routes no row can reach, each with the reason. Keep it short: a route belongs here only when
 * a request to it cannot say anything about access (none at present: /healthz, /logout and the
 * multipart upload are rows; /public is static middleware, not a route, and has a row anyway).
 */
const EXEMPT: { method: string; pattern: string; reason: string }[] = [];

describe('access matrix: every route × every role', () => {
  let t: TestApp;
  let f: Fixtures;
  const sessions = new Map<Who, SignedIn>();
  const credentials = new Map<Who, { email: string; password: string }>();
  const userIds = new Map<Who, string>();

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
      userIds.set(role, String(user._id));
      sessions.set(role, await signIn(t.app, user, password));
    }
    const { user: admin } = await buildUser({ roles: ['admin'] });
    const [naganoTrainee, matsumotoTrainee, naganoSuspendable, naganoPending, matsumotoPending] =
      await Promise.all([
        buildUser({ municipality: nagano }),
        buildUser({ municipality: matsumoto }),
        buildUser({ municipality: nagano }),
        buildUser({ municipality: nagano, status: 'pending' }),
        buildUser({ municipality: matsumoto, status: 'pending' }),
      ]);
    const invite = (email: string, municipalityId: string) =>
      createInvitation({ email, roles: ['trainee'], municipalityId, invitedBy: String(admin._id) });
    const [{ invitation: naganoInvitation }, { invitation: matsumotoInvitation }] =
      await Promise.all([
        invite('invited-nagano@example.jp', String(nagano._id)),
        invite('invited-matsumoto@example.jp', String(matsumoto._id)),
      ]);
    const [naganoOrganisation, matsumotoOrganisation] = await Promise.all([
      Organisation.create({ name: '長野市 福祉課', sector: '行政', municipalityId: nagano._id }),
      Organisation.create({ name: '松本市 福祉課', sector: '行政', municipalityId: matsumoto._id }),
    ]);
    f = {
      naganoTraineeId: String(naganoTrainee.user._id),
      matsumotoTraineeId: String(matsumotoTrainee.user._id),
      naganoSuspendableId: String(naganoSuspendable.user._id),
      naganoPendingId: String(naganoPending.user._id),
      matsumotoPendingId: String(matsumotoPending.user._id),
      naganoInvitationId: String(naganoInvitation._id),
      matsumotoInvitationId: String(matsumotoInvitation._id),
      naganoOrganisationId: String(naganoOrganisation._id),
      matsumotoOrganisationId: String(matsumotoOrganisation._id),
      matsumotoTraineeName: matsumotoTrainee.user.name,
      adminImportBatchId: await uploadImport(sessions.get('admin')!, 'import-a@example.jp'),
      adminDiscardBatchId: await uploadImport(sessions.get('admin')!, 'import-b@example.jp'),
      traineeAttemptId: await startQuiz(sessions.get('trainee')!),
      ...(await submitCaseStudy(sessions.get('trainee')!)),
      traineeNotificationId: await notifyTrainee(userIds.get('trainee')!),
      // After the notification above: issuing notifies the holder too.
      ...(await issueCertificates(userIds.get('trainee')!, String(matsumotoTrainee.user._id))),
      naganoMunicipalityId: String(nagano._id),
      matsumotoMunicipalityId: String(matsumoto._id),
      naganoRegionId: String(nagano.regionId),
      matsumotoRegionId: String(matsumoto.regionId),
    };
  });
  after(async () => {
    await t.close();
  });

  /** A CSV import preview of one 長野市 person; returns the batch id. */
  async function uploadImport(session: SignedIn, email: string): Promise<string> {
    const csv = `氏名,ふりがな,メールアドレス,市町村\n山田 花子,やまだ はなこ,${email},長野市\n`;
    const res = await session.agent
      .post('/admin/users/import')
      .field('_csrf', session.csrfToken)
      .attach('file', Buffer.from(csv), 'users.csv')
      .expect(303);
    return String(res.headers.location).split('/').pop()!;
  }

  /** Submits a complete case study with a PDF; returns its id and the file's. */
  async function submitCaseStudy(
    session: SignedIn,
  ): Promise<{ traineeCaseStudyId: string; traineeCaseFileId: string }> {
    await postForm(
      session,
      {
        texts: await completeTexts(),
        files: [{ name: 'a.pdf', bytes: pdfBytes() }],
        action: 'submit',
      },
      303,
    );
    const doc = await CaseStudy.findOne({ state: 'submitted' }); // the only case study so far
    return {
      traineeCaseStudyId: String(doc!._id),
      traineeCaseFileId: String(doc!.draft.attachments[0].fileId),
    };
  }

  /** Sends the signed-in trainee a notification; returns its id. */
  async function notifyTrainee(traineeId: string): Promise<string> {
    await notify({ userIds: [traineeId], kind: 'case_study.approved', link: '/learn/me' });
    const notification = await Notification.findOne({ userId: traineeId }).lean();
    return String(notification!._id);
  }

  /** A certificate for the signed-in trainee and one for a 松本市 trainee. */
  async function issueCertificates(traineeId: string, matsumotoTraineeId: string) {
    const program = { id: 'basic-training', title: 'ひきこもり支援者 多職種基礎研修' };
    const issue = (userId: string) =>
      issueCertificate({ userId, program, completedAt: new Date(), kind: 'automatic' });
    const own = await issue(traineeId);
    const other = await issue(matsumotoTraineeId);
    return {
      traineeCertificateId: String(own._id),
      traineeVerificationCode: own.verificationCode,
      matsumotoCertificateId: String(other._id),
    };
  }

  /** Starts the module's quiz; returns the attempt id. */
  async function startQuiz(session: SignedIn): Promise<string> {
    const res = await session.post(`${MODULE}/quiz/start`).expect(303);
    return String(res.headers.location).split('/').pop()!;
  }

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

  describe('completeness', () => {
    const key = (route: { method: string; pattern: string }) => `${route.method} ${route.pattern}`;
    /** The route Express dispatches the row to: the first registered one that matches. */
    const routeOf = (routes: AppRoute[], row: Row) => {
      const path = resolve(row.path).split('?')[0];
      return routes.find(
        (route) => (route.method === row.method || route.method === 'ALL') && route.matches(path),
      );
    };

    it('has a row for every route the app registers (or an EXEMPT entry saying why not)', () => {
      const routes = appRoutes(t.app);
      expect(routes.length, 'routes found').to.be.greaterThan(40);
      const reached = new Set(ROWS.map((row) => routeOf(routes, row)).filter((route) => !!route));
      const exempt = new Set(EXEMPT.map(key));
      const missing = routes
        .filter((route) => !reached.has(route) && !exempt.has(key(route)))
        .map(key);
      expect(missing, 'routes without a row in ROWS').to.deep.equal([]);
      const registered = new Set(routes.map(key));
      expect(
        EXEMPT.map(key).filter((entry) => !registered.has(entry)),
        'EXEMPT entries that are no longer routes',
      ).to.deep.equal([]);
      expect(
        routes.filter((route) => exempt.has(key(route)) && reached.has(route)).map(key),
        'EXEMPT entries that have a row after all',
      ).to.deep.equal([]);
    });

    it('finds routes of routers mounted under a prefix too', () => {
      const inner = express.Router();
      inner.get('/users/:id', (_req, res) => res.end());
      const outer = express.Router();
      outer.use('/admin', inner);
      const app = express();
      app.use(outer);
      app.post('/files/*path', (_req, res) => res.end());
      const [users, files] = appRoutes(app);
      expect(key(users)).to.equal('GET /admin/users/:id');
      expect(users.matches('/admin/users/1')).to.equal(true);
      expect(users.matches('/users/1')).to.equal(false);
      expect(users.matches('/admin/users/1/edit')).to.equal(false);
      expect(key(files)).to.equal('POST /files/*path');
      expect(files.matches('/files/a/b.png')).to.equal(true);
    });

    it('has no row that reaches no route (a mistyped path would pass as a 404)', () => {
      const routes = appRoutes(t.app);
      const strays = ROWS.filter((row) => !row.path.startsWith('/public/'))
        .filter((row) => !routeOf(routes, row))
        .map((row) => `${row.method} ${row.path}`);
      expect(strays).to.deep.equal([]);
    });
  });

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
