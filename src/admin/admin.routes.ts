import { Router } from 'express';
import type { Config } from '../config.js';
import type { Logger } from '../lib/logger.js';
import type { Mailer } from '../mail/mailer.js';
import { organisationsRouter } from '../organisations/organisations.routes.js';
import { auditRouter } from './audit.routes.js';
import { importRouter } from './import/import.routes.js';
import { userEditRouter } from './user-edit.routes.js';
import { usersAdminRouter } from './users.routes.js';

export interface AdminDeps {
  config: Config;
  logger: Logger;
  /** The app's one mailer (SMTP or the outbox). */
  mailer: Mailer;
}

/** Everything under /admin owned by the admin feature: users, CSV import, organisations, audit log. */
export function adminRouter({ config, logger, mailer }: AdminDeps): Router {
  const router = Router();
  router.use(organisationsRouter());
  // Before the user pages, so /admin/users/import is not taken for a user id.
  router.use(importRouter({ config, logger, mailer }));
  router.use(userEditRouter({ config, mailer }));
  router.use(usersAdminRouter());
  router.use(auditRouter());
  return router;
}
