import { Router } from 'express';
import { authRouter } from '../auth/auth.routes.js';
import { passwordResetRouter } from '../auth/password-reset.routes.js';
import { outboxRouter } from '../mail/outbox.routes.js';
import { accountRouter } from './account.routes.js';
import { approvalsRouter } from './approvals.routes.js';
import type { AccountsDeps } from './deps.js';
import { invitationsRouter } from './invitations.routes.js';
import { registrationRouter } from './registration.routes.js';

const dateTime = new Intl.DateTimeFormat('ja-JP', {
  timeZone: 'Asia/Tokyo',
  dateStyle: 'medium',
  timeStyle: 'short',
});

/** Everything about accounts: sign-in, password reset, invitations, registration, approvals, /account, the outbox. */
export function accountsRouter(deps: AccountsDeps): Router {
  const router = Router();
  router.use((_req, res, next) => {
    res.locals.formatDateTime = (date: Date | null | undefined) =>
      date ? dateTime.format(date) : '—';
    next();
  });
  router.use(authRouter(deps.passport));
  router.use(passwordResetRouter(deps));
  router.use(registrationRouter(deps));
  router.use(invitationsRouter(deps));
  router.use(approvalsRouter(deps));
  router.use(accountRouter(deps));
  router.use(outboxRouter(deps.mailer));
  return router;
}
