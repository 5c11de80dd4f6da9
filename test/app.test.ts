import express from 'express';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { errorHandler } from '../src/http/errors.js';
import { configureViews } from '../src/http/views.js';
import { silentLogger } from '../src/lib/logger.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { signIn } from './helpers/auth.js';
import { buildUser } from './helpers/factories.js';

describe('the app foundation', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  describe('GET /', () => {
    it('serves a Japanese home page with the layout and a way to sign in', async () => {
      const res = await request(t.app).get('/').expect(200).expect('content-type', /html/);
      expect(res.text).to.contain('<html lang="ja">');
      expect(res.text).to.contain('ひきこもり支援者 多職種基礎研修');
      expect(res.text).to.match(/href="\/login"/);
      expect(res.text).to.contain('/public/css/app.css');
    });

    it('sends security headers and a request id', async () => {
      const res = await request(t.app).get('/').expect(200);
      expect(res.headers['content-security-policy']).to.contain("default-src 'self'");
      expect(res.headers['content-security-policy']).to.contain("script-src 'self'");
      expect(res.headers['x-content-type-options']).to.equal('nosniff');
      expect(res.headers['x-frame-options']).to.equal('SAMEORIGIN');
      expect(res.headers['x-powered-by']).to.equal(undefined);
      expect(res.headers['x-request-id']).to.match(/^[\w-]{8,}$/);
    });

    it('is never stored by the browser or a proxy (pages may show personal data)', async () => {
      const res = await request(t.app).get('/').expect(200);
      expect(res.headers['cache-control']).to.equal('no-store');
      expect(res.headers.etag).to.equal(undefined);
    });
  });

  describe('GET /healthz', () => {
    it('tells anyone only that the service is up', async () => {
      const res = await request(t.app).get('/healthz').expect(200).expect('content-type', /json/);
      expect(res.body).to.deep.equal({ status: 'ok' });
      const { user, password } = await buildUser({ roles: ['coordinator'] });
      const coordinator = await signIn(t.app, user, password);
      expect((await coordinator.get('/healthz').expect(200)).body).to.deep.equal({ status: 'ok' });
    });

    it('shows administrators the database ping, read caches and counts', async () => {
      const { user, password } = await buildUser({ roles: ['admin'] });
      const admin = await signIn(t.app, user, password);
      const res = await admin.get('/healthz').expect(200).expect('content-type', /json/);
      expect(res.body.status).to.equal('ok');
      expect(res.body.database.up).to.equal(true);
      expect(res.body.database.pingMs).to.be.a('number');
      expect(res.body.database.readCaches).to.have.keys(
        'live',
        'sessions',
        'users',
        'progress',
        'attempts',
      );
    });

    it('answers 503 with only the status when the database does not answer', async () => {
      const ping = t.database.ping.bind(t.database);
      t.database.ping = () => Promise.resolve({ ok: false, ms: 0 });
      try {
        const res = await request(t.app).get('/healthz').expect(503);
        expect(res.body).to.deep.equal({ status: 'error' });
      } finally {
        t.database.ping = ping;
      }
    });
  });

  describe('static files', () => {
    it('serves the stylesheet from public/', async () => {
      const res = await request(t.app).get('/public/css/app.css').expect(200);
      expect(res.headers['content-type']).to.match(/css/);
      // Static files stay cacheable, with validators.
      expect(res.headers['cache-control']).not.to.contain('no-store');
      expect(res.headers.etag).to.be.a('string');
    });

    it('does not serve files outside public/', async () => {
      await request(t.app).get('/public/../package.json').expect(404);
      await request(t.app).get('/public/%2e%2e/package.json').expect(404);
    });
  });

  describe('unknown pages', () => {
    it('answers 404 with a Japanese page', async () => {
      const res = await request(t.app).get('/no-such-page').expect(404);
      expect(res.text).to.contain('ページが見つかりません');
      expect(res.text).to.contain('<html lang="ja">');
    });

    it('answers 404 as JSON to JSON clients', async () => {
      const res = await request(t.app)
        .get('/no-such-page')
        .set('accept', 'application/json')
        .expect(404);
      expect(res.body.error.code).to.equal('not_found');
    });
  });

  describe('CSRF protection', () => {
    it('refuses a POST without a token', async () => {
      const res = await request(t.app).post('/').type('form').send({ a: 'b' }).expect(403);
      expect(res.text).to.contain('ページの有効期限が切れたか');
    });
  });
});

describe('the error handler', () => {
  function appThatFails(showDetails: boolean) {
    const app = express();
    configureViews(app, path.resolve('views'), false);
    app.locals.appName = 'つなぐ';
    app.use((_req, res, next) => {
      res.locals.currentPath = '/';
      res.locals.csrfToken = '';
      next();
    });
    app.get('/boom', () => {
      throw new Error('secret internal detail');
    });
    app.use(errorHandler(silentLogger, showDetails));
    return app;
  }

  it('hides internals in production and gives a reference number', async () => {
    const res = await request(appThatFails(false)).get('/boom').expect(500);
    expect(res.text).to.contain('システムエラーが発生しました');
    expect(res.text).not.to.contain('secret internal detail');
    expect(res.text).to.contain('受付番号');
  });

  it('shows the stack trace in development', async () => {
    const res = await request(appThatFails(true)).get('/boom').expect(500);
    expect(res.text).to.contain('secret internal detail');
  });
});
