import { Router } from 'express';
import type { Database } from '../db.js';

/** GET /healthz (mounted there in app.ts): for load balancers and operators. No personal data, no session. */
export function healthRouter(database: Database): Router {
  const router = Router();
  router.get('/', async (_req, res) => {
    const ping = await database.ping();
    res.status(ping.ok ? 200 : 503).json({
      status: ping.ok ? 'ok' : 'error',
      uptimeSeconds: Math.round(process.uptime()),
      database: { kind: database.kind, up: ping.ok, pingMs: ping.ms, ...database.stats() },
    });
  });
  return router;
}
