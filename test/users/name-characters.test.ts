/**
 * Names as a reader counts them: 50 characters outside the basic plane (𠮷, hentaigana, emoji)
 * are 50, not 100, in every form, the schema and the CSV import; 51 are refused with the field
 * message, never a 500. Invisible characters (bidi overrides, zero-width) are removed.
 */
import { expect } from 'chai';
import request from 'supertest';
import { ImportBatch } from '../../src/admin/import/import-batch.model.js';
import { Organisation } from '../../src/organisations/organisation.model.js';
import { Invitation } from '../../src/users/invitation.model.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import {
  anonymousAgent,
  csrfFrom,
  lastMailTo,
  linkIn,
  signIn,
  type SignedIn,
} from '../helpers/auth.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';

const PASSWORD = 'matsumoto-castle-1594';
const FIFTY = '𠮷'.repeat(50);
const FIFTY_ONE = '𠮷'.repeat(51);
const KANA_FIFTY = '𛀁'.repeat(50); // hentaigana, outside the basic plane
const TOO_LONG = '氏名は50文字以内で入力してください。';
const HEADER = '氏名,ふりがな,メールアドレス,市町村,所属機関,職種,役割';

describe('names outside the basic plane and invisible characters', () => {
  let t: TestApp;
  let admin: SignedIn;
  before(async () => {
    t = await createTestApp();
    const a = await buildUser({ roles: ['admin'] });
    admin = await signIn(t.app, a.user, a.password);
  });
  after(async () => {
    await t.close();
  });

  async function register(name: string, email: string, nameKana = 'よしだ') {
    const nagano = await buildMunicipality('長野市');
    const { agent, csrfToken } = await anonymousAgent(t.app);
    return agent
      .post('/register')
      .type('form')
      .send({
        name,
        nameKana,
        email,
        profession: '保健師',
        municipalityId: String(nagano._id),
        organisationId: '',
        password: PASSWORD,
        passwordConfirm: PASSWORD,
        _csrf: csrfToken,
      });
  }

  async function invite(email: string): Promise<string> {
    const nagano = await buildMunicipality('長野市');
    await admin
      .post('/invitations', { email, roles: 'trainee', municipalityId: String(nagano._id) })
      .expect(302);
    return linkIn(await lastMailTo(t.config, email), '/invitations/accept?token=');
  }

  async function accept(path: string, name: string, nameKana = 'よしだ') {
    const agent = request.agent(t.app);
    const page = await agent.get(path).expect(200);
    const token = /name="token" value="([^"]+)"/.exec(page.text)![1];
    return agent
      .post('/invitations/accept')
      .type('form')
      .send({
        token,
        _csrf: csrfFrom(page.text),
        name,
        nameKana,
        profession: '保健師',
        password: PASSWORD,
        passwordConfirm: PASSWORD,
      });
  }

  function upload(csv: string) {
    return admin.agent
      .post('/admin/users/import')
      .field('_csrf', admin.csrfToken)
      .attach('file', Buffer.from(csv), 'roster.csv');
  }

  describe('POST /register', () => {
    it('stores 50 × 𠮷 and 50 hentaigana as written', async () => {
      const res = await register(FIFTY, 'fifty@example.jp', KANA_FIFTY);
      expect(res.status).to.equal(201);
      const stored = await User.findOne({ email: 'fifty@example.jp' }).lean();
      expect(stored?.name).to.equal(FIFTY);
      expect(stored?.nameKana).to.equal(KANA_FIFTY);
    });

    it('refuses 51 × 𠮷 with the field message, keeping the input', async () => {
      const res = await register(FIFTY_ONE, 'fifty-one@example.jp', `${KANA_FIFTY}𛀁`);
      expect(res.status).to.equal(422);
      expect(res.text).to.contain(TOO_LONG);
      expect(res.text).to.contain('ふりがなは50文字以内で入力してください。');
      expect(res.text).to.contain(`value="${FIFTY_ONE}"`);
      expect(await User.countDocuments({ email: 'fifty-one@example.jp' })).to.equal(0);
    });

    it('counts an emoji sequence as one character', async () => {
      const res = await register(`${'👩‍⚕️'.repeat(49)}子`, 'emoji@example.jp');
      expect(res.status).to.equal(201);
    });

    it('removes bidi overrides and zero-width characters from names', async () => {
      const res = await register(
        '\u202e長野\u200b花子\u2066\u2069\ufeff',
        'bidi@example.jp',
        'な\u200dがの',
      );
      expect(res.status).to.equal(201);
      const stored = await User.findOne({ email: 'bidi@example.jp' }).lean();
      expect(stored?.name).to.equal('長野花子');
      expect(stored?.nameKana).to.equal('ながの');
    });

    it('treats a name made only of invisible characters as empty', async () => {
      const res = await register('\u200b\u202e\u2060\ufeff', 'invisible@example.jp');
      expect(res.status).to.equal(422);
      expect(res.text).to.contain('氏名を入力してください。');
      expect(await User.countDocuments({ email: 'invisible@example.jp' })).to.equal(0);
    });
  });

  describe('POST /invitations/accept', () => {
    it('stores 50 × 𠮷', async () => {
      const path = await invite('accept-fifty@example.jp');
      const res = await accept(path, FIFTY);
      expect(res.status).to.equal(302);
      expect((await User.findOne({ email: 'accept-fifty@example.jp' }).lean())?.name).to.equal(
        FIFTY,
      );
    });

    it('refuses 51 × 𠮷 with the field message', async () => {
      const path = await invite('accept-fifty-one@example.jp');
      const res = await accept(path, FIFTY_ONE);
      expect(res.status).to.equal(422);
      expect(res.text).to.contain(TOO_LONG);
      expect(await User.countDocuments({ email: 'accept-fifty-one@example.jp' })).to.equal(0);
    });
  });

  describe('/account', () => {
    it('shows a 50 × 𠮷 name and changes the password of its holder', async () => {
      const { user, password } = await buildUser({ name: FIFTY, nameKana: KANA_FIFTY });
      const session = await signIn(t.app, user, password);
      const page = await session.get('/account').expect(200);
      expect(page.text).to.contain(FIFTY);
      const res = await session.post('/account/password', {
        currentPassword: password,
        password: 'kamikochi-bridge-2026',
        passwordConfirm: 'kamikochi-bridge-2026',
      });
      expect(res.status).to.equal(302);
    });
  });

  describe('CSV import', () => {
    it('accepts 50 × 𠮷 and invites with it; refuses 51 with a row message', async () => {
      const csv = [
        HEADER,
        `${FIFTY},${KANA_FIFTY},csv-fifty@example.jp,長野市,,保健師,受講者`,
        `${FIFTY_ONE},よしだ,csv-fifty-one@example.jp,長野市,,保健師,受講者`,
        `\u202e長野\u200b花子,ながの はなこ,csv-bidi@example.jp,長野市,,保健師,受講者`,
      ].join('\r\n');
      const res = await upload(csv).expect(303);
      const id = res.headers.location.split('/').pop()!;
      const batch = await ImportBatch.findById(id).lean();
      const rows = batch!.rows as {
        line: number;
        values: { name: string };
        errors: { field: string; message: string }[];
      }[];
      expect(rows[0].errors).to.deep.equal([]);
      expect(rows[1].errors).to.deep.equal([{ field: 'name', message: TOO_LONG }]);
      expect(rows[2].errors).to.deep.equal([]);
      expect(rows[2].values.name).to.equal('長野花子');
      const preview = await admin.get(`/admin/users/import/${id}`).expect(200);
      expect(preview.text).to.contain(TOO_LONG);
    });

    it('invites with a 50 × 𠮷 name prefilled', async () => {
      const csv = [HEADER, `${FIFTY},よしだ,csv-prefill@example.jp,長野市,,保健師,受講者`].join(
        '\r\n',
      );
      const res = await upload(csv).expect(303);
      await admin.post(`${res.headers.location}/confirm`).expect(303);
      const invitation = await Invitation.findOne({ email: 'csv-prefill@example.jp' }).lean();
      expect(invitation?.prefill?.name).to.equal(FIFTY);
    });
  });

  describe('organisations', () => {
    it('stores a 100-character name outside the basic plane and refuses 101', async () => {
      const nagano = await buildMunicipality('長野市');
      const form = { sector: 'その他', municipalityId: String(nagano._id) };
      await admin.post('/admin/organisations', { ...form, name: '𠮷'.repeat(100) }).expect(303);
      expect(await Organisation.countDocuments({ name: '𠮷'.repeat(100) })).to.equal(1);
      const res = await admin.post('/admin/organisations', { ...form, name: '𠮷'.repeat(101) });
      expect(res.status).to.equal(422);
      expect(res.text).to.contain('名称は100文字以内で入力してください。');
    });
  });
});
