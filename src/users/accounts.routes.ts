import { Router } from 'express';
import { authRouter } from '../auth/auth.routes.js';
import { passwordResetRouter } from '../auth/password-reset.routes.js';
import { outboxRouter } from '../mail/outbox.routes.js';
import { accountRouter } from './account.routes.js';
import { approvalsRouter } from './approvals.routes.js';
import type { AccountsDeps } from './deps.js';
import { invitationsRouter } from './invitations.routes.js';
import { registrationRouter } from './registration.routes.js';

/** Everything about accounts: sign-in, password reset, invitations, registration, approvals, /account, the outbox. */
export function accountsRouter(deps: AccountsDeps): Router {
  const router = Router();
  router.use(authRouter(deps.passport));
  router.use(passwordResetRouter(deps));
  router.use(registrationRouter(deps));
  router.use(invitationsRouter(deps));
  router.use(approvalsRouter(deps));
  router.use(accountRouter(deps));
  router.use(outboxRouter(deps.mailer));
  return router;
}
