import { Router } from 'express';
import { can } from '../auth/policy.js';
import type { Database } from '../db.js';

/**
 * GET /healthz (mounted in app.ts after sign-in is known): for load balancers and operators.
 * Anyone gets up or down (200 or 503 with `{ status }`); administrators ('system.health') also
 * get the details: uptime, database ping, read caches and the store's counts. It stores no session.
 */
export function healthRouter(database: Database): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const ping = await database.ping();
    const status = ping.ok ? 'ok' : 'error';
    res.status(ping.ok ? 200 : 503);
    if (!can(req.user, 'system.health')) return res.json({ status });
    res.json({
      status,
      uptimeSeconds: Math.round(process.uptime()),
      database: { kind: database.kind, up: ping.ok, pingMs: ping.ms, ...database.stats() },
    });
  });
  return router;
}
