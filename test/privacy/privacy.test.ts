import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { createInvitation } from '../../src/users/invitations.service.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { anonymousAgent, csrfFrom } from '../helpers/auth.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';

describe('個人情報の取扱い (/privacy) and consent', () => {
  let t: TestApp;
  before(async function () {
    this.timeout(60_000);
    // The notice is a file the center edits: here a copy with a version of its own.
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'privacy-')), 'privacy.md');
    writeFileSync(
      file,
      "---\nversion: 'test-7'\n---\n\n# 個人情報の取扱い\n\nテスト用の取扱い文です。\n",
    );
    t = await createTestApp({ PRIVACY_NOTICE_FILE: file });
  });
  after(async () => {
    await t.close();
  });

  it('shows the notice from its file to anyone, with its version, linked from every footer', async () => {
    const res = await request(t.app).get('/privacy').expect(200);
    expect(res.text).to.contain('テスト用の取扱い文です。');
    expect(res.text).to.contain('版：test-7');
    const login = await request(t.app).get('/login').expect(200);
    expect(login.text).to.contain('<a href="/privacy">個人情報の取扱い</a>');
  });

  it('records the version consented to at registration', async () => {
    const nagano = await buildMunicipality('長野市');
    const { agent } = await anonymousAgent(t.app);
    const page = await agent.get('/register').expect(200);
    expect(page.text).to.contain('申請すると、<a href="/privacy"');
    await agent
      .post('/register')
      .type('form')
      .send({
        name: '善光寺 花子',
        nameKana: 'ぜんこうじ はなこ',
        email: 'consent-register@example.jp',
        profession: '社会福祉士',
        municipalityId: String(nagano._id),
        password: 'blue-mountain-river-2026',
        passwordConfirm: 'blue-mountain-river-2026',
        _csrf: csrfFrom(page.text),
      })
      .expect(201);
    const user = await User.findOne({ email: 'consent-register@example.jp' }).lean();
    expect(user!.privacyConsent!.version).to.equal('test-7');
    expect(user!.privacyConsent!.at).to.be.instanceOf(Date);
  });

  it('records the version consented to when an invitation is accepted', async () => {
    const { user: coordinator } = await buildUser({ roles: ['coordinator'] });
    const { token } = await createInvitation({
      email: 'consent-invite@example.jp',
      roles: ['trainee'],
      municipalityId: String(coordinator.municipalityId),
      invitedBy: String(coordinator._id),
    });
    const agent = request.agent(t.app);
    const page = await agent.get(`/invitations/accept?token=${token}`).expect(200);
    expect(page.text).to.contain('登録すると、<a href="/privacy"');
    await agent
      .post('/invitations/accept')
      .type('form')
      .send({
        token,
        name: '松代 太郎',
        nameKana: 'まつしろ たろう',
        profession: '保健師',
        password: 'blue-mountain-river-2026',
        passwordConfirm: 'blue-mountain-river-2026',
        _csrf: csrfFrom(page.text),
      })
      .expect(302);
    const user = await User.findOne({ email: 'consent-invite@example.jp' }).lean();
    expect(user!.privacyConsent!.version).to.equal('test-7');
  });
});
