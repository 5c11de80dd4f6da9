import { Router, type Request, type Response } from 'express';
import { requireAuth, requirePermission } from '../auth/middleware.js';
import { authorize } from '../auth/policy.js';
import { recordCaseStudyAccess } from '../case-studies/access-log.service.js';
import {
  CASE_STUDY_STATE_LABELS,
  type CaseStudyDocument,
} from '../case-studies/case-study.model.js';
import { findCaseStudy, loadVersion } from '../case-studies/case-study.service.js';
import { diffVersions } from '../case-studies/diff.js';
import type { Config } from '../config.js';
import type { Catalog, Program } from '../courses/catalog.types.js';
import { formatDateTime } from '../lib/dates.js';
import { notFound } from '../lib/errors.js';
import { countCharacters, exceedsCharacters } from '../lib/text.js';
import { Region } from '../organisations/region.model.js';
import { MAX_ANSWER_CHARACTERS, parseFeedback, type KeptFeedback } from './feedback-form.js';
import { roundView } from './feedback-view.js';
import { DECISION_LABELS, DECISIONS } from './review-round.model.js';
import {
  currentRound,
  decide,
  previousRound,
  saveAnswers,
  saveFeedbackDraft,
} from './review.service.js';
import { QUEUE_SORTS, QUEUE_STATES, supervisorQueue, type QueueSort } from './queue.service.js';

const first = (value: unknown) => (typeof value === 'string' ? value : '');

/** The supervisor's queue and review pages (/review), and the trainee's answers to comments. */
export function reviewRouter(config: Config, catalog: Catalog): Router {
  const router = Router();
  const overdueDays = config.review.overdueDays;

  router.get('/', requirePermission('review.queue'), async (req, res) => {
    const state = first(req.query.state);
    const sort = first(req.query.sort);
    const query = {
      state: (QUEUE_STATES as readonly string[]).includes(state) ? (state as never) : ('' as const),
      regionId: first(req.query.regionId),
      sort: (Object.hasOwn(QUEUE_SORTS, sort) ? sort : 'waiting') as QueueSort,
    };
    const [rows, regions] = await Promise.all([
      supervisorQueue(req.user!.id, query, overdueDays),
      Region.find({}, { name: 1 }).sort({ order: 1 }).lean(),
    ]);
    res.render('reviews/queue', {
      title: '事例検討レポートの確認',
      rows,
      query,
      overdueDays,
      stateOptions: QUEUE_STATES.map((s) => ({ value: s, label: CASE_STUDY_STATE_LABELS[s] })),
      regionOptions: regions.map((r) => ({ value: String(r._id), label: r.name })),
      sortOptions: Object.entries(QUEUE_SORTS).map(([value, label]) => ({ value, label })),
      formatDateTime,
    });
  });

  async function load(req: Request): Promise<{ caseStudy: CaseStudyDocument; program: Program }> {
    const caseStudy = await findCaseStudy((req.params as { id: string }).id);
    if (!caseStudy) throw notFound();
    authorize(req.user, 'review.decide', caseStudy);
    const program = catalog.program(caseStudy.programId);
    if (!program?.caseStudy || caseStudy.versionCount === 0) throw notFound();
    return { caseStudy, program };
  }

  async function render(
    req: Request,
    res: Response,
    caseStudy: CaseStudyDocument,
    program: Program,
    form: {
      kept?: KeptFeedback;
      errors?: Record<string, string>;
      status?: number;
      revision?: number;
    } = {},
  ) {
    const assignment = program.caseStudy!;
    const n = caseStudy.versionCount;
    const [version, older, round, previous] = await Promise.all([
      loadVersion(caseStudy._id, n),
      n > 1 ? loadVersion(caseStudy._id, n - 1) : Promise.resolve(null),
      currentRound(caseStudy),
      previousRound(caseStudy),
    ]);
    if (!version) throw notFound();
    await recordCaseStudyAccess({
      userId: req.user!.id,
      caseStudyId: caseStudy._id,
      what: 'version',
      versionNumber: n,
    });
    const texts = new Map(Object.entries(version.sections ?? {}));
    const diff = older
      ? diffVersions(assignment.sections, new Map(Object.entries(older.sections ?? {})), texts)
      : null;
    const earlierRound = previous ? roundView(assignment, previous, null) : null;
    const kept: KeptFeedback = form.kept ?? {
      levels: Object.fromEntries((round?.ratings ?? []).map((r) => [r.criterionId, r.level ?? ''])),
      ratingComments: Object.fromEntries(
        (round?.ratings ?? []).map((r) => [r.criterionId, r.comment]),
      ),
      comments: (round?.comments ?? []).map((c) => ({
        sectionId: c.sectionId,
        quote: c.quote,
        text: c.text,
      })),
      addressed: Object.fromEntries(
        (round?.addressed ?? []).map((a) => [String(a.commentId), a.addressed ? 'yes' : 'no']),
      ),
      overall: round?.overallComment ?? '',
      decision: round?.decision ?? '',
    };
    const decided = round?.state === 'decided';
    res.status(form.status ?? 200).render('reviews/review', {
      title: `${assignment.title} 第${n}版の確認`,
      caseStudy,
      program,
      assignment,
      stateLabel: CASE_STUDY_STATE_LABELS[caseStudy.state],
      version,
      sections: assignment.sections.map((s) => ({ ...s, text: texts.get(s.id) ?? '' })),
      diff,
      earlierRound,
      decided,
      decidedRound: decided ? roundView(assignment, round, previous) : null,
      revision: form.revision ?? round?.revision ?? 0,
      kept,
      errors: form.errors ?? {},
      blankComments: 3,
      decisions: DECISIONS.map((d) => ({ value: d, label: DECISION_LABELS[d] })),
      formatDateTime,
    });
  }

  router.get('/:id', requirePermission('review.queue'), async (req, res) => {
    const { caseStudy, program } = await load(req);
    await render(req, res, caseStudy, program);
  });

  router.post('/:id', requirePermission('review.queue'), async (req, res) => {
    const { caseStudy, program } = await load(req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const deciding = body.action === 'decide';
    const revision = Number(first(body.revision));
    const versionNumber = Number(first(body.versionNumber));
    const back = `/review/${String(caseStudy._id)}`;
    if (!Number.isInteger(revision) || revision < 0 || versionNumber !== caseStudy.versionCount) {
      req.flash(
        'error',
        'この画面を開いた後に新しい版が提出されました。内容を確認してからもう一度書いてください。',
      );
      return res.redirect(303, back);
    }
    const [version, previous] = await Promise.all([
      loadVersion(caseStudy._id, caseStudy.versionCount),
      previousRound(caseStudy),
    ]);
    const earlierIds =
      previous?.decision === 'revision_requested'
        ? previous.comments.map((c) => String(c._id))
        : [];
    const parsed = parseFeedback(
      body,
      program.caseStudy!,
      new Map(Object.entries(version?.sections ?? {})),
      earlierIds,
      deciding,
    );
    if (Object.keys(parsed.errors).length > 0) {
      return render(req, res, caseStudy, program, {
        kept: parsed.kept,
        errors: parsed.errors,
        status: 422,
        revision,
      });
    }
    if (!deciding) {
      const outcome = await saveFeedbackDraft(caseStudy, req.user!.id, revision, parsed.input);
      if (outcome === 'conflict') {
        return render(req, res, caseStudy, program, {
          kept: parsed.kept,
          errors: {
            _form:
              '別の画面（タブ）で、このフィードバックがより新しい内容で保存されています。この画面の内容はまだ保存されていません。',
          },
          status: 409,
          revision: (await currentRound(caseStudy))?.revision ?? revision,
        });
      }
      req.flash(
        outcome === 'saved' ? 'success' : 'info',
        outcome === 'saved'
          ? 'フィードバックの下書きを保存しました。研修生にはまだ見えません。'
          : 'この版の確認結果はすでに記録されています。',
      );
      return res.redirect(303, back);
    }
    const outcome = await decide(
      caseStudy,
      program,
      req.user!.id,
      revision,
      parsed.input,
      parsed.decision!,
      req.ip,
    );
    switch (outcome) {
      case 'decided':
        req.flash(
          'success',
          parsed.decision === 'approved'
            ? '承認しました。研修生に結果をお知らせしました。'
            : '修正を依頼しました。研修生にフィードバックをお知らせしました。',
        );
        return res.redirect(303, '/review');
      case 'already_decided':
        req.flash('info', 'この版の確認結果はすでに記録されています（二重に記録はしていません）。');
        return res.redirect(303, back);
      case 'closed':
        req.flash('info', 'この事例検討レポートは取り下げられたため、結果を記録できませんでした。');
        return res.redirect(303, '/review');
      case 'conflict':
        return render(req, res, caseStudy, program, {
          kept: parsed.kept,
          errors: {
            _form:
              '別の画面（タブ）で、このフィードバックがより新しい内容で保存されています。内容を確かめてから、もう一度送ってください。',
          },
          status: 409,
          revision: (await currentRound(caseStudy))?.revision ?? revision,
        });
    }
  });

  /** The trainee's answers to the comments of the round that sent the case back. */
  router.post('/:id/answers', requireAuth, async (req, res) => {
    const caseStudy = await findCaseStudy(String(req.params.id));
    if (!caseStudy) throw notFound();
    authorize(req.user, 'review.answer', caseStudy);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const answers = new Map<string, string>();
    const errors: Record<string, string> = {};
    for (const [key, value] of Object.entries(body)) {
      if (!key.startsWith('answer:') || typeof value !== 'string') continue;
      const commentId = key.slice('answer:'.length);
      const answer = value.replace(/\r\n?/g, '\n').trim();
      answers.set(commentId, answer);
      if (exceedsCharacters(answer, MAX_ANSWER_CHARACTERS))
        errors[commentId] =
          `${MAX_ANSWER_CHARACTERS.toLocaleString('ja-JP')}文字以内で書いてください（いまは${countCharacters(answer).toLocaleString('ja-JP')}文字です）。`;
    }
    const page = `/learn/${caseStudy.programId}/case-study`;
    if (Object.keys(errors).length > 0) {
      // Nothing is saved: every answer comes back as typed, with the message next to the long one.
      req.keepForm({
        id: `review-answers:${String(caseStudy._id)}`,
        values: Object.fromEntries(answers),
        errors,
      });
      req.flash(
        'error',
        '長すぎる回答があるため、保存していません。該当する回答を短くしてください。',
      );
      return res.redirect(303, `${page}#review-feedback-title`);
    }
    const saved = await saveAnswers(caseStudy, answers);
    req.flash(
      saved ? 'success' : 'info',
      saved
        ? 'コメントへの回答を保存しました。修正が済んだら、もう一度提出してください。'
        : '回答できる状態ではありません。',
    );
    res.redirect(303, page);
  });

  return router;
}
