import type { Types } from 'mongoose';
import { notFound } from '../lib/errors.js';
import type { Role } from '../users/roles.js';
import type { SessionUser } from './session-user.js';

/**
 * Who may do what to which record: the one place that decides. Handlers load a record, then call
 * `authorize(req.user, 'user.read', record)`, which throws 404 when the user may not see it (so ids
 * cannot be probed). `can()` answers the same question for showing or hiding links and buttons.
 *
 * Each feature adds its rules to `rules` in its own marked section below.
 */

type Id = Types.ObjectId | string | null | undefined;

/** Anything placed in the prefecture: a user, an organisation, an invitation, a report row. */
export interface Placed {
  municipalityId?: Id;
  regionId?: Id;
}

/** What the case-study rules look at (a CaseStudy document or its lean copy). */
export interface CaseStudyRecord extends Placed {
  userId: Id;
  state?: string;
  assignedSupervisorIds?: Id[] | null;
}

type Rule = (user: SessionUser, resource?: never) => boolean;

// Stryker disable next-line ConditionalExpression: with one side null, String() gives 'null'/'undefined', never an id; the checks say so for the reader.
const same = (a: Id, b: Id) => a != null && b != null && String(a) === String(b);
const isAdmin = (user: SessionUser) => user.roles.includes('admin');
const has = (user: SessionUser, role: Role) => user.roles.includes(role);

/** True when the record lies in the coordinator's municipality. */
export function inOwnMunicipality(user: SessionUser, record: Placed | undefined): boolean {
  return has(user, 'coordinator') && !!record && same(record.municipalityId, user.municipalityId);
}

/** True when the record lies in the regional viewer's region. */
export function inOwnRegion(user: SessionUser, record: Placed | undefined): boolean {
  return has(user, 'regional_viewer') && !!record && same(record.regionId, user.regionId);
}

/** Roles this user may give to others (when inviting, approving or editing). */
export function grantableRoles(user: SessionUser): Role[] {
  if (isAdmin(user)) return ['trainee', 'supervisor', 'coordinator', 'regional_viewer', 'admin'];
  if (has(user, 'coordinator')) return ['trainee'];
  return [];
}

const rules = {
  // ── Accounts (A1) ──────────────────────────────────────────────────────────────────────────
  /** See a user's profile: oneself, the coordinator of their municipality, the viewer of their region, admins. */
  'user.read': (user: SessionUser, record?: Placed & { _id?: Id; id?: string }) =>
    isAdmin(user) ||
    (!!record &&
      (same(record._id ?? record.id, user.id) ||
        inOwnMunicipality(user, record) ||
        inOwnRegion(user, record))),
  /** Open the list of self-registrations waiting for approval (scoped to the municipality). */
  'user.approvals': (user: SessionUser) => isAdmin(user) || has(user, 'coordinator'),
  /** Approve or reject a self-registration. */
  'user.approve': (user: SessionUser, record?: Placed) =>
    isAdmin(user) || inOwnMunicipality(user, record),
  /** Invite someone: admins anywhere with any roles; coordinators in their municipality, trainees only. */
  'user.invite': (user: SessionUser, invitation?: Placed & { roles?: Role[] }) => {
    if (isAdmin(user)) return true;
    if (!has(user, 'coordinator')) return false;
    if (!invitation) return true; // may open the form
    const allowed = grantableRoles(user);
    return (
      inOwnMunicipality(user, invitation) &&
      (invitation.roles ?? []).every((role) => allowed.includes(role))
    );
  },
  /** Change roles, suspend, reactivate. */
  'user.manage': (user: SessionUser) => isAdmin(user),
  /** Read the mail outbox (messages carry sign-in links). */
  'mail.read': (user: SessionUser) => isAdmin(user),
  /** Browse the audit log. */
  'audit.read': (user: SessionUser) => isAdmin(user),

  // ── Organisations & admin (A2) ─────────────────────────────────────────────────────────────
  // Admin pages (/admin/users, /admin/organisations, /admin/audit) for admins, coordinators
  // (their municipality) and regional viewers (their region, read-only). Record visibility on
  // those pages is 'user.read' above; src/admin/scope.ts turns the same rule into query filters.
  /** Open the organisations list (each sees their own area's; admins all). */
  'organisation.list': (user: SessionUser) =>
    isAdmin(user) || has(user, 'coordinator') || has(user, 'regional_viewer'),
  /** See one organisation: admins; the coordinator of its municipality; the viewer of its region. */
  'organisation.read': (user: SessionUser, record?: Placed) =>
    isAdmin(user) || inOwnMunicipality(user, record) || inOwnRegion(user, record),
  /** Create and edit organisations: center administrators only. */
  'organisation.manage': (user: SessionUser) => isAdmin(user),
  /** Open the users list (scoped like 'user.read'). */
  'user.list': (user: SessionUser) =>
    isAdmin(user) || has(user, 'coordinator') || has(user, 'regional_viewer'),
  /**
   * Suspend or reactivate: admins anyone but themselves; coordinators the people of their own
   * municipality whose only role is trainee (not other coordinators, supervisors or admins), never
   * themselves. Regional viewers are read-only. Role changes stay with admins ('user.manage').
   * Asked without a record, it answers whether the person may suspend anyone (the route's gate).
   */
  'user.suspend': (
    user: SessionUser,
    record?: Placed & { _id?: Id; id?: string; roles?: Role[] },
  ) => {
    // Without a record: may this person suspend anyone at all (the route's gate)?
    if (!record) return isAdmin(user) || has(user, 'coordinator');
    if (same(record._id ?? record.id, user.id)) return false;
    if (isAdmin(user)) return true;
    return (
      inOwnMunicipality(user, record) && (record.roles ?? []).every((role) => role === 'trainee')
    );
  },
  /**
   * Edit name, reading, e-mail, organisation and profession: admins anyone; coordinators the
   * people of their own municipality whose only role is trainee. Without a record: the route's gate.
   */
  'user.edit': (user: SessionUser, record?: Placed & { roles?: Role[] }) => {
    if (isAdmin(user)) return true;
    if (!record) return has(user, 'coordinator');
    return (
      inOwnMunicipality(user, record) && (record.roles ?? []).every((role) => role === 'trainee')
    );
  },
  /** Move a person to another municipality (their region follows): administrators only. */
  'user.move': (user: SessionUser) => isAdmin(user),
  /** Bulk import from CSV: admins anywhere; coordinators into their own municipality only. */
  'user.import': (user: SessionUser, target?: Placed) =>
    isAdmin(user) || (has(user, 'coordinator') && (!target || inOwnMunicipality(user, target))),

  // ── Learning (L) ───────────────────────────────────────────────────────────────────────────

  // ── Operations ─────────────────────────────────────────────────────────────────────────────
  /** The details of /healthz (database, read caches, counts); everyone else sees only up/down. */
  'system.health': (user: SessionUser) => isAdmin(user),
  /** The scheduled backups' page (/admin/backups): runs, sizes, the next time. */
  'system.backups': (user: SessionUser) => isAdmin(user),

  // ── Case studies (事例検討) ────────────────────────────────────────────────────────────────
  // Texts and files are read by the author, the supervisors assigned to the case and admins
  // only; coordinators and regional viewers see state and dates ('caseStudy.status').
  /** Open the text of any version, a diff, or a file. */
  'caseStudy.read': (user: SessionUser, record?: CaseStudyRecord) =>
    !!record &&
    (isAdmin(user) ||
      same(record.userId, user.id) ||
      (has(user, 'supervisor') &&
        // Stryker disable next-line ArrayDeclaration: no user has the id a placeholder element would hold.
        (record.assignedSupervisorIds ?? []).some((id) => same(id, user.id)))),
  /** Edit the draft, attach and remove files, submit: the author while it is editable. */
  'caseStudy.write': (user: SessionUser, record?: CaseStudyRecord) =>
    !!record &&
    same(record.userId, user.id) &&
    (record.state === 'draft' || record.state === 'revision_requested'),
  /** Withdraw: the author, until it is approved. */
  'caseStudy.withdraw': (user: SessionUser, record?: CaseStudyRecord) =>
    !!record &&
    same(record.userId, user.id) &&
    record.state !== 'approved' &&
    record.state !== 'withdrawn',
  /** State and dates only (tracking): also the author's coordinator and regional viewer. */
  'caseStudy.status': (user: SessionUser, record?: CaseStudyRecord) =>
    !!record &&
    (isAdmin(user) ||
      same(record.userId, user.id) ||
      inOwnMunicipality(user, record) ||
      inOwnRegion(user, record)),
  /** The log of who opened which case study. */
  'caseStudy.accessLog': (user: SessionUser) => isAdmin(user),

  // ── Supervisor review (スーパーバイザーによる確認) ─────────────────────────────────────────
  /** Open the review queue (/review): supervisors (admins see the cases assigned to them, if any). */
  'review.queue': (user: SessionUser) => isAdmin(user) || has(user, 'supervisor'),
  /** Open a case's review page, write feedback and decide: its assigned supervisor only. */
  'review.decide': (user: SessionUser, record?: CaseStudyRecord) =>
    !!record &&
    has(user, 'supervisor') &&
    !same(record.userId, user.id) &&
    // Stryker disable next-line ArrayDeclaration: no user has the id a placeholder element would hold.
    (record.assignedSupervisorIds ?? []).some((id) => same(id, user.id)),
  /** Answer the supervisor's comments: the author while the case is back with them. */
  'review.answer': (user: SessionUser, record?: CaseStudyRecord) =>
    !!record && same(record.userId, user.id) && record.state === 'revision_requested',
  /** Set supervisors' regions, see unassigned and overdue cases, reassign: administrators. */
  'review.allocate': (user: SessionUser) => isAdmin(user),

  // ── Tracking reports (研修の実施状況, /reports) ──────────────────────────────────────────────
  // Asked without a record: may the person open any report of this kind (links, menu)?
  /** The prefecture view and its exports: center administrators. */
  'report.prefecture': (user: SessionUser) => isAdmin(user),
  /** A region's view: administrators; the regional viewer of that region. */
  'report.region': (user: SessionUser, record?: Placed) =>
    isAdmin(user) || (record ? inOwnRegion(user, record) : has(user, 'regional_viewer')),
  /** A municipality's view: administrators; its coordinator; the viewer of its region. */
  'report.municipality': (user: SessionUser, record?: Placed) =>
    isAdmin(user) ||
    (record
      ? inOwnMunicipality(user, record) || inOwnRegion(user, record)
      : has(user, 'coordinator') || has(user, 'regional_viewer')),
  /** Mail a stalled person a reminder: administrators; the coordinator of their municipality. */
  'report.remind': (user: SessionUser, record?: Placed) =>
    isAdmin(user) || (record ? inOwnMunicipality(user, record) : has(user, 'coordinator')),

  // ── Notifications (お知らせ) ───────────────────────────────────────────────────────────────
  /** Open or mark a notification: its addressee only (administrators too see only their own). */
  'notification.read': (user: SessionUser, record?: { userId: Id }) =>
    !!record && same(record.userId, user.id),

  // ── Certificates (修了証書) ──────────────────────────────────────────────────────────────
  // A certificate's municipality is its holder's at issue (what a municipality counts).
  /** Open the certificates list: administrators (all), coordinators (their municipality's). */
  'certificate.list': (user: SessionUser) => isAdmin(user) || has(user, 'coordinator'),
  /** Download one: its holder, the coordinator of its municipality, administrators. */
  'certificate.read': (user: SessionUser, record?: Placed & { userId: Id }) =>
    !!record && (isAdmin(user) || same(record.userId, user.id) || inOwnMunicipality(user, record)),
  /** Download a municipality's certificates as one ZIP: administrators, its coordinator. */
  'certificate.archive': (user: SessionUser, area?: Placed) =>
    isAdmin(user) || (has(user, 'coordinator') && (!area || inOwnMunicipality(user, area))),
  /** Issue by hand, revoke, correct the name, preview the wording: administrators. */
  'certificate.manage': (user: SessionUser) => isAdmin(user),
} satisfies Record<string, Rule | ((user: SessionUser, resource?: never) => boolean)>;

export type Action = keyof typeof rules;
type ResourceOf<A extends Action> = Parameters<(typeof rules)[A]>[1];

/** Whether the user may do `action` (to `resource`, when given). Anonymous users may do nothing here. */
export function can<A extends Action>(
  user: SessionUser | undefined | null,
  action: A,
  resource?: ResourceOf<A>,
): boolean {
  if (!user || user.status !== 'active') return false;
  const rule = rules[action] as (user: SessionUser, resource?: unknown) => boolean;
  return rule(user, resource);
}

/** Throws 404 unless the user may do `action` to `resource`. */
export function authorize<A extends Action>(
  user: SessionUser | undefined | null,
  action: A,
  resource: ResourceOf<A>,
): void {
  if (!can(user, action, resource)) throw notFound();
}
