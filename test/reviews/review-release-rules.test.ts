/**
 * The review's release rules called directly against the store (no HTTP): decide() records the
 * decision with one conditional write and only then moves the case study, releases the round and
 * tells the trainee; saveAnswers() writes the trainee's answers to the round that sent the case
 * back; decidedRounds() is all the trainee ever sees. Each test builds a case study of its own.
 * test/reviews/flow.test.ts walks the same through the pages.
 */
import { expect } from 'chai';
import { Types } from 'mongoose';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { CaseStudy, type CaseStudyDocument } from '../../src/case-studies/case-study.model.js';
import type { Program } from '../../src/courses/catalog.types.js';
import { LearnerProgress } from '../../src/learning/learner-progress.model.js';
import {
  onProgramCompleted,
  type ProgramCompletedEvent,
} from '../../src/learning/program-completion.js';
import { Notification } from '../../src/notifications/notification.model.js';
import { ReviewRound } from '../../src/reviews/review-round.model.js';
import {
  decide,
  decidedRounds,
  saveAnswers,
  saveFeedbackDraft,
  type FeedbackInput,
} from '../../src/reviews/review.service.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { buildUser } from '../helpers/factories.js';
import { PROGRAM, realCatalog } from '../learning/helpers.js';

function feedback(overrides: Partial<FeedbackInput> = {}): FeedbackInput {
  return {
    ratings: [{ criterionId: 'c1', level: '十分', comment: '具体的に書けています。' }],
    comments: [
      { sectionId: 's1', quote: '', text: '経過をもう少し詳しく書いてください。' },
      { sectionId: 's2', quote: '', text: '家族の思いにも触れてください。' },
    ],
    addressed: [],
    overallComment: '全体としてよくまとまっています。',
    ...overrides,
  };
}

describe('review release rules', () => {
  let t: TestApp;
  let program: Program;
  let supervisorId: string;
  const completions: ProgramCompletedEvent[] = [];
  let stopListening: () => void;

  before(async () => {
    t = await createTestApp();
    program = (await realCatalog()).program(PROGRAM)!;
    supervisorId = String((await buildUser({ roles: ['supervisor'] })).user._id);
    stopListening = onProgramCompleted((event) => {
      completions.push(event);
    });
  });
  after(async () => {
    stopListening();
    await t.close();
  });
  beforeEach(() => {
    completions.length = 0;
  });

  /** A case study of a new trainee, submitted `versions` times and now in `state`. */
  async function caseStudy(
    state: CaseStudyDocument['state'] = 'in_review',
    versions = 1,
  ): Promise<CaseStudyDocument> {
    const { user } = await buildUser();
    return CaseStudy.create({
      userId: user._id,
      programId: PROGRAM,
      municipalityId: user.municipalityId,
      regionId: user.regionId,
      state,
      versionCount: versions,
      assignedSupervisorIds: [new Types.ObjectId(supervisorId)],
    });
  }

  /** Every lesson of the program read and every quiz passed: only the case study is left. */
  async function finishModules(userId: Types.ObjectId): Promise<void> {
    const quizzes = Object.fromEntries(
      program.modules.filter((m) => m.quiz).map((m) => [m.quiz!.id, { passed: true, attempts: 1 }]),
    );
    await LearnerProgress.create({
      userId,
      programId: PROGRAM,
      readLessons: program.modules.flatMap((m) => m.lessons.map((l) => l.id)),
      quizzes,
    });
  }

  const stateOf = async (cs: CaseStudyDocument) => (await CaseStudy.findById(cs._id).lean())!;
  const roundsOf = (cs: CaseStudyDocument) =>
    ReviewRound.find({ caseStudyId: cs._id }).sort({ versionNumber: 1 }).lean();
  const notificationsOf = (cs: CaseStudyDocument) =>
    Notification.find({ userId: cs.userId }).lean();
  const decisionAudits = (cs: CaseStudyDocument) =>
    AuditEvent.find({ action: 'review.decided', targetId: cs._id }).lean();

  describe('decide()', () => {
    it('records a first decision without a draft: the round of the current version, decided, released', async () => {
      const cs = await caseStudy('submitted', 2);
      const before = Date.now();
      const outcome = await decide(
        cs,
        program,
        supervisorId,
        0,
        feedback(),
        'revision_requested',
        '192.0.2.7',
      );
      expect(outcome).to.equal('decided');
      const [round, ...others] = await roundsOf(cs);
      expect(others).to.have.length(0);
      expect(round).to.include({
        versionNumber: 2,
        state: 'decided',
        decision: 'revision_requested',
        revision: 1,
        overallComment: '全体としてよくまとまっています。',
      });
      expect(String(round.supervisorId)).to.equal(supervisorId);
      expect(round.ratings).to.deep.equal(feedback().ratings);
      expect(round.comments.map((c) => c.text)).to.deep.equal([
        '経過をもう少し詳しく書いてください。',
        '家族の思いにも触れてください。',
      ]);
      expect(round.decidedAt!.getTime()).to.be.within(before, Date.now());

      const moved = await stateOf(cs);
      expect(moved.state).to.equal('revision_requested');
      expect(moved.stateChangedAt.getTime()).to.equal(round.decidedAt!.getTime());
      expect(moved.approvedAt).to.equal(null);

      const [audit, ...moreAudits] = await decisionAudits(cs);
      expect(moreAudits).to.have.length(0);
      expect(audit).to.include({ targetType: 'CaseStudy', ip: '192.0.2.7' });
      expect(String(audit.actorId)).to.equal(supervisorId);
      expect(String(audit.municipalityId)).to.equal(String(cs.municipalityId));
      expect(audit.details).to.deep.equal({ round: 2, decision: 'revision_requested' });

      const notes = await notificationsOf(cs);
      expect(notes.map((n) => [n.kind, n.link])).to.deep.equal([
        ['case_study.feedback_released', `/learn/${PROGRAM}/case-study`],
      ]);
      expect(completions).to.have.length(0);
    });

    it('decides the draft at its revision: the same round, one revision further, draft fields replaced', async () => {
      const cs = await caseStudy('submitted');
      expect(
        await saveFeedbackDraft(cs, supervisorId, 0, feedback({ overallComment: '下書き' })),
      ).to.equal('saved');
      expect((await stateOf(cs)).state).to.equal('in_review');
      const [draft] = await roundsOf(cs);
      expect(draft).to.include({ state: 'draft', revision: 1, decision: null, decidedAt: null });

      const outcome = await decide(cs, program, supervisorId, 1, feedback(), 'approved');
      expect(outcome).to.equal('decided');
      const [round, ...others] = await roundsOf(cs);
      expect(others).to.have.length(0);
      expect(String(round._id)).to.equal(String(draft._id));
      expect(round).to.include({
        state: 'decided',
        decision: 'approved',
        revision: 2,
        overallComment: '全体としてよくまとまっています。',
      });
      const approved = await stateOf(cs);
      expect(approved.state).to.equal('approved');
      expect(approved.approvedAt!.getTime()).to.equal(round.decidedAt!.getTime());
      const [audit] = await decisionAudits(cs);
      expect(audit.ip).to.equal(null);
      expect(audit.details).to.deep.equal({ round: 1, decision: 'approved' });
      const approval = await AuditEvent.findOne({
        action: 'case_study.approved',
        targetId: cs._id,
      }).lean();
      expect(String(approval!.actorId)).to.equal(supervisorId);
      const notes = await notificationsOf(cs);
      expect(notes.map((n) => [n.kind, n.link])).to.deep.equal([
        ['case_study.approved', `/learn/${PROGRAM}/case-study`],
      ]);
    });

    it('records nothing more on a second decision: already decided, whichever revision it names', async () => {
      const cs = await caseStudy();
      expect(await decide(cs, program, supervisorId, 0, feedback(), 'revision_requested')).to.equal(
        'decided',
      );
      const [first] = await roundsOf(cs);
      // A second tab that never saw the round, and one that names its revision.
      expect(await decide(cs, program, supervisorId, 0, feedback(), 'approved')).to.equal(
        'already_decided',
      );
      expect(await decide(cs, program, supervisorId, 1, feedback(), 'approved')).to.equal(
        'already_decided',
      );
      const [round, ...others] = await roundsOf(cs);
      expect(others).to.have.length(0);
      expect(round).to.include({ decision: 'revision_requested', revision: first.revision });
      expect((await stateOf(cs)).state).to.equal('revision_requested');
      expect(await decisionAudits(cs)).to.have.length(1);
      expect(await notificationsOf(cs)).to.have.length(1);
    });

    it('answers conflict to a stale revision or to a tab that missed the draft, and leaves the draft', async () => {
      const cs = await caseStudy('submitted');
      await saveFeedbackDraft(cs, supervisorId, 0, feedback());
      await saveFeedbackDraft(cs, supervisorId, 1, feedback({ overallComment: '二回目' }));
      expect(await decide(cs, program, supervisorId, 1, feedback(), 'approved')).to.equal(
        'conflict',
      );
      expect(await decide(cs, program, supervisorId, 0, feedback(), 'approved')).to.equal(
        'conflict',
      );
      const [round, ...others] = await roundsOf(cs);
      expect(others).to.have.length(0);
      expect(round).to.include({ state: 'draft', revision: 2, overallComment: '二回目' });
      expect((await stateOf(cs)).state).to.equal('in_review');
      expect(await decisionAudits(cs)).to.have.length(0);
      expect(await notificationsOf(cs)).to.have.length(0);
    });

    it('decides only the round of the current version of this case study', async () => {
      // A draft left on version 1, the case since resubmitted as version 2.
      const cs = await caseStudy('resubmitted', 2);
      await ReviewRound.create({
        caseStudyId: cs._id,
        versionNumber: 1,
        supervisorId,
        state: 'draft',
        revision: 1,
      });
      // Another case study's draft at version 2, revision 1.
      const other = await caseStudy('in_review', 2);
      await ReviewRound.create({
        caseStudyId: other._id,
        versionNumber: 2,
        supervisorId,
        state: 'draft',
        revision: 1,
      });
      expect(await decide(cs, program, supervisorId, 1, feedback(), 'approved')).to.equal(
        'conflict',
      );
      expect((await roundsOf(cs)).map((r) => [r.versionNumber, r.state])).to.deep.equal([
        [1, 'draft'],
      ]);
      expect((await roundsOf(other)).map((r) => r.state)).to.deep.equal(['draft']);
      expect((await stateOf(cs)).state).to.equal('resubmitted');
      expect((await stateOf(other)).state).to.equal('in_review');
    });

    it('throws a failure other than a second round, recording nothing', async () => {
      const cs = await caseStudy();
      const invalid = feedback({ comments: [{ sectionId: 's1', quote: '', text: '' }] });
      let failure: unknown;
      try {
        await decide(cs, program, supervisorId, 0, invalid, 'approved');
      } catch (error) {
        failure = error;
      }
      expect(failure).to.be.instanceOf(Error);
      expect((failure as Error).name).to.equal('ValidationError');
      expect(await roundsOf(cs)).to.have.length(0);
      expect((await stateOf(cs)).state).to.equal('in_review');
    });

    for (const [decision, label] of [
      ['approved', 'an approval'],
      ['revision_requested', 'a request for revision'],
    ] as const) {
      it(`takes ${label} back on a withdrawn case: the round returns to a draft, nobody is told`, async () => {
        const cs = await caseStudy('withdrawn');
        await saveFeedbackDraft(cs, supervisorId, 0, feedback());
        expect(await decide(cs, program, supervisorId, 1, feedback(), decision)).to.equal('closed');
        const [round] = await roundsOf(cs);
        expect(round).to.include({ state: 'draft', decision: null, decidedAt: null });
        expect(await decidedRounds(cs._id)).to.have.length(0);
        expect((await stateOf(cs)).state).to.equal('withdrawn');
        expect(await decisionAudits(cs)).to.have.length(0);
        expect(await notificationsOf(cs)).to.have.length(0);
      });
    }

    it('completes the program when the approval was the last step, and only then', async () => {
      const done = await caseStudy();
      await finishModules(done.userId);
      expect(await decide(done, program, supervisorId, 0, feedback(), 'approved')).to.equal(
        'decided',
      );
      expect(completions.map((e) => [e.userId, e.programId])).to.deep.equal([
        [String(done.userId), PROGRAM],
      ]);

      completions.length = 0;
      const sentBack = await caseStudy();
      await finishModules(sentBack.userId);
      await decide(sentBack, program, supervisorId, 0, feedback(), 'revision_requested');
      const unfinished = await caseStudy();
      await decide(unfinished, program, supervisorId, 0, feedback(), 'approved');
      expect(completions).to.have.length(0);
    });

    it('never completes a program on a request for revision, even one that does not need the case study', async () => {
      const optional: Program = {
        ...program,
        completion: { ...program.completion, caseStudy: 'none' },
      };
      const cs = await caseStudy();
      await finishModules(cs.userId);
      await decide(cs, optional, supervisorId, 0, feedback(), 'revision_requested');
      expect(completions).to.have.length(0);
    });

    it('approves the case of a trainee whose account is gone, without a completion', async () => {
      const cs = await caseStudy();
      await User.deleteOne({ _id: cs.userId });
      expect(await decide(cs, program, supervisorId, 0, feedback(), 'approved')).to.equal(
        'decided',
      );
      expect((await stateOf(cs)).state).to.equal('approved');
      expect(completions).to.have.length(0);
    });
  });

  describe('saveAnswers()', () => {
    async function sentBack(): Promise<CaseStudyDocument> {
      const cs = await caseStudy();
      await decide(cs, program, supervisorId, 0, feedback(), 'revision_requested');
      return (await CaseStudy.findById(cs._id))!;
    }
    const commentsOf = async (cs: CaseStudyDocument) =>
      (await ReviewRound.findOne({ caseStudyId: cs._id }).lean())!.comments;

    it('writes each answer given to the round that sent the case back, with the time', async () => {
      const cs = await sentBack();
      const [first, second] = await commentsOf(cs);
      const before = Date.now();
      expect(await saveAnswers(cs, new Map([[String(first._id), '詳しく書き足しました。']]))).to.be
        .true;
      const [answered, untouched] = await commentsOf(cs);
      expect(answered.answer).to.equal('詳しく書き足しました。');
      expect(answered.answeredAt!.getTime()).to.be.within(before, Date.now());
      expect(untouched).to.include({ answer: '', answeredAt: null });
      expect(String(untouched._id)).to.equal(String(second._id));
    });

    it('keeps the time of an answer saved again unchanged, and clears it when the answer is emptied', async () => {
      const cs = await sentBack();
      const [first, second] = await commentsOf(cs);
      const a = String(first._id);
      const b = String(second._id);
      await saveAnswers(
        cs,
        new Map([
          [a, '一つ目の回答'],
          [b, '二つ目の回答'],
        ]),
      );
      const [saved] = await commentsOf(cs);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await saveAnswers(
        cs,
        new Map([
          [a, '一つ目の回答'],
          [b, ''],
        ]),
      );
      const [kept, emptied] = await commentsOf(cs);
      expect(kept.answer).to.equal('一つ目の回答');
      expect(kept.answeredAt!.getTime()).to.equal(saved.answeredAt!.getTime());
      expect(emptied).to.include({ answer: '', answeredAt: null });
    });

    it('refuses once the case has been resubmitted, or when the round approved it or is a draft', async () => {
      const resubmitted = await sentBack();
      await CaseStudy.updateOne({ _id: resubmitted._id }, { $set: { state: 'resubmitted' } });
      const [comment] = await commentsOf(resubmitted);
      const answer = new Map([[String(comment._id), '回答']]);
      expect(await saveAnswers((await CaseStudy.findById(resubmitted._id))!, answer)).to.be.false;
      expect((await commentsOf(resubmitted))[0].answer).to.equal('');

      // A case in revision_requested whose round is not a decided request for revision.
      for (const round of [
        { state: 'decided', decision: 'approved' },
        { state: 'draft', decision: null },
      ] as const) {
        const cs = await caseStudy('revision_requested');
        const created = await ReviewRound.create({
          caseStudyId: cs._id,
          versionNumber: 1,
          supervisorId,
          revision: 1,
          comments: [{ sectionId: 's1', text: '確認してください。' }],
          ...round,
        });
        const map = new Map([[String(created.comments[0]._id), '回答']]);
        expect(await saveAnswers(cs, map), round.state).to.be.false;
        expect((await commentsOf(cs))[0].answer).to.equal('');
      }
    });

    it('answers only the round of the current version', async () => {
      const cs = await caseStudy('revision_requested', 2);
      const old = await ReviewRound.create({
        caseStudyId: cs._id,
        versionNumber: 1,
        supervisorId,
        state: 'decided',
        decision: 'revision_requested',
        revision: 1,
        comments: [{ sectionId: 's1', text: '確認してください。' }],
      });
      const map = new Map([[String(old.comments[0]._id), '回答']]);
      expect(await saveAnswers(cs, map)).to.be.false;
      expect((await commentsOf(cs))[0].answer).to.equal('');
    });
  });

  describe('decidedRounds()', () => {
    it('lists the decided rounds of the case study, oldest first, never a draft or another case’s', async () => {
      const cs = await caseStudy('in_review', 3);
      const other = await caseStudy('in_review', 1);
      const round = (
        caseStudyId: Types.ObjectId,
        versionNumber: number,
        state: 'draft' | 'decided',
      ) =>
        ReviewRound.create({
          caseStudyId,
          versionNumber,
          supervisorId,
          state,
          decision: state === 'decided' ? 'revision_requested' : null,
          revision: 1,
        });
      await round(cs._id, 3, 'draft');
      await round(cs._id, 2, 'decided');
      await round(other._id, 1, 'decided');
      await round(cs._id, 1, 'decided');
      const rounds = await decidedRounds(cs._id);
      expect(rounds.map((r) => [String(r.caseStudyId), r.versionNumber])).to.deep.equal([
        [String(cs._id), 1],
        [String(cs._id), 2],
      ]);
    });
  });
});
