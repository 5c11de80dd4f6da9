import { expect } from 'chai';
import {
  fontCovers,
  renderCertificatePdf,
  splitName,
} from '../../src/certificates/certificate.pdf.js';
import { decodeQrOnPage, pdfText, pdfTextRuns } from './helpers.js';

const URL = 'https://tsunagu.example.jp/verify/Qx3v9Kc0bT1mZr7aLwE5yH2u';
const page = (over: Partial<Parameters<typeof renderCertificatePdf>[0]> = {}) =>
  renderCertificatePdf({
    number: 'NAGANO-2026-00042',
    name: '𠮷野 髙橋',
    organisationName: '長野市 福祉課',
    programTitle: 'ひきこもり支援者 多職種基礎研修',
    title: '修了証書',
    body: 'あなたは{program}の全課程を修了したことをここに証します。',
    issuer: '長野県ひきこもり支援センター',
    completedAt: new Date('2026-11-30T15:30:00Z'), // 2026-12-01 00:30 in Japan
    verificationUrl: URL,
    ...over,
  });

/** The text without the line breaks and spaces a PDF puts between runs. */
const squeeze = (text: string) => text.replace(/\s+/g, '');

describe('certificate PDF', function () {
  this.timeout(30_000);

  it('prints the name (𠮷 outside the basic plane, 髙), number, both dates, issuer and URL as text', async () => {
    const text = await pdfText(await page());
    const flat = squeeze(text);
    for (const expected of [
      '𠮷野',
      '髙橋',
      '殿',
      'NAGANO-2026-00042',
      '令和8年12月1日',
      '2026-12-01',
      '長野県ひきこもり支援センター',
      '修了証書',
      '長野市福祉課',
      '「ひきこもり支援者多職種基礎研修」の全課程を修了したことをここに証します。',
    ]) {
      expect(flat, expected).to.contain(squeeze(expected));
    }
    expect(text).to.contain(URL);
    expect(flat).not.to.contain('吉野'); // 𠮷 stays 𠮷, not the common form
  });

  it('prints 山﨑, 齋藤 and 邉 as written', async () => {
    const flat = squeeze(await pdfText(await page({ name: '山﨑 齋藤 邉' })));
    expect(flat).to.contain('山﨑齋藤邉');
  });

  it('has a font with glyphs for the rare and variant kanji (no fallback box)', () => {
    for (const ch of ['𠮷', '髙', '﨑', '齋', '邉', '殿', '令'])
      expect(fontCovers(ch), ch).to.equal(true);
  });

  it('embeds a subset of the font (not the whole 7 MB file) and stays under 100 KB', async () => {
    const pdf = await page();
    expect(pdf.length).to.be.lessThan(100 * 1024);
    const raw = pdf.toString('latin1');
    expect(raw).to.match(/\/BaseFont \/[A-Z]{6}\+NotoSerifJP-Regular/);
    expect(raw).to.contain('/FontFile2');
  });

  it('has a QR code that decodes to the verification URL on the rendered page', async () => {
    expect(await decodeQrOnPage(await page())).to.equal(URL);
  });

  it('is A4 portrait', async () => {
    const { width, height } = await pdfTextRuns(await page());
    expect(Math.round(width)).to.equal(595);
    expect(Math.round(height)).to.equal(842);
  });

  it('shrinks a 100-character name onto at most two lines inside the frame', async () => {
    for (const name of [
      '髙'.repeat(100),
      'Maria Fernanda Gonzalez de la Cruz Rodriguez Alvarez Santos Oliveira Pereira Nakamura Watanabe X',
    ]) {
      const pdf = await page({ name });
      const { runs, width } = await pdfTextRuns(pdf);
      const nameRuns = runs.filter((run) => run.text.trim() && name.includes(run.text.trim()));
      expect(squeeze(nameRuns.map((r) => r.text).join(''))).to.equal(squeeze(name));
      const lines = new Set(nameRuns.map((run) => Math.round(run.y)));
      expect(lines.size, 'lines').to.be.within(1, 2);
      for (const run of nameRuns) {
        expect(run.x, 'left').to.be.greaterThan(40);
        expect(run.x + run.width, 'right').to.be.lessThan(width - 40);
      }
    }
  });

  it('breaks a long name at the space nearest the middle, never inside a character', () => {
    const width = (text: string) => [...text].length;
    expect(splitName('Maria Fernanda Gonzalez de la Cruz', width)).to.deep.equal([
      'Maria Fernanda',
      'Gonzalez de la Cruz',
    ]);
    const [a, b] = splitName('𠮷'.repeat(9), width);
    expect(a + b).to.equal('𠮷'.repeat(9));
    expect([...a].length + [...b].length).to.equal(9);
  });

  it('marks a revoked certificate 失効 with the date', async () => {
    const flat = squeeze(
      await pdfText(await page({ revokedAt: new Date('2027-01-15T03:00:00Z') })),
    );
    expect(flat).to.contain('失効');
    expect(flat).to.contain('令和9年1月15日（2027-01-15）に失効しています');
  });

  it('marks a sample 見本', async () => {
    expect(squeeze(await pdfText(await page({ sample: true })))).to.contain('見本');
    expect(squeeze(await pdfText(await page()))).not.to.contain('見本');
  });
});
