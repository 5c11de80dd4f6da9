import { Router } from 'express';
import mongoose from 'mongoose';
import { requirePermission } from '../auth/middleware.js';
import type { Config } from '../config.js';
import { nextBackupAt } from './schedule.js';
import { recentBackupRuns, type BackupRun } from './scheduled-backup.js';

/** A run still "running" this long after it started was cut short (its process ended). */
const INTERRUPTED_AFTER_MS = 12 * 60 * 60 * 1000;

const STATUS_LABELS = { ok: '完了', error: '失敗', running: '実行中', interrupted: '中断' };

function statusOf(run: BackupRun, now: Date): keyof typeof STATUS_LABELS {
  if (run.status !== 'running') return run.status;
  return now.getTime() - run.startedAt.getTime() > INTERRUPTED_AFTER_MS ? 'interrupted' : 'running';
}

/** /admin/backups: the scheduled backups (BACKUP_DIR), for administrators. */
export function backupsRouter(config: Pick<Config, 'backup'>): Router {
  const router = Router();
  router.get('/admin/backups', requirePermission('system.backups'), async (req, res) => {
    const now = new Date();
    const runs = await recentBackupRuns(mongoose.connection.db!);
    res.render('operations/backups', {
      title: 'バックアップ',
      backup: config.backup,
      nextAt: config.backup.dir ? nextBackupAt(now, config.backup.at) : null,
      runs: runs.map((run) => {
        const status = statusOf(run, now);
        return { ...run, status, statusLabel: STATUS_LABELS[status] };
      }),
    });
  });
  return router;
}
