import { expect } from 'chai';
import request from 'supertest';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { Organisation } from '../../src/organisations/organisation.model.js';
import { Region } from '../../src/organisations/region.model.js';
import { User, type UserDocument } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { csrfFrom, lastMailTo, linkIn, signIn, type SignedIn } from '../helpers/auth.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';

const editUrl = (user: UserDocument) => `/admin/users/${String(user._id)}/edit`;

/** The form as the edit page fills it, with some fields changed. */
function form(user: UserDocument, changes: Record<string, string> = {}): Record<string, string> {
  return {
    name: user.name,
    nameKana: user.nameKana,
    email: user.email,
    municipalityId: user.municipalityId ? String(user.municipalityId) : '',
    organisationId: user.organisationId ? String(user.organisationId) : '',
    profession: user.profession ?? '',
    ...changes,
  };
}

describe('editing a person (/admin/users/:id/edit)', () => {
  let t: TestApp;
  let admin: SignedIn;
  let coordinator: SignedIn;
  let viewer: SignedIn;
  let naganoOrganisationId: string;
  let matsumotoOrganisationId: string;
  let matsumotoId: string;

  before(async function () {
    this.timeout(60_000);
    t = await createTestApp();
    const nagano = await buildMunicipality('長野市');
    const matsumoto = await buildMunicipality('松本市');
    matsumotoId = String(matsumoto._id);
    naganoOrganisationId = String(
      (
        await Organisation.create({
          name: '長野市 保健所',
          sector: '行政',
          municipalityId: nagano._id,
        })
      )._id,
    );
    matsumotoOrganisationId = String(
      (
        await Organisation.create({
          name: '松本市 福祉課',
          sector: '行政',
          municipalityId: matsumoto._id,
        })
      )._id,
    );
    const a = await buildUser({ roles: ['admin'] });
    admin = await signIn(t.app, a.user, a.password);
    const c = await buildUser({ roles: ['coordinator'] });
    coordinator = await signIn(t.app, c.user, c.password);
    const v = await buildUser({ roles: ['regional_viewer'] });
    viewer = await signIn(t.app, v.user, v.password);
  });
  after(async () => {
    await t.close();
  });

  it('lets an administrator change name, reading, profession and organisation, and move the person; the region follows; audited with before and after', async () => {
    const { user } = await buildUser({ name: '異動 一郎', nameKana: 'いどう いちろう' });
    const page = await admin.get(editUrl(user)).expect(200);
    expect(page.text).to.contain('value="異動 一郎"');
    expect(page.text).to.contain('name="municipalityId"');

    await admin
      .post(
        editUrl(user),
        form(user, {
          name: '異動 一朗',
          profession: '社会福祉士',
          municipalityId: matsumotoId,
          organisationId: matsumotoOrganisationId,
        }),
      )
      .expect(303);
    const after = await User.findById(user._id).lean();
    const matsumotoRegion = await Region.findOne({ name: '松本' }).lean();
    expect(after).to.include({
      name: '異動 一朗',
      nameKana: 'いどう いちろう',
      profession: '社会福祉士',
    });
    expect(String(after!.municipalityId)).to.equal(matsumotoId);
    expect(String(after!.regionId)).to.equal(String(matsumotoRegion!._id));
    expect(String(after!.organisationId)).to.equal(matsumotoOrganisationId);

    const event = await AuditEvent.findOne({ action: 'user.updated', targetId: user._id }).lean();
    expect(event!.details).to.deep.include({
      before: { name: '異動 一郎', municipality: '長野市', organisation: '', profession: '保健師' },
      after: {
        name: '異動 一朗',
        municipality: '松本市',
        organisation: '松本市 福祉課',
        profession: '社会福祉士',
      },
    });
    const shown = await admin.get(`/admin/users/${String(user._id)}`).expect(200);
    expect(shown.text).to.contain('登録内容を変更しました。');
    expect(shown.text).to.contain('松本市');
  });

  it('refuses an organisation of another municipality, keeping the input', async () => {
    const { user } = await buildUser();
    const res = await admin
      .post(
        editUrl(user),
        form(user, { name: '新しい 名前', organisationId: matsumotoOrganisationId }),
      )
      .expect(422);
    expect(res.text).to.contain('その市町村の所属機関から選択し直してください。');
    expect(res.text).to.contain('value="新しい 名前"');
    expect((await User.findById(user._id).lean())!.name).to.equal(user.name);
  });

  it('changes the e-mail address only when the link mailed to the new address is used', async () => {
    const { user } = await buildUser({ email: 'old-address@example.jp' });
    const res = await admin
      .post(editUrl(user), form(user, { email: 'New-Address@example.jp' }))
      .expect(303);
    expect(res.headers.location).to.equal(`/admin/users/${String(user._id)}`);
    expect((await User.findById(user._id).lean())!.email).to.equal('old-address@example.jp');
    const shown = await admin.get(res.headers.location).expect(200);
    expect(shown.text).to.contain('new-address@example.jp への変更が確認待ちです');

    const mail = await lastMailTo(t.config, 'new-address@example.jp');
    expect(mail.subject).to.equal('【つなぐ】メールアドレス変更の確認');
    const confirm = linkIn(mail, '/account/email/confirm');
    const anonymous = request.agent(t.app);
    const page = await anonymous.get(confirm).expect(200);
    // Opening the link changes nothing; the button does.
    expect((await User.findById(user._id).lean())!.email).to.equal('old-address@example.jp');
    const token = /name="token" value="([^"]+)"/.exec(page.text)![1];
    const done = await anonymous
      .post('/account/email/confirm')
      .type('form')
      .send({ token, _csrf: csrfFrom(page.text) })
      .expect(200);
    expect(done.text).to.contain('メールアドレスを変更しました');
    const after = await User.findById(user._id).lean();
    expect(after!.email).to.equal('new-address@example.jp');
    expect(after!.emailChange).to.equal(null);
    const events = await AuditEvent.find({ targetId: user._id }).sort({ at: 1 }).lean();
    expect(events.map((e) => e.action)).to.include.members([
      'user.email_change_requested',
      'user.email_changed',
    ]);
    expect(events.find((e) => e.action === 'user.email_changed')!.details).to.deep.equal({
      before: 'old-address@example.jp',
      after: 'new-address@example.jp',
    });

    // The link works once.
    await anonymous
      .post('/account/email/confirm')
      .type('form')
      .send({ token, _csrf: csrfFrom(page.text) })
      .expect(404);
  });

  it('refuses an address another person uses', async () => {
    const { user } = await buildUser();
    const { user: other } = await buildUser();
    const res = await admin.post(editUrl(user), form(user, { email: other.email })).expect(422);
    expect(res.text).to.contain('このメールアドレスは、ほかの利用者が使っています。');
  });

  it('lets a coordinator edit a trainee of their municipality, but not move them elsewhere', async () => {
    const { user } = await buildUser({ name: '長野 次郎' });
    const page = await coordinator.get(editUrl(user)).expect(200);
    expect(page.text).not.to.contain('name="municipalityId"');
    expect(page.text).to.contain('ほかの市町村への異動は、センターの管理者が登録します');
    await coordinator
      .post(
        editUrl(user),
        form(user, {
          name: '長野 治郎',
          organisationId: naganoOrganisationId,
          municipalityId: matsumotoId,
        }),
      )
      .expect(303);
    const after = await User.findById(user._id).lean();
    expect(after!.name).to.equal('長野 治郎');
    expect(String(after!.organisationId)).to.equal(naganoOrganisationId);
    expect(String(after!.municipalityId)).to.equal(String(user.municipalityId));
  });

  it('answers 404 to a coordinator for a person of another municipality and 403 for a supervisor of their own', async () => {
    const { user: elsewhere } = await buildUser({ municipality: '松本市' });
    await coordinator.get(editUrl(elsewhere)).expect(404);
    await coordinator.post(editUrl(elsewhere), form(elsewhere, { name: '変更 不可' })).expect(404);
    const { user: supervisor } = await buildUser({ roles: ['supervisor'] });
    await coordinator.get(editUrl(supervisor)).expect(403);
    await coordinator
      .post(editUrl(supervisor), form(supervisor, { name: '変更 不可' }))
      .expect(403);
    expect((await User.findById(supervisor._id).lean())!.name).to.equal(supervisor.name);
  });

  it('refuses a regional viewer (read-only)', async () => {
    const { user } = await buildUser();
    await viewer.get(editUrl(user)).expect(403);
    await viewer.post(editUrl(user), form(user, { name: '変更 不可' })).expect(403);
  });

  it('tells a trainee on /account whom to ask for which change', async () => {
    const { user, password } = await buildUser();
    const me = await signIn(t.app, user, password);
    const res = await me.get('/account').expect(200);
    expect(res.text).to.contain('長野市の市町村担当者にご連絡ください');
    expect(res.text).to.contain('ほかの市町村に異動したときは、センターにご連絡ください');
  });
});
