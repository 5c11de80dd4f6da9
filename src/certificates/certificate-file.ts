import type { Catalog, Program } from '../courses/catalog.types.js';
import type { CertificateAttrs } from './certificate.model.js';
import type { CertificatePage } from './certificate.pdf.js';

/** Wording for a certificate whose program has left the catalogue (the record still prints). */
const FALLBACK = {
  title: '修了証書',
  body: 'あなたは{program}の全課程を修了したことをここに証します。',
  issuer: '長野県ひきこもり支援センター',
};

/**
 * Draws the page. The drawing module (pdfkit, fontkit, qrcode: about 0.4 s of CPU to load) is
 * loaded with the first certificate, not with the app.
 */
async function renderCertificatePdf(page: CertificatePage): Promise<Buffer> {
  const pdf = await import('./certificate.pdf.js');
  return pdf.renderCertificatePdf(page);
}

export function verificationUrl(baseUrl: string, code: string): string {
  return `${baseUrl}/verify/${code}`;
}

type Printed = Pick<
  CertificateAttrs,
  | 'number'
  | 'name'
  | 'organisationName'
  | 'programId'
  | 'programTitle'
  | 'completedAt'
  | 'verificationCode'
  | 'revokedAt'
>;

/**
 * The page of a stored certificate: its record (name, number, dates as stored) with the current
 * wording of its program file, so a corrected name or an edited body prints on the next download.
 */
export function pageOf(certificate: Printed, catalog: Catalog, baseUrl: string): CertificatePage {
  const wording = catalog.program(certificate.programId)?.certificate ?? FALLBACK;
  return {
    number: certificate.number,
    name: certificate.name,
    organisationName: certificate.organisationName ?? '',
    programTitle: certificate.programTitle,
    title: wording.title,
    body: wording.body,
    issuer: wording.issuer,
    completedAt: certificate.completedAt,
    verificationUrl: verificationUrl(baseUrl, certificate.verificationCode),
    revokedAt: certificate.revokedAt ?? null,
  };
}

export function certificatePdf(
  certificate: Printed,
  catalog: Catalog,
  baseUrl: string,
): Promise<Buffer> {
  return renderCertificatePdf(pageOf(certificate, catalog, baseUrl));
}

/** A sample for the wording's editors: any name, today's date, marked 見本, a URL that finds nothing. */
export function samplePdf(
  program: Pick<Program, 'title' | 'certificate'>,
  name: string,
  baseUrl: string,
  organisationName = '〇〇市 福祉課',
): Promise<Buffer> {
  return renderCertificatePdf({
    number: 'NAGANO-0000-00000（見本）',
    name,
    organisationName,
    programTitle: program.title,
    ...program.certificate,
    completedAt: new Date(),
    verificationUrl: verificationUrl(baseUrl, 'SAMPLE-NOT-A-CERTIFICATE'),
    sample: true,
  });
}

/** The download's file name: the number, and 失効 when revoked (ASCII-safe fallback given separately). */
export function fileNameOf(certificate: Pick<CertificateAttrs, 'number' | 'valid'>): string {
  return `${certificate.number}${certificate.valid ? '' : '_失効'}.pdf`;
}
