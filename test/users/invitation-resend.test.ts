import { expect } from 'chai';
import request from 'supertest';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { Invitation } from '../../src/users/invitation.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { lastMailTo, linkIn, readOutbox, signIn, type SignedIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

describe('invitations with a name, resent and listed', () => {
  let t: TestApp;
  let coordinator: SignedIn;
  let matsumotoCoordinator: SignedIn;

  before(async () => {
    t = await createTestApp();
    const c = await buildUser({ roles: ['coordinator'] });
    coordinator = await signIn(t.app, c.user, c.password);
    const m = await buildUser({ roles: ['coordinator'], municipality: '松本市' });
    matsumotoCoordinator = await signIn(t.app, m.user, m.password);
  });
  after(async () => {
    await t.close();
  });

  it('carries the name given in the form to the list and the acceptance form', async () => {
    await coordinator
      .post('/invitations', { email: 'named@example.jp', name: '篠ノ井 花子', roles: 'trainee' })
      .expect(302);
    const list = await coordinator.get('/invitations').expect(200);
    expect(list.text).to.contain(
      '篠ノ井 花子<br><span class="small muted">named@example.jp</span>',
    );
    expect(list.text).to.contain('受講者');
    const accept = await request(t.app)
      .get(linkIn(await lastMailTo(t.config, 'named@example.jp'), '/invitations/accept'))
      .expect(200);
    expect(accept.text).to.contain('value="篠ノ井 花子"');
  });

  it('resends with a new link: the old one stops working, the new one opens the form', async () => {
    await coordinator
      .post('/invitations', { email: 'lost@example.jp', roles: 'trainee' })
      .expect(302);
    const oldLink = linkIn(await lastMailTo(t.config, 'lost@example.jp'), '/invitations/accept');
    const invitation = await Invitation.findOne({ email: 'lost@example.jp' }).lean();

    const res = await coordinator
      .post(`/invitations/${String(invitation!._id)}/resend`)
      .expect(303);
    expect(res.headers.location).to.equal('/invitations');
    const newLink = linkIn(await lastMailTo(t.config, 'lost@example.jp'), '/invitations/accept');
    expect(newLink).not.to.equal(oldLink);
    await request(t.app).get(oldLink).expect(404);
    await request(t.app).get(newLink).expect(200);
    expect(
      await AuditEvent.countDocuments({ action: 'invitation.resent', targetId: invitation!._id }),
    ).to.equal(1);
  });

  it('answers 404 to a coordinator of another municipality and sends nothing', async () => {
    const invitation = await Invitation.findOne({ email: 'named@example.jp' }).lean();
    const before = (await readOutbox(t.config)).length;
    await matsumotoCoordinator.post(`/invitations/${String(invitation!._id)}/resend`).expect(404);
    expect((await readOutbox(t.config)).length).to.equal(before);
    expect((await Invitation.findById(invitation!._id).lean())!.tokenHash).to.equal(
      invitation!.tokenHash,
    );
  });

  it('does not resend a revoked invitation', async () => {
    const invitation = await Invitation.findOne({ email: 'named@example.jp' }).lean();
    await coordinator.post(`/invitations/${String(invitation!._id)}/revoke`).expect(302);
    const before = (await readOutbox(t.config)).length;
    await coordinator.post(`/invitations/${String(invitation!._id)}/resend`).expect(303);
    expect((await readOutbox(t.config)).length).to.equal(before);
    const list = await coordinator.get('/invitations').expect(200);
    expect(list.text).to.contain('この招待は再送できません');
  });
});
