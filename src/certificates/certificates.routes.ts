import { once } from 'node:events';
import { Router, type RequestHandler, type Response } from 'express';
import yazl from 'yazl';
import { requireAuth, requirePermission } from '../auth/middleware.js';
import { authorize, can } from '../auth/policy.js';
import { reserveAttempt } from '../auth/throttle.js';
import type { Catalog } from '../courses/catalog.types.js';
import { pageFrom, pageLink } from '../admin/paging.js';
import { listingArea } from '../admin/scope.js';
import { learnerOf } from '../learning/learner.js';
import { printHeading } from '../http/print-heading.js';
import { notFound, tooManyRequests } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { formatEraDate, isoDate } from '../lib/dates.js';
import { text } from '../lib/forms.js';
import { Municipality } from '../organisations/municipality.model.js';
import { certificatePdf, fileNameOf } from './certificate-file.js';
import { listCertificates, validCertificatesOf } from './certificate-list.service.js';
import {
  certificatesOfLearner,
  findByVerificationCode,
  getCertificate,
} from './certificate.service.js';

/** Verification lookups allowed from one address within the throttling window (15 minutes). */
export const MAX_VERIFICATIONS_PER_IP = 30;

const LIST = '/admin/certificates';

/**
 * Certificates for everyone who holds or counts them: the public verification page, downloads
 * (the holder, their municipality's coordinator, administrators) and the list with its ZIP.
 * The administrators' pages (issue, revoke, correct, preview) are in certificates-admin.routes.ts.
 */
export function certificatesRouter(deps: { catalog: Catalog; baseUrl: string }): Router {
  const { catalog, baseUrl } = deps;
  const router = Router();

  // Public: anyone holding the printed URL or the QR code. Shows only what the paper shows.
  router.get('/verify/:code', async (req, res) => {
    const verdict = await reserveAttempt([
      { key: `verify:${req.ip ?? 'unknown'}`, max: MAX_VERIFICATIONS_PER_IP },
    ]);
    if ('wait' in verdict) {
      const minutes = Math.max(1, Math.ceil(verdict.wait / 60_000));
      throw tooManyRequests(
        `短い時間に多くの確認がありました。約${minutes}分後にもう一度お試しください。`,
      );
    }
    const certificate = await findByVerificationCode(req.params.code);
    if (!certificate) throw notFound();
    res.setHeader('x-robots-tag', 'noindex');
    res.render('certificates/verify', {
      title: '修了証書の確認',
      certificate: {
        number: certificate.number,
        name: certificate.name,
        programTitle: certificate.programTitle,
        completedEra: formatEraDate(certificate.completedAt),
        completedDay: isoDate(certificate.completedAt),
        valid: certificate.valid,
        revokedEra: formatEraDate(certificate.revokedAt),
        revokedDay: isoDate(certificate.revokedAt),
      },
    });
  });

  router.get('/certificates/:id/pdf', requireAuth, async (req, res) => {
    const certificate = await getCertificate(req.params.id as string);
    authorize(req.user, 'certificate.read', certificate);
    const pdf = await certificatePdf(certificate, catalog, baseUrl);
    res.type('application/pdf').attachment(fileNameOf(certificate)).send(pdf);
  });

  router.get(LIST, requirePermission('certificate.list'), printHeading(), async (req, res) => {
    const user = req.user!;
    const { visible, municipalityOptions, geography } = await listingArea(user);
    const filters = {
      q: text(req.query.q, 100),
      municipalityId: text(req.query.municipalityId, 24),
      status: ['valid', 'revoked'].includes(text(req.query.status, 10))
        ? text(req.query.status, 10)
        : '',
      programId: text(req.query.programId, 100),
    };
    const result = await listCertificates(visible, filters, pageFrom(req.query.page));
    // The ZIP of one municipality: the coordinator's own, or the one an administrator filtered.
    const archiveId =
      visible === 'all' ? filters.municipalityId : (user.municipalityId ?? visible[0] ?? '');
    res.render('certificates/list', {
      title: '修了証書',
      result,
      filters,
      geography,
      municipalityOptions,
      canManage: can(user, 'certificate.manage'),
      archive:
        archiveId && geography.byId.has(archiveId)
          ? {
              href: `${LIST}/municipalities/${archiveId}/zip`,
              name: geography.byId.get(archiveId)!.name,
            }
          : null,
      programOptions: catalog.programs.map((p) => ({ value: p.id, label: p.title })),
      pageLink: (n: number) => pageLink(LIST, filters, n),
    });
  });

  router.get(
    `${LIST}/municipalities/:municipalityId/zip`,
    requirePermission('certificate.list'),
    async (req, res) => {
      const municipalityId = req.params.municipalityId as string;
      authorize(req.user, 'certificate.archive', { municipalityId });
      const municipality = /^[0-9a-f]{24}$/.test(municipalityId)
        ? await Municipality.findById(municipalityId).lean()
        : null;
      if (!municipality) throw notFound();
      await sendZip(res, municipalityId, municipality.name, (certificate) =>
        certificatePdf(certificate, catalog, baseUrl),
      );
    },
  );

  return router;
}

type Cursor = ReturnType<typeof validCertificatesOf>;
type Stored = Awaited<ReturnType<Cursor['next']>> & object;

/**
 * Streams a ZIP of the municipality's valid certificates: each PDF is drawn and added in turn,
 * so memory holds one certificate at a time, and the download starts with the first.
 */
async function sendZip(
  res: Response,
  municipalityId: string,
  municipalityName: string,
  render: (certificate: Stored) => Promise<Buffer>,
): Promise<void> {
  const zip = new yazl.ZipFile();
  res.type('application/zip').attachment(`修了証書_${municipalityName}.zip`);
  zip.outputStream.pipe(res);
  const cursor = validCertificatesOf(municipalityId);
  try {
    for await (const certificate of cursor) {
      if (res.destroyed) break; // the client went away: draw no more
      const pdf = await render(certificate);
      zip.addBuffer(pdf, `${certificate.number}_${fileSafe(certificate.name)}.pdf`, {
        mtime: certificate.issuedAt,
        compress: false, // PDFs are compressed already
      });
      // A slow client: wait until it has taken what is queued (or has gone).
      if (res.writableNeedDrain) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    }
    if (res.destroyed) await cursor.close();
    else zip.end();
  } catch (error) {
    await cursor.close().catch(() => undefined);
    res.destroy(error as Error);
  }
}

/** A name as a file name: without path separators, control characters or reserved marks. */
function fileSafe(name: string): string {
  return name
    .replace(/[\\/:*?"<>|\p{Cc}]/gu, '_')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * On /learn/me: the learner's certificates for the page (res.locals.myCertificates), after
 * issuing any that a missed completion event left out. Mounted before the learning router.
 */
export function myCertificates(catalog: Catalog, logger: Logger): RequestHandler {
  return async (req, res, next) => {
    if (req.method !== 'GET' || req.path !== '/' || !req.user) return next();
    try {
      res.locals.myCertificates = await certificatesOfLearner(catalog, learnerOf(req.user));
    } catch (error) {
      // The page still shows the learning record; the certificate comes on the next visit.
      logger.error({ err: error }, 'certificates for /learn/me failed');
      res.locals.myCertificates = [];
    }
    next();
  };
}
