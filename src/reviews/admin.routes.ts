import mongoose, { Types } from 'mongoose';
import { Router } from 'express';
import { requirePermission } from '../auth/middleware.js';
import { findCaseStudy } from '../case-studies/case-study.service.js';
import type { Config } from '../config.js';
import { formatDateTime } from '../lib/dates.js';
import { notFound } from '../lib/errors.js';
import { Region } from '../organisations/region.model.js';
import { User } from '../users/user.model.js';
import {
  OPEN_REVIEW_STATES,
  listSupervisors,
  reassign,
  setCoverage,
} from './allocation.service.js';
import { queueRows, sortRows } from './queue.service.js';

const REASSIGN_MESSAGES = {
  reassigned: '担当のスーパーバイザーを変更しました。',
  unchanged: 'すでにその方の担当です。',
  not_supervisor: '担当にできるのは、利用中のスーパーバイザーだけです。',
  author: '本人を担当にすることはできません。',
  closed: 'この事例検討レポートは確認が終わっているか、取り下げられています。',
} as const;

/** Administrators: unassigned and overdue cases, reassignment, supervisors' regions (/admin/review). */
export function reviewAdminRouter(config: Config): Router {
  const router = Router();
  const overdueDays = config.review.overdueDays;

  router.get('/', requirePermission('review.allocate'), async (req, res) => {
    const all = req.query.show === 'all';
    const [rows, supervisors, regions] = await Promise.all([
      queueRows({ open: true, state: mongoose.trusted({ $in: OPEN_REVIEW_STATES }) }, overdueDays),
      listSupervisors(),
      Region.find({}, { name: 1 }).sort({ order: 1 }).lean(),
    ]);
    const supervisorName = new Map(supervisors.map((s) => [String(s.userId), s.name]));
    const shown = sortRows(
      rows.filter((r) => all || r.supervisorIds.length === 0 || r.overdue),
      'waiting',
    ).map((r) => ({
      ...r,
      unassigned: r.supervisorIds.length === 0,
      supervisorNames: r.supervisorIds.map((id) => supervisorName.get(id) ?? '（利用停止中）'),
    }));
    const regionName = new Map(regions.map((r) => [String(r._id), r.name]));
    res.render('reviews/admin', {
      title: '事例検討レポートの担当',
      rows: shown,
      all,
      overdueDays,
      supervisors: supervisors.map((s) => ({
        id: String(s.userId),
        name: s.name,
        explicit: s.explicit,
        regionIds: s.regionIds.map(String),
        regionNames: s.regionIds.map((id) => regionName.get(String(id)) ?? '—'),
      })),
      regions: regions.map((r) => ({ id: String(r._id), name: r.name })),
      formatDateTime,
    });
  });

  router.post('/:id/assign', requirePermission('review.allocate'), async (req, res) => {
    const caseStudy = await findCaseStudy(String(req.params.id));
    if (!caseStudy) throw notFound();
    const body = (req.body ?? {}) as Record<string, unknown>;
    const supervisorId = typeof body.supervisorId === 'string' ? body.supervisorId : '';
    const outcome = await reassign(req.user!.id, caseStudy, supervisorId, req.ip);
    req.flash(outcome === 'reassigned' ? 'success' : 'error', REASSIGN_MESSAGES[outcome]);
    res.redirect(303, '/admin/review');
  });

  router.post(
    '/supervisors/:userId/regions',
    requirePermission('review.allocate'),
    async (req, res) => {
      const id = String(req.params.userId);
      const supervisor = Types.ObjectId.isValid(id)
        ? await User.findOne({ _id: new Types.ObjectId(id), roles: 'supervisor' }, { _id: 1 })
        : null;
      if (!supervisor) throw notFound();
      const posted = ((req.body ?? {}) as Record<string, unknown>).regionId;
      const wanted = (typeof posted === 'string' ? [posted] : Array.isArray(posted) ? posted : [])
        .filter((v): v is string => typeof v === 'string' && Types.ObjectId.isValid(v))
        .map((v) => new Types.ObjectId(v));
      const known = await Region.find(
        { _id: mongoose.trusted({ $in: wanted }) },
        { _id: 1 },
      ).lean();
      await setCoverage(
        req.user!.id,
        supervisor._id as Types.ObjectId,
        known.map((r) => r._id),
        req.ip,
      );
      req.flash(
        'success',
        known.length > 0
          ? '担当する圏域を保存しました。'
          : '担当する圏域の指定をなくしました（ご本人の市町村の圏域を担当します）。',
      );
      res.redirect(303, '/admin/review#supervisors');
    },
  );

  return router;
}
