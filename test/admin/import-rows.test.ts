import { expect } from 'chai';
import type { SessionUser } from '../../src/auth/session-user.js';
import { checkRows, type CheckContext } from '../../src/admin/import/validate.js';
import type { RawRow } from '../../src/admin/import/columns.js';
import type { Geography, Place } from '../../src/organisations/geography.js';

/**
 * The row checks of the CSV import, one rule at a time, on reference data written here (two
 * municipalities, one organisation, addresses already in use). import.test.ts runs the same
 * checks through the upload and the preview page.
 */
const NAGANO: Place = {
  id: 'm-nagano',
  name: '長野市',
  kind: '市',
  regionId: 'r-nagano',
  regionName: '長野圏域',
};
const MATSUMOTO: Place = {
  id: 'm-matsumoto',
  name: '松本市',
  kind: '市',
  regionId: 'r-matsumoto',
  regionName: '松本圏域',
};
const geography: Geography = {
  byId: new Map([NAGANO, MATSUMOTO].map((p) => [p.id, p])),
  byName: new Map([NAGANO, MATSUMOTO].map((p) => [p.name, p])),
  regionNames: new Map([
    ['r-nagano', '長野圏域'],
    ['r-matsumoto', '松本圏域'],
  ]),
};

function actor(roles: SessionUser['roles'], municipalityId: string | null): SessionUser {
  return {
    id: 'u1',
    name: '担当',
    email: 'staff@example.jp',
    roles,
    status: 'active',
    municipalityId,
    regionId: null,
  };
}
const admin = actor(['admin'], null);
const coordinator = actor(['coordinator'], NAGANO.id);

function context(who: SessionUser): CheckContext {
  return {
    actor: who,
    geography,
    organisations: new Map([[NAGANO.id, new Map([['長野市保健所', 'o-hokenjo']])]]),
    takenEmails: new Set(['taken@example.jp']),
    invitedEmails: new Set(['invited@example.jp']),
    unavailableEmails: new Set(['elsewhere@example.jp']),
  };
}

const valid: RawRow = {
  name: '長野 花子',
  nameKana: 'ながの はなこ',
  email: 'hanako@example.jp',
  municipality: '長野市',
  organisation: '',
  profession: '',
  roles: '',
};

/** Checks one row (line 2) that differs from a valid one by `change`. */
function check(change: Partial<RawRow>, who = admin) {
  return checkRows([{ line: 2, values: { ...valid, ...change } }], context(who))[0];
}
const errorsOf = (change: Partial<RawRow>, who = admin) =>
  check(change, who).errors.map((e) => `${e.field}: ${e.message}`);

describe('CSV import: the row checks', () => {
  it('accepts a valid row as a trainee of its municipality, with nothing to note', () => {
    const row = check({});
    expect(row).to.deep.include({
      line: 2,
      email: 'hanako@example.jp',
      municipalityId: NAGANO.id,
      regionId: NAGANO.regionId,
      organisationId: null,
      newOrganisation: null,
      profession: null,
      roles: ['trainee'],
      errors: [],
      notes: [],
    });
  });

  describe('names', () => {
    it('requires a name and its reading', () => {
      expect(errorsOf({ name: '', nameKana: '' })).to.deep.equal([
        'name: 氏名を入力してください。',
        'nameKana: ふりがなを入力してください。',
      ]);
    });

    it('allows 50 characters as a reader counts them, not 51', () => {
      expect(errorsOf({ name: '長'.repeat(50), nameKana: 'な'.repeat(50) })).to.deep.equal([]);
      expect(errorsOf({ name: '長'.repeat(51), nameKana: 'な'.repeat(51) })).to.deep.equal([
        'name: 氏名は50文字以内で入力してください。',
        'nameKana: ふりがなは50文字以内で入力してください。',
      ]);
    });

    it('takes hiragana, katakana, the long sound mark, the middle dot and spaces as ふりがな, nothing else', () => {
      for (const reading of ['ながの はなこ', 'ナガノ　ハナコ', 'ルーシー・ナガノ'])
        expect(errorsOf({ nameKana: reading }), reading).to.deep.equal([]);
      for (const reading of ['長野 花子', 'nagano', 'ながの1', 'ながの-はなこ'])
        expect(errorsOf({ nameKana: reading }), reading).to.deep.equal([
          'nameKana: ふりがなは、ひらがなまたはカタカナで入力してください。',
        ]);
    });
  });

  describe('addresses', () => {
    it('requires an address and checks its form, up to 254 characters', () => {
      expect(errorsOf({ email: ' ' })).to.deep.equal(['email: メールアドレスを入力してください。']);
      for (const email of ['hanako', 'hanako@example', 'ha nako@example.jp', 'a@b@example.jp'])
        expect(errorsOf({ email }), email).to.deep.equal([
          'email: メールアドレスの形式が正しくありません。',
        ]);
      const local = 'a'.repeat(64);
      const at254 = `${local}@${'b'.repeat(254 - 64 - 1 - 3)}.jp`;
      expect(at254).to.have.length(254);
      expect(errorsOf({ email: at254 })).to.deep.equal([]);
      expect(errorsOf({ email: `a${at254}` })).to.deep.equal([
        'email: メールアドレスの形式が正しくありません。',
      ]);
    });

    it('reads full-width letters and upper case as the same address', () => {
      expect(check({ email: ' ＨＡＮＡＫＯ＠ｅｘａｍｐｌｅ．ｊｐ ' }).email).to.equal(
        'hanako@example.jp',
      );
    });

    it('refuses an address in use, one with an open invitation, and one invited from elsewhere', () => {
      expect(errorsOf({ email: 'TAKEN@example.jp' })).to.deep.equal([
        'email: このメールアドレスはすでに登録されています。',
      ]);
      expect(errorsOf({ email: 'invited@example.jp' })).to.deep.equal([
        'email: このメールアドレスには招待を送信済みです（まだ登録されていません）。',
      ]);
      expect(errorsOf({ email: 'elsewhere@example.jp' })).to.deep.equal([
        'email: このメールアドレスには、いま招待を送ることができません。センターにお問い合わせください。',
      ]);
    });

    it('refuses an address a second time in the same file, naming the first line', () => {
      const rows = checkRows(
        [
          { line: 2, values: valid },
          { line: 3, values: { ...valid, email: 'other@example.jp' } },
          { line: 4, values: { ...valid, email: 'Hanako@Example.jp' } },
        ],
        context(admin),
      );
      expect(rows.map((row) => row.errors)).to.deep.equal([
        [],
        [],
        [{ field: 'email', message: 'このファイルの2行目と同じメールアドレスです。' }],
      ]);
    });
  });

  describe('municipality and organisation', () => {
    it('requires a municipality known by its full name', () => {
      expect(errorsOf({ municipality: '' })).to.deep.equal([
        'municipality: 市町村を入力してください。',
      ]);
      expect(errorsOf({ municipality: '長野' })).to.deep.equal([
        'municipality: 「長野」という市町村は見つかりません。「長野市」「小海町」のように正式な名称で入力してください。',
      ]);
      expect(check({ municipality: ' 松本市 ' })).to.include({
        municipalityId: MATSUMOTO.id,
        regionId: MATSUMOTO.regionId,
      });
    });

    it('lets a coordinator register people of their own municipality only', () => {
      expect(errorsOf({}, coordinator)).to.deep.equal([]);
      expect(errorsOf({ municipality: '松本市' }, coordinator)).to.deep.equal([
        'municipality: ご自身の市町村以外の利用者は登録できません。',
      ]);
    });

    it('finds a registered organisation of the municipality', () => {
      expect(check({ organisation: '長野市保健所' }, coordinator)).to.include({
        organisationId: 'o-hokenjo',
        newOrganisation: null,
      });
    });

    it('lets an administrator add an unknown organisation (with a note), not a coordinator', () => {
      const row = check({ organisation: '新しい相談室' });
      expect(row).to.include({ organisationId: null, newOrganisation: '新しい相談室' });
      expect(row.notes).to.deep.equal([
        '所属機関「新しい相談室」は長野市に未登録のため、新しく登録します（分野は「その他」。後から変更できます）。',
      ]);
      expect(errorsOf({ organisation: '新しい相談室' }, coordinator)).to.deep.equal([
        'organisation: 所属機関「新しい相談室」は長野市に登録されていません。空欄にするか、センターに登録を依頼してください。',
      ]);
      // The organisation of another municipality is unknown here.
      expect(
        check({ municipality: '松本市', organisation: '長野市保健所' }).newOrganisation,
      ).to.equal('長野市保健所');
    });

    it('refuses a new organisation name over 100 characters', () => {
      expect(check({ organisation: '室'.repeat(100) }).errors).to.deep.equal([]);
      expect(errorsOf({ organisation: '室'.repeat(101) })).to.deep.equal([
        'organisation: 所属機関の名称は100文字以内で入力してください。',
      ]);
    });

    it('ignores the organisation when the municipality is unknown', () => {
      const row = check({ municipality: '長野', organisation: '長野市保健所' });
      expect(row).to.include({ organisationId: null, newOrganisation: null });
      expect(row.errors.map((e) => e.field)).to.deep.equal(['municipality']);
    });
  });

  describe('profession and roles', () => {
    it('takes a profession from the list only', () => {
      expect(check({ profession: '保健師' }).profession).to.equal('保健師');
      expect(check({ profession: '' }).profession).to.equal(null);
      const row = check({ profession: '弁護士' });
      expect(row.profession).to.equal(null);
      expect(row.errors.map((e) => e.field)).to.deep.equal(['profession']);
      expect(row.errors[0].message).to.match(
        /^職種「弁護士」は選べません。次のいずれかで入力してください：保健師、/,
      );
    });

    it('gives the trainee role only when the cell is empty', () => {
      expect(check({ roles: 'スーパーバイザー' }).roles).to.deep.equal(['supervisor']);
      expect(check({ roles: ' 、 ' }).roles).to.deep.equal(['trainee']);
    });

    it('reads roles by label or name, separated by 、 , ・ / or spaces, in the usual order, once each', () => {
      expect(check({ roles: 'スーパーバイザー、受講者' }).roles).to.deep.equal([
        'trainee',
        'supervisor',
      ]);
      expect(
        check({ roles: 'regional_viewer／coordinator,trainee・受講者 スーパーバイザー' }).roles,
      ).to.deep.equal(['trainee', 'supervisor', 'coordinator', 'regional_viewer']);
    });

    it('refuses an unknown role and the administrator role, with one message per cell', () => {
      expect(errorsOf({ roles: '部長、課長' })).to.deep.equal([
        'roles: 役割「部長」は選べません。受講者、スーパーバイザー、市町村担当者、圏域担当のいずれかで入力してください。',
      ]);
      expect(errorsOf({ roles: 'センター管理者' })).to.deep.equal([
        'roles: センター管理者の役割は一括登録では付けられません。',
      ]);
      expect(errorsOf({ roles: 'admin' })).to.deep.equal([
        'roles: センター管理者の役割は一括登録では付けられません。',
      ]);
    });

    it('lets a coordinator give the trainee role only', () => {
      expect(check({ roles: '受講者' }, coordinator).errors).to.deep.equal([]);
      expect(errorsOf({ roles: 'スーパーバイザー' }, coordinator)).to.deep.equal([
        'roles: 市町村担当者が登録できる役割は「受講者」のみです。',
      ]);
    });
  });
});
