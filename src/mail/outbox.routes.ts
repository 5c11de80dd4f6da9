import { Router } from 'express';
import { recordAudit } from '../audit/audit.service.js';
import { requirePermission } from '../auth/middleware.js';
import { authorize } from '../auth/policy.js';
import { notFound } from '../lib/errors.js';
import type { Mailer } from './mailer.js';
import { listOutbox, readOutboxMessage } from './outbox.js';

/** /admin/outbox: the messages written to DATA_DIR/outbox, for administrators. */
export function outboxRouter(mailer: Mailer): Router {
  const router = Router();

  router.get('/admin/outbox', requirePermission('mail.read'), async (req, res) => {
    authorize(req.user, 'mail.read', undefined);
    res.render('auth/outbox', {
      title: '送信メール',
      mode: mailer.mode,
      messages: await listOutbox(mailer.outboxDir),
    });
  });

  router.get('/admin/outbox/:id', requirePermission('mail.read'), async (req, res) => {
    authorize(req.user, 'mail.read', undefined);
    const message = await readOutboxMessage(mailer.outboxDir, String(req.params.id));
    if (!message) throw notFound();
    await recordAudit({
      actorId: req.user!.id,
      action: 'mail.viewed',
      targetType: 'Mail',
      ip: req.ip,
      details: { outboxId: message.id },
    });
    res.render('auth/outbox-message', { title: message.subject || '送信メール', message });
  });

  return router;
}
