import path from 'node:path';
import { expect } from 'chai';
import iconv from 'iconv-lite';
import request from 'supertest';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { ImportBatch } from '../../src/admin/import/import-batch.model.js';
import { listOutbox, readOutboxMessage } from '../../src/mail/outbox.js';
import { Municipality, Organisation, seedOrganisations } from '../../src/organisations/index.js';
import { Invitation } from '../../src/users/invitation.model.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { csrfFrom, lastMailTo, linkIn, signIn, type SignedIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

const HEADER = '氏名,ふりがな,メールアドレス,市町村,所属機関,職種,役割';

function upload(
  session: SignedIn,
  content: Buffer,
  filename = 'roster.csv',
  token = session.csrfToken,
) {
  return session.agent
    .post('/admin/users/import')
    .field('_csrf', token)
    .attach('file', content, filename);
}

/** The batch id from the preview redirect. */
function batchIdFrom(location: string): string {
  const match = /\/admin\/users\/import\/([0-9a-f]{24})$/.exec(location);
  if (!match) throw new Error(`unexpected redirect ${location}`);
  return match[1];
}

describe('CSV import (/admin/users/import)', () => {
  let testApp: TestApp;
  let admin: SignedIn;
  let coordinator: SignedIn;
  let otherCoordinator: SignedIn;
  let trainee: SignedIn;
  let viewer: SignedIn;
  let outboxDir: string;

  before(async () => {
    testApp = await createTestApp();
    outboxDir = path.join(testApp.config.dataDir, 'outbox');
    await seedOrganisations();
    const nagano = await Municipality.findOne({ name: { $eq: '長野市' } });
    await Organisation.create({
      name: '長野市 保健所',
      sector: '保健・医療',
      municipalityId: nagano!._id,
    });
    const a = await buildUser({ roles: ['admin'], name: '管理 太郎' });
    const c = await buildUser({
      roles: ['coordinator'],
      municipality: '長野市',
      name: '長野 担当',
    });
    const o = await buildUser({ roles: ['coordinator'], municipality: '松本市' });
    const t = await buildUser({ roles: ['trainee'], municipality: '長野市' });
    const v = await buildUser({ roles: ['regional_viewer'], municipality: '長野市' });
    await buildUser({ roles: ['trainee'], email: 'taken@example.jp' });
    admin = await signIn(testApp.app, a.user, a.password);
    coordinator = await signIn(testApp.app, c.user, c.password);
    otherCoordinator = await signIn(testApp.app, o.user, o.password);
    trainee = await signIn(testApp.app, t.user, t.password);
    viewer = await signIn(testApp.app, v.user, v.password);
  });
  after(async () => {
    await testApp.close();
  });

  it('shows the upload page with the documented columns and a template to download', async () => {
    const page = await admin.get('/admin/users/import').expect(200);
    for (const header of HEADER.split(',')) expect(page.text).to.contain(header);
    const template = await admin.get('/admin/users/import/template.csv').expect(200);
    expect(template.headers['content-type']).to.match(/^text\/csv/);
    expect(template.text.replace(/^\ufeff/, '').split('\r\n')[0]).to.equal(HEADER);
  });

  it('is open to coordinators, closed to trainees and regional viewers', async () => {
    await coordinator.get('/admin/users/import').expect(200);
    await trainee.get('/admin/users/import').expect(403);
    await viewer.get('/admin/users/import').expect(403);
    await upload(trainee, Buffer.from(`${HEADER}\n`)).expect(403);
  });

  it('refuses an upload without a valid CSRF token, and writes nothing', async () => {
    const before = await ImportBatch.countDocuments();
    await upload(
      admin,
      Buffer.from(`${HEADER}\n山田 花子,やまだ はなこ,yamada@example.jp,長野市,,保健師,受講者\n`),
      'a.csv',
      'wrong',
    ).expect(403);
    const noToken = await admin.agent
      .post('/admin/users/import')
      .attach('file', Buffer.from(`${HEADER}\n`), 'a.csv');
    expect(noToken.status).to.equal(403);
    expect(await ImportBatch.countDocuments()).to.equal(before);
  });

  it('refuses a file that is not text, whatever its name', async () => {
    const png = Buffer.from([
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0xff, 0xfe,
    ]);
    const res = await upload(admin, png, 'roster.csv').expect(422);
    expect(res.text).to.contain('CSVファイルとして読み取れませんでした');
  });

  it('refuses a file over 1 MB with a message on the form', async () => {
    const big = Buffer.alloc(1024 * 1024 + 10, 'a');
    const res = await upload(admin, big).expect(422);
    expect(res.text).to.contain('ファイルが大きすぎます');
  });

  it('names missing columns', async () => {
    const res = await upload(
      admin,
      Buffer.from('氏名,メールアドレス\n山田,yamada@example.jp\n'),
    ).expect(422);
    expect(res.text).to.contain('見出し行に「ふりがな」の列がありません。');
    expect(res.text).to.contain('見出し行に「市町村」の列がありません。');
  });

  it('previews a file with errors row by row and writes nothing, even when confirmed', async () => {
    const csv = [
      HEADER,
      '山田 花子,やまだ はなこ,yamada@example.jp,長野市,長野市 保健所,保健師,受講者',
      '鈴木 一郎,すずき いちろう,not-an-address,長野市,,,',
      '佐藤 次郎,さとう じろう,taken@example.jp,長野市,,,',
      '田中 三郎,たなか さぶろう,yamada@example.jp,長野市,,,',
      '高橋 四郎,たかはし しろう,takahashi@example.jp,存在しない市,,,',
      '伊藤 五郎,いとう ごろう,ito@example.jp,松本市,,魔法使い,勇者',
    ].join('\r\n');
    const res = await upload(admin, Buffer.from(csv)).expect(303);
    const id = batchIdFrom(res.headers.location);
    const preview = await admin.get(`/admin/users/import/${id}`).expect(200);
    expect(preview.text).to.contain('5行に誤りがあります');
    expect(preview.text).to.contain('メールアドレスの形式が正しくありません。');
    expect(preview.text).to.contain('このメールアドレスはすでに登録されています。');
    expect(preview.text).to.contain('このファイルの2行目と同じメールアドレスです。');
    expect(preview.text).to.contain('「存在しない市」という市町村は見つかりません。');
    expect(preview.text).to.contain('職種「魔法使い」は選べません。');
    expect(preview.text).to.contain('役割「勇者」は選べません。');
    expect(preview.text).not.to.contain('/confirm');

    await admin.post(`/admin/users/import/${id}/confirm`).expect(303);
    expect(await Invitation.countDocuments()).to.equal(0);
    expect(await ImportBatch.findById(id).lean()).to.have.property('status', 'preview');
    expect(await listOutbox(outboxDir)).to.have.length(0);
  });

  it('keeps the preview on the server: another user cannot see or confirm it', async () => {
    const csv = `${HEADER}\n山田 花子,やまだ はなこ,yamada2@example.jp,長野市,,保健師,受講者\n`;
    const res = await upload(admin, Buffer.from(csv)).expect(303);
    const id = batchIdFrom(res.headers.location);
    await coordinator.get(`/admin/users/import/${id}`).expect(404);
    await coordinator.post(`/admin/users/import/${id}/confirm`).expect(404);
    expect(await Invitation.countDocuments()).to.equal(0);
    await admin.post(`/admin/users/import/${id}/discard`).expect(303);
    expect(await ImportBatch.findById(id)).to.equal(null);
  });

  it('reads a UTF-8 file with a BOM and, once confirmed, invites everyone (mail in the outbox, audit entry)', async () => {
    const csv = [
      HEADER,
      '山田 花子,やまだ はなこ,Hanako.Yamada@Example.jp,長野市,長野市 保健所,保健師,受講者',
      '"木曽 太郎",きそ たろう,taro.kiso@example.jp,木曽町,木曽町 福祉係,社会福祉士,"受講者、スーパーバイザー"',
    ].join('\r\n');
    const res = await upload(
      admin,
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(csv)]),
    ).expect(303);
    const id = batchIdFrom(res.headers.location);
    const preview = await admin.get(`/admin/users/import/${id}`).expect(200);
    expect(preview.text).to.contain('UTF-8（BOM付き）');
    expect(preview.text).to.contain('誤りはありません');
    expect(preview.text).to.contain('新しく登録します');
    // The confirmation form carries only the token: the rows stay on the server.
    expect(preview.text).not.to.match(/name="rows/);

    await admin.post(`/admin/users/import/${id}/confirm`).expect(303);
    const invitations = await Invitation.find().sort({ email: 1 }).lean();
    expect(invitations.map((invitation) => invitation.email)).to.deep.equal([
      'hanako.yamada@example.jp',
      'taro.kiso@example.jp',
    ]);
    expect(invitations[1].roles).to.deep.equal(['trainee', 'supervisor']);
    const kiso = await Municipality.findOne({ name: { $eq: '木曽町' } }).lean();
    expect(String(invitations[1].municipalityId)).to.equal(String(kiso!._id));
    const created = await Organisation.findOne({ name: { $eq: '木曽町 福祉係' } }).lean();
    expect(created).to.include({ sector: 'その他' });

    const mails = await listOutbox(outboxDir);
    expect(mails.map((mail) => mail.to).sort()).to.deep.equal([
      'hanako.yamada@example.jp',
      'taro.kiso@example.jp',
    ]);
    const message = await readOutboxMessage(outboxDir, mails[0].id);
    expect(message!.text).to.contain('/invitations/accept?token=');

    const audit = await AuditEvent.findOne({ action: { $eq: 'import.completed' } }).lean();
    expect(audit!.details).to.include({ rows: 2, organisationsCreated: 1 });
    const batch = await ImportBatch.findById(id).lean();
    expect(batch).to.include({ status: 'completed', createdUserCount: 2 });
    expect(batch!.rows).to.have.length(0);

    // End to end: the invitee follows the mailed link and gets an account in 長野市.
    const mail = await lastMailTo(testApp.config, 'hanako.yamada@example.jp');
    const acceptPath = linkIn(mail, '/invitations/accept?token=');
    const invitee = request.agent(testApp.app);
    const acceptPage = await invitee.get(acceptPath).expect(200);
    const token = /name="token" value="([^"]+)"/.exec(acceptPage.text)![1];
    // The form starts with what the file said about the person.
    expect(acceptPage.text).to.match(/name="name" type="text" value="山田 花子"/);
    expect(acceptPage.text).to.match(/name="nameKana" type="text" value="やまだ はなこ"/);
    expect(acceptPage.text).to.match(/<option value="保健師" selected>/);
    await invitee
      .post('/invitations/accept')
      .type('form')
      .send({
        token,
        _csrf: csrfFrom(acceptPage.text),
        name: '山田 花子',
        nameKana: 'やまだ はなこ',
        profession: '保健師',
        password: 'zenkoji-temple-2026',
        passwordConfirm: 'zenkoji-temple-2026',
      })
      .expect(302);
    const account = await User.findOne({ email: { $eq: 'hanako.yamada@example.jp' } }).lean();
    expect(account).to.include({ status: 'active' });
    expect(account!.roles).to.deep.equal(['trainee']);
    const nagano = await Municipality.findOne({ name: { $eq: '長野市' } }).lean();
    expect(String(account!.municipalityId)).to.equal(String(nagano!._id));

    // A second confirmation does nothing.
    await admin.post(`/admin/users/import/${id}/confirm`).expect(303);
    expect(await Invitation.countDocuments()).to.equal(2);
    const result = await admin.get(`/admin/users/import/${id}`).expect(200);
    expect(result.text).to.contain('2人に招待メールを送りました');
  });

  it('reads a Shift_JIS file as Excel saves it', async () => {
    const csv = [
      HEADER,
      '髙橋 花子,たかはし はなこ,sjis@example.jp,長野市,,精神保健福祉士,受講者',
    ].join('\r\n');
    const res = await upload(coordinator, iconv.encode(csv, 'Shift_JIS')).expect(303);
    const id = batchIdFrom(res.headers.location);
    const preview = await coordinator.get(`/admin/users/import/${id}`).expect(200);
    expect(preview.text).to.contain('Shift_JIS');
    expect(preview.text).to.contain('髙橋 花子');
    expect(preview.text).to.contain('誤りはありません');
    await coordinator.post(`/admin/users/import/${id}/confirm`).expect(303);
    const invitation = await Invitation.findOne({ email: { $eq: 'sjis@example.jp' } }).lean();
    expect(invitation!.roles).to.deep.equal(['trainee']);
  });

  it('limits coordinators to their own municipality, trainees only, and known organisations', async () => {
    const csv = [
      HEADER,
      '松本 花子,まつもと はなこ,m1@example.jp,松本市,,保健師,受講者',
      '長野 一郎,ながの いちろう,m2@example.jp,長野市,,保健師,スーパーバイザー',
      '長野 二郎,ながの じろう,m3@example.jp,長野市,未登録の機関,保健師,',
      '長野 三郎,ながの さぶろう,m4@example.jp,長野市,,保健師,センター管理者',
    ].join('\n');
    const res = await upload(coordinator, Buffer.from(csv)).expect(303);
    const preview = await coordinator.get(res.headers.location).expect(200);
    expect(preview.text).to.contain('ご自身の市町村以外の利用者は登録できません。');
    expect(preview.text).to.contain('市町村担当者が登録できる役割は「受講者」のみです。');
    expect(preview.text).to.contain('所属機関「未登録の機関」は長野市に登録されていません。');
    expect(preview.text).to.contain('センター管理者の役割は一括登録では付けられません。');
    // and another coordinator cannot open it
    await otherCoordinator.get(res.headers.location).expect(404);
  });

  it('finds an address invited meanwhile when confirming, and writes nothing', async () => {
    const csv = `${HEADER}\n遅れ 花子,おくれ はなこ,late@example.jp,長野市,,保健師,受講者\n後 太郎,あと たろう,late2@example.jp,長野市,,保健師,受講者\n`;
    const res = await upload(admin, Buffer.from(csv)).expect(303);
    const id = batchIdFrom(res.headers.location);
    await buildUser({ email: 'late2@example.jp' });
    const before = await Invitation.countDocuments();
    await admin.post(`/admin/users/import/${id}/confirm`).expect(303);
    expect(await Invitation.countDocuments()).to.equal(before);
    const preview = await admin.get(`/admin/users/import/${id}`).expect(200);
    expect(preview.text).to.contain('このメールアドレスはすでに登録されています。');
  });

  it('removes everything it wrote when a write fails midway (all or nothing)', async () => {
    const csv = [
      HEADER,
      '一 花子,いち はなこ,fail1@example.jp,長野市,新設の窓口,保健師,受講者',
      '二 花子,に はなこ,fail2@example.jp,長野市,,保健師,受講者',
      '三 花子,さん はなこ,fail3@example.jp,長野市,,保健師,受講者',
    ].join('\n');
    const res = await upload(admin, Buffer.from(csv)).expect(303);
    const id = batchIdFrom(res.headers.location);
    const invitationsBefore = await Invitation.countDocuments();
    const mailsBefore = (await listOutbox(outboxDir)).length;
    // The second invitation fails to save, as on a full disk.
    const original = Invitation.create.bind(Invitation);
    let calls = 0;
    (Invitation as { create: unknown }).create = (...args: unknown[]) => {
      calls += 1;
      if (calls === 2) return Promise.reject(new Error('simulated write failure'));
      return (original as (...a: unknown[]) => unknown)(...args);
    };
    try {
      const confirm = await admin.post(`/admin/users/import/${id}/confirm`).expect(303);
      const page = await admin.get(confirm.headers.location).expect(200);
      expect(page.text).to.contain('すべて取り消しました');
    } finally {
      (Invitation as { create: unknown }).create = original;
    }
    expect(calls).to.equal(2);
    expect(await Invitation.countDocuments()).to.equal(invitationsBefore);
    expect(await Organisation.countDocuments({ name: { $eq: '新設の窓口' } })).to.equal(0);
    expect((await listOutbox(outboxDir)).length).to.equal(mailsBefore);
    expect(await ImportBatch.findById(id).lean()).to.include({ status: 'failed' });
    expect(
      await AuditEvent.countDocuments({
        action: { $eq: 'import.completed' },
        targetId: { $eq: id },
      }),
    ).to.equal(0);
  });
});
