/**
 * A CSV import is bounded before anything is kept: one cell of at most 1,000 characters, at most
 * 1,000 rows, 1 MB. A file over a bound gets a message on the upload form, not a 500, and no
 * preview batch is stored.
 */
import { expect } from 'chai';
import { ImportBatch } from '../../src/admin/import/import-batch.model.js';
import { seedOrganisations } from '../../src/organisations/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

const HEADER = '氏名,ふりがな,メールアドレス,市町村,所属機関,職種,役割';

describe('CSV import limits', () => {
  let t: TestApp;
  let admin: SignedIn;
  before(async () => {
    t = await createTestApp();
    await seedOrganisations();
    const a = await buildUser({ roles: ['admin'] });
    admin = await signIn(t.app, a.user, a.password);
  });
  after(async () => {
    await t.close();
  });

  function upload(content: string) {
    return admin.agent
      .post('/admin/users/import')
      .field('_csrf', admin.csrfToken)
      .attach('file', Buffer.from(content), 'roster.csv');
  }

  it('refuses one huge cell with a message on the form, and stores nothing', async () => {
    // About 1 MB of unknown roles in one quoted cell.
    const cell = 'x、'.repeat(260_000);
    const res = await upload(
      `${HEADER}\r\n長野 花子,ながの はなこ,a@example.jp,長野市,,保健師,"${cell}"\r\n`,
    );
    expect(res.status).to.equal(422);
    expect(res.text).to.contain('1000文字を超える項目があります');
    expect(res.text).to.contain('2行目');
    expect(await ImportBatch.countDocuments()).to.equal(0);
  });

  it('counts the cell bound in characters: 1,000 × 𠮷 is a row error, 1,001 a file error', async () => {
    const row = (organisation: string) =>
      `${HEADER}\r\n長野 花子,ながの はなこ,b@example.jp,長野市,${organisation},保健師,受講者\r\n`;
    const refused = await upload(row('𠮷'.repeat(1001)));
    expect(refused.status).to.equal(422);
    expect(refused.text).to.contain('2行目の「所属機関」に、1000文字を超える項目があります');
    expect(await ImportBatch.countDocuments()).to.equal(0);

    const kept = await upload(row('𠮷'.repeat(1000))).expect(303);
    const preview = await admin.get(kept.headers.location).expect(200);
    expect(preview.text).to.contain('所属機関の名称は100文字以内で入力してください。');
    await admin.post(`${kept.headers.location}/discard`).expect(303);
  });

  it('refuses a huge cell in the header line too', async () => {
    const res = await upload(
      `${HEADER},"${'y'.repeat(5000)}"\r\n長野 花子,ながの はなこ,c@example.jp,長野市,,,\r\n`,
    );
    expect(res.status).to.equal(422);
    expect(res.text).to.contain('1行目に、1000文字を超える項目があります');
    expect(await ImportBatch.countDocuments()).to.equal(0);
  });

  it('keeps the error messages of a row small, one per field', async () => {
    const roles = Array.from({ length: 100 }, (_, i) => `role${i}`).join('、');
    const res = await upload(
      `${HEADER}\r\n長野 花子,ながの はなこ,d@example.jp,長野市,,保健師,"${roles}"\r\n`,
    ).expect(303);
    const batch = await ImportBatch.findById(res.headers.location.split('/').pop()).lean();
    const [row] = batch!.rows as { errors: { field: string; message: string }[] }[];
    expect(row.errors).to.have.length(1);
    expect(row.errors[0].message).to.contain('役割「role0」は選べません。');
    await ImportBatch.deleteMany({});
  });

  it('refuses more than 1,000 rows with a message, and stores nothing', async () => {
    const rows = Array.from(
      { length: 1001 },
      (_, i) => `長野 ${i},ながの,person${i}@example.jp,長野市,,保健師,受講者`,
    );
    const res = await upload([HEADER, ...rows].join('\r\n'));
    expect(res.status).to.equal(422);
    expect(res.text).to.contain('1回に登録できるのは1000人までです');
    expect(await ImportBatch.countDocuments()).to.equal(0);

    const ok = await upload([HEADER, ...rows.slice(0, 1000)].join('\r\n'));
    expect(ok.status).to.equal(303);
    expect(await ImportBatch.countDocuments()).to.equal(1);
  });
});

describe('CSV import row messages', () => {
  let t: TestApp;
  let admin: SignedIn;
  before(async () => {
    t = await createTestApp();
    await seedOrganisations();
    const a = await buildUser({ roles: ['admin'] });
    admin = await signIn(t.app, a.user, a.password);
  });
  after(async () => {
    await t.close();
  });

  it('names a reading that is not kana and an over-long name, row by row', async () => {
    const csv = [
      HEADER,
      '長野 花子,Nagano Hanako,kana@example.jp,長野市,,保健師,受講者',
      `${'a'.repeat(51)},ながの,long@example.jp,長野市,,保健師,受講者`,
      `長野 太郎,${'な'.repeat(51)},longkana@example.jp,長野市,,保健師,受講者`,
    ].join('\r\n');
    const res = await admin.agent
      .post('/admin/users/import')
      .field('_csrf', admin.csrfToken)
      .attach('file', Buffer.from(csv), 'roster.csv')
      .expect(303);
    const batch = await ImportBatch.findById(res.headers.location.split('/').pop()).lean();
    const errors = (batch!.rows as { errors: { field: string; message: string }[] }[]).map(
      (row) => row.errors,
    );
    expect(errors).to.deep.equal([
      [{ field: 'nameKana', message: 'ふりがなは、ひらがなまたはカタカナで入力してください。' }],
      [{ field: 'name', message: '氏名は50文字以内で入力してください。' }],
      [{ field: 'nameKana', message: 'ふりがなは50文字以内で入力してください。' }],
    ]);
  });
});
