import { expect } from 'chai';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { Municipality, Organisation, seedOrganisations } from '../../src/organisations/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

describe('organisations admin (/admin/organisations)', () => {
  let testApp: TestApp;
  let admin: SignedIn;
  let coordinator: SignedIn;
  let trainee: SignedIn;
  let naganoId: string;
  let matsumotoId: string;

  before(async () => {
    testApp = await createTestApp();
    await seedOrganisations();
    const nagano = await Municipality.findOne({ name: { $eq: '長野市' } });
    const matsumoto = await Municipality.findOne({ name: { $eq: '松本市' } });
    naganoId = String(nagano!._id);
    matsumotoId = String(matsumoto!._id);
    await Organisation.create({
      name: '長野市 福祉政策課',
      sector: '行政',
      municipalityId: nagano!._id,
    });
    await Organisation.create({
      name: '松本市社会福祉協議会',
      sector: '福祉',
      municipalityId: matsumoto!._id,
    });
    const a = await buildUser({ roles: ['admin'] });
    const c = await buildUser({ roles: ['coordinator'], municipality: '長野市' });
    const t = await buildUser({ roles: ['trainee'], municipality: '長野市' });
    admin = await signIn(testApp.app, a.user, a.password);
    coordinator = await signIn(testApp.app, c.user, c.password);
    trainee = await signIn(testApp.app, t.user, t.password);
  });
  after(async () => {
    await testApp.close();
  });

  it('lists every organisation for an administrator, with search', async () => {
    const all = await admin.get('/admin/organisations').expect(200);
    expect(all.text).to.contain('長野市 福祉政策課').and.to.contain('松本市社会福祉協議会');
    const searched = await admin
      .get('/admin/organisations?q=' + encodeURIComponent('社会福祉'))
      .expect(200);
    expect(searched.text)
      .to.contain('松本市社会福祉協議会')
      .and.not.to.contain('長野市 福祉政策課');
    const byMunicipality = await admin
      .get(`/admin/organisations?municipalityId=${matsumotoId}`)
      .expect(200);
    expect(byMunicipality.text)
      .to.contain('松本市社会福祉協議会')
      .and.not.to.contain('長野市 福祉政策課');
  });

  it("shows a coordinator only their own municipality's organisations, read-only", async () => {
    const res = await coordinator.get('/admin/organisations').expect(200);
    expect(res.text).to.contain('長野市 福祉政策課').and.not.to.contain('松本市社会福祉協議会');
    expect(res.text).not.to.contain('所属機関を登録する');
    // Asking for another municipality by filter still shows nothing of it.
    const other = await coordinator
      .get(`/admin/organisations?municipalityId=${matsumotoId}`)
      .expect(200);
    expect(other.text).not.to.contain('松本市社会福祉協議会');
    await coordinator.get('/admin/organisations/new').expect(403);
  });

  it('refuses trainees', async () => {
    await trainee.get('/admin/organisations').expect(403);
  });

  it('creates an organisation and records it in the audit log', async () => {
    const res = await admin
      .post('/admin/organisations', {
        name: '長野市教育委員会',
        sector: '教育',
        municipalityId: naganoId,
      })
      .expect(303);
    expect(res.headers.location).to.contain('/admin/organisations');
    const created = await Organisation.findOne({ name: { $eq: '長野市教育委員会' } }).lean();
    expect(created).to.include({ sector: '教育' });
    expect(await AuditEvent.countDocuments({ action: { $eq: 'organisation.created' } })).to.equal(
      1,
    );
  });

  it('answers a duplicate name in the same municipality with a field message, keeping the input', async () => {
    const res = await admin
      .post('/admin/organisations', {
        name: '長野市 福祉政策課',
        sector: '福祉',
        municipalityId: naganoId,
      })
      .expect(422);
    expect(res.text).to.contain('この市町村には同じ名称の所属機関がすでに登録されています。');
    expect(res.text).to.contain('value="長野市 福祉政策課"');
    expect(await Organisation.countDocuments({ name: { $eq: '長野市 福祉政策課' } })).to.equal(1);
  });

  it('allows the same name in another municipality', async () => {
    await admin
      .post('/admin/organisations', {
        name: '長野市 福祉政策課',
        sector: '行政',
        municipalityId: matsumotoId,
      })
      .expect(303);
  });

  it('shows field messages for missing input', async () => {
    const res = await admin
      .post('/admin/organisations', { name: '', sector: 'x', municipalityId: '' })
      .expect(422);
    expect(res.text).to.contain('名称を入力してください。');
    expect(res.text).to.contain('分野を選択してください。');
    expect(res.text).to.contain('市町村を選択してください。');
  });

  it('edits an organisation; a rename onto a taken name is a field message', async () => {
    const organisation = await Organisation.findOne({ name: { $eq: '長野市教育委員会' } }).lean();
    const id = String(organisation!._id);
    await admin.get(`/admin/organisations/${id}/edit`).expect(200);
    await admin
      .post(`/admin/organisations/${id}`, {
        name: '長野市教育委員会 学校教育課',
        sector: '教育',
        municipalityId: naganoId,
      })
      .expect(303);
    expect((await Organisation.findById(id).lean())!.name).to.equal('長野市教育委員会 学校教育課');
    const clash = await admin
      .post(`/admin/organisations/${id}`, {
        name: '長野市 福祉政策課',
        sector: '教育',
        municipalityId: naganoId,
      })
      .expect(422);
    expect(clash.text).to.contain('同じ名称の所属機関');
    await admin.get('/admin/organisations/000000000000000000000000/edit').expect(404);
    await admin.get('/admin/organisations/not-an-id/edit').expect(404);
  });

  it('refuses operator injection in the body', async () => {
    const res = await admin.agent
      .post('/admin/organisations')
      .type('form')
      .send(`_csrf=${admin.csrfToken}&name[$gt]=&sector=福祉&municipalityId=${naganoId}`);
    expect(res.status).to.equal(422);
  });
});
