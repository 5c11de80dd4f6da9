import { appendFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';
import { copyCourses } from '../learning/helpers.js';

// The smallest valid PNG: 1×1, transparent.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
);
const BASE = '/courses-assets/basic-training/understanding';

describe('GET /courses-assets/:program/:module/* (content images and attachments)', () => {
  let dir: string;
  let t: TestApp;
  let me: SignedIn;

  before(async () => {
    dir = copyCourses();
    const moduleDir = path.join(dir, 'basic-training', 'modules', '01-understanding');
    mkdirSync(path.join(moduleDir, 'images'), { recursive: true });
    writeFileSync(path.join(moduleDir, 'images', 'chart.png'), PNG);
    writeFileSync(
      path.join(moduleDir, 'images', 'diagram.svg'),
      '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    );
    writeFileSync(path.join(moduleDir, 'images', '.hidden.png'), PNG);
    writeFileSync(path.join(moduleDir, 'handout.pdf'), '%PDF-1.4\n%%EOF\n');
    symlinkSync('/etc/hostname', path.join(moduleDir, 'images', 'escape.png'));
    appendFileSync(
      path.join(moduleDir, '01-numbers.md'),
      '\n\n![グラフ](images/chart.png)\n\n[配布資料](handout.pdf)\n',
    );
    t = await createTestApp({ COURSES_DIR: dir });
    const { user, password } = await buildUser({ roles: ['trainee'] });
    me = await signIn(t.app, user, password);
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rewrites the lesson’s relative image and attachment links to the asset route', async () => {
    const res = await me.get('/learn/basic-training/understanding/numbers').expect(200);
    expect(res.text).to.contain(
      `<img alt="グラフ" src="${BASE}/images/chart.png" loading="lazy" />`,
    );
    expect(res.text).to.contain(`<a href="${BASE}/handout.pdf">配布資料</a>`);
  });

  it('serves an image with its type, nosniff and a locked-down CSP', async () => {
    const res = await me.get(`${BASE}/images/chart.png`).expect(200);
    expect(res.headers['content-type']).to.equal('image/png');
    expect(res.headers['x-content-type-options']).to.equal('nosniff');
    expect(Buffer.compare(res.body as Buffer, PNG)).to.equal(0);
    const svg = await me.get(`${BASE}/images/diagram.svg`).expect(200);
    expect(svg.headers['content-security-policy']).to.contain("default-src 'none'");
    expect(svg.headers['content-security-policy']).to.contain('sandbox');
  });

  it('serves a PDF attachment as a download', async () => {
    const res = await me.get(`${BASE}/handout.pdf`).expect(200);
    expect(res.headers['content-type']).to.equal('application/pdf');
    expect(res.headers['content-disposition']).to.match(/^attachment/);
  });

  it('asks anonymous visitors to sign in', async () => {
    const res = await request(t.app).get(`${BASE}/images/chart.png`).expect(302);
    expect(res.headers.location).to.match(/^\/login\?next=/);
  });

  const escapes = [
    `${BASE}/../../../../package.json`,
    `${BASE}/%2e%2e/%2e%2e/program.yaml`,
    `${BASE}/images/..%2f..%2f..%2fprogram.yaml`,
    `${BASE}/images/%2e%2e%2fchart.png`,
    `${BASE}/images/..%5c..%5cprogram.yaml`,
    `${BASE}/%2fetc%2fpasswd.png`,
    `${BASE}/images%2f..%2f..%2fmodule.md`,
    `${BASE}/module.md`,
    `${BASE}/quiz.yaml`,
    `${BASE}/01-numbers.md`,
    `${BASE}/images/.hidden.png`,
    `${BASE}/images/escape.png`,
    `${BASE}/images/missing.png`,
    `${BASE}/images/chart.png%00.md`,
    `${BASE}/./images/chart.png`,
    '/courses-assets/basic-training/no-such-module/images/chart.png',
    '/courses-assets/no-such-program/understanding/images/chart.png',
    '/courses-assets/basic-training/01-understanding/images/chart.png',
  ];
  for (const url of escapes) {
    it(`answers 404 for ${url}`, async () => {
      const res = await me.get(url);
      expect(res.status).to.equal(404);
      expect(res.headers['content-type']).to.match(/html/);
    });
  }
});
