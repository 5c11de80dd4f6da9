import { Router, type Request } from 'express';
import { Types } from 'mongoose';
import { requireAuth, requirePermission } from '../auth/middleware.js';
import { authorize } from '../auth/policy.js';
import type { Catalog } from '../courses/catalog.types.js';
import { pageFrom, pageLink } from '../admin/paging.js';
import { notFound } from '../lib/errors.js';
import { formatDateTime } from '../lib/dates.js';
import { identifierKindLabel, type IdentifierKind } from './anonymisation.js';
import { listCaseStudyAccess, recordCaseStudyAccess } from './access-log.service.js';
import { attachmentExists, contentDisposition, openAttachment } from './attachments.js';
import {
  CASE_STUDY_STATE_LABELS,
  CaseStudyVersion,
  type CaseStudyDocument,
} from './case-study.model.js';
import { findCaseStudy, listVersions, loadVersion } from './case-study.service.js';
import { diffVersions } from './diff.js';

async function readableCaseStudy(req: Request): Promise<CaseStudyDocument> {
  const caseStudy = await findCaseStudy((req.params as { id: string }).id);
  authorize(req.user, 'caseStudy.read', caseStudy ?? undefined);
  return caseStudy!;
}

function versionNumber(value: unknown): number {
  return typeof value === 'string' && /^[1-9]\d{0,4}$/.test(value) ? Number(value) : 0;
}

/**
 * A case study's versions, diffs and files, for whoever may read it ('caseStudy.read': the author,
 * assigned supervisors, administrators); everyone else gets 404. Each opening is recorded.
 * Mounted at /case-studies.
 */
export function caseStudyRecordsRouter(catalog: Catalog): Router {
  const router = Router();

  const sectionsFor = (programId: string, keys: Iterable<string>) =>
    catalog.program(programId)?.caseStudy?.sections ??
    [...keys].map((id) => ({ id, title: id, guidance: '', minLength: 0 }));

  router.get('/:id/versions/:number', requireAuth, async (req, res) => {
    const caseStudy = await readableCaseStudy(req);
    const number = versionNumber(req.params.number);
    const version = number ? await loadVersion(caseStudy._id, number) : null;
    if (!version) throw notFound('お探しの版は見つかりませんでした。');
    await recordCaseStudyAccess({
      userId: req.user!.id,
      caseStudyId: caseStudy._id,
      what: 'version',
      versionNumber: number,
    });
    const texts = new Map(Object.entries(version.sections));
    const program = catalog.program(caseStudy.programId);
    res.render('case-studies/version', {
      title: `事例検討レポート 第${number}版`,
      program,
      caseStudy,
      version,
      stateLabel: CASE_STUDY_STATE_LABELS[caseStudy.state],
      sections: sectionsFor(caseStudy.programId, texts.keys()).map((s) => ({
        ...s,
        text: texts.get(s.id) ?? '',
      })),
      versions: await listVersions(caseStudy._id),
      kindLabel: (kind: string) => identifierKindLabel(kind as IdentifierKind),
      formatDateTime,
    });
  });

  router.get('/:id/diff', requireAuth, async (req, res) => {
    const caseStudy = await readableCaseStudy(req);
    const from = versionNumber(req.query.from);
    const to = versionNumber(req.query.to);
    const [older, newer] = await Promise.all([
      from ? loadVersion(caseStudy._id, from) : null,
      to ? loadVersion(caseStudy._id, to) : null,
    ]);
    if (!older || !newer) throw notFound('比べる版が見つかりませんでした。');
    await recordCaseStudyAccess({
      userId: req.user!.id,
      caseStudyId: caseStudy._id,
      what: 'diff',
      versionNumber: to,
      fromVersionNumber: from,
    });
    const olderTexts = new Map(Object.entries(older.sections));
    const newerTexts = new Map(Object.entries(newer.sections));
    res.render('case-studies/diff', {
      title: `事例検討レポート 第${from}版と第${to}版の違い`,
      program: catalog.program(caseStudy.programId),
      caseStudy,
      from,
      to,
      diffs: diffVersions(
        sectionsFor(caseStudy.programId, new Set([...olderTexts.keys(), ...newerTexts.keys()])),
        olderTexts,
        newerTexts,
      ),
      versions: await listVersions(caseStudy._id),
    });
  });

  router.get('/:id/files/:fileId', requireAuth, async (req, res) => {
    const caseStudy = await readableCaseStudy(req);
    const fileId = String(req.params.fileId);
    if (!/^[0-9a-f]{24}$/i.test(fileId)) throw notFound();
    const oid = new Types.ObjectId(fileId);
    const inDraft = caseStudy.draft.attachments.find((a) => a.fileId.equals(oid));
    const attachment =
      inDraft ??
      (
        await CaseStudyVersion.findOne(
          { caseStudyId: caseStudy._id, 'attachments.fileId': oid },
          { attachments: 1 },
        ).lean()
      )?.attachments.find((a) => a.fileId.equals(oid));
    if (!attachment) throw notFound('お探しのファイルは見つかりませんでした。');
    if (caseStudy.filesDeletedAt || !(await attachmentExists(oid))) {
      throw notFound('このファイルは保存期間を過ぎたため削除されました。');
    }
    await recordCaseStudyAccess({
      userId: req.user!.id,
      caseStudyId: caseStudy._id,
      what: 'file',
      fileId: oid,
      fileName: attachment.name,
    });
    res.setHeader('content-type', attachment.mime);
    res.setHeader('content-length', String(attachment.size));
    res.setHeader('content-disposition', contentDisposition(attachment.name));
    res.setHeader('x-content-type-options', 'nosniff');
    const stream = openAttachment(oid);
    stream.on('error', (error) => {
      if (!res.headersSent) res.status(500);
      res.destroy(error);
    });
    stream.pipe(res);
  });

  return router;
}

/** /admin/case-study-access: who opened which case study, for administrators. */
export function caseStudyAccessLogRouter(): Router {
  const router = Router();
  router.get('/', requirePermission('caseStudy.accessLog'), async (req, res) => {
    authorize(req.user, 'caseStudy.accessLog', undefined);
    const result = await listCaseStudyAccess(pageFrom(req.query.page));
    res.render('case-studies/access-log', {
      title: '事例検討の閲覧記録',
      result,
      formatDateTime,
      pageLink: (n: number) => pageLink('/admin/case-study-access', {}, n),
    });
  });
  return router;
}
