import { Router } from 'express';
import { can } from '../auth/policy.js';
import type { Config } from '../config.js';
import type { Database } from '../db.js';
import { lastBackup } from '../operations/scheduled-backup.js';
import { nextBackupAt } from '../operations/schedule.js';

/**
 * GET /healthz (mounted in app.ts after sign-in is known): for load balancers and operators.
 * Anyone gets up or down (200 or 503 with `{ status }`); administrators ('system.health') also
 * get the details: uptime, database ping, read caches and the store's counts, the last scheduled
 * backup and the next one. It stores no session.
 */
export function healthRouter(database: Database, config?: Pick<Config, 'backup'>): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const ping = await database.ping();
    const status = ping.ok ? 'ok' : 'error';
    res.status(ping.ok ? 200 : 503);
    if (!can(req.user, 'system.health')) return res.json({ status });
    if (ping.ok) await database.refresh();
    res.json({
      status,
      uptimeSeconds: Math.round(process.uptime()),
      database: { kind: database.kind, up: ping.ok, pingMs: ping.ms, ...database.stats() },
      backup: {
        scheduled: !!config?.backup.dir,
        nextAt: config?.backup.dir ? nextBackupAt(new Date(), config.backup.at) : null,
        last: ping.ok ? await lastBackup(database.connection.db!) : null,
      },
    });
  });
  return router;
}
