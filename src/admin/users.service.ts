import mongoose, { Types } from 'mongoose';
import { AuditEvent } from '../audit/audit.model.js';
import { recordAudit } from '../audit/audit.service.js';
import type { SessionUser } from '../auth/session-user.js';
import { invalidInput, notFound } from '../lib/errors.js';
import type { Geography } from '../organisations/geography.js';
import { Organisation } from '../organisations/organisation.model.js';
import { Invitation } from '../users/invitation.model.js';
import { isRole, needsMunicipality, ROLES, type Role } from '../users/roles.js';
import { User, USER_STATUSES, type UserStatus } from '../users/user.model.js';
import { literalPattern } from '../lib/forms.js';
import { PAGE_SIZE, pageOf, skipFor, type Page } from './paging.js';
import { type Scope } from './scope.js';

export interface UserFilters {
  q: string;
  municipalityId: string;
  regionId: string;
  role: string;
  status: string;
}

export interface UserRow {
  id: string;
  name: string;
  nameKana: string;
  email: string;
  roles: Role[];
  status: UserStatus;
  municipalityName: string;
  regionName: string;
  organisationName: string;
  profession: string | null;
  lastLoginAt: Date | null;
}

/** A person invited (one by one or by a CSV import) who has not accepted yet: 招待中. */
export interface InvitedRow {
  /** '' when the inviter gave no name. */
  name: string;
  nameKana: string;
  email: string;
  roles: Role[];
  municipalityName: string;
  regionName: string;
  organisationName: string;
  profession: string;
  expiresAt: Date;
}

/** The status filter's value for people invited but not yet registered. */
export const INVITED_STATUS = 'invited';
export const INVITED_STATUS_LABEL = '招待中';

/** Open invitations shown on the users list at most (the rest are on /invitations). */
export const INVITED_ROWS_LIMIT = 100;

const ID = /^[0-9a-f]{24}$/i;
const oid = (id: string) => new Types.ObjectId(id);
/** An id no record has: a filter on it matches nothing. */
const NOBODY = new Types.ObjectId('000000000000000000000000');

/** The part of a user query that keeps to the viewer's scope (municipality or region). */
function scopeFilter(scope: Scope): Record<string, unknown> | null {
  if (scope.all) return null;
  const or: Record<string, unknown>[] = [];
  if (scope.municipalityIds.length > 0) {
    or.push({ municipalityId: mongoose.trusted({ $in: scope.municipalityIds.map(oid) }) });
  }
  if (scope.regionIds.length > 0)
    or.push({ regionId: mongoose.trusted({ $in: scope.regionIds.map(oid) }) });
  // A coordinator without a municipality sees nobody rather than everybody.
  return or.length > 0 ? { $or: or } : { _id: { $eq: NOBODY } };
}

/** The filters both lists share: scope, the words searched, municipality, region and role. */
function commonFilters(
  scope: Scope,
  filters: UserFilters,
  searched: string[],
): Record<string, unknown>[] {
  const and: Record<string, unknown>[] = [];
  const scoped = scopeFilter(scope);
  if (scoped) and.push(scoped);
  if (filters.q) {
    const pattern = literalPattern(filters.q);
    and.push({
      $or: searched.map((field) => ({ [field]: mongoose.trusted({ $regex: pattern }) })),
    });
  }
  if (ID.test(filters.municipalityId))
    and.push({ municipalityId: { $eq: oid(filters.municipalityId) } });
  if (ID.test(filters.regionId)) and.push({ regionId: { $eq: oid(filters.regionId) } });
  if (isRole(filters.role)) and.push({ roles: { $eq: filters.role } });
  return and;
}

async function organisationNamesOf(
  ids: (Types.ObjectId | null | undefined)[],
): Promise<Map<string, string>> {
  const unique = [...new Set(ids.filter(Boolean).map(String))];
  const organisations = unique.length
    ? await Organisation.find(
        { _id: mongoose.trusted({ $in: unique.map(oid) }) },
        { name: 1 },
      ).lean()
    : [];
  return new Map(
    organisations.map((organisation) => [String(organisation._id), organisation.name]),
  );
}

function placeNames(
  geography: Geography,
  municipalityId: Types.ObjectId | null | undefined,
  regionId: Types.ObjectId | null | undefined,
): { municipalityName: string; regionName: string } {
  const place = municipalityId ? geography.byId.get(String(municipalityId)) : undefined;
  return {
    municipalityName: place?.name ?? '',
    regionName:
      place?.regionName ?? (regionId ? (geography.regionNames.get(String(regionId)) ?? '') : ''),
  };
}

/**
 * People invited within the viewer's scope who have not accepted yet (open invitations: not
 * accepted, revoked or expired), matching the filters; by reading, then address. None when the
 * status filter asks for a user status.
 */
export async function listInvitedPeople(
  scope: Scope,
  filters: UserFilters,
  geography: Geography,
): Promise<{ rows: InvitedRow[]; total: number }> {
  if ((USER_STATUSES as readonly string[]).includes(filters.status)) return { rows: [], total: 0 };
  const and = commonFilters(scope, filters, ['prefill.name', 'prefill.nameKana', 'email']);
  and.push({
    acceptedAt: null,
    revokedAt: null,
    expiresAt: mongoose.trusted({ $gt: new Date() }),
  });
  const filter = { $and: and };
  const [docs, total] = await Promise.all([
    Invitation.find(filter)
      .sort({ 'prefill.nameKana': 1, email: 1 })
      .limit(INVITED_ROWS_LIMIT)
      .lean(),
    Invitation.countDocuments(filter),
  ]);
  const organisationNames = await organisationNamesOf(
    docs.map((doc) => doc.prefill?.organisationId),
  );
  const rows = docs.map((doc) => ({
    name: doc.prefill?.name ?? '',
    nameKana: doc.prefill?.nameKana ?? '',
    email: doc.email,
    roles: doc.roles,
    ...placeNames(geography, doc.municipalityId, doc.regionId),
    organisationName: doc.prefill?.organisationId
      ? (organisationNames.get(String(doc.prefill.organisationId)) ?? '')
      : '',
    profession: doc.prefill?.profession ?? '',
    expiresAt: doc.expiresAt,
  }));
  return { rows, total };
}

/** Users matching the filters within the viewer's scope, ordered by reading (ふりがな). */
export async function listUsers(
  scope: Scope,
  filters: UserFilters,
  geography: Geography,
  page: number,
): Promise<Page<UserRow>> {
  const and = commonFilters(scope, filters, ['name', 'nameKana', 'email']);
  // Invited people are not users yet: asking for them alone lists no user.
  if (filters.status === INVITED_STATUS) and.push({ _id: { $eq: NOBODY } });
  if ((USER_STATUSES as readonly string[]).includes(filters.status))
    and.push({ status: { $eq: filters.status } });
  const filter = and.length > 0 ? { $and: and } : {};

  const [docs, total] = await Promise.all([
    User.find(filter).sort({ nameKana: 1, _id: 1 }).skip(skipFor(page)).limit(PAGE_SIZE).lean(),
    User.countDocuments(filter),
  ]);
  const organisationNames = await organisationNamesOf(docs.map((doc) => doc.organisationId));
  const rows = docs.map((doc) => {
    return {
      id: String(doc._id),
      name: doc.name,
      nameKana: doc.nameKana,
      email: doc.email,
      roles: doc.roles,
      status: doc.status,
      ...placeNames(geography, doc.municipalityId, doc.regionId),
      organisationName: doc.organisationId
        ? (organisationNames.get(String(doc.organisationId)) ?? '')
        : '',
      profession: doc.profession ?? null,
      lastLoginAt: doc.lastLoginAt ?? null,
    };
  });
  return pageOf(rows, total, page);
}

/** Loads a user by id from the request; a malformed or unknown id is a 404. */
export async function findUserById(id: string) {
  if (!ID.test(id)) throw notFound();
  const user = await User.findById(id).lean();
  if (!user) throw notFound();
  return user;
}

export type AdminUserRecord = Awaited<ReturnType<typeof findUserById>>;

/** Role edits: the roles must be known, at least one, and need a municipality unless admin only. */
export async function changeRoles(
  actor: SessionUser,
  target: AdminUserRecord,
  requested: unknown,
  ip: string | undefined,
): Promise<{ before: Role[]; after: Role[] }> {
  const list = Array.isArray(requested) ? requested : requested === undefined ? [] : [requested];
  if (list.some((value) => !isRole(value)))
    throw invalidInput({ roles: '役割の指定に誤りがあります。' });
  const after = ROLES.filter((role) => list.includes(role));
  if (after.length === 0) throw invalidInput({ roles: '役割を一つ以上選択してください。' });
  const before = target.roles;
  const targetId = String(target._id);
  if (targetId === actor.id && before.includes('admin') && !after.includes('admin')) {
    throw invalidInput({
      roles: 'ご自身のセンター管理者の役割は外せません。別の管理者に依頼してください。',
    });
  }
  if (needsMunicipality(after) && !target.municipalityId) {
    throw invalidInput({
      roles:
        'この利用者には市町村が登録されていないため、センター管理者以外の役割は付けられません。',
    });
  }
  if (before.length === after.length && before.every((role) => after.includes(role))) {
    return { before, after };
  }
  await User.updateOne({ _id: { $eq: target._id } }, { $set: { roles: after } });
  await recordAudit({
    actorId: actor.id,
    action: 'user.roles_changed',
    targetType: 'User',
    targetId,
    municipalityId: target.municipalityId ? String(target.municipalityId) : null,
    ip: ip ?? null,
    details: { before, after },
  });
  return { before, after };
}

/** Suspends a user. Their next request signs them out (the session user is re-read each time). */
export async function suspendUser(
  actor: SessionUser,
  target: AdminUserRecord,
  ip: string | undefined,
): Promise<boolean> {
  if (target.status === 'suspended') return false;
  // Only from the status read (a parallel change wins), remembering it for reactivation.
  const result = await User.updateOne(
    { _id: { $eq: target._id }, status: { $eq: target.status } },
    { $set: { status: 'suspended', statusBeforeSuspension: target.status } },
  );
  if (result.modifiedCount === 0) return false;
  await recordAudit({
    actorId: actor.id,
    action: 'user.suspended',
    targetType: 'User',
    targetId: String(target._id),
    municipalityId: target.municipalityId ? String(target.municipalityId) : null,
    ip: ip ?? null,
    details: { previousStatus: target.status },
  });
  return true;
}

/**
 * The status a suspended user had before: kept on the account, or (suspended before it was
 * kept) read from the suspension's audit event; 'pending' when neither tells.
 */
async function statusBeforeSuspension(target: AdminUserRecord): Promise<'pending' | 'active'> {
  if (target.statusBeforeSuspension) return target.statusBeforeSuspension;
  const suspension = await AuditEvent.findOne(
    { action: 'user.suspended', targetId: { $eq: target._id } },
    { details: 1 },
  )
    .sort({ at: -1 })
    .lean();
  const previous = (suspension?.details as { previousStatus?: unknown } | null)?.previousStatus;
  if (previous === 'active') return 'active';
  // Unknown: an account becomes active only by an approval, never by lifting a suspension.
  return target.approvedAt ? 'active' : 'pending';
}

/**
 * Lifts a suspension: the account returns to the status the suspension interrupted, so a
 * registration still waiting for approval goes back to waiting (it never becomes active this
 * way). Returns that status, or null (writing nothing) when the user is not suspended.
 */
export async function reactivateUser(
  actor: SessionUser,
  target: AdminUserRecord,
  ip: string | undefined,
): Promise<'pending' | 'active' | null> {
  if (target.status !== 'suspended') return null;
  const status = await statusBeforeSuspension(target);
  const result = await User.updateOne(
    { _id: { $eq: target._id }, status: { $eq: 'suspended' } },
    { $set: { status, statusBeforeSuspension: null } },
  );
  if (result.modifiedCount === 0) return null;
  await recordAudit({
    actorId: actor.id,
    action: 'user.reactivated',
    targetType: 'User',
    targetId: String(target._id),
    municipalityId: target.municipalityId ? String(target.municipalityId) : null,
    ip: ip ?? null,
    details: { status },
  });
  return status;
}
