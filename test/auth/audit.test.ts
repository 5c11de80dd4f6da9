import { expect } from 'chai';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { emailHash, recordAudit } from '../../src/audit/audit.service.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { buildUser } from '../helpers/factories.js';

describe('recordAudit', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('stores who, what, when, from where', async () => {
    const { user } = await buildUser();
    await recordAudit({
      actorId: String(user._id),
      action: 'user.roles_changed',
      targetType: 'User',
      targetId: user._id,
      municipalityId: user.municipalityId,
      ip: '192.0.2.1',
      details: { from: ['trainee'], to: ['trainee', 'supervisor'] },
    });
    const event = await AuditEvent.findOne({ action: 'user.roles_changed' }).lean();
    expect(String(event?.actorId)).to.equal(String(user._id));
    expect(String(event?.municipalityId)).to.equal(String(user.municipalityId));
    expect(event?.ip).to.equal('192.0.2.1');
    expect(event?.at).to.be.instanceOf(Date);
    expect(event?.details).to.deep.equal({ from: ['trainee'], to: ['trainee', 'supervisor'] });
  });

  it('refuses details that look like passwords, tokens or addresses', async () => {
    for (const key of ['password', 'newPassword', 'token', 'email', 'resetToken']) {
      const refusal = await recordAudit({ action: 'user.updated', details: { [key]: 'x' } }).then(
        () => null,
        (error: Error) => error.message,
      );
      expect(refusal, key).to.equal(`audit details must not contain ${key}`);
    }
    expect(await AuditEvent.countDocuments({ action: 'user.updated' })).to.equal(0);
  });

  it('hashes addresses into a short stable value that ignores case and spaces', () => {
    expect(emailHash(' Hanako@Example.jp ')).to.equal(emailHash('hanako@example.jp'));
    expect(emailHash('hanako@example.jp')).to.match(/^[0-9a-f]{16}$/);
  });
});
