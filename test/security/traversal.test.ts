/**
 * Id guessing and path traversal on every route that hands out a file or a stored record by name:
 * course assets, outbox messages, CSV import batches, quiz attempts. Anything outside what the
 * user may have is 404, and no file outside the module folder is ever sent.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Types } from 'mongoose';
import request from 'supertest';
import { ImportBatch } from '../../src/admin/import/import-batch.model.js';
import { toSessionUser } from '../../src/auth/passport.js';
import { learnerOf } from '../../src/learning/learner.js';
import { startAttempt } from '../../src/learning/quiz.service.js';
import type { UserDocument } from '../../src/users/user.model.js';
import { createTestApp, testCatalog, type TestApp } from '../helpers/app.js';
import { lastMailTo, signIn, type SignedIn } from '../helpers/auth.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';
import { copyCourses } from '../learning/helpers.js';

const MARKER = 'SECRET-MARKER-7f3a';
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
);
const BASE = '/courses-assets/basic-training/understanding';

describe('security: id guessing and traversal on file and record routes', () => {
  let dir: string;
  let t: TestApp;
  let trainee: SignedIn;
  let otherTrainee: SignedIn;
  let admin: SignedIn;
  let coordinator: SignedIn;
  let otherCoordinator: SignedIn;
  let batchId: string;
  let traineeUser: UserDocument;

  before(async function () {
    this.timeout(60_000);
    dir = copyCourses();
    const moduleDir = path.join(dir, 'basic-training', 'modules', '01-understanding');
    mkdirSync(path.join(moduleDir, 'images'), { recursive: true });
    writeFileSync(path.join(moduleDir, 'images', 'chart.png'), PNG);
    // Files with an allowed extension just outside the module folder, at every level up.
    writeFileSync(path.join(moduleDir, '..', 'secret.png'), MARKER);
    writeFileSync(path.join(dir, 'basic-training', 'secret.png'), MARKER);
    writeFileSync(path.join(dir, 'secret.png'), MARKER);
    writeFileSync(path.join(moduleDir, '.secret.png'), MARKER);
    t = await createTestApp({ COURSES_DIR: dir });
    writeFileSync(path.join(t.config.dataDir, 'secret.eml'), MARKER);
    const nagano = await buildMunicipality('長野市');
    const users = await Promise.all([
      buildUser({ roles: ['trainee'], municipality: nagano }),
      buildUser({ roles: ['trainee'], municipality: nagano }),
      buildUser({ roles: ['admin'] }),
      buildUser({ roles: ['coordinator'], municipality: nagano }),
      buildUser({ roles: ['coordinator'], municipality: nagano }),
    ]);
    traineeUser = users[0].user;
    [trainee, otherTrainee, admin, coordinator, otherCoordinator] = await Promise.all(
      users.map(({ user, password }) => signIn(t.app, user, password)),
    );
    const csv =
      '氏名,ふりがな,メールアドレス,市町村\n山田 花子,やまだ はなこ,batch@example.jp,長野市\n';
    const upload = await coordinator.agent
      .post('/admin/users/import')
      .field('_csrf', coordinator.csrfToken)
      .attach('file', Buffer.from(csv), 'users.csv')
      .expect(303);
    batchId = String(upload.headers.location).split('/').pop()!;
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('course assets', () => {
    it('serves a file of the module (control)', async () => {
      const res = await trainee.get(`${BASE}/images/chart.png`).expect(200);
      expect(Buffer.compare(res.body as Buffer, PNG)).to.equal(0);
    });

    const attempts = [
      '../secret.png',
      '../../secret.png',
      '../../../secret.png',
      'images/../../secret.png',
      '%2e%2e/secret.png',
      '%2e%2e%2fsecret.png',
      '..%2fsecret.png',
      '..%2f..%2f..%2fsecret.png',
      '%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.png',
      '..%5csecret.png',
      '..\\secret.png',
      '%252e%252e%252fsecret.png',
      '%c0%ae%c0%ae/secret.png',
      '.secret.png',
      'images/./chart.png/../../secret.png',
      '%2fetc%2fpasswd',
      '/etc/passwd',
      ':absolute',
      'images/chart.png%00.png',
      'images%00/chart.png',
      'images/chart.png%00',
      'C:%5cWindows%5cwin.ini',
    ];
    for (const attempt of attempts) {
      it(`answers 404 for ${attempt}`, async () => {
        // The content copy's own secret.png by its absolute path, encoded.
        const url = attempt.replace(':absolute', encodeURIComponent(path.join(dir, 'secret.png')));
        const res = await trainee.get(`${BASE}/${url}`);
        // A percent-encoding that is not UTF-8 cannot be decoded: 400 before any lookup.
        expect(res.status).to.equal(attempt.startsWith('%c0') ? 400 : 404);
        const body = Buffer.isBuffer(res.body) ? res.body.toString() : res.text;
        expect(body).not.to.contain(MARKER);
        expect(body).not.to.contain('root:');
      });
    }

    it('answers 404 for traversal in the program and module parts too', async () => {
      for (const url of [
        '/courses-assets/..%2fbasic-training/understanding/images/chart.png',
        '/courses-assets/basic-training/..%2f..%2f/secret.png',
        '/courses-assets/basic-training/%2e%2e/secret.png',
        '/courses-assets/%2e%2e/%2e%2e/secret.png',
        '/courses-assets/basic-training/modules/secret.png',
      ]) {
        const res = await trainee.get(url);
        expect(res.status, url).to.equal(404);
        expect(res.text ?? '', url).not.to.contain(MARKER);
      }
    });

    it('asks anonymous visitors to sign in before looking anything up', async () => {
      const res = await request(t.app).get(`${BASE}/images/chart.png`).expect(302);
      expect(res.headers.location).to.match(/^\/login/);
    });
  });

  describe('outbox messages (administrators)', () => {
    it('opens a real message, and 404s for guessed, traversing and foreign ids', async () => {
      await coordinator
        .post('/invitations', { email: 'outbox@example.jp', roles: 'trainee' })
        .expect(302);
      await lastMailTo(t.config, 'outbox@example.jp');
      const list = await admin.get('/admin/outbox').expect(200);
      const ids = [...list.text.matchAll(/\/admin\/outbox\/([^"]+)"/g)].map((m) => m[1]);
      expect(ids.length).to.be.greaterThan(0);
      await admin.get(`/admin/outbox/${ids[0]}`).expect(200);
      const guessed = ids[0].replace(/\d(?=-)/, (d) => String((Number(d) + 1) % 10));
      for (const probe of [
        guessed,
        '..%2fsecret',
        '..%2F..%2Fsecret',
        '%2e%2e%2fsecret',
        `${ids[0]}%00`,
        `${ids[0]}.eml`,
        '..',
        'secret',
      ]) {
        const res = await admin.get(`/admin/outbox/${probe}`);
        expect(res.status, probe).to.equal(404);
        expect(res.text, probe).not.to.contain(MARKER);
      }
      const refused = await trainee.get(`/admin/outbox/${ids[0]}`);
      expect(refused.status).to.equal(403);
      expect(refused.text).not.to.contain('outbox@example.jp');
    });
  });

  describe('CSV import batches', () => {
    it('are 404 to another coordinator of the same municipality, whatever they try', async () => {
      await coordinator.get(`/admin/users/import/${batchId}`).expect(200);
      await otherCoordinator.get(`/admin/users/import/${batchId}`).expect(404);
      await otherCoordinator.post(`/admin/users/import/${batchId}/confirm`).expect(404);
      await otherCoordinator.post(`/admin/users/import/${batchId}/discard`).expect(404);
      const batch = await ImportBatch.findById(batchId).lean();
      expect(batch!.status).to.equal('preview');
    });

    it('are 404 for ids next to a real one', async () => {
      const real = new Types.ObjectId(batchId).toHexString();
      const last = parseInt(real.slice(-6), 16);
      for (const delta of [-1, 1, 2]) {
        const guessed = real.slice(0, -6) + (last + delta).toString(16).padStart(6, '0');
        await coordinator.get(`/admin/users/import/${guessed}`).expect(404);
      }
    });
  });

  describe('quiz attempts', () => {
    it('are 404 to another learner', async () => {
      const catalog = await testCatalog(t.config);
      const module = catalog.module('basic-training', 'understanding')!;
      const program = catalog.programs.find((p) => p.id === 'basic-training')!;
      const attemptId = await startAttempt(
        learnerOf(toSessionUser(traineeUser)),
        program,
        module,
        module.quiz!,
      );
      const location = `/learn/basic-training/understanding/quiz/attempts/${attemptId}`;
      await trainee.get(location).expect(200);
      await otherTrainee.get(location).expect(404);
      await otherTrainee.post(location, {}).expect(404);
      await admin.get(location).expect(404);
    });
  });
});
