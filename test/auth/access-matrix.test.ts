/**
 * Who may open what: every route × every role, in one table. To add a route, add a row to ROWS
 * (use the helpers below for the usual shapes), with fixtures from `f` for ids. A check at the end
 * walks the routes the app registers and fails for any route no row reaches (see EXEMPT).
 *
 * Paths may name fixtures: '/admin/users/:matsumotoTraineeId'.
 * Outcomes: 200 (or any other status number), 'login' (302 to /login), 'redirect' (302/303
 * elsewhere), 'skip' (not checked for that role).
 * Rows run in table order; within a row roles run anonymous → admin.
 *
 * Every POST row says how its change is seen (`verify`: a snapshot read through the models before
 * and after each role's request; refused roles must leave it as it was, allowed ones must make
 * the change `changed` describes), or why nothing can change (`unchanged`); the completeness
 * check fails otherwise. A row whose change would spoil the next role's run builds its records
 * per role (`verify.fresh`: a new pending user, invitation, certificate…).
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { ImportBatch } from '../../src/admin/import/import-batch.model.js';
import { PasswordReset } from '../../src/auth/password-reset.model.js';
import { CaseStudy } from '../../src/case-studies/case-study.model.js';
import { Certificate } from '../../src/certificates/certificate.model.js';
import { issueCertificate } from '../../src/certificates/certificate.service.js';
import { LessonProgress } from '../../src/learning/lesson-progress.model.js';
import { QuizAttempt } from '../../src/learning/quiz-attempt.model.js';
import { Notification } from '../../src/notifications/notification.model.js';
import { notify } from '../../src/notifications/notifications.service.js';
import { Organisation } from '../../src/organisations/organisation.model.js';
import { Invitation } from '../../src/users/invitation.model.js';
import type { Role } from '../../src/users/roles.js';
import { createInvitation } from '../../src/users/invitations.service.js';
import { User } from '../../src/users/user.model.js';
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
  /** Form values may name fixtures too (':naganoMunicipalityId'). */
  form?: Record<string, string | string[]>;
  expect: Expectations;
  /** Why the row exists, when it is not obvious. */
  note?: string;
  /** POST rows: how the change is seen (every POST row has `verify` or `unchanged`). */
  verify?: Verify;
  /** POST rows whose every outcome is a refusal and that have nothing to read: why nothing can change. */
  unchanged?: string;
}

/** What a `verify` sees for one role's request. */
interface Ctx {
  who: Who;
  /** The fixtures, with this role's fresh ones. */
  f: Record<string, string>;
  /** The signed-in user's id and session (none for anonymous). */
  userId?: string;
  session?: SignedIn;
  label: string;
}

/**
 * How a POST row's change is checked. `read` takes a snapshot through the models before and after
 * each role's request. A refused role (4xx, 'login') must leave it unchanged; for an allowed one
 * (2xx, 3xx, 'redirect') `changed` asserts what the request did — also when that is "nothing", as
 * for an empty form or a user sent on. `fresh` builds new records for each role's request (merged
 * into the fixtures) where one role's change would hide the next one's.
 */
interface VerifyOf<T> {
  fresh?: (who: Who, userIds: ReadonlyMap<Who, string>) => Promise<Record<string, string>>;
  read: (ctx: Ctx) => Promise<T>;
  changed?: (before: T, after: T, ctx: Ctx) => void;
}
type Verify = VerifyOf<unknown>;
const verify = <T>(v: VerifyOf<T>): Verify => v as unknown as Verify;

/** Whether an outcome lets the request through (so `changed` applies). */
const allowed = (outcome: Outcome) =>
  outcome === 'redirect' || (typeof outcome === 'number' && outcome < 400);

/** `changed` for requests that are let through but must write nothing. */
const nothing = (before: unknown, after: unknown, ctx: Ctx) =>
  expect(after, `${ctx.label}: changed`).to.deep.equal(before);

/** A plain copy of a lean document (or null), for deep comparison. */
const plain = (doc: unknown): unknown => JSON.parse(JSON.stringify(doc ?? null)) as unknown;

type UserState = { status: string; roles: string[] } | null;
/** A user's status and roles (null once removed). */
const userState = (id: string) =>
  User.findById(id, { status: 1, roles: 1 })
    .lean()
    .then((user) => plain(user) as UserState);

const suspended = (before: UserState, after: UserState, { label }: Ctx) => {
  expect(before?.status, label).to.equal('active');
  expect(after?.status, `${label}: status`).to.equal('suspended');
};

const reactivated = (before: UserState, after: UserState, { label }: Ctx) => {
  expect(before?.status, label).to.equal('suspended');
  expect(after?.status, `${label}: status`).to.equal('active');
};

/** A fresh user per role's request, under the fixture name `name`. */
const freshUser =
  (name: string, options: Parameters<typeof buildUser>[0] = {}) =>
  async (): Promise<Record<string, string>> => {
    const { user } = await buildUser(options);
    // Suspended from active (as the suspend route records it), so reactivation makes it active.
    if (options.status === 'suspended')
      await User.updateOne({ _id: user._id }, { $set: { statusBeforeSuspension: 'active' } });
    return { [name]: String(user._id) };
  };

/** A fresh pending invitation per role's request, by the admin, into `municipalityName`. */
const freshInvitation = (municipalityName: string) => async () => {
  const municipality = await buildMunicipality(municipalityName);
  const admin = await User.findOne({ roles: { $eq: 'admin' } }).lean();
  const { invitation } = await createInvitation({
    email: `invited-${randomUUID().slice(0, 8)}@example.jp`,
    roles: ['trainee'],
    municipalityId: String(municipality._id),
    invitedBy: String(admin!._id),
  });
  return { invitationId: String(invitation._id) };
};

/** A fresh certificate per role's request, for a new 長野市 trainee. */
const freshCertificate = async () => {
  const { user } = await buildUser();
  const certificate = await issueCertificate({
    userId: String(user._id),
    program: { id: 'basic-training', title: 'ひきこもり支援者 多職種基礎研修' },
    completedAt: new Date(),
    kind: 'automatic',
  });
  return { certificateId: String(certificate._id) };
};

const certificateState = (id: string) =>
  Certificate.findById(id, { _id: 0, revokedAt: 1, name: 1 }).lean().then(plain);

/** The signed-in trainee's submitted case study, whole. */
const traineeCaseStudy = (f: Record<string, string>) =>
  CaseStudy.findById(f.traineeCaseStudyId).lean().then(plain);

/** The states of the requesting user's own case studies. */
const ownCaseStudies = ({ userId }: Ctx) =>
  CaseStudy.find({ userId: { $eq: userId ?? null } }, { state: 1 })
    .lean()
    .then((docs) => docs.map((doc) => doc.state));

type InvitationState = { tokenHash: string; revokedAt: string | null } | null;
const invitationState = (id: string) =>
  Invitation.findById(id, { tokenHash: 1, revokedAt: 1 })
    .lean()
    .then((doc) => plain(doc) as InvitationState);

/** `changed` for resending: a new link (the old one stops working), not revoked. */
const newLink = (before: InvitationState, after: InvitationState, { label }: Ctx) => {
  expect(after?.tokenHash, `${label}: token`).to.be.a('string').and.not.equal(before?.tokenHash);
  expect(after?.revokedAt, label).to.equal(null);
};

/** `changed` for revoking: revoked now, and not before. */
const revokedInvitation = (before: InvitationState, after: InvitationState, { label }: Ctx) => {
  expect(before?.revokedAt, label).to.equal(null);
  expect(after?.revokedAt, `${label}: revoked`).to.be.a('string');
};

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
  {
    method: 'GET',
    path: '/readyz',
    expect: everyone(503),
    note: 'the test database has no migrations applied: starting (test/home/readiness.test.ts)',
  },
  {
    method: 'GET',
    path: '/metrics',
    expect: everyone(200),
    note: 'by connection, not role: loopback here; token and proxy rules in test/metrics',
  },
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
    unchanged: 'no address: no one to sign in, no failure to count',
  },
  { method: 'GET', path: '/register', expect: anonymousOnly() },
  {
    method: 'POST',
    path: '/register',
    form: {},
    expect: { ...everyone('redirect'), anonymous: 422 },
    note: 'empty form',
    verify: verify({ read: () => User.countDocuments(), changed: nothing }),
  },
  { method: 'GET', path: '/password/forgot', expect: everyone(200) },
  {
    method: 'POST',
    path: '/password/forgot',
    form: {},
    expect: everyone(422),
    note: 'empty form',
    verify: verify({ read: () => PasswordReset.countDocuments() }),
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
    unchanged: 'the token names no account',
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
    unchanged: 'the token names no invitation',
  },

  // ── Accounts (A1) ──────────────────────────────────────────────────────────────────────────
  { method: 'GET', path: '/account', expect: signedIn(200) },
  {
    method: 'POST',
    path: '/account/password',
    form: {},
    expect: signedIn(422),
    note: 'empty form',
    verify: verify({
      read: ({ userId }) =>
        User.findById(userId ?? null, { passwordHash: 1 })
          .lean()
          .then(plain),
    }),
  },
  {
    method: 'POST',
    path: '/logout',
    expect: { ...everyone('redirect') },
    note: 'last row of a session is re-signed in',
    verify: verify({
      // Whether the role's own session still opens /account (anonymous has none).
      read: async ({ session }) => (session ? (await session.get('/account')).status : null),
      changed: (before, after, { who, label }) => {
        if (who === 'anonymous') return expect(after, label).to.equal(null);
        expect(before, `${label}: signed in before`).to.equal(200);
        expect(after, `${label}: still signed in`).to.equal(302);
      },
    }),
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
    verify: verify({ read: () => Invitation.countDocuments() }),
  },
  {
    method: 'POST',
    path: '/invitations',
    form: { email: ':inviteeEmail', roles: 'trainee', municipalityId: ':naganoMunicipalityId' },
    expect: only(['coordinator'], 'redirect'),
    note: 'a 長野市 trainee: invited',
    verify: verify({
      fresh: () =>
        Promise.resolve({ inviteeEmail: `invitee-${randomUUID().slice(0, 8)}@example.jp` }),
      read: ({ f }) =>
        Invitation.find({ email: { $eq: f.inviteeEmail } }, { _id: 0, roles: 1, municipalityId: 1 })
          .lean()
          .then(plain),
      changed: (before, after, { f, label }) => {
        expect(before, label).to.deep.equal([]);
        expect(after, `${label}: invitation`).to.deep.equal([
          { roles: ['trainee'], municipalityId: f.naganoMunicipalityId },
        ]);
      },
    }),
  },
  {
    method: 'POST',
    path: '/approvals/:pendingId/approve',
    expect: only(['coordinator'], 'redirect', { coordinator: 404 }),
    note: 'a 長野市 coordinator cannot approve a 松本市 application',
    verify: verify({
      fresh: freshUser('pendingId', { municipality: '松本市', status: 'pending' }),
      read: ({ f }) => userState(f.pendingId),
      changed: (_before, after, { label }) => expect(after?.status, label).to.equal('active'),
    }),
  },
  {
    method: 'POST',
    path: '/approvals/:pendingId/reject',
    expect: only(['coordinator'], 'redirect', { coordinator: 404 }),
    note: 'a rejected application is removed',
    verify: verify({
      fresh: freshUser('pendingId', { municipality: '松本市', status: 'pending' }),
      read: ({ f }) => userState(f.pendingId),
      changed: (_before, after, { label }) => expect(after, label).to.equal(null),
    }),
  },
  {
    method: 'POST',
    path: '/approvals/:pendingId/approve',
    expect: only(['coordinator'], 'redirect'),
    note: 'own municipality',
    verify: verify({
      fresh: freshUser('pendingId', { municipality: '長野市', status: 'pending' }),
      read: ({ f }) => userState(f.pendingId),
      changed: (before, after, { label }) => {
        expect(before?.status, label).to.equal('pending');
        expect(after?.status, label).to.equal('active');
      },
    }),
  },
  {
    method: 'POST',
    path: '/approvals/:pendingId/reject',
    expect: only(['coordinator'], 'redirect'),
    note: 'own municipality: the application is removed',
    verify: verify({
      fresh: freshUser('pendingId', { municipality: '長野市', status: 'pending' }),
      read: ({ f }) => userState(f.pendingId),
      changed: (_before, after, { label }) => expect(after, label).to.equal(null),
    }),
  },
  {
    method: 'POST',
    path: '/invitations/:invitationId/resend',
    expect: only(['coordinator'], 'redirect', { coordinator: 404 }),
    verify: verify({
      fresh: freshInvitation('松本市'),
      read: ({ f }) => invitationState(f.invitationId),
      changed: newLink,
    }),
  },
  {
    method: 'POST',
    path: '/invitations/:invitationId/resend',
    expect: only(['coordinator'], 'redirect'),
    note: 'own municipality; a new link each time',
    verify: verify({
      fresh: freshInvitation('長野市'),
      read: ({ f }) => invitationState(f.invitationId),
      changed: newLink,
    }),
  },
  {
    method: 'POST',
    path: '/invitations/:invitationId/revoke',
    expect: only(['coordinator'], 'redirect', { coordinator: 404 }),
    verify: verify({
      fresh: freshInvitation('松本市'),
      read: ({ f }) => invitationState(f.invitationId),
      changed: revokedInvitation,
    }),
  },
  {
    method: 'POST',
    path: '/invitations/:invitationId/revoke',
    expect: only(['coordinator'], 'redirect'),
    note: 'own municipality',
    verify: verify({
      fresh: freshInvitation('長野市'),
      read: ({ f }) => invitationState(f.invitationId),
      changed: revokedInvitation,
    }),
  },

  { method: 'GET', path: '/admin/outbox', expect: only([]) },
  { method: 'GET', path: '/admin/outbox/0000000000000-00000000', expect: only([], 404) },
  { method: 'GET', path: '/admin/backups', expect: only([]), note: 'system.backups' },

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
    path: '/admin/users/:userId/roles',
    form: { roles: ['trainee', 'supervisor'] },
    expect: only([], 303),
    note: 'a 長野市 trainee made supervisor too',
    verify: verify({
      fresh: freshUser('userId', { municipality: '長野市' }),
      read: ({ f }) => userState(f.userId),
      changed: (_before, after, { label }) =>
        expect(after?.roles, label).to.have.members(['trainee', 'supervisor']),
    }),
  },
  {
    method: 'POST',
    path: '/admin/users/:matsumotoTraineeId/roles',
    form: { roles: 'trainee' },
    expect: only([], 303),
    note: 'the roles it already has: nothing changes',
    verify: verify({ read: ({ f }) => userState(f.matsumotoTraineeId), changed: nothing }),
  },
  {
    method: 'POST',
    path: '/admin/users/:userId/suspend',
    expect: only(['coordinator'], 303, { coordinator: 404 }),
    note: 'a 松本市 trainee',
    verify: verify({
      fresh: freshUser('userId', { municipality: '松本市' }),
      read: ({ f }) => userState(f.userId),
      changed: suspended,
    }),
  },
  {
    method: 'POST',
    path: '/admin/users/:userId/suspend',
    expect: only(['coordinator'], 303),
    note: 'own municipality, a trainee',
    verify: verify({
      fresh: freshUser('userId', { municipality: '長野市' }),
      read: ({ f }) => userState(f.userId),
      changed: suspended,
    }),
  },
  {
    method: 'POST',
    path: '/admin/users/:userId/suspend',
    expect: only(['coordinator'], 303, { coordinator: 403 }),
    note: "own municipality, a supervisor: not a coordinator's to suspend ('user.suspend')",
    verify: verify({
      fresh: freshUser('userId', { municipality: '長野市', roles: ['supervisor'] }),
      read: ({ f }) => userState(f.userId),
      changed: suspended,
    }),
  },
  {
    method: 'POST',
    path: '/admin/users/:userId/suspend',
    expect: only(['coordinator'], 303, { coordinator: 403 }),
    note: 'own municipality, another coordinator: refused too',
    verify: verify({
      fresh: freshUser('userId', { municipality: '長野市', roles: ['coordinator'] }),
      read: ({ f }) => userState(f.userId),
      changed: suspended,
    }),
  },
  {
    method: 'POST',
    path: '/admin/users/:userId/suspend',
    expect: only(['coordinator'], 303),
    note: 'own municipality, a trainee already suspended: nothing changes',
    verify: verify({
      fresh: freshUser('userId', { municipality: '長野市', status: 'suspended' }),
      read: ({ f }) => User.findById(f.userId).lean().then(plain),
      changed: nothing,
    }),
  },
  {
    method: 'POST',
    path: '/admin/users/:naganoTraineeId/reactivate',
    expect: only(['coordinator'], 303),
    note: 'not suspended: nothing changes',
    verify: verify({ read: ({ f }) => userState(f.naganoTraineeId), changed: nothing }),
  },
  {
    method: 'POST',
    path: '/admin/users/:userId/reactivate',
    expect: only(['coordinator'], 303),
    note: 'own municipality, a suspended trainee',
    verify: verify({
      fresh: freshUser('userId', { municipality: '長野市', status: 'suspended' }),
      read: ({ f }) => userState(f.userId),
      changed: reactivated,
    }),
  },
  {
    method: 'POST',
    path: '/admin/users/:userId/reactivate',
    expect: only(['coordinator'], 303, { coordinator: 404 }),
    note: 'a suspended 松本市 trainee',
    verify: verify({
      fresh: freshUser('userId', { municipality: '松本市', status: 'suspended' }),
      read: ({ f }) => userState(f.userId),
      changed: reactivated,
    }),
  },
  {
    method: 'POST',
    path: '/admin/users/:userId/reactivate',
    expect: only(['coordinator'], 303, { coordinator: 403 }),
    note: 'own municipality, a suspended supervisor',
    verify: verify({
      fresh: freshUser('userId', {
        municipality: '長野市',
        roles: ['supervisor'],
        status: 'suspended',
      }),
      read: ({ f }) => userState(f.userId),
      changed: reactivated,
    }),
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
    verify: verify({ read: ({ f }) => User.findById(f.naganoTraineeId).lean().then(plain) }),
  },
  {
    method: 'POST',
    path: '/admin/users/:matsumotoTraineeId/edit',
    form: {},
    expect: only(['coordinator'], 422, { coordinator: 404 }),
    note: 'empty form: nothing changes',
    verify: verify({ read: ({ f }) => User.findById(f.matsumotoTraineeId).lean().then(plain) }),
  },
  {
    method: 'GET',
    path: '/account/email/confirm',
    expect: everyone(404),
    note: 'no token: the invalid-link page',
  },
  {
    method: 'POST',
    path: '/account/email/confirm',
    form: {},
    expect: everyone(404),
    unchanged: 'no token: no address change to confirm',
  },
  { method: 'GET', path: '/admin/users/import', expect: only(['coordinator']) },
  {
    method: 'POST',
    path: '/admin/users/import',
    form: {},
    expect: only(['coordinator'], 422),
    note: 'no file',
    verify: verify({ read: () => ImportBatch.countDocuments() }),
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
    verify: verify({
      // Each person is invited (the invitation mail lets them set a password).
      read: () => Invitation.countDocuments({ email: { $eq: 'import-a@example.jp' } }),
      changed: (before, after, { label }) => {
        expect(before, label).to.equal(0);
        expect(after, `${label}: invited`).to.equal(1);
      },
    }),
  },
  {
    method: 'POST',
    path: '/admin/users/import/:adminDiscardBatchId/discard',
    expect: only(['coordinator'], 303, { coordinator: 404 }),
    note: "someone else's import: 404; the admin's own is discarded",
    verify: verify({
      read: ({ f }) =>
        ImportBatch.findById(f.adminDiscardBatchId, { status: 1 }).lean().then(plain),
      changed: (before, after, { label }) => {
        expect(before, label).to.have.property('status', 'preview');
        expect(after, `${label}: discarded`).to.equal(null);
      },
    }),
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
    verify: verify({ read: () => Organisation.countDocuments() }),
  },
  { method: 'GET', path: '/admin/organisations/:naganoOrganisationId/edit', expect: only([]) },
  {
    method: 'POST',
    path: '/admin/organisations/:naganoOrganisationId',
    form: {},
    expect: only([], 422),
    note: 'empty form',
    verify: verify({
      read: ({ f }) => Organisation.findById(f.naganoOrganisationId).lean().then(plain),
    }),
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
    verify: verify({
      read: ({ userId }) =>
        LessonProgress.findOne(
          { userId: { $eq: userId ?? null }, lessonId: 'numbers' },
          { _id: 0, readAt: 1 },
        )
          .lean()
          .then((progress) => plain(progress?.readAt)),
      changed: (before, after, { label }) => {
        expect(before, label).to.equal(null);
        expect(after, `${label}: read`).to.be.a('string');
      },
    }),
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
    verify: verify({
      read: ({ userId }) => QuizAttempt.countDocuments({ userId: { $eq: userId ?? null } }),
      changed: (before, after, ctx) =>
        ctx.who === 'trainee'
          ? nothing(before, after, ctx) // their open attempt (a fixture) is reused
          : expect(after, `${ctx.label}: attempts`).to.equal(before + 1),
    }),
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
    verify: verify({
      read: ({ f }) =>
        QuizAttempt.findOne({ attemptId: { $eq: f.traineeAttemptId } })
          .lean()
          .then(plain),
    }),
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
    verify: verify({ read: ({ f }) => traineeCaseStudy(f), changed: nothing }),
  },
  {
    method: 'POST',
    path: '/review/:traineeCaseStudyId/answers',
    form: {},
    expect: signedIn(404),
    note: 'the author only, and only while the case is back with them (it is submitted here)',
    verify: verify({ read: ({ f }) => traineeCaseStudy(f) }),
  },
  { method: 'GET', path: '/admin/review', expect: only([]) },
  {
    method: 'POST',
    path: '/admin/review/:traineeCaseStudyId/assign',
    form: {},
    expect: only([], 'redirect'),
    note: 'no supervisor chosen: refused with a message',
    verify: verify({ read: ({ f }) => traineeCaseStudy(f), changed: nothing }),
  },
  {
    method: 'POST',
    path: '/admin/review/supervisors/:naganoTraineeId/regions',
    form: {},
    expect: only([], 404),
    note: 'not a supervisor',
    verify: verify({ read: ({ f }) => User.findById(f.naganoTraineeId).lean().then(plain) }),
  },
  { method: 'GET', path: '/admin/case-study-access', expect: only([]) },
  {
    method: 'POST',
    path: CASE,
    form: { revision: '0', action: 'save' },
    expect: signedIn('redirect'),
    note: "saves each user's own draft; the trainee's is submitted, so nothing changes",
    verify: verify({
      read: ownCaseStudies,
      changed: (before, after, ctx) => {
        if (ctx.who === 'trainee') return nothing(before, after, ctx);
        expect(before, ctx.label).to.deep.equal([]);
        expect(after, `${ctx.label}: a draft`).to.deep.equal(['draft']);
      },
    }),
  },
  {
    method: 'POST',
    path: `${CASE}/draft`,
    form: {},
    expect: signedIn(400),
    note: 'autosave takes JSON; an empty form is malformed',
    verify: verify({
      read: ({ userId }) =>
        CaseStudy.find({ userId: { $eq: userId ?? null } })
          .lean()
          .then(plain),
    }),
  },
  {
    method: 'POST',
    path: `${CASE}/withdraw`,
    expect: signedIn('redirect'),
    note: "withdraws each user's own (the row above created one); last, as it ends the trainee's",
    verify: verify({
      read: ownCaseStudies,
      changed: (before, after, { who, label }) => {
        expect(before, label).to.deep.equal([who === 'trainee' ? 'submitted' : 'draft']);
        expect(after, `${label}: withdrawn`).to.deep.equal(['withdrawn']);
      },
    }),
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
    path: '/notifications/:notificationId/open',
    expect: ownerOnly('trainee', 'redirect'),
    note: "the trainee's (a new one per role): the addressee only; administrators too get 404",
    verify: verify({
      fresh: async (_who, userIds) => {
        const traineeId = userIds.get('trainee')!;
        await notify({ userIds: [traineeId], kind: 'case_study.approved', link: '/learn/me' });
        const newest = await Notification.findOne({ userId: { $eq: traineeId } })
          .sort({ _id: -1 })
          .lean();
        return { notificationId: String(newest!._id) };
      },
      read: ({ f }) =>
        Notification.findById(f.notificationId, { readAt: 1 })
          .lean()
          .then((notification) => plain(notification?.readAt)),
      changed: (before, after, { label }) => {
        expect(before, label).to.equal(null);
        expect(after, `${label}: read`).to.be.a('string');
      },
    }),
  },
  {
    method: 'POST',
    path: '/notifications/read-all',
    expect: signedIn('redirect'),
    note: "marks each user's own (each gets a new one first)",
    verify: verify({
      fresh: async (who, userIds) => {
        const userId = userIds.get(who);
        if (userId)
          await notify({ userIds: [userId], kind: 'case_study.approved', link: '/learn/me' });
        return {};
      },
      read: ({ userId }) =>
        Notification.countDocuments({ userId: { $eq: userId ?? null }, readAt: null }),
      changed: (before, after, { label }) => {
        expect(before, label).to.be.greaterThan(0);
        expect(after, `${label}: unread`).to.equal(0);
      },
    }),
  },
  {
    method: 'POST',
    path: '/account/notification-mail',
    form: {},
    expect: signedIn('redirect'),
    note: "each user's own setting (turned off)",
    verify: verify({
      read: ({ userId }) =>
        User.findById(userId ?? null, { _id: 0, notificationMail: 1 })
          .lean()
          .then(plain),
      changed: (before, after, { label }) => {
        expect(before, label).to.deep.equal({ notificationMail: true });
        expect(after, `${label}: mail`).to.deep.equal({ notificationMail: false });
      },
    }),
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
    verify: verify({ read: () => Certificate.countDocuments() }),
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
    verify: verify({ read: ({ f }) => certificateState(f.traineeCertificateId) }),
  },
  {
    method: 'POST',
    path: '/admin/certificates/:certificateId/name',
    form: { name: '訂正 後の氏名' },
    expect: only([], 303),
    note: 'a new certificate per role: the name corrected',
    verify: verify({
      fresh: freshCertificate,
      read: ({ f }) => certificateState(f.certificateId),
      changed: (_before, after, { label }) =>
        expect(after, `${label}: name`).to.have.property('name', '訂正 後の氏名'),
    }),
  },
  {
    method: 'POST',
    path: '/admin/certificates/:traineeCertificateId/revoke',
    form: {},
    expect: only([], 422),
    note: 'no reason',
    verify: verify({ read: ({ f }) => certificateState(f.traineeCertificateId) }),
  },
  {
    method: 'POST',
    path: '/admin/certificates/:certificateId/revoke',
    form: { reason: '誤って発行したため' },
    expect: only([], 303),
    note: 'a new certificate per role: revoked',
    verify: verify({
      fresh: freshCertificate,
      read: ({ f }) => certificateState(f.certificateId),
      changed: (before, after, { label }) => {
        expect(before, label).to.have.property('revokedAt', null);
        expect(after, `${label}: revoked`).to.have.property('revokedAt').that.is.a('string');
      },
    }),
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
    unchanged: 'no person named: no one to remind',
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
    // Records a row changes (pending users, invitations, …) are made per role by its `verify.fresh`.
    const [naganoTrainee, matsumotoTrainee] = await Promise.all([
      buildUser({ municipality: nagano }),
      buildUser({ municipality: matsumoto }),
    ]);
    const [naganoOrganisation, matsumotoOrganisation] = await Promise.all([
      Organisation.create({ name: '長野市 福祉課', sector: '行政', municipalityId: nagano._id }),
      Organisation.create({ name: '松本市 福祉課', sector: '行政', municipalityId: matsumoto._id }),
    ]);
    f = {
      naganoTraineeId: String(naganoTrainee.user._id),
      matsumotoTraineeId: String(matsumotoTrainee.user._id),
      naganoOrganisationId: String(naganoOrganisation._id),
      matsumotoOrganisationId: String(matsumotoOrganisation._id),
      matsumotoTraineeName: matsumotoTrainee.user.name,
      adminImportBatchId: await uploadImport(sessions.get('admin')!, 'import-a@example.jp'),
      adminDiscardBatchId: await uploadImport(sessions.get('admin')!, 'import-b@example.jp'),
      traineeAttemptId: await startQuiz(sessions.get('trainee')!),
      ...(await submitCaseStudy(sessions.get('trainee')!)),
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

  async function send(
    who: Who,
    row: Row,
    path: string,
    form: Record<string, string | string[]>,
  ): Promise<request.Response> {
    if (who === 'anonymous') {
      // Anonymous POSTs carry a valid CSRF token of their own session, so the route itself answers.
      const agent = request.agent(t.app);
      if (row.method === 'GET') return agent.get(path);
      const page = await agent.get('/login');
      const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1];
      return agent
        .post(path)
        .type('form')
        .send({ ...form, _csrf: token });
    }
    const session = sessions.get(who)!;
    return row.method === 'GET' ? session.get(path) : session.post(path, form);
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

  /** Replaces `:name` by the fixture of that name; `lenient` puts an id where none is given (fresh ones). */
  function resolve(
    path: string,
    fixtures: Record<string, string> = f as unknown as Record<string, string>,
    lenient = false,
  ): string {
    return path.replace(/:(\w+)/g, (whole, name: string) => {
      const value = fixtures[name] ?? (lenient ? '000000000000000000000000' : undefined);
      if (!value) throw new Error(`no fixture ${name} for ${path}`);
      return value;
    });
  }

  function resolveForm(form: Row['form'] = {}, fixtures: Record<string, string>) {
    return Object.fromEntries(
      Object.entries(form).map(([name, value]) => [
        name,
        Array.isArray(value) ? value.map((v) => resolve(v, fixtures)) : resolve(value, fixtures),
      ]),
    );
  }

  for (const row of ROWS) {
    it(`${row.method} ${row.path}` + (row.note ? ` (${row.note})` : ''), async () => {
      for (const who of WHO) {
        const outcome = row.expect[who];
        if (outcome === 'skip') continue;
        const fixtures = {
          ...(f as unknown as Record<string, string>),
          ...(await row.verify?.fresh?.(who, userIds)),
        };
        const path = resolve(row.path, fixtures);
        const label = `${who}: ${row.method} ${path}`;
        const ctx: Ctx = {
          who,
          f: fixtures,
          userId: userIds.get(who),
          session: sessions.get(who),
          label,
        };
        const before = await row.verify?.read(ctx);
        const res = await send(who, row, path, resolveForm(row.form, fixtures));
        check(res, outcome, label);
        if (row.verify) {
          const after = await row.verify.read(ctx);
          if (!allowed(outcome))
            expect(after, `${label}: refused, yet changed`).to.deep.equal(before);
          else if (!row.verify.changed) throw new Error(`${label}: allowed, but no \`changed\``);
          else row.verify.changed(before, after, ctx);
        }
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
      const path = resolve(row.path, undefined, true).split('?')[0];
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

    it('says for every POST row how its change is seen, or why nothing can change', () => {
      const posts = ROWS.filter((row) => row.method === 'POST');
      const label = (row: Row) => `${row.method} ${row.path}` + (row.note ? ` (${row.note})` : '');
      expect(
        posts.filter((row) => !row.verify === !row.unchanged).map(label),
        'POST rows without exactly one of verify and unchanged',
      ).to.deep.equal([]);
      const lets = (row: Row) => WHO.some((who) => allowed(row.expect[who]));
      expect(
        posts.filter((row) => row.verify && !row.verify.changed && lets(row)).map(label),
        'rows letting a role through with no `changed` to check what it did',
      ).to.deep.equal([]);
      expect(
        posts.filter((row) => row.unchanged && lets(row)).map(label),
        '`unchanged` rows letting a role through (read the state instead, and check `nothing`)',
      ).to.deep.equal([]);
      expect(
        ROWS.filter((row) => row.method === 'GET' && (row.verify || row.unchanged)).map(label),
        'GET rows with a verify',
      ).to.deep.equal([]);
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
