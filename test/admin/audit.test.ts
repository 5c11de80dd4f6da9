import { expect } from 'chai';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { recordAudit } from '../../src/audit/audit.service.js';
import { seedOrganisations } from '../../src/organisations/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

describe('audit log browser (/admin/audit)', () => {
  let testApp: TestApp;
  let admin: SignedIn;
  let coordinator: SignedIn;

  before(async () => {
    testApp = await createTestApp();
    await seedOrganisations();
    const a = await buildUser({ roles: ['admin'], name: '管理 太郎', email: 'kanri@example.jp' });
    const c = await buildUser({
      roles: ['coordinator'],
      name: '長野 担当',
      email: 'tanto@example.jp',
    });
    admin = await signIn(testApp.app, a.user, a.password);
    coordinator = await signIn(testApp.app, c.user, c.password);
    const target = await buildUser({ name: '対象 花子' });
    await recordAudit({
      actorId: String(a.user._id),
      action: 'user.suspended',
      targetType: 'User',
      targetId: String(target.user._id),
      ip: '192.0.2.1',
    });
    await recordAudit({
      actorId: String(c.user._id),
      action: 'user.approved',
      targetType: 'User',
      targetId: String(target.user._id),
    });
    // An old event, to filter by date.
    await AuditEvent.create({
      at: new Date('2026-04-01T03:00:00Z'),
      action: 'user.roles_changed',
      actorId: a.user._id,
      details: { before: ['trainee'], after: ['supervisor'] },
    });
  });
  after(async () => {
    await testApp.close();
  });

  it('lists events newest first for administrators', async () => {
    const res = await admin.get('/admin/audit').expect(200);
    const suspended = res.text.indexOf('利用停止');
    const roles = res.text.indexOf('役割の変更', res.text.indexOf('<tbody>'));
    expect(suspended).to.be.greaterThan(0);
    expect(roles).to.be.greaterThan(suspended);
    expect(res.text).to.contain('対象 花子').and.to.contain('192.0.2.1');
  });

  it('filters by action', async () => {
    const res = await admin.get('/admin/audit?action=user.approved').expect(200);
    const body = res.text.slice(res.text.indexOf('<tbody>'));
    expect(body).to.contain('利用登録の承認').and.not.to.contain('利用停止');
  });

  it('filters by actor (name or address)', async () => {
    const res = await admin.get(`/admin/audit?actor=${encodeURIComponent('tanto@')}`).expect(200);
    const body = res.text.slice(res.text.indexOf('<tbody>'));
    expect(body).to.contain('利用登録の承認').and.not.to.contain('利用停止');
  });

  it('filters by date range (Japan time days)', async () => {
    const res = await admin.get('/admin/audit?from=2026-04-01&to=2026-04-01').expect(200);
    const body = res.text.slice(res.text.indexOf('<tbody>'));
    expect(body).to.contain('役割の変更').and.not.to.contain('利用停止');
    expect(res.text).to.contain('1 件');
  });

  it('explains a bad date range next to the field, keeping the input', async () => {
    const res = await admin.get('/admin/audit?from=2026-05-01&to=2026-04-01').expect(422);
    expect(res.text).to.contain('終了日は開始日以降の日付を入力してください。');
    expect(res.text).to.contain('value="2026-05-01"');
    const bad = await admin.get('/admin/audit?from=2026-02-31').expect(422);
    expect(bad.text).to.contain('日付は 2026-04-01 の形式で入力してください。');
  });

  it('is for administrators only', async () => {
    await coordinator.get('/admin/audit').expect(403);
  });
});
