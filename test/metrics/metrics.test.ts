import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { connectDatabase, type Database } from '../../src/db.js';
import { silentLogger } from '../../src/lib/logger.js';
import { runScheduledBackup } from '../../src/operations/scheduled-backup.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, testCatalog, testConfig, type TestApp } from '../helpers/app.js';
import { signIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

const TOKEN = 'metrics-token-0123456789-abcdefghij';

/** One sample's value from the Prometheus text, or undefined when the series is absent. */
function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GET /metrics: who may read it', () => {
  describe('with METRICS_TOKEN and no proxy', () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp({ METRICS_TOKEN: TOKEN });
    });
    after(async () => {
      await t.close();
    });

    it('answers a direct request from loopback without a token', async () => {
      const res = await request(t.app).get('/metrics').expect(200);
      expect(res.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
      expect(res.text).to.contain('# TYPE tsunagu_http_requests_total counter');
      expect(res.headers['set-cookie']).to.equal(undefined);
    });

    it('answers 401 to a forwarded request (not from this machine) without a token', async () => {
      const res = await request(t.app)
        .get('/metrics')
        .set('x-forwarded-for', '203.0.113.9')
        .expect(401);
      expect(res.headers['www-authenticate']).to.equal('Bearer realm="metrics"');
      expect(res.text).not.to.contain('tsunagu_');
      await request(t.app).get('/metrics').set('forwarded', 'for=203.0.113.9').expect(401);
    });

    it('answers 403 to a wrong token, 200 to the right one from anywhere', async () => {
      for (const header of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, TOKEN, 'Bearer']) {
        const res = await request(t.app).get('/metrics').set('authorization', header).expect(403);
        expect(res.text).not.to.contain('tsunagu_');
      }
      const res = await request(t.app)
        .get('/metrics')
        .set('x-forwarded-for', '203.0.113.9')
        .set('authorization', `Bearer ${TOKEN}`)
        .expect(200);
      expect(res.text).to.contain('tsunagu_http_request_duration_seconds_bucket');
    });
  });

  describe('behind a proxy on this machine (TRUST_PROXY=loopback)', () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp({ METRICS_TOKEN: TOKEN, TRUST_PROXY: 'loopback' });
    });
    after(async () => {
      await t.close();
    });

    it('does not count loopback as local: every request needs the token', async () => {
      await request(t.app).get('/metrics').expect(401);
      await request(t.app).get('/metrics').set('authorization', `Bearer ${TOKEN}`).expect(200);
    });
  });

  describe('without METRICS_TOKEN', () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp();
    });
    after(async () => {
      await t.close();
    });

    it('refuses every bearer token and forwarded requests', async () => {
      await request(t.app).get('/metrics').set('authorization', 'Bearer ').expect(403);
      await request(t.app)
        .get('/metrics')
        .set('authorization', `Bearer ${'x'.repeat(40)}`)
        .expect(403);
      await request(t.app).get('/metrics').set('x-forwarded-for', '127.0.0.1').expect(401);
      await request(t.app).get('/metrics').expect(200);
    });
  });

  it('refuses a METRICS_TOKEN shorter than 32 characters at start', () => {
    expect(() => testConfig({ METRICS_TOKEN: 'short' })).to.throw(
      /METRICS_TOKEN: 32文字以上が必要です/,
    );
  });
});

describe('GET /metrics: what it shows', () => {
  let t: TestApp;
  let body: string;
  let userId: string;
  let email: string;
  const code = `code${randomUUID().replaceAll('-', '')}`;

  before(async () => {
    t = await createTestApp({ METRICS_TOKEN: TOKEN });
    const { user, password } = await buildUser({ roles: ['admin'] });
    userId = String(user._id);
    email = user.email;
    const admin = await signIn(t.app, user, password);
    await admin.get(`/admin/users/${userId}`).expect(200);
    await admin.get(`/admin/users/${userId}`).expect(200);
    await request(t.app).get(`/verify/${code}`).expect(404);
    await request(t.app).get(`/no-such-page/${userId}`).expect(404);
    // Two outbox messages, one of them refused by the mail server.
    const outbox = path.join(t.config.dataDir, 'outbox');
    mkdirSync(outbox, { recursive: true });
    writeFileSync(path.join(outbox, `${Date.now()}-0000000a.eml`), 'Subject: a\r\n\r\nbody\r\n');
    writeFileSync(
      path.join(outbox, `${Date.now()}-0000000b.eml`),
      'Subject: b\r\nX-Tsunagu-Undelivered: SMTP delivery failed\r\n\r\nbody\r\n',
    );
    body = (await request(t.app).get('/metrics').set('authorization', `Bearer ${TOKEN}`)).text;
  });
  after(async () => {
    await t.close();
  });

  it('counts requests by route pattern and status, with their latency', () => {
    const series =
      'tsunagu_http_requests_total{method="GET",route="/admin/users/:id",status="200"}';
    expect(sample(body, series)).to.be.at.least(2);
    expect(
      sample(body, series.replace('requests_total', 'request_duration_seconds_count')),
    ).to.be.at.least(2);
    expect(
      sample(body, 'tsunagu_http_requests_total{method="GET",route="/verify/:code",status="404"}'),
    ).to.be.at.least(1);
    expect(
      sample(body, 'tsunagu_http_requests_total{method="GET",route="(unmatched)",status="404"}'),
    ).to.be.at.least(1);
    expect(body).to.match(
      /^tsunagu_http_request_duration_seconds_bucket\{le="0\.5",method="GET",route="\/admin\/users\/:id",status="200"\} \d+$/m,
    );
  });

  it('puts no ids, codes, addresses or names in the labels', async () => {
    const user = await User.findById(userId).lean();
    for (const secret of [userId, code, email, user!.name]) expect(body).not.to.contain(secret);
  });

  it('times database commands, counts read-cache lookups and the outbox', () => {
    expect(sample(body, 'tsunagu_db_command_duration_seconds_count{command="find"}')).to.be.above(
      0,
    );
    expect(
      sample(body, 'tsunagu_read_cache_lookups_total{cache="sessions",result="hit"}'),
    ).to.be.above(0);
    expect(body).to.match(/^tsunagu_read_cache_hit_ratio\{cache="sessions"\} [0-9.e-]+$/m);
    for (const cache of ['sessions', 'users', 'progress', 'attempts']) {
      expect(sample(body, `tsunagu_read_cache_entries{cache="${cache}"}`), cache).to.be.a('number');
    }
    expect(sample(body, 'tsunagu_mail_outbox_messages{state="written"}')).to.equal(1);
    expect(sample(body, 'tsunagu_mail_outbox_messages{state="undelivered"}')).to.equal(1);
  });

  it('leaves the store figures out on a database that is not the embedded store', () => {
    expect(body).to.contain('# TYPE tsunagu_store_journal_bytes gauge');
    expect(sample(body, 'tsunagu_store_journal_bytes')).to.equal(undefined);
    expect(sample(body, 'tsunagu_store_snapshot_bytes')).to.equal(undefined);
  });

  it('gives the age and size of the last scheduled backup once there is one', async () => {
    expect(body).to.contain('# TYPE tsunagu_backup_last_age_seconds gauge');
    expect(sample(body, 'tsunagu_backup_last_age_seconds')).to.equal(undefined);
    const dir = mkdtempSync(path.join(tmpdir(), 'tsunagu-metrics-backup-'));
    const outcome = await runScheduledBackup(
      {
        db: t.database.connection.db!,
        backup: { ...t.config.backup, dir },
        logger: silentLogger,
      },
      new Date(),
    );
    expect(outcome.status).to.equal('ok');
    const after = (await request(t.app).get('/metrics').set('authorization', `Bearer ${TOKEN}`))
      .text;
    const age = sample(after, 'tsunagu_backup_last_age_seconds')!;
    expect(age).to.be.at.least(0).and.below(60);
    expect(sample(after, 'tsunagu_backup_last_bytes')).to.be.above(1000);
  });

  it('reads the last backup once per scrape for its two gauges', async () => {
    const client = t.database.connection.getClient();
    let queries = 0;
    const count = (event: { commandName: string; command: Record<string, unknown> }) => {
      if (event.commandName === 'find' && event.command.find === 'backup_runs') queries++;
    };
    client.on('commandStarted', count);
    try {
      await request(t.app).get('/metrics').set('authorization', `Bearer ${TOKEN}`).expect(200);
    } finally {
      client.off('commandStarted', count);
    }
    expect(queries).to.equal(1);
  });

  it('includes the default process metrics', () => {
    expect(body).to.match(/^process_cpu_user_seconds_total \d/m);
    expect(body).to.match(/^nodejs_eventloop_lag_seconds \d/m);
  });
});

describe('GET /metrics: the embedded store', function () {
  this.timeout(30_000);
  let app: Express;
  let database: Database;

  before(async function () {
    if (process.env.TEST_MONGODB_URI) this.skip();
    const config = testConfig({ METRICS_TOKEN: TOKEN });
    database = await connectDatabase({ config, logger: silentLogger });
    app = createApp({ config, logger: silentLogger, database, catalog: await testCatalog(config) });
  });
  after(async () => {
    await database?.close();
  });

  it('reports the journal and snapshot sizes and the documents held', async () => {
    await buildUser();
    const res = await request(app).get('/metrics').expect(200);
    expect(sample(res.text, 'tsunagu_store_journal_bytes')).to.be.above(0);
    expect(sample(res.text, 'tsunagu_store_snapshot_bytes')).to.be.at.least(0);
    expect(sample(res.text, 'tsunagu_store_documents')).to.be.above(0);
  });
});
