/**
 * Inviting an address that already has an open invitation never touches that invitation. Whoever
 * may manage it (could have sent it) is told it exists; anyone else only that the address cannot
 * be invited now, without learning by whom, where or as what it was invited.
 */
import { expect } from 'chai';
import { Invitation } from '../../src/users/invitation.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { readOutbox, signIn, type SignedIn } from '../helpers/auth.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';

const ALREADY_INVITED = 'このメールアドレスには、すでに招待が送られています。';
const CANNOT_INVITE = 'このメールアドレスには、いま招待を送ることができません。';
const HEADER = '氏名,ふりがな,メールアドレス,市町村,所属機関,職種,役割';

describe('inviting an address that has an open invitation', () => {
  let t: TestApp;
  let admin: SignedIn;
  let nagano: SignedIn;
  let matsumoto: SignedIn;
  let matsumotoId: string;
  let naganoId: string;

  before(async () => {
    t = await createTestApp();
    naganoId = String((await buildMunicipality('長野市'))._id);
    matsumotoId = String((await buildMunicipality('松本市'))._id);
    const a = await buildUser({ roles: ['admin'] });
    const n = await buildUser({ roles: ['coordinator'], municipality: '長野市' });
    const m = await buildUser({ roles: ['coordinator'], municipality: '松本市' });
    admin = await signIn(t.app, a.user, a.password);
    nagano = await signIn(t.app, n.user, n.password);
    matsumoto = await signIn(t.app, m.user, m.password);
  });
  after(async () => {
    await t.close();
  });

  async function mailsTo(address: string) {
    return (await readOutbox(t.config)).filter((mail) => mail.to.includes(address)).length;
  }

  async function expectUntouched(email: string) {
    const invitations = await Invitation.find({ email: { $eq: email } }).lean();
    expect(invitations).to.have.length(1);
    expect(invitations[0].revokedAt).to.equal(null);
    expect(await mailsTo(email)).to.equal(1);
    return invitations[0];
  }

  it("leaves an administrator's invitation alone when a coordinator invites the address", async () => {
    await admin.post('/invitations', { email: 'centre@example.jp', roles: 'admin' }).expect(302);
    const res = await nagano.post('/invitations', { email: 'centre@example.jp', roles: 'trainee' });
    expect(res.status).to.equal(422);
    expect(res.text).to.contain(CANNOT_INVITE);
    expect(res.text).not.to.contain(ALREADY_INVITED);
    expect(res.text).not.to.contain('センター管理者');
    const kept = await expectUntouched('centre@example.jp');
    expect(kept.roles).to.deep.equal(['admin']);
  });

  it("leaves another municipality's invitation alone, and does not say where it is", async () => {
    await matsumoto
      .post('/invitations', { email: 'matsu@example.jp', roles: 'trainee' })
      .expect(302);
    const res = await nagano.post('/invitations', { email: 'matsu@example.jp', roles: 'trainee' });
    expect(res.status).to.equal(422);
    expect(res.text).to.contain(CANNOT_INVITE);
    expect(res.text).not.to.contain('松本市');
    const kept = await expectUntouched('matsu@example.jp');
    expect(String(kept.municipalityId)).to.equal(matsumotoId);
  });

  it("leaves an administrator's supervisor invitation in the coordinator's own municipality alone", async () => {
    await admin
      .post('/invitations', {
        email: 'sv@example.jp',
        roles: ['trainee', 'supervisor'],
        municipalityId: naganoId,
      })
      .expect(302);
    const res = await nagano.post('/invitations', { email: 'sv@example.jp', roles: 'trainee' });
    expect(res.status).to.equal(422);
    expect(res.text).to.contain(CANNOT_INVITE);
    const kept = await expectUntouched('sv@example.jp');
    // Nor can it be revoked from the list (which offers no button for it).
    const list = await nagano.get('/invitations').expect(200);
    expect(list.text).not.to.contain(`/invitations/${String(kept._id)}/revoke`);
    await nagano.post(`/invitations/${String(kept._id)}/revoke`).expect(404);
    await expectUntouched('sv@example.jp');
  });

  it('tells the inviter when the open invitation is within their own area, and keeps it', async () => {
    await nagano.post('/invitations', { email: 'own@example.jp', roles: 'trainee' }).expect(302);
    const again = await nagano.post('/invitations', { email: 'own@example.jp', roles: 'trainee' });
    expect(again.status).to.equal(422);
    expect(again.text).to.contain(ALREADY_INVITED);
    expect(again.text).to.contain('value="own@example.jp"');
    const kept = await expectUntouched('own@example.jp');

    // Revoked first, it may be sent again.
    await nagano.post(`/invitations/${String(kept._id)}/revoke`).expect(302);
    await nagano.post('/invitations', { email: 'own@example.jp', roles: 'trainee' }).expect(302);
    expect(await Invitation.countDocuments({ email: 'own@example.jp', revokedAt: null })).to.equal(
      1,
    );
  });

  it("tells an administrator about a coordinator's invitation, and keeps it", async () => {
    const res = await admin.post('/invitations', {
      email: 'matsu@example.jp',
      roles: 'trainee',
      municipalityId: matsumotoId,
    });
    expect(res.status).to.equal(422);
    expect(res.text).to.contain(ALREADY_INVITED);
    await expectUntouched('matsu@example.jp');
  });

  it('gives CSV rows the same answers, and invites nobody', async () => {
    const csv = [
      HEADER,
      '松本 一郎,まつもと いちろう,matsu@example.jp,長野市,,保健師,受講者',
      '長野 一郎,ながの いちろう,own@example.jp,長野市,,保健師,受講者',
    ].join('\r\n');
    const res = await nagano.agent
      .post('/admin/users/import')
      .field('_csrf', nagano.csrfToken)
      .attach('file', Buffer.from(csv), 'roster.csv')
      .expect(303);
    const preview = await nagano.get(res.headers.location).expect(200);
    expect(preview.text).to.contain(CANNOT_INVITE);
    expect(preview.text).to.contain('このメールアドレスには招待を送信済みです');
    await nagano.post(`${res.headers.location}/confirm`).expect(303);
    await expectUntouched('matsu@example.jp');
  });
});
