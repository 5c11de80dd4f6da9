import { Router } from 'express';
import type { Database } from '../db.js';
import { pendingMigrations } from '../operations/migrations/runner.js';

/**
 * GET /readyz (mounted in app.ts), for load balancers and orchestrators deciding whether to send
 * traffic here (GET /healthz stays the liveness check). 200 `{ status: 'ready' }` once the
 * database answers and every migration is applied (the training content is loaded before the
 * app is built); until then 503 `{ status: 'starting' }`, and 503 `{ status: 'unavailable' }`
 * whenever the database stops answering afterwards. No session, nothing personal.
 */
export function readinessRouter(database: Database): Router {
  const router = Router();
  // Applied migrations are never undone: once all are there, they are not looked up again.
  let migrated = false;
  let wasReady = false;
  router.get('/', async (_req, res) => {
    res.setHeader('cache-control', 'no-store');
    const ping = await database.ping();
    if (ping.ok && !migrated) {
      migrated = await pendingMigrations(database.connection.db!).then(
        (pending) => pending.length === 0,
        () => false,
      );
    }
    if (ping.ok && migrated) {
      wasReady = true;
      return res.status(200).json({ status: 'ready' });
    }
    res.status(503).json({ status: wasReady ? 'unavailable' : 'starting' });
  });
  return router;
}
