import { expect } from 'chai';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import request from 'supertest';
import { ConfigError, parseEnv } from '../../src/config.js';
import { silentLogger } from '../../src/lib/logger.js';
import { nextBackupAt, scheduledBackupName } from '../../src/operations/schedule.js';
import {
  lastBackup,
  recordManualBackup,
  runScheduledBackup,
  startBackupSchedule,
  type BackupRun,
  type ScheduledBackupDeps,
} from '../../src/operations/scheduled-backup.js';
import { createTestApp, testServerUri, type TestApp } from '../helpers/app.js';
import { signIn } from '../helpers/auth.js';
import { eventually } from '../helpers/eventually.js';
import { buildUser } from '../helpers/factories.js';
import { diskWithRoom } from './helpers.js';

/** 2026-12-02 02:30 in Japan. */
const SLOT = new Date('2026-12-01T17:30:00Z');
const DAY = 24 * 60 * 60 * 1000;
const at = { hour: 2, minute: 30 };

describe('scheduled backups (BACKUP_DIR, BACKUP_KEEP, BACKUP_AT)', function () {
  this.timeout(60_000);

  describe('configuration', () => {
    it('defaults to 02:30 and 14 kept, and is off without BACKUP_DIR', () => {
      const env = parseEnv({});
      expect([env.BACKUP_DIR, env.BACKUP_KEEP, env.BACKUP_AT]).to.deep.equal([
        undefined,
        14,
        '02:30',
      ]);
    });

    for (const bad of ['2:30', '24:00', '02:60', '0230', 'morning', '02:30:00']) {
      it(`refuses BACKUP_AT=${bad} with a message saying the form`, () => {
        expect(() => parseEnv({ BACKUP_AT: bad }))
          .to.throw(ConfigError)
          .with.property('message')
          .that.matches(/BACKUP_AT: HH:MM の形式（00:00〜23:59、例: 02:30）/);
      });
    }

    it('refuses BACKUP_KEEP below 1', () => {
      expect(() => parseEnv({ BACKUP_KEEP: '0' })).to.throw(ConfigError, /BACKUP_KEEP/);
    });
  });

  describe('the schedule, in Japan time whatever the server’s zone', () => {
    const cases: [string, string, string][] = [
      ['one second before, on the day', '2026-12-01T17:29:59Z', '2026-12-01T17:30:00Z'],
      ['at the time itself: the next day', '2026-12-01T17:30:00Z', '2026-12-02T17:30:00Z'],
      ['in the Japanese evening (same UTC day)', '2026-12-01T10:00:00Z', '2026-12-01T17:30:00Z'],
      ['just after midnight in Japan', '2026-12-01T15:00:01Z', '2026-12-01T17:30:00Z'],
      ['over a year end', '2026-12-31T18:00:00Z', '2027-01-01T17:30:00Z'],
    ];
    for (const [label, now, next] of cases) {
      it(`${label}: ${now} → ${next}`, () => {
        expect(nextBackupAt(new Date(now), at).toISOString()).to.equal(
          new Date(next).toISOString(),
        );
      });
    }
    it('names the file by the scheduled time in Japan', () => {
      expect(scheduledBackupName(SLOT)).to.equal('tsunagu-20261202-0230.tar.gz');
      expect(nextBackupAt(new Date('2026-12-01T00:00:00Z'), { hour: 23, minute: 5 })).to.deep.equal(
        new Date('2026-12-01T14:05:00Z'),
      );
    });
  });

  describe('running', () => {
    let t: TestApp;
    let db: Db;
    let other: MongoClient;
    let dirs: string[] = [];
    const newDir = async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'tsunagu-scheduled-'));
      dirs.push(dir);
      return dir;
    };
    const deps = (dir: string, extra: Partial<ScheduledBackupDeps> = {}): ScheduledBackupDeps => ({
      db,
      backup: { dir, keep: 14, at },
      logger: silentLogger,
      ...extra,
    });
    const runs = () =>
      db.collection<BackupRun>('backup_runs').find({}).sort({ startedAt: 1 }).toArray();

    beforeEach(async () => {
      t = await createTestApp();
      db = t.database.connection.db!;
      await buildUser({ roles: ['admin'] });
    });
    afterEach(async () => {
      await other?.close();
      await t.close();
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
      dirs = [];
    });

    it('two app processes on one database take one backup between them, when the timer fires', async () => {
      // The second process's own connection to the same database.
      other = await MongoClient.connect(await testServerUri());
      const otherDb = other.db(db.databaseName);
      const [dirA, dirB] = [await newDir(), await newDir()];
      // Both clocks read 300 ms before 02:30 when the schedules start.
      const offset = SLOT.getTime() - 300 - Date.now();
      const now = () => new Date(Date.now() + offset);
      const a = startBackupSchedule(deps(dirA, { now }));
      const b = startBackupSchedule({ ...deps(dirB, { now }), db: otherDb });
      try {
        expect(a.nextAt()).to.deep.equal(SLOT);
        expect(b.nextAt()).to.deep.equal(SLOT);
        await eventually(
          async () => (await runs()).some((run) => run.status !== 'running'),
          'a backup ran',
          30_000,
        );
        await new Promise((resolve) => setTimeout(resolve, 300));
        const recorded = await runs();
        expect(recorded.map((r) => [r.status, r.file])).to.deep.equal([
          ['ok', 'tsunagu-20261202-0230.tar.gz'],
        ]);
        const files = [...(await readdir(dirA)), ...(await readdir(dirB))].sort();
        expect(files).to.deep.equal([
          'tsunagu-20261202-0230.tar.gz',
          'tsunagu-20261202-0230.tar.gz.sha256',
        ]);
        // Both are armed for the next day.
        expect(a.nextAt()).to.deep.equal(new Date(SLOT.getTime() + DAY));
        expect(b.nextAt()).to.deep.equal(new Date(SLOT.getTime() + DAY));
      } finally {
        await a.stop();
        await b.stop();
      }
      expect(a.nextAt()).to.equal(null);
    });

    it('lets exactly one of two processes run when both try the same time at once', async () => {
      other = await MongoClient.connect(await testServerUri());
      const [dirA, dirB] = [await newDir(), await newDir()];
      const outcomes = await Promise.all([
        runScheduledBackup(deps(dirA), SLOT),
        runScheduledBackup({ ...deps(dirB), db: other.db(db.databaseName) }, SLOT),
      ]);
      expect(outcomes.map((o) => o.status).sort()).to.deep.equal(['ok', 'skipped']);
      expect((await runs()).length).to.equal(1);
      // A process that died holding a day's lock does not hold up the next day.
      await db.collection('backup_locks').insertOne({
        _id: new Date(SLOT.getTime() + DAY).toISOString() as never,
        host: 'crashed',
        pid: 1,
        takenAt: new Date(SLOT.getTime() + DAY),
        expiresAt: new Date(SLOT.getTime() + 4 * DAY),
      });
      const day3 = await runScheduledBackup(deps(dirA), new Date(SLOT.getTime() + 2 * DAY));
      expect(day3.status).to.equal('ok');
    });

    it('keeps BACKUP_KEEP backups: the oldest go, files of other names stay', async () => {
      const dir = await newDir();
      await writeFile(path.join(dir, 'notes.txt'), 'kept');
      await writeFile(path.join(dir, 'before-upgrade.tar.gz'), 'kept');
      for (let day = 0; day < 4; day++) {
        const outcome = await runScheduledBackup(
          { ...deps(dir), backup: { dir, keep: 2, at } },
          new Date(SLOT.getTime() + day * DAY),
        );
        expect(outcome.status).to.equal('ok');
      }
      expect((await readdir(dir)).sort()).to.deep.equal([
        'before-upgrade.tar.gz',
        'notes.txt',
        'tsunagu-20261204-0230.tar.gz',
        'tsunagu-20261204-0230.tar.gz.sha256',
        'tsunagu-20261205-0230.tar.gz',
        'tsunagu-20261205-0230.tar.gz.sha256',
      ]);
      const recorded = await runs();
      expect(recorded.map((r) => r.deleted)).to.deep.equal([
        [],
        [],
        ['tsunagu-20261202-0230.tar.gz'],
        ['tsunagu-20261203-0230.tar.gz'],
      ]);
      const last = await lastBackup(db);
      expect(last?.file).to.equal('tsunagu-20261205-0230.tar.gz');
      expect(last?.bytes).to.equal((await stat(path.join(dir, last!.file))).size);
    });

    it('records a failed backup (full disk), leaves no file and deletes nothing, and the app keeps serving', async () => {
      const dir = await newDir();
      const first = await runScheduledBackup({ ...deps(dir), backup: { dir, keep: 1, at } }, SLOT);
      expect(first.status).to.equal('ok');
      const failed = await runScheduledBackup(
        { ...deps(dir), backup: { dir, keep: 1, at }, backupOptions: diskWithRoom(1_000) },
        new Date(SLOT.getTime() + DAY),
      );
      expect(failed.status).to.equal('error');
      const recorded = await runs();
      expect(recorded[1]).to.include({ status: 'error', file: 'tsunagu-20261203-0230.tar.gz' });
      expect(recorded[1].error).to.match(/no space left .*ENOSPC/);
      expect(recorded[1].finishedAt).to.be.instanceOf(Date);
      // Yesterday's backup is still there; nothing of today's.
      expect((await readdir(dir)).sort()).to.deep.equal([
        'tsunagu-20261202-0230.tar.gz',
        'tsunagu-20261202-0230.tar.gz.sha256',
      ]);
      expect((await lastBackup(db))?.file).to.equal('tsunagu-20261202-0230.tar.gz');
      await request(t.app).get('/healthz').expect(200, { status: 'ok' });
      await request(t.app).get('/').expect(200);
    });

    it('stops a backup in progress when the app stops, leaving no file', async () => {
      const dir = await newDir();
      const stopping = new AbortController();
      const disk = diskWithRoom(Number.POSITIVE_INFINITY);
      const outcome = await runScheduledBackup(
        {
          ...deps(dir),
          backupOptions: {
            openFile(file) {
              stopping.abort(new Error('the app is stopping'));
              return disk.openFile(file);
            },
          },
        },
        SLOT,
        stopping.signal,
      );
      expect(outcome.status).to.equal('error');
      expect((await runs())[0].error).to.match(/stopped/);
      expect(await readdir(dir)).to.deep.equal([]);
    });
  });

  describe('/healthz and /admin/backups', () => {
    let t: TestApp;
    let dir: string;

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'tsunagu-scheduled-'));
      t = await createTestApp({ BACKUP_DIR: dir, BACKUP_KEEP: '3', BACKUP_AT: '03:15' });
    });
    after(async () => {
      await t.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('shows administrators the last backup and the next time; others only up or down', async () => {
      const { user: admin, password } = await buildUser({ roles: ['admin'] });
      const { user: coordinator, password: coordinatorPassword } = await buildUser({
        roles: ['coordinator'],
      });
      const deps = {
        db: t.database.connection.db!,
        backup: t.config.backup,
        logger: silentLogger,
      };
      const adminSession = await signIn(t.app, admin, password);
      const before = await adminSession.get('/healthz').expect(200);
      expect(before.body.backup).to.include({ scheduled: true, last: null });

      const ok = await runScheduledBackup(deps, SLOT);
      const failed = await runScheduledBackup(
        { ...deps, backupOptions: diskWithRoom(0) },
        new Date(SLOT.getTime() + DAY),
      );
      expect([ok.status, failed.status]).to.deep.equal(['ok', 'error']);
      const size = (await stat(path.join(dir, 'tsunagu-20261202-0230.tar.gz'))).size;

      const health = await adminSession.get('/healthz').expect(200);
      expect(health.body.backup.last).to.deep.equal({
        at: (ok.status === 'ok' && ok.run.finishedAt!.toISOString()) || null,
        bytes: size,
        file: 'tsunagu-20261202-0230.tar.gz',
      });
      const next = new Date(health.body.backup.nextAt as string);
      expect(next.getTime()).to.be.greaterThan(Date.now());
      expect(next.getTime() - Date.now()).to.be.at.most(DAY);
      expect((next.getTime() / 60_000) % (24 * 60)).to.equal((3 - 9 + 24) * 60 + 15); // 03:15 JST

      await request(t.app).get('/healthz').expect(200, { status: 'ok' });
      const coordinatorSession = await signIn(t.app, coordinator, coordinatorPassword);
      await coordinatorSession.get('/healthz').expect(200, { status: 'ok' });

      const page = await adminSession.get('/admin/backups').expect(200);
      expect(page.text).to.contain('毎日 03:15（日本時間）');
      expect(page.text).to.contain('新しいものから 3 件を残し');
      expect(page.text).to.contain('tsunagu-20261202-0230.tar.gz');
      expect(page.text).to.contain('tsunagu-20261203-0230.tar.gz');
      expect(page.text).to.contain('完了');
      expect(page.text).to.contain('失敗');
      expect(page.text).to.match(/no space left on the device of .*ENOSPC/);
      expect(page.text).to.contain('次回の予定');
      expect(page.text).to.contain('href="/admin/backups"'); // the menu entry
      await coordinatorSession.get('/admin/backups').expect(403);
      const kinds = (html: string) =>
        [...html.matchAll(/data-label="種別">([^<]+)</g)].map((match) => match[1]);
      expect(kinds(page.text)).to.deep.equal(['定時', '定時']);

      // A backup taken by hand (npm run backup) is listed too, with where it was written, and
      // is the last backup /healthz reports.
      const startedAt = new Date();
      const manual = await recordManualBackup(deps.db, {
        file: '/srv/backups/before-upgrade.tar.gz',
        startedAt,
        finishedAt: new Date(startedAt.getTime() + 1500),
        durationMs: 1500,
        result: { bytes: 2 * 1024 * 1024, collections: 20, documents: 900 },
      });
      const withManual = await adminSession.get('/admin/backups').expect(200);
      expect(kinds(withManual.text)).to.deep.equal(['手動', '定時', '定時']);
      expect(withManual.text).to.contain('/srv/backups/before-upgrade.tar.gz');
      expect(withManual.text).to.contain('2.0 MB');
      expect((await adminSession.get('/healthz').expect(200)).body.backup.last).to.deep.equal({
        at: manual.finishedAt!.toISOString(),
        bytes: 2 * 1024 * 1024,
        file: '/srv/backups/before-upgrade.tar.gz',
      });
    });
  });

  describe('/admin/backups without BACKUP_DIR', () => {
    it('says so when scheduled backups are off', async () => {
      const off = await createTestApp();
      try {
        const { user, password } = await buildUser({ roles: ['admin'] });
        const session = await signIn(off.app, user, password);
        const page = await session.get('/admin/backups').expect(200);
        expect(page.text).to.contain('定期バックアップは設定されていません');
        const health = await session.get('/healthz').expect(200);
        expect(health.body.backup).to.deep.equal({ scheduled: false, nextAt: null, last: null });
      } finally {
        await off.close();
      }
    });
  });
});
