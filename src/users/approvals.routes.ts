import { Router } from 'express';
import mongoose, { Types } from 'mongoose';
import { recordAudit } from '../audit/audit.service.js';
import { requirePermission } from '../auth/middleware.js';
import { authorize } from '../auth/policy.js';
import { notFound } from '../lib/errors.js';
import { registrationApprovedMessage, registrationRejectedMessage } from '../mail/messages.js';
import { Municipality } from '../organisations/municipality.model.js';
import { Organisation } from '../organisations/organisation.model.js';
import { link, type AccountsDeps } from './deps.js';
import { User } from './user.model.js';

/** Pending self-registrations: the municipality's coordinator (or an admin) approves or rejects. */
export function approvalsRouter({ config, mailer }: AccountsDeps): Router {
  const router = Router();

  router.get('/approvals', requirePermission('user.approvals'), async (req, res) => {
    const user = req.user!;
    const filter: Record<string, unknown> = { status: 'pending' };
    if (!user.roles.includes('admin')) filter.municipalityId = { $eq: user.municipalityId };
    const pending = await User.find(filter).sort({ createdAt: 1 }).limit(500).lean();
    const [municipalities, organisations] = await Promise.all([
      Municipality.find({
        _id: mongoose.trusted({ $in: pending.map((p) => p.municipalityId).filter(Boolean) }),
      }).lean(),
      Organisation.find({
        _id: mongoose.trusted({ $in: pending.map((p) => p.organisationId).filter(Boolean) }),
      }).lean(),
    ]);
    const municipalityName = new Map(municipalities.map((m) => [String(m._id), m.name]));
    const organisationName = new Map(organisations.map((o) => [String(o._id), o.name]));
    res.render('account/approvals', {
      title: '承認待ちの利用登録',
      pending: pending.map((p) => ({
        id: String(p._id),
        name: p.name,
        nameKana: p.nameKana,
        email: p.email,
        profession: p.profession,
        municipality: municipalityName.get(String(p.municipalityId)) ?? '',
        organisation: p.organisationId ? organisationName.get(String(p.organisationId)) : null,
        createdAt: p.createdAt,
      })),
    });
  });

  async function loadPending(id: string) {
    if (!/^[0-9a-f]{24}$/i.test(id) || !Types.ObjectId.isValid(id)) throw notFound();
    const pending = await User.findOne({ _id: { $eq: id }, status: 'pending' });
    if (!pending) throw notFound();
    return pending;
  }

  router.post('/approvals/:id/approve', requirePermission('user.approvals'), async (req, res) => {
    const user = req.user!;
    const pending = await loadPending(String(req.params.id));
    authorize(user, 'user.approve', pending);
    const updated = await User.findOneAndUpdate(
      { _id: pending._id, status: 'pending' },
      {
        $set: { status: 'active', approvedBy: new Types.ObjectId(user.id), approvedAt: new Date() },
      },
      { returnDocument: 'after' },
    );
    if (!updated) throw notFound();
    await recordAudit({
      actorId: user.id,
      action: 'user.approved',
      targetType: 'User',
      targetId: updated._id,
      municipalityId: updated.municipalityId,
      ip: req.ip,
    });
    await mailer.send({
      to: updated.email,
      ...registrationApprovedMessage({ name: updated.name, loginUrl: link(config, '/login') }),
    });
    req.flash('success', `${updated.name} さんの利用登録を承認しました。`);
    res.redirect('/approvals');
  });

  router.post('/approvals/:id/reject', requirePermission('user.approvals'), async (req, res) => {
    const user = req.user!;
    const pending = await loadPending(String(req.params.id));
    authorize(user, 'user.approve', pending);
    // A rejected application is removed, so the person may apply again; the audit log keeps the fact.
    const removed = await User.findOneAndDelete({ _id: pending._id, status: 'pending' });
    if (!removed) throw notFound();
    await recordAudit({
      actorId: user.id,
      action: 'user.rejected',
      targetType: 'User',
      targetId: removed._id,
      municipalityId: removed.municipalityId,
      ip: req.ip,
    });
    await mailer.send({
      to: removed.email,
      ...registrationRejectedMessage({ name: removed.name }),
    });
    req.flash('success', `${removed.name} さんの利用登録を却下しました。`);
    res.redirect('/approvals');
  });

  return router;
}
