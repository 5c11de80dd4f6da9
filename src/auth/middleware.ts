import type { RequestHandler, Request, Response } from 'express';
import { forbidden } from '../lib/errors.js';
import { can, type Action } from './policy.js';

function refuseAnonymous(req: Request, res: Response): void {
  if (req.accepts(['html', 'json']) === 'json') {
    res.status(401).json({ error: { code: 'unauthenticated', message: 'ログインしてください。' } });
    return;
  }
  const next = req.method === 'GET' ? `?next=${encodeURIComponent(req.originalUrl)}` : '';
  res.redirect(`/login${next}`);
}

/** Signed-in users only. HTML requests go to /login?next=…, JSON requests get 401. */
export const requireAuth: RequestHandler = (req, res, next) => {
  if (!req.user) return refuseAnonymous(req, res);
  next();
};

/**
 * Signed-in users whom src/auth/policy.ts allows `action` (asked without a record: may they use
 * this page at all?). Others get 403; anonymous visitors go to /login.
 * Record-level checks stay in the handler: `authorize(req.user, action, record)`.
 */
export function requirePermission(action: Action): RequestHandler {
  return (req, res, next) => {
    const user = req.user;
    if (!user) return refuseAnonymous(req, res);
    if (!can(user, action, undefined)) return next(forbidden());
    next();
  };
}
