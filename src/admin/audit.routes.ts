import { Router } from 'express';
import { AUDIT_ACTIONS, AUDIT_ACTION_LABELS } from '../audit/audit.model.js';
import { requirePermission } from '../auth/middleware.js';
import { loadGeography } from '../organisations/geography.js';
import { text } from '../lib/forms.js';
import { pageFrom, pageLink, pageOf } from './paging.js';
import { auditFilterErrors, listAuditEvents } from './audit.service.js';

const BASE = '/admin/audit';

/** 操作の記録: the audit log, for center administrators. */
export function auditRouter(): Router {
  const router = Router();
  router.get(BASE, requirePermission('audit.read'), async (req, res) => {
    const filters = {
      action: text(req.query.action, 60),
      actor: text(req.query.actor, 100),
      from: text(req.query.from, 10),
      to: text(req.query.to, 10),
    };
    const errors = auditFilterErrors(filters);
    const hasErrors = Object.keys(errors).length > 0;
    const result = hasErrors
      ? pageOf([], 0, 1)
      : await listAuditEvents(filters, await loadGeography(), pageFrom(req.query.page));
    res.status(hasErrors ? 422 : 200).render('admin/audit/index', {
      title: '操作の記録',
      filters,
      errors,
      result,
      actionOptions: AUDIT_ACTIONS.map((action) => ({
        value: action,
        label: AUDIT_ACTION_LABELS[action],
      })),
      pageLink: (n: number) => pageLink(BASE, filters, n),
    });
  });
  return router;
}
