import { expect } from 'chai';
import request from 'supertest';
import { silentLogger } from '../../src/lib/logger.js';
import { runMigrations } from '../../src/operations/migrations/runner.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

describe('GET /readyz', () => {
  let t: TestApp;
  let closed = false;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    if (!closed) await t.close();
  });

  it('answers 503 starting until the migrations are applied, then 200 ready', async () => {
    const before = await request(t.app).get('/readyz').expect(503);
    expect(before.body).to.deep.equal({ status: 'starting' });
    expect(before.headers['cache-control']).to.equal('no-store');
    expect(before.headers['set-cookie']).to.equal(undefined);
    await runMigrations({ db: t.database.connection.db!, logger: silentLogger });
    const after = await request(t.app).get('/readyz').expect(200);
    expect(after.body).to.deep.equal({ status: 'ready' });
    // Liveness is not readiness: /healthz kept its answer throughout.
    expect((await request(t.app).get('/healthz').expect(200)).body).to.deep.equal({
      status: 'ok',
    });
  });

  it('answers 503 unavailable once the database stops answering', async () => {
    await request(t.app).get('/readyz').expect(200);
    await t.database.connection.dropDatabase();
    await t.database.close();
    closed = true;
    const res = await request(t.app).get('/readyz').expect(503);
    expect(res.body).to.deep.equal({ status: 'unavailable' });
  });
});
