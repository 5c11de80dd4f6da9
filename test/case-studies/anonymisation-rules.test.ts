/**
 * The anonymisation guard's rules one by one, each with the exact findings expected: the edges
 * of phone numbers, dates, addresses, institutions, municipalities and names, and how overlapping
 * findings merge. test/case-studies/anonymisation.test.ts measures the guard on whole sentences
 * (recall and false alarms), where one rule more or less does not show.
 */
import { expect } from 'chai';
import { findIdentifiers } from '../../src/case-studies/anonymisation.js';
import { foldWidth } from '../../src/case-studies/anonymisation-patterns.js';

/** The findings of `text` as [kind, text] pairs, in order. */
async function found(text: string): Promise<[string, string][]> {
  return (await findIdentifiers(text)).map((f) => [f.kind, f.text]);
}

describe('anonymisation rules', function () {
  // The first call loads the Japanese dictionary.
  this.timeout(60_000);
  before(async () => {
    await findIdentifiers('辞書を読み込む。');
  });

  describe('width folding', () => {
    it('folds full-width letters, digits and signs to ASCII, one for one', () => {
      expect(foldWidth('０９０－１２３４！～ＡＺａｚ＠．')).to.equal('090-1234!~AZaz@.');
    });

    it('folds the ideographic space, the wave dash and every dash-like sign', () => {
      expect(foldWidth('1\u30002\u301c3')).to.equal('1 2~3');
      expect(foldWidth('\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70')).to.equal(
        '---------',
      );
    });

    it('leaves everything else as it is', () => {
      expect(foldWidth('電話は090-1234-5678、ａ')).to.equal('電話は090-1234-5678、a');
    });
  });

  describe('phone numbers', () => {
    it('takes +81 and 11 or 12 digits for a phone number, not 13', async () => {
      expect(await found('連絡先は+81 90-1234-5678です。')).to.deep.equal([
        ['phone', '+81 90-1234-5678'],
      ]);
      expect(await found('連絡先は+81 90-1234-56789です。')).to.deep.equal([]);
    });

    it('takes a leading 0 and 10 or 11 digits for a phone number', async () => {
      expect(await found('番号は026-234-5678です。')).to.deep.equal([['phone', '026-234-5678']]);
      expect(await found('番号は090-1234-56789です。')).to.deep.equal([]);
      expect(await found('整理番号は1234-567-890です。')).to.deep.equal([]);
    });
  });

  describe('dates written with slashes', () => {
    it('takes the first and last month and day', async () => {
      expect(await found('受付は2019/1/1と記録した。')).to.deep.equal([['date', '2019/1/1']]);
      expect(await found('受付は2019/12/31と記録した。')).to.deep.equal([['date', '2019/12/31']]);
    });

    it('leaves a month or a day that does not exist', async () => {
      for (const text of ['2019/0/10', '2019/13/1', '2019/12/0', '2019/12/32'])
        expect(await found(`受付は${text}と記録した。`), text).to.deep.equal([]);
    });
  });

  describe('addresses', () => {
    it('takes up to 12 letters of place name before a lot number', async () => {
      expect(await found('住所は長野県北佐久郡軽井沢町長倉中軽井沢1234-5です。')).to.deep.equal([
        ['address', '久郡軽井沢町長倉中軽井沢1234-5'],
      ]);
    });

    it('ends the address at its last digit, not at a space after it', async () => {
      expect(await found('住所は3丁目4番5 です。')).to.deep.equal([['address', '3丁目4番5']]);
    });
  });

  describe('overlaps', () => {
    it('makes one address of a town name that begins before the address part', async () => {
      expect(await found('自宅は軽井沢町長倉中軽井沢西区新町南1234-5です。')).to.deep.equal([
        ['address', '軽井沢町長倉中軽井沢西区新町南1234-5'],
      ]);
    });

    it('keeps two findings that touch as two', async () => {
      expect(await found('連絡先は鈴木さん090-1234-5678まで。')).to.deep.equal([
        ['person-name', '鈴木さん'],
        ['phone', '090-1234-5678'],
      ]);
    });
  });

  describe('institutions', () => {
    it('takes generic words off both ends, as often as they come', async () => {
      expect(await found('市立総合病院に入院した。')).to.deep.equal([]);
      expect(await found('本人は県立A高校に進んだ。')).to.deep.equal([]);
      expect(await found('本人は県立2高校に進んだ。')).to.deep.equal([]);
      expect(await found('勤め先は総合病院だった。')).to.deep.equal([]);
    });

    it('counts a prefix and a middle dot as part of the name', async () => {
      expect(await found('新松本病院に通院した。')).to.deep.equal([['institution', '新松本病院']]);
      expect(await found('タナカ・スズキ病院に通院した。')).to.deep.equal([
        ['institution', 'タナカ・スズキ病院'],
      ]);
    });

    it('does not take a word of time for a name', async () => {
      expect(await found('先日病院で診察を受けた。')).to.deep.equal([]);
    });

    it('leaves a shopping street (商店街)', async () => {
      expect(await found('駅前の丸山商店街で買い物をした。')).to.deep.equal([]);
    });

    it('takes the name after a company form, at the start or the end of the text', async () => {
      expect(await found('株式会社タナカに勤めた。')).to.deep.equal([
        ['institution', '株式会社タナカ'],
      ]);
      expect(await found('勤め先：株式会社タナカ')).to.deep.equal([
        ['institution', '株式会社タナカ'],
      ]);
    });

    it('leaves a company form without a name', async () => {
      expect(await found('Aさんは株式会社に就職した。')).to.deep.equal([]);
    });

    it('takes a name of up to 15 letters after a company form', async () => {
      const fifteen = 'アイウエオカキクケコサシスセソ';
      expect(await found(`株式会社${fifteen}に勤めた。`)).to.deep.equal([
        ['institution', `株式会社${fifteen}`],
      ]);
      expect(await found(`株式会社${fifteen}タに勤めた。`)).to.deep.equal([]);
    });
  });

  describe('municipalities', () => {
    it('takes a full name after the prefecture, not one inside another word', async () => {
      expect(await found('長野県原村に住む。')).to.deep.equal([['municipality', '原村']]);
      expect(await found('Aさんは高原村の出身だ。')).to.deep.equal([]);
    });

    it('takes a bare name only as a word of its own followed by a place word', async () => {
      expect(await found('上伊那で研修があった。')).to.deep.equal([]);
      expect(await found('松本駅で待ち合わせた。')).to.deep.equal([['municipality', '松本']]);
      expect(await found('松本さんに相談した。')).to.deep.equal([['person-name', '松本さん']]);
    });
  });

  describe('names', () => {
    it('takes a surname and a given name of three letters for a full name', async () => {
      expect(await found('祖父の林一郎は農家だった。')).to.deep.equal([['person-name', '林一郎']]);
      expect(await found('本人は東信地域に住む。')).to.deep.equal([]);
    });

    it('needs a surname to begin a full name', async () => {
      expect(await found('太郎花子が来た。')).to.deep.equal([]);
    });

    it('takes a given name of one-letter words before くん or 君', async () => {
      expect(await found('妹の陽菜くんは元気だ。')).to.deep.equal([['person-name', '陽菜くん']]);
      expect(await found('妹の陽菜君は元気だ。')).to.deep.equal([['person-name', '陽菜君']]);
    });

    it('begins a hiragana name after the particles inside its own run only', async () => {
      expect(await found('Aさんは弟ゆうきくんと遊んだ。')).to.deep.equal([
        ['person-name', 'ゆうきくん'],
      ]);
    });
  });
});
