import { Router, type Request, type Response } from 'express';
import mongoose from 'mongoose';
import { AUDIT_ACTION_LABELS, AuditEvent } from '../audit/audit.model.js';
import { requirePermission } from '../auth/middleware.js';
import { authorize, can } from '../auth/policy.js';
import type { SessionUser } from '../auth/session-user.js';
import { AppError, forbidden } from '../lib/errors.js';
import { loadGeography } from '../organisations/geography.js';
import { Organisation } from '../organisations/organisation.model.js';
import { ROLE_LABELS, ROLES } from '../users/roles.js';
import { User, USER_STATUS_LABELS, USER_STATUSES } from '../users/user.model.js';
import { text } from '../lib/forms.js';
import { pageFrom, pageLink } from './paging.js';
import { listingArea } from './scope.js';
import {
  changeRoles,
  findUserById,
  INVITED_STATUS,
  INVITED_STATUS_LABEL,
  listInvitedPeople,
  listUsers,
  reactivateUser,
  suspendUser,
  type AdminUserRecord,
} from './users.service.js';

const BASE = '/admin/users';
const viewers = requirePermission('user.list');
const suspenders = requirePermission('user.suspend');

/** 利用者の管理: the list and detail pages, role edits, suspension. */
export function usersAdminRouter(): Router {
  const router = Router();

  router.get(BASE, viewers, async (req, res) => {
    const user = req.user!;
    const { scope, geography, visible, visibleGroups, regionOptions, municipalityOptions } =
      await listingArea(user);
    const filters = {
      q: text(req.query.q, 100),
      municipalityId: text(req.query.municipalityId, 24),
      regionId: text(req.query.regionId, 24),
      role: text(req.query.role, 20),
      status: text(req.query.status, 20),
    };
    const page = pageFrom(req.query.page);
    const [result, invited] = await Promise.all([
      listUsers(scope, filters, geography, page),
      listInvitedPeople(scope, filters, geography),
    ]);
    res.render('admin/users/index', {
      // Regional viewers only read: their heading does not promise management.
      title: can(user, 'user.suspend', undefined) ? '利用者の管理' : '利用者の一覧',
      result,
      // Invited people head the first page; the pages after it list users only.
      invited: page === 1 ? invited.rows : [],
      invitedTotal: invited.total,
      canSeeInvitations: can(user, 'user.invite', undefined),
      filters,
      scopeNote: scopeNoteFor(
        user,
        geography.byId.get(user.municipalityId ?? '')?.name,
        user.regionId ? geography.regionNames.get(user.regionId) : undefined,
      ),
      canImport: can(user, 'user.import', undefined),
      regionOptions,
      municipalityOptions,
      showRegionFilter: visibleGroups.length > 1,
      showMunicipalityFilter: visible === 'all' || visible.length > 1,
      roleOptions: ROLES.map((role) => ({ value: role, label: ROLE_LABELS[role] })),
      statusOptions: [
        ...USER_STATUSES.map((status) => ({ value: status, label: USER_STATUS_LABELS[status] })),
        { value: INVITED_STATUS, label: INVITED_STATUS_LABEL },
      ],
      invitedLabel: INVITED_STATUS_LABEL,
      roleLabels: ROLE_LABELS,
      statusLabels: USER_STATUS_LABELS,
      pageLink: (n: number) => pageLink(BASE, filters, n),
    });
  });

  router.get(`${BASE}/:id`, viewers, async (req, res) => {
    const target = await loadVisible(req);
    await renderDetail(req, res, target, {});
  });

  router.post(`${BASE}/:id/roles`, requirePermission('user.manage'), async (req, res) => {
    const target = await loadVisible(req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    try {
      const { before, after } = await changeRoles(req.user!, target, body.roles, req.ip);
      const changed = before.join() !== after.join();
      req.flash(
        changed ? 'success' : 'info',
        changed ? '役割を変更しました。' : '役割に変更はありませんでした。',
      );
    } catch (error) {
      if (error instanceof AppError && error.fields) {
        const requested = Array.isArray(body.roles) ? body.roles : [body.roles];
        return renderDetail(
          req,
          res,
          target,
          error.fields,
          requested.filter((r): r is string => typeof r === 'string'),
          422,
        );
      }
      throw error;
    }
    res.redirect(303, `${BASE}/${String(target._id)}`);
  });

  router.post(`${BASE}/:id/suspend`, suspenders, async (req, res) => {
    const target = await loadSuspendable(req);
    const done = await suspendUser(req.user!, target, req.ip);
    req.flash(
      done ? 'success' : 'info',
      done ? `${target.name} さんの利用を停止しました。` : 'すでに利用停止中です。',
    );
    res.redirect(303, `${BASE}/${String(target._id)}`);
  });

  router.post(`${BASE}/:id/reactivate`, suspenders, async (req, res) => {
    const target = await loadSuspendable(req);
    const status = await reactivateUser(req.user!, target, req.ip);
    req.flash(
      status ? 'success' : 'info',
      status === 'active'
        ? `${target.name} さんの利用を再開しました。`
        : status === 'pending'
          ? `${target.name} さんの利用停止を解除しました。利用登録は承認待ちに戻りました。`
          : '利用停止中ではありません。',
    );
    res.redirect(303, `${BASE}/${String(target._id)}`);
  });

  return router;
}

function placed(target: AdminUserRecord) {
  return {
    municipalityId: target.municipalityId ? String(target.municipalityId) : null,
    regionId: target.regionId ? String(target.regionId) : null,
  };
}

/** The user named by :id if the viewer may see them; otherwise 404, as if there were none. */
async function loadVisible(req: Request): Promise<AdminUserRecord> {
  const target = await findUserById(req.params.id as string);
  authorize(req.user, 'user.read', { ...placed(target), _id: target._id });
  return target;
}

/** A user the signed-in person may see and may also suspend or reactivate (else 403). */
async function loadSuspendable(req: Request): Promise<AdminUserRecord> {
  const target = await loadVisible(req);
  const allowed = can(req.user, 'user.suspend', {
    ...placed(target),
    _id: target._id,
    roles: target.roles,
  });
  if (!allowed) throw forbidden();
  return target;
}

function scopeNoteFor(
  user: SessionUser,
  municipalityName?: string,
  regionName?: string,
): string | null {
  if (user.roles.includes('admin')) return null;
  const parts: string[] = [];
  if (user.roles.includes('coordinator') && municipalityName)
    parts.push(`${municipalityName}の利用者`);
  if (user.roles.includes('regional_viewer') && regionName)
    parts.push(`${regionName}圏域の市町村の利用者`);
  return parts.length > 0
    ? `${parts.join('と')}を表示しています。`
    : '表示できる利用者がいません。';
}

async function renderDetail(
  req: Request,
  res: Response,
  target: AdminUserRecord,
  errors: Record<string, string>,
  requestedRoles?: string[],
  status = 200,
): Promise<void> {
  const viewer = req.user!;
  const geography = await loadGeography();
  const place = target.municipalityId
    ? geography.byId.get(String(target.municipalityId))
    : undefined;
  const organisation = target.organisationId
    ? await Organisation.findById(target.organisationId, { name: 1 }).lean()
    : null;
  const isAdminViewer = viewer.roles.includes('admin');
  const history = isAdminViewer
    ? await AuditEvent.find({ targetId: { $eq: target._id } })
        .sort({ at: -1 })
        .limit(20)
        .lean()
    : [];
  const actorIds = [
    ...new Set(
      history
        .map((event) => event.actorId)
        .filter(Boolean)
        .map(String),
    ),
  ];
  const actors = actorIds.length
    ? await User.find({ _id: mongoose.trusted({ $in: actorIds }) }, { name: 1 }).lean()
    : [];
  const actorNames = new Map(actors.map((actor) => [String(actor._id), actor.name]));
  const subject = { ...placed(target), _id: target._id, roles: target.roles };
  res.status(status).render('admin/users/show', {
    title: `${target.name} さん`,
    target: {
      id: String(target._id),
      name: target.name,
      nameKana: target.nameKana,
      email: target.email,
      pendingEmail: target.emailChange?.email ?? null,
      roles: target.roles,
      status: target.status,
      profession: target.profession,
      municipalityName: place?.name ?? '',
      regionName: place?.regionName ?? '',
      organisationName: organisation?.name ?? '',
      lastLoginAt: target.lastLoginAt,
      createdAt: (target as { createdAt?: Date }).createdAt ?? null,
    },
    errors,
    selectedRoles: requestedRoles ?? target.roles,
    canEditRoles: can(viewer, 'user.manage', undefined),
    canEdit: can(viewer, 'user.edit', subject),
    canSuspend: can(viewer, 'user.suspend', subject),
    history: history.map((event) => ({
      at: event.at,
      label: AUDIT_ACTION_LABELS[event.action] ?? event.action,
      actorName: event.actorId
        ? (actorNames.get(String(event.actorId)) ?? '（削除された利用者）')
        : 'システム',
    })),
    roleLabels: ROLE_LABELS,
    roles: ROLES,
    statusLabels: USER_STATUS_LABELS,
  });
}
