import { expect } from 'chai';
import { AuditEvent } from '../../src/audit/audit.model.js';
import {
  Municipality,
  Organisation,
  Region,
  seedOrganisations,
} from '../../src/organisations/index.js';
import { Invitation } from '../../src/users/invitation.model.js';
import { createInvitation } from '../../src/users/invitations.service.js';
import { User, type UserDocument } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { anonymousAgent, signIn, type SignedIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

/** The page title and every heading of a page. */
const headings = (html: string) =>
  [...html.matchAll(/<(title|h[1-6])\b[^>]*>[\s\S]*?<\/\1>/g)].map((m) => m[0]).join('\n');
const rowOf = (html: string, text: string) =>
  [...html.matchAll(/<tr[\s\S]*?<\/tr>/g)].map((m) => m[0]).find((row) => row.includes(text));

describe('users admin (/admin/users)', () => {
  let testApp: TestApp;
  let admin: SignedIn;
  let adminUser: UserDocument;
  let naganoCoordinator: SignedIn;
  let naganoViewer: SignedIn;
  let trainee: SignedIn;
  let naganoTrainee: UserDocument;
  let naganoSupervisor: UserDocument;
  let sukakaTrainee: UserDocument;
  let matsumotoTrainee: UserDocument;

  before(async () => {
    testApp = await createTestApp();
    await seedOrganisations();
    const a = await buildUser({ roles: ['admin'], name: '管理 太郎', nameKana: 'かんり たろう' });
    adminUser = a.user;
    const c = await buildUser({
      roles: ['coordinator'],
      municipality: '長野市',
      name: '長野 担当',
    });
    const v = await buildUser({
      roles: ['regional_viewer'],
      municipality: '長野市',
      name: '圏域 担当',
    });
    const t = await buildUser({
      roles: ['trainee'],
      municipality: '長野市',
      name: '長野 花子',
      nameKana: 'ながの はなこ',
      email: 'hanako@example.jp',
    });
    naganoTrainee = t.user;
    naganoSupervisor = (
      await buildUser({
        roles: ['trainee', 'supervisor'],
        municipality: '長野市',
        name: '指導 一郎',
      })
    ).user;
    sukakaTrainee = (
      await buildUser({
        roles: ['trainee'],
        municipality: '須坂市',
        name: '須坂 次郎',
        status: 'pending',
      })
    ).user;
    matsumotoTrainee = (
      await buildUser({
        roles: ['trainee'],
        municipality: '松本市',
        name: '松本 三郎',
        nameKana: 'まつもと さぶろう',
      })
    ).user;
    admin = await signIn(testApp.app, a.user, a.password);
    naganoCoordinator = await signIn(testApp.app, c.user, c.password);
    naganoViewer = await signIn(testApp.app, v.user, v.password);
    trainee = await signIn(testApp.app, t.user, t.password);
  });
  after(async () => {
    await testApp.close();
  });

  describe('GET /admin/users', () => {
    it('lists everyone for an administrator', async () => {
      const res = await admin.get('/admin/users').expect(200);
      expect(res.text).to.contain('<h1>利用者の管理</h1>');
      for (const name of ['長野 花子', '須坂 次郎', '松本 三郎', '指導 一郎'])
        expect(res.text).to.contain(name);
    });

    it('searches by name, reading and address', async () => {
      const byName = await admin.get(`/admin/users?q=${encodeURIComponent('松本')}`).expect(200);
      expect(byName.text).to.contain('松本 三郎').and.not.to.contain('長野 花子');
      const byKana = await admin.get(`/admin/users?q=${encodeURIComponent('ながの')}`).expect(200);
      expect(byKana.text).to.contain('長野 花子').and.not.to.contain('松本 三郎');
      const byEmail = await admin.get('/admin/users?q=hanako@').expect(200);
      expect(byEmail.text).to.contain('長野 花子').and.not.to.contain('松本 三郎');
      // Regular-expression characters are taken literally.
      await admin.get(`/admin/users?q=${encodeURIComponent('.*(')}`).expect(200);
    });

    it('filters by municipality, region, role and status', async () => {
      const matsumoto = await Municipality.findOne({ name: { $eq: '松本市' } }).lean();
      const byMunicipality = await admin
        .get(`/admin/users?municipalityId=${String(matsumoto!._id)}`)
        .expect(200);
      expect(byMunicipality.text).to.contain('松本 三郎').and.not.to.contain('長野 花子');
      const naganoRegion = await Region.findOne({ name: { $eq: '長野' } }).lean();
      const byRegion = await admin
        .get(`/admin/users?regionId=${String(naganoRegion!._id)}`)
        .expect(200);
      expect(byRegion.text)
        .to.contain('須坂 次郎')
        .and.to.contain('長野 花子')
        .and.not.to.contain('松本 三郎');
      const byRole = await admin.get('/admin/users?role=supervisor').expect(200);
      expect(byRole.text).to.contain('指導 一郎').and.not.to.contain('長野 花子');
      const byStatus = await admin.get('/admin/users?status=pending').expect(200);
      expect(byStatus.text).to.contain('須坂 次郎').and.not.to.contain('長野 花子');
    });

    it('ignores operator injection in the query', async () => {
      const res = await admin.get('/admin/users?q[$gt]=&status[$ne]=x').expect(200);
      expect(res.text).to.contain('松本 三郎');
    });

    it("shows a coordinator only their municipality's users", async () => {
      const res = await naganoCoordinator.get('/admin/users').expect(200);
      expect(res.text)
        .to.contain('長野 花子')
        .and.not.to.contain('須坂 次郎')
        .and.not.to.contain('松本 三郎');
      const matsumoto = await Municipality.findOne({ name: { $eq: '松本市' } }).lean();
      const other = await naganoCoordinator
        .get(`/admin/users?municipalityId=${String(matsumoto!._id)}`)
        .expect(200);
      expect(other.text).not.to.contain('松本 三郎');
    });

    it("shows a regional viewer their region's municipalities' users", async () => {
      const res = await naganoViewer.get('/admin/users').expect(200);
      expect(res.text)
        .to.contain('長野 花子')
        .and.to.contain('須坂 次郎')
        .and.not.to.contain('松本 三郎');
      expect(res.text).not.to.contain('一括登録');
      // Read-only: neither the heading nor the page title says 管理.
      expect(headings(res.text)).to.include('<h1>利用者の一覧</h1>').and.not.to.contain('管理');
    });

    it('refuses trainees', async () => {
      await trainee.get('/admin/users').expect(403);
    });

    it('pages through long lists', async () => {
      for (let i = 0; i < 52; i += 1) {
        await buildUser({
          municipality: '上田市',
          name: `上田 ${String(i).padStart(2, '0')}`,
          nameKana: `うえだ ${String(i).padStart(2, '0')}`,
        });
      }
      const first = await admin.get(`/admin/users?q=${encodeURIComponent('上田 ')}`).expect(200);
      expect(first.text).to.contain('52 人').and.to.contain('次のページ');
      expect(first.text).to.contain('上田 00').and.not.to.contain('上田 51');
      const second = await admin
        .get(`/admin/users?q=${encodeURIComponent('上田 ')}&page=2`)
        .expect(200);
      expect(second.text).to.contain('上田 51').and.not.to.contain('上田 00');
    });
  });

  describe('GET /admin/users/:id', () => {
    it('shows the details to an administrator, with the history', async () => {
      const res = await admin.get(`/admin/users/${String(naganoTrainee._id)}`).expect(200);
      expect(res.text).to.contain('hanako@example.jp').and.to.contain('役割の変更');
    });

    it('answers 404 to a coordinator of another municipality, and to unknown ids', async () => {
      await naganoCoordinator.get(`/admin/users/${String(matsumotoTrainee._id)}`).expect(404);
      await naganoCoordinator.get(`/admin/users/${String(sukakaTrainee._id)}`).expect(404);
      await admin.get('/admin/users/000000000000000000000000').expect(404);
      await admin.get('/admin/users/xyz').expect(404);
    });

    it('lets a coordinator see their own users, without the role form', async () => {
      const res = await naganoCoordinator
        .get(`/admin/users/${String(naganoTrainee._id)}`)
        .expect(200);
      expect(res.text).to.contain('長野 花子').and.not.to.contain('役割を保存する');
      expect(res.text).to.contain('利用を停止する');
      const supervisor = await naganoCoordinator
        .get(`/admin/users/${String(naganoSupervisor._id)}`)
        .expect(200);
      expect(supervisor.text).not.to.contain('利用を停止する');
    });

    it('lets a regional viewer read within the region only', async () => {
      const res = await naganoViewer.get(`/admin/users/${String(sukakaTrainee._id)}`).expect(200);
      expect(res.text).not.to.contain('利用を停止する').and.not.to.contain('役割を保存する');
      expect(headings(res.text)).not.to.contain('管理');
      await naganoViewer.get(`/admin/users/${String(matsumotoTrainee._id)}`).expect(404);
      const organisations = await naganoViewer.get('/admin/organisations').expect(200);
      expect(headings(organisations.text))
        .to.contain('<h1>所属機関</h1>')
        .and.not.to.contain('管理');
    });
  });

  describe('POST /admin/users/:id/roles', () => {
    it('changes roles and records the change', async () => {
      const id = String(matsumotoTrainee._id);
      await admin
        .post(`/admin/users/${id}/roles`, { roles: ['trainee', 'supervisor'] })
        .expect(303);
      expect((await User.findById(id).lean())!.roles).to.deep.equal(['trainee', 'supervisor']);
      const audit = await AuditEvent.findOne({
        action: { $eq: 'user.roles_changed' },
        targetId: { $eq: id },
      }).lean();
      expect(audit!.details).to.deep.equal({
        before: ['trainee'],
        after: ['trainee', 'supervisor'],
      });
      expect(String(audit!.actorId)).to.equal(String(adminUser._id));
    });

    it('needs at least one known role, with the choice kept', async () => {
      const id = String(matsumotoTrainee._id);
      const none = await admin.post(`/admin/users/${id}/roles`, {}).expect(422);
      expect(none.text).to.contain('役割を一つ以上選択してください。');
      const unknown = await admin
        .post(`/admin/users/${id}/roles`, { roles: ['trainee', 'emperor'] })
        .expect(422);
      expect(unknown.text).to.contain('役割の指定に誤りがあります。');
    });

    it('does not let administrators remove their own admin role', async () => {
      const res = await admin
        .post(`/admin/users/${String(adminUser._id)}/roles`, { roles: ['trainee'] })
        .expect(422);
      expect(res.text).to.contain('ご自身のセンター管理者の役割は外せません');
      expect((await User.findById(adminUser._id).lean())!.roles).to.deep.equal(['admin']);
    });

    it('is for administrators only', async () => {
      await naganoCoordinator
        .post(`/admin/users/${String(naganoTrainee._id)}/roles`, { roles: ['coordinator'] })
        .expect(403);
      expect((await User.findById(naganoTrainee._id).lean())!.roles).to.deep.equal(['trainee']);
    });
  });

  describe('suspension', () => {
    it('suspends a user, who is signed out on the next request, and reactivates them', async () => {
      const victim = await buildUser({ municipality: '松本市', name: '停止 対象' });
      const session = await signIn(testApp.app, victim.user, victim.password);
      const id = String(victim.user._id);
      expect((await session.get('/').expect(200)).text).to.contain('停止 対象 さん');
      await admin.post(`/admin/users/${id}/suspend`).expect(303);
      expect((await User.findById(id).lean())!.status).to.equal('suspended');
      const audit = await AuditEvent.findOne({
        action: { $eq: 'user.suspended' },
        targetId: { $eq: id },
      }).lean();
      expect(audit!.details).to.deep.equal({ previousStatus: 'active' });
      const home = await session.get('/').expect(200);
      expect(home.text).not.to.contain('停止 対象 さん');

      await admin.post(`/admin/users/${id}/reactivate`).expect(303);
      expect((await User.findById(id).lean())!.status).to.equal('active');
      expect(
        await AuditEvent.countDocuments({
          action: { $eq: 'user.reactivated' },
          targetId: { $eq: id },
        }),
      ).to.equal(1);
    });

    it('returns a suspended registration to waiting for approval, never to active', async () => {
      const applicant = await buildUser({ status: 'pending', municipality: '松本市' });
      const id = String(applicant.user._id);
      await admin.post(`/admin/users/${id}/suspend`).expect(303);
      expect((await User.findById(id).lean())!.status).to.equal('suspended');
      await admin.post(`/admin/users/${id}/reactivate`).expect(303);
      expect((await User.findById(id).lean())!.status).to.equal('pending');
      const page = await admin.get(`/admin/users/${id}`).expect(200);
      expect(page.text).to.contain('利用登録は承認待ちに戻りました');
      const { agent, csrfToken } = await anonymousAgent(testApp.app);
      const res = await agent
        .post('/login')
        .type('form')
        .send({ email: applicant.user.email, password: applicant.password, _csrf: csrfToken })
        .expect(403);
      expect(res.text).to.contain('まだ承認されていません');
    });

    it("lets a coordinator suspend their own municipality's trainees only", async () => {
      await naganoCoordinator.post(`/admin/users/${String(naganoTrainee._id)}/suspend`).expect(303);
      expect((await User.findById(naganoTrainee._id).lean())!.status).to.equal('suspended');
      await naganoCoordinator
        .post(`/admin/users/${String(naganoTrainee._id)}/reactivate`)
        .expect(303);
      expect((await User.findById(naganoTrainee._id).lean())!.status).to.equal('active');
      await naganoCoordinator
        .post(`/admin/users/${String(naganoSupervisor._id)}/suspend`)
        .expect(403);
      await naganoCoordinator
        .post(`/admin/users/${String(matsumotoTrainee._id)}/suspend`)
        .expect(404);
      expect((await User.findById(matsumotoTrainee._id).lean())!.status).to.equal('active');
    });

    it('is not open to regional viewers or to oneself', async () => {
      await naganoViewer.post(`/admin/users/${String(naganoTrainee._id)}/suspend`).expect(403);
      await admin.post(`/admin/users/${String(adminUser._id)}/suspend`).expect(403);
      expect((await User.findById(adminUser._id).lean())!.status).to.equal('active');
    });

    it('refuses a suspension without the CSRF token', async () => {
      await naganoCoordinator.agent
        .post(`/admin/users/${String(naganoTrainee._id)}/suspend`)
        .type('form')
        .send({})
        .expect(403);
      expect((await User.findById(naganoTrainee._id).lean())!.status).to.equal('active');
    });
  });

  describe('invited people (招待中)', () => {
    const municipalityId = async (name: string) =>
      String((await Municipality.findOne({ name: { $eq: name } }).lean())!._id);
    const organisationOf = async (municipality: string) => {
      return Organisation.findOne({
        municipalityId: { $eq: await municipalityId(municipality) },
      }).lean();
    };

    before(async () => {
      const invitedBy = String(adminUser._id);
      const naganoOrganisation = await organisationOf('長野市');
      // As a CSV import leaves them: with name, reading, profession and organisation.
      await createInvitation({
        email: 'imported@example.jp',
        roles: ['trainee'],
        municipalityId: await municipalityId('長野市'),
        invitedBy,
        prefill: {
          name: '取込 桜子',
          nameKana: 'とりこみ さくらこ',
          profession: '保健師',
          organisationId: naganoOrganisation ? String(naganoOrganisation._id) : null,
        },
      });
      // A single invitation with the address only.
      await createInvitation({
        email: 'noname-suzaka@example.jp',
        roles: ['trainee', 'supervisor'],
        municipalityId: await municipalityId('須坂市'),
        invitedBy,
      });
      await createInvitation({
        email: 'matsumoto-invited@example.jp',
        roles: ['trainee'],
        municipalityId: await municipalityId('松本市'),
        invitedBy,
        prefill: {
          name: '招待 松本',
          nameKana: 'しょうたい まつもと',
          profession: '',
          organisationId: null,
        },
      });
      // Closed invitations: accepted, revoked, expired.
      for (const [email, set] of [
        ['accepted-invite@example.jp', { acceptedAt: new Date() }],
        ['revoked-invite@example.jp', { revokedAt: new Date() }],
        ['expired-invite@example.jp', { expiresAt: new Date(Date.now() - 60_000) }],
      ] as const) {
        const { invitation } = await createInvitation({
          email,
          roles: ['trainee'],
          municipalityId: await municipalityId('長野市'),
          invitedBy,
        });
        await Invitation.updateOne({ _id: invitation._id }, { $set: set });
      }
    });

    it('lists open invitations as 招待中 with name, roles and place when known', async () => {
      const res = await admin.get('/admin/users').expect(200);
      const imported = rowOf(res.text, 'imported@example.jp');
      expect(imported, 'imported row').to.be.a('string');
      expect(imported).to.contain('取込 桜子').and.to.contain('とりこみ さくらこ');
      expect(imported).to.contain('招待中').and.to.contain('受講者').and.to.contain('長野市');
      const organisation = await organisationOf('長野市');
      if (organisation) expect(imported).to.contain(organisation.name);
      const noName = rowOf(res.text, 'noname-suzaka@example.jp');
      expect(noName)
        .to.contain('招待中')
        .and.to.contain('スーパーバイザー')
        .and.to.contain('須坂市');
      expect(noName).to.contain('氏名は登録時に入力');
      for (const closed of ['accepted-invite@', 'revoked-invite@', 'expired-invite@'])
        expect(res.text, closed).not.to.contain(closed);
      expect(res.text).to.contain('（ほかに招待中 3 人）');
    });

    it('filters them like users, and by the status 招待中', async () => {
      const byName = await admin
        .get(`/admin/users?q=${encodeURIComponent('とりこみ')}`)
        .expect(200);
      expect(byName.text).to.contain('imported@example.jp').and.not.to.contain('noname-suzaka@');
      const byRole = await admin.get('/admin/users?role=supervisor').expect(200);
      expect(byRole.text).to.contain('noname-suzaka@').and.not.to.contain('imported@example.jp');
      const invitedOnly = await admin.get('/admin/users?status=invited').expect(200);
      expect(invitedOnly.text).to.contain('imported@example.jp').and.to.contain('0 人');
      expect(invitedOnly.text).not.to.contain('hanako@example.jp');
      const imported = await admin.get('/admin/users?q=imported').expect(200);
      expect(imported.text).to.contain('imported@example.jp');
      const activeOnly = await admin.get('/admin/users?q=imported&status=active').expect(200);
      expect(activeOnly.text).not.to.contain('imported@example.jp');
    });

    it("keeps to the viewer's scope: a coordinator's municipality, a regional viewer's region", async () => {
      const coordinator = await naganoCoordinator.get('/admin/users').expect(200);
      expect(coordinator.text)
        .to.contain('imported@example.jp')
        .and.not.to.contain('noname-suzaka@')
        .and.not.to.contain('matsumoto-invited@');
      const viewer = await naganoViewer.get('/admin/users').expect(200);
      expect(viewer.text)
        .to.contain('imported@example.jp')
        .and.to.contain('noname-suzaka@')
        .and.not.to.contain('matsumoto-invited@');
    });

    it('no longer lists a person once they have accepted', async () => {
      await Invitation.updateOne(
        { email: 'imported@example.jp' },
        { $set: { acceptedAt: new Date() } },
      );
      const res = await admin.get('/admin/users').expect(200);
      expect(res.text).not.to.contain('imported@example.jp');
      expect(res.text).to.contain('（ほかに招待中 2 人）');
    });
  });
});
