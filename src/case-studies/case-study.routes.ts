import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { requireAuth } from '../auth/middleware.js';
import { authorize, can } from '../auth/policy.js';
import type { Config } from '../config.js';
import type { Catalog, Program } from '../courses/catalog.types.js';
import { csrf } from '../http/session.js';
import { notFound } from '../lib/errors.js';
import { formatDateTime, formatTime } from '../lib/dates.js';
import { countCharacters } from '../lib/text.js';
import { recordCaseStudyAccess } from './access-log.service.js';
import {
  ACCEPTED_TYPES_TEXT,
  checkAttachmentType,
  displayName,
  storeAttachment,
} from './attachments.js';
import {
  CASE_STUDY_STATE_LABELS,
  type AttachmentAttrs,
  type CaseStudyDocument,
} from './case-study.model.js';
import {
  MAX_SECTION_CHARACTERS,
  addAttachments,
  draftTexts,
  findOpenCaseStudy,
  listVersions,
  listWithdrawn,
  loadCaseStudyFeedback,
  overlongSections,
  removeAttachment,
  saveDraft,
  sectionTexts,
  submitCaseStudy,
  withdrawCaseStudy,
} from './case-study.service.js';
import type { PlacedFinding } from './findings.js';
import { caseStudyBodyReader, readJsonBody, type UploadProblem } from './upload.js';

const MESSAGES = {
  textTooLarge: `入力された文章が長すぎるため、受け付けられませんでした。1つの欄に書けるのは${MAX_SECTION_CHARACTERS.toLocaleString('ja-JP')}文字までです。`,
  conflict:
    '別の画面（タブ）で、この下書きがより新しい内容で保存されています。この画面の内容はまだ保存されていません。新しい内容を確認するにはページを読み込み直してください。この画面の内容で上書きする場合は、もう一度「下書きを保存」を押してください。',
  notEditable: 'この事例検討レポートは提出済みのため、いまは編集できません。',
  notSaved: '入力した文章はこの画面に残っています（まだ保存されていません）。',
};

const uploadMessage = (problem: UploadProblem, maxMb: number, maxFiles: number): string => {
  switch (problem.kind) {
    case 'text_too_large':
      return MESSAGES.textTooLarge;
    case 'file_too_large':
      return `「${displayName(problem.fileName)}」は大きすぎるため添付できません。1つのファイルは${maxMb}MBまでです。`;
    case 'too_many_files':
      return `添付できるファイルは${maxFiles}個までです。`;
    case 'malformed':
      return '送信された内容を読み取れませんでした。もう一度お試しください。';
  }
};

const sectionField = (id: string) => `section:${id}`;

interface PageState {
  caseStudy: CaseStudyDocument | null;
  /** Texts to show (what was posted, when the page comes back with a message). */
  texts?: Map<string, string>;
  /** Revision to post next (after a conflict: the newer one, so saving again overwrites). */
  revision?: number;
  sectionErrors?: Map<string, string>;
  messages?: string[];
  findings?: PlacedFinding[];
  confirmed?: ReadonlySet<string>;
  status?: number;
}

function programWithCaseStudy(catalog: Catalog, req: Request): Program {
  const program = catalog.program((req.params as { program: string }).program);
  if (!program?.caseStudy) throw notFound('お探しの事例検討レポートは見つかりませんでした。');
  return program;
}

function asStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

const autosaveSchema = z.object({
  revision: z.number().int().min(0),
  sections: z.record(z.string(), z.string()),
});

/**
 * The trainee's case study: /learn/:program/case-study (the page and its form, multipart),
 * …/draft (autosave, JSON) and …/withdraw. Mounted at /learn before the learning router.
 */
export function caseStudyRouter(config: Config, catalog: Catalog): Router {
  const router = Router();
  const { attachmentMaxBytes, attachmentMaxFiles } = config.caseStudies;
  const maxMb = Math.round(attachmentMaxBytes / (1024 * 1024));
  const readBody = caseStudyBodyReader({
    maxFileBytes: attachmentMaxBytes,
    maxFiles: attachmentMaxFiles,
  });

  async function render(req: Request, res: Response, program: Program, state: PageState) {
    const assignment = program.caseStudy!;
    const caseStudy = state.caseStudy;
    const stored = caseStudy ? draftTexts(caseStudy) : new Map<string, string>();
    const texts = state.texts ?? stored;
    const [versions, withdrawn, feedback] = await Promise.all([
      caseStudy ? listVersions(caseStudy._id) : Promise.resolve([]),
      listWithdrawn(req.user!.id, program.id),
      loadCaseStudyFeedback(caseStudy, program),
    ]);
    if (caseStudy) {
      await recordCaseStudyAccess({
        userId: req.user!.id,
        caseStudyId: caseStudy._id,
        what: 'draft',
      });
    }
    const editable = !caseStudy || can(req.user, 'caseStudy.write', caseStudy);
    res.status(state.status ?? 200).render('case-studies/show', {
      title: assignment.title,
      program,
      assignment,
      caseStudy,
      stateLabel: caseStudy ? CASE_STUDY_STATE_LABELS[caseStudy.state] : '未着手',
      editable,
      withdrawable: !!caseStudy && can(req.user, 'caseStudy.withdraw', caseStudy),
      revision: state.revision ?? caseStudy?.draft.revision ?? 0,
      savedAt: caseStudy?.draft.savedAt ?? null,
      sections: assignment.sections.map((section) => {
        const text = texts.get(section.id) ?? stored.get(section.id) ?? '';
        return {
          ...section,
          field: sectionField(section.id),
          text,
          count: countCharacters(text),
          error: state.sectionErrors?.get(section.id) ?? null,
          findings: (state.findings ?? []).filter((f) => f.sectionId === section.id),
        };
      }),
      attachments: caseStudy?.draft.attachments ?? [],
      attachmentFindings: (state.findings ?? []).filter((f) => f.sectionId === 'attachment'),
      findings: state.findings ?? [],
      confirmed: state.confirmed ?? new Set<string>(),
      messages: state.messages ?? [],
      versions,
      withdrawn,
      feedback,
      maxFiles: attachmentMaxFiles,
      maxMb,
      acceptedTypes: ACCEPTED_TYPES_TEXT,
      formatDateTime,
      formatTime,
      stateLabels: CASE_STUDY_STATE_LABELS,
      scripts: ['/public/js/case-study.js'],
    });
  }

  router.get('/:program/case-study', requireAuth, async (req, res) => {
    const program = programWithCaseStudy(catalog, req);
    const caseStudy = await findOpenCaseStudy(req.user!.id, program.id);
    if (caseStudy) authorize(req.user, 'caseStudy.read', caseStudy);
    await render(req, res, program, { caseStudy });
  });

  router.post('/:program/case-study', requireAuth, async (req, res, next) => {
    const problem = await readBody(req, res);
    // The app-wide CSRF check skips this route (its body is parsed here): check it now.
    if (!csrf.isRequestValid(req)) return next(csrf.invalidCsrfTokenError);
    const program = programWithCaseStudy(catalog, req);
    const user = req.user!;
    const body = (req.body ?? {}) as Record<string, unknown>;
    let caseStudy = await findOpenCaseStudy(user.id, program.id);
    if (caseStudy) authorize(req.user, 'caseStudy.read', caseStudy);
    if (caseStudy && !can(user, 'caseStudy.write', caseStudy)) {
      req.flash('error', MESSAGES.notEditable);
      return res.redirect(303, req.originalUrl);
    }
    const posted = sectionTexts(program, (id) => body[sectionField(id)]);
    const texts = new Map([...(caseStudy ? draftTexts(caseStudy) : []), ...posted]);
    const revision = Number(typeof body.revision === 'string' ? body.revision : NaN);
    const confirmed = new Set(asStrings(body.confirm));
    const again = (state: Omit<PageState, 'caseStudy' | 'texts' | 'confirmed'>) =>
      render(req, res, program, { caseStudy, texts, confirmed, ...state });

    if (problem) {
      return again({
        status:
          problem.kind === 'malformed'
            ? 400
            : problem.kind === 'text_too_large' || problem.kind === 'file_too_large'
              ? 413
              : 422,
        messages: [uploadMessage(problem, maxMb, attachmentMaxFiles), MESSAGES.notSaved],
      });
    }
    if (!Number.isInteger(revision) || revision < 0) {
      return again({ status: 400, messages: ['送信された内容に誤りがあります。'] });
    }
    const overlong = overlongSections(posted);
    if (overlong.size > 0) {
      const sectionErrors = new Map(
        [...overlong].map(([id, count]) => [
          id,
          `この欄は${MAX_SECTION_CHARACTERS.toLocaleString('ja-JP')}文字までです（現在${count.toLocaleString('ja-JP')}文字）。`,
        ]),
      );
      return again({ status: 422, sectionErrors, messages: [MESSAGES.notSaved] });
    }

    // Files: the type comes from the bytes; refused ones are named with the reason.
    const files = (req.files as Express.Multer.File[] | undefined) ?? [];
    const refusals: string[] = [];
    const accepted: { file: Express.Multer.File; type: { mime: string; ext: string } }[] = [];
    for (const file of files) {
      const check = await checkAttachmentType(file.buffer);
      if (check.ok) accepted.push({ file, type: check });
      else refusals.push(`「${displayName(file.originalname)}」は添付できません。${check.reason}`);
    }
    const already = caseStudy?.draft.attachments.length ?? 0;
    if (refusals.length === 0 && already + accepted.length > attachmentMaxFiles) {
      refusals.push(
        `添付できるファイルは${attachmentMaxFiles}個までです（すでに${already}個あります）。`,
      );
    }
    if (refusals.length > 0) {
      return again({ status: 422, messages: [...refusals, MESSAGES.notSaved] });
    }

    const saved = await saveDraft(user, program, revision, posted);
    if (saved.outcome === 'not_editable') {
      req.flash('error', MESSAGES.notEditable);
      return res.redirect(303, req.originalUrl);
    }
    if (saved.outcome === 'conflict') {
      caseStudy = saved.caseStudy;
      return again({
        status: 409,
        revision: saved.caseStudy?.draft.revision ?? 0,
        messages: [MESSAGES.conflict],
      });
    }
    caseStudy = saved.caseStudy;

    if (accepted.length > 0) {
      const stored: AttachmentAttrs[] = [];
      for (const { file, type } of accepted) {
        stored.push(
          await storeAttachment(caseStudy._id, file.buffer, type, displayName(file.originalname)),
        );
      }
      const withFiles = await addAttachments(caseStudy, stored, attachmentMaxFiles);
      if (!withFiles) {
        req.flash('error', `添付できるファイルは${attachmentMaxFiles}個までです。`);
        return res.redirect(303, req.originalUrl);
      }
      caseStudy = withFiles;
    }
    const remove = asStrings(body.remove)[0];
    if (remove) {
      const without = await removeAttachment(caseStudy, remove);
      if (without) {
        caseStudy = without;
        req.flash('info', '添付ファイルを削除しました。');
      }
    }

    if (body.action === 'submit') {
      const result = await submitCaseStudy(
        user,
        program,
        caseStudy,
        caseStudy.draft.revision,
        confirmed,
        req.ip,
      );
      switch (result.outcome) {
        case 'submitted':
          req.flash(
            'success',
            `第${result.versionNumber}版として提出しました。スーパーバイザーの確認をお待ちください。`,
          );
          return res.redirect(303, req.originalUrl);
        case 'too_short': {
          const titles = program.caseStudy!.sections.filter((s) => result.short.has(s.id));
          const sectionErrors = new Map(
            titles.map((s) => [
              s.id,
              `この欄は${s.minLength}文字以上必要です（現在${result.short.get(s.id)}文字）。`,
            ]),
          );
          return render(req, res, program, {
            caseStudy,
            confirmed,
            status: 422,
            sectionErrors,
            findings: result.findings,
            messages: [
              `まだ提出できません。次の欄が必要な文字数に達していません：${titles.map((s) => `「${s.title}」`).join('、')}。下書きは保存しました。`,
            ],
          });
        }
        case 'findings':
          return render(req, res, program, {
            caseStudy,
            confirmed,
            status: 422,
            findings: result.findings,
            messages: [
              '個人の特定につながるおそれのある記述が見つかりました。下の一覧を確認し、書き直すか、特定につながらないことを確認してチェックを入れてから、もう一度提出してください。下書きは保存しました。',
            ],
          });
        case 'conflict':
          req.flash('error', MESSAGES.conflict);
          return res.redirect(303, req.originalUrl);
        case 'not_editable':
          req.flash('info', 'この事例検討レポートはすでに提出されています。');
          return res.redirect(303, req.originalUrl);
      }
    }
    if (!remove) req.flash('success', `保存しました（${formatTime(caseStudy.draft.savedAt)}）`);
    res.redirect(303, req.originalUrl);
  });

  /** Autosave (public/js/case-study.js): JSON in, JSON out; never overwrites a newer save. */
  router.post('/:program/case-study/draft', requireAuth, async (req, res, next) => {
    // JSON from the page's script; a URL-encoded body is read too, and refused below as malformed.
    if (!(await readJsonBody(req, res))) {
      res.status(413).json({ error: { code: 'too_large', message: MESSAGES.textTooLarge } });
      return;
    }
    if (!csrf.isRequestValid(req)) return next(csrf.invalidCsrfTokenError);
    const program = programWithCaseStudy(catalog, req);
    const parsed = autosaveSchema.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({
        error: { code: 'bad_request', message: '送信された内容に誤りがあります。' },
      });
      return;
    }
    const existing = await findOpenCaseStudy(req.user!.id, program.id);
    if (existing) authorize(req.user, 'caseStudy.read', existing);
    const sections = parsed.data.sections;
    const texts = sectionTexts(program, (id) =>
      Object.hasOwn(sections, id) ? sections[id] : undefined,
    );
    const overlong = overlongSections(texts);
    if (overlong.size > 0) {
      res.status(422).json({
        error: {
          code: 'invalid_input',
          message: MESSAGES.textTooLarge,
          fields: Object.fromEntries([...overlong.keys()].map((id) => [id, MESSAGES.textTooLarge])),
        },
      });
      return;
    }
    const saved = await saveDraft(req.user!, program, parsed.data.revision, texts);
    if (saved.outcome === 'saved') {
      const savedAt = saved.caseStudy.draft.savedAt!;
      res.json({
        revision: saved.caseStudy.draft.revision,
        savedAt: savedAt.toISOString(),
        savedAtLabel: formatTime(savedAt),
      });
      return;
    }
    res.status(409).json({
      error: {
        code: saved.outcome,
        message:
          saved.outcome === 'conflict'
            ? '別の画面（タブ）でより新しい内容が保存されたため、この画面からは自動保存していません。入力した文章はこの画面に残っています。必要な部分を控えてから、ページを読み込み直してください。'
            : MESSAGES.notEditable,
      },
    });
  });

  router.post('/:program/case-study/withdraw', requireAuth, async (req, res) => {
    const program = programWithCaseStudy(catalog, req);
    const caseStudy = await findOpenCaseStudy(req.user!.id, program.id);
    if (!caseStudy) throw notFound('取り下げる事例検討レポートがありません。');
    authorize(req.user, 'caseStudy.withdraw', caseStudy);
    const done = await withdrawCaseStudy(req.user!, caseStudy, req.ip);
    req.flash(
      done ? 'success' : 'info',
      done
        ? '事例検討レポートを取り下げました。新しく書き始めることができます。'
        : 'この事例検討レポートは取り下げられません。',
    );
    res.redirect(303, `/learn/${program.id}/case-study`);
  });

  return router;
}
