import { Router, type Request, type Response } from 'express';
import { requirePermission } from '../auth/middleware.js';
import type { Catalog } from '../courses/catalog.types.js';
import { fieldErrors, keptInput, text } from '../lib/forms.js';
import { User, normaliseEmail } from '../users/user.model.js';
import { Certificate, VALID_CERTIFICATE } from './certificate.model.js';
import { certificateNameForm, manualIssueForm, revokeForm } from './certificate.schema.js';
import {
  AlreadyIssuedError,
  correctCertificateName,
  getCertificate,
  issueCertificate,
  revokeCertificate,
  summaryOf,
} from './certificate.service.js';
import { samplePdf, verificationUrl } from './certificate-file.js';
import { tokyoDay } from './dates.js';

const BASE = '/admin/certificates';
const ISSUE_FIELDS = ['email', 'programId', 'completedOn', 'reason'] as const;

/** The center administrators' certificate pages: issue by hand, revoke, correct, preview. */
export function certificatesAdminRouter(deps: { catalog: Catalog; baseUrl: string }): Router {
  const { catalog, baseUrl } = deps;
  const router = Router();
  const manage = requirePermission('certificate.manage');
  const programOptions = () => catalog.programs.map((p) => ({ value: p.id, label: p.title }));

  const renderIssueForm = (
    res: Response,
    values: Record<string, string>,
    errors: Record<string, string>,
    status = 200,
  ) =>
    res.status(status).render('certificates/new', {
      title: '修了証書の発行（手動）',
      values,
      errors,
      programOptions: programOptions(),
    });

  router.get(`${BASE}/new`, manage, (req, res) => {
    const values = keptInput({}, ISSUE_FIELDS);
    values.programId = catalog.programs.length === 1 ? catalog.programs[0].id : '';
    renderIssueForm(res, values, {});
  });

  router.post(BASE, manage, async (req, res) => {
    const values = keptInput(req.body, ISSUE_FIELDS);
    const parsed = manualIssueForm.safeParse(values);
    if (!parsed.success) return renderIssueForm(res, values, fieldErrors(parsed.error), 422);
    const program = catalog.program(parsed.data.programId);
    if (!program)
      return renderIssueForm(res, values, { programId: '研修を選択してください。' }, 422);
    const user = await User.findOne({ email: { $eq: normaliseEmail(parsed.data.email) } })
      .select({ _id: 1 })
      .lean();
    if (!user) {
      return renderIssueForm(
        res,
        values,
        { email: 'このメールアドレスの利用者は登録されていません。' },
        422,
      );
    }
    const held = await Certificate.findOne({
      ...VALID_CERTIFICATE,
      userId: { $eq: user._id },
      programId: { $eq: program.id },
    }).lean();
    if (held) return renderIssueForm(res, values, { programId: alreadyHeld(held.number) }, 422);
    try {
      const certificate = await issueCertificate({
        userId: String(user._id),
        program,
        completedAt: tokyoDay(parsed.data.completedOn)!,
        kind: 'manual',
        issuedBy: req.user!.id,
        reason: parsed.data.reason,
        ip: req.ip,
      });
      req.flash('success', `修了証書 ${certificate.number} を発行しました。`);
      res.redirect(303, `${BASE}/${String(certificate._id)}`);
    } catch (error) {
      if (!(error instanceof AlreadyIssuedError)) throw error;
      // Issued a moment ago by the completion of the program, or by another administrator.
      const now = await Certificate.findOne({
        ...VALID_CERTIFICATE,
        userId: { $eq: user._id },
        programId: { $eq: program.id },
      }).lean();
      renderIssueForm(res, values, { programId: alreadyHeld(now?.number ?? '') }, 422);
    }
  });

  router.get(`${BASE}/preview`, manage, (req, res) => {
    res.render('certificates/preview', {
      title: '修了証書の見本',
      values: {
        name: text(req.query.name, 200) || '𠮷野 髙橋',
        programId: text(req.query.programId, 100) || (catalog.programs[0]?.id ?? ''),
      },
      programOptions: programOptions(),
    });
  });

  router.get(`${BASE}/preview/pdf`, manage, async (req, res) => {
    const program = catalog.program(text(req.query.programId, 100)) ?? catalog.programs[0];
    const parsed = certificateNameForm.safeParse({ name: text(req.query.name, 400) });
    const name = parsed.success ? parsed.data.name : '𠮷野 髙橋';
    const pdf = await samplePdf(program, name, baseUrl);
    res.type('application/pdf').setHeader('content-disposition', 'inline; filename="sample.pdf"');
    res.send(pdf);
  });

  const renderShow = async (
    res: Response,
    id: string,
    state: { nameValue?: string; nameError?: string; reasonValue?: string; reasonError?: string },
    status = 200,
  ) => {
    const certificate = await getCertificate(id);
    const [holder, issuer, revoker] = await Promise.all(
      [certificate.userId, certificate.issuedBy, certificate.revokedBy].map((userId) =>
        userId ? User.findById(userId).select({ name: 1 }).lean().exec() : Promise.resolve(null),
      ),
    );
    res.status(status).render('certificates/show', {
      title: `修了証書 ${certificate.number}`,
      certificate: {
        ...summaryOf(certificate),
        issueReason: certificate.issueReason,
        revokeReason: certificate.revokeReason,
        verificationUrl: verificationUrl(baseUrl, certificate.verificationCode),
      },
      holderName: holder?.name ?? '',
      issuerName: issuer?.name ?? '',
      revokerName: revoker?.name ?? '',
      nameValue: state.nameValue ?? certificate.name,
      nameError: state.nameError ?? '',
      reasonValue: state.reasonValue ?? '',
      reasonError: state.reasonError ?? '',
    });
  };

  router.get(`${BASE}/:id`, manage, async (req, res) => {
    await renderShow(res, req.params.id as string, {});
  });

  router.post(`${BASE}/:id/revoke`, manage, async (req: Request, res) => {
    const id = req.params.id as string;
    const certificate = await getCertificate(id);
    const values = keptInput(req.body, ['reason']);
    const parsed = revokeForm.safeParse(values);
    if (!parsed.success) {
      const reasonError = fieldErrors(parsed.error).reason;
      return renderShow(res, id, { reasonValue: values.reason, reasonError }, 422);
    }
    const revoked = await revokeCertificate({
      certificate,
      actorId: req.user!.id,
      reason: parsed.data.reason,
      ip: req.ip,
    });
    req.flash(
      revoked ? 'success' : 'info',
      revoked
        ? `修了証書 ${certificate.number} を失効させました。`
        : 'この修了証書はすでに失効しています。',
    );
    res.redirect(303, `${BASE}/${id}`);
  });

  router.post(`${BASE}/:id/name`, manage, async (req, res) => {
    const id = req.params.id as string;
    const certificate = await getCertificate(id);
    const values = keptInput(req.body, ['name']);
    const parsed = certificateNameForm.safeParse(values);
    if (!parsed.success) {
      const nameError = fieldErrors(parsed.error).name;
      return renderShow(res, id, { nameValue: values.name, nameError }, 422);
    }
    const changed = await correctCertificateName({
      certificate,
      actorId: req.user!.id,
      name: parsed.data.name,
      ip: req.ip,
    });
    req.flash(
      changed ? 'success' : 'info',
      changed ? '氏名を訂正しました。番号は変わりません。' : '氏名は変わっていません。',
    );
    res.redirect(303, `${BASE}/${id}`);
  });

  return router;
}

function alreadyHeld(number: string): string {
  return `この利用者には、この研修の有効な修了証書がすでにあります${number ? `（${number}）` : ''}。新たに発行するには、先にその証書を失効させてください。`;
}
