import { Router } from 'express';
import { organisationsRouter } from '../organisations/organisations.routes.js';
import { auditRouter } from './audit.routes.js';
import { usersAdminRouter } from './users.routes.js';

/** Everything under /admin owned by the admin feature: users, organisations, the audit log. */
export function adminRouter(): Router {
  const router = Router();
  router.use(organisationsRouter());
  router.use(usersAdminRouter());
  router.use(auditRouter());
  return router;
}
