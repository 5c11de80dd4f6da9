import { expect } from 'chai';
import { Types } from 'mongoose';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { CaseStudy } from '../../src/case-studies/case-study.model.js';
import {
  onProgramCompleted,
  type ProgramCompletedEvent,
} from '../../src/learning/program-completion.js';
import { Notification } from '../../src/notifications/notification.model.js';
import { Organisation } from '../../src/organisations/organisation.model.js';
import { ReviewRound } from '../../src/reviews/review-round.model.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';
import { completeModule, realCatalog } from '../learning/helpers.js';
import {
  PAGE,
  PROGRAM,
  caseSections,
  completeTexts,
  filler,
  postForm,
} from '../case-studies/helpers.js';
import { allLevels, openReview, postFeedback, reviewUrl } from './helpers.js';

/**
 * The "done when", through HTTP: a case is submitted, goes to the right region's
 * least-loaded supervisor outside the trainee's organisation, is sent back with rubric levels and
 * anchored comments, answered and revised, the earlier comments are marked addressed, it is
 * approved and the program completes; the trainee never sees an undecided round.
 */
describe('supervisor review: allocation → feedback → revision → approval', () => {
  let t: TestApp;
  let trainee: SignedIn;
  let traineeId: string;
  let free: SignedIn;
  let freeId: string;
  let busy: SignedIn;
  let sameOrg: SignedIn;
  let caseStudyId: string;
  const completions: ProgramCompletedEvent[] = [];
  let stopListening: () => void;

  before(async () => {
    t = await createTestApp();
    stopListening = onProgramCompleted((event) => {
      completions.push(event);
    });
    const nagano = await buildMunicipality('長野市');
    await buildMunicipality('須坂市'); // 長野 region too
    const organisation = await Organisation.create({
      name: '長野市 生活支援課',
      sector: '行政',
      municipalityId: nagano._id,
    });
    const other = await Organisation.create({
      name: '長野市 保健所',
      sector: '行政',
      municipalityId: nagano._id,
    });
    const person = async (
      roles: ('trainee' | 'supervisor')[],
      municipality: string,
      organisationId: Types.ObjectId | null,
    ) => {
      const { user, password } = await buildUser({ roles, municipality });
      await User.updateOne({ _id: user._id }, { $set: { organisationId } });
      return { id: String(user._id), session: await signIn(t.app, user, password) };
    };
    const me = await person(['trainee'], '長野市', organisation._id);
    trainee = me.session;
    traineeId = me.id;
    // Same organisation as the trainee, no open cases: avoided while another is available.
    sameOrg = (await person(['supervisor'], '長野市', organisation._id)).session;
    // Another organisation, but one open case already.
    const busyOne = await person(['supervisor'], '長野市', other._id);
    busy = busyOne.session;
    const { user: someone } = await buildUser({ municipality: '長野市' });
    await CaseStudy.create({
      userId: someone._id,
      programId: PROGRAM,
      state: 'submitted',
      versionCount: 1,
      submittedAt: new Date(),
      assignedSupervisorIds: [new Types.ObjectId(busyOne.id)],
    });
    // The expected one: 長野 region (須坂市), no open case, no organisation.
    const freeOne = await person(['supervisor'], '須坂市', null);
    free = freeOne.session;
    freeId = freeOne.id;
    // Another region: never chosen for a 長野市 trainee.
    await person(['supervisor'], '松本市', null);
  });
  after(async () => {
    stopListening();
    await t.close();
  });

  it('assigns the submitted case to the least-loaded supervisor of the region outside the trainee’s organisation', async () => {
    await postForm(trainee, { texts: await completeTexts(), action: 'submit' }, 303);
    const doc = await CaseStudy.findOne({ userId: new Types.ObjectId(traineeId) });
    expect(doc!.state).to.equal('submitted');
    expect(doc!.assignedSupervisorIds.map(String)).to.deep.equal([freeId]);
    caseStudyId = String(doc!._id);
    const audit = await AuditEvent.findOne({ action: 'review.assigned', targetId: doc!._id });
    expect(audit?.details).to.include({ supervisorId: freeId, version: 1 });
  });

  it('lists it in the supervisor’s queue with the trainee, version, date and days waiting', async () => {
    const res = await free.get('/review').expect(200);
    const trainee = await User.findById(traineeId);
    expect(res.text).to.contain(trainee!.name);
    expect(res.text).to.contain('保健師');
    expect(res.text).to.contain('長野市（長野）');
    expect(res.text).to.contain('第1版');
    expect(res.text).to.contain('0日');
    expect(res.text).to.contain(`href="/review/${caseStudyId}"`);
    const other = await busy.get('/review').expect(200);
    expect(other.text).not.to.contain(`/review/${caseStudyId}`);
  });

  it('answers 404 to supervisors who are not assigned, for the page and for a decision', async () => {
    for (const session of [busy, sameOrg]) {
      await session.get(reviewUrl(caseStudyId)).expect(404);
      await session
        .post(reviewUrl(caseStudyId), {
          revision: '0',
          versionNumber: '1',
          action: 'decide',
          decision: 'approved',
        })
        .expect(404);
    }
    expect((await CaseStudy.findById(caseStudyId))!.state).to.equal('submitted');
  });

  it('keeps a feedback draft that the trainee cannot see', async () => {
    const sections = await caseSections();
    await postFeedback(
      free,
      caseStudyId,
      {
        action: 'save',
        comments: [{ sectionId: sections[0].id, text: 'まだ下書きのコメントです。' }],
        levels: { assessment: '概ね適切' },
      },
      303,
    );
    expect((await CaseStudy.findById(caseStudyId))!.state).to.equal('in_review');
    const page = await openReview(free, caseStudyId);
    expect(page.html).to.contain('まだ下書きのコメントです。');
    const mine = await trainee.get(PAGE).expect(200);
    expect(mine.text).not.to.contain('まだ下書きのコメントです。');
    expect(mine.text).not.to.contain('スーパーバイザーからのフィードバック');
  });

  it('refuses an approval with a criterion left without a level, naming it', async () => {
    const levels = await allLevels();
    delete levels['family-perspective'];
    const res = await postFeedback(
      free,
      caseStudyId,
      { action: 'decide', decision: 'approved', levels },
      422,
    );
    expect(res.text).to.contain('承認するには「家族支援の視点」の評価を選んでください。');
    expect((await CaseStudy.findById(caseStudyId))!.state).to.equal('in_review');
  });

  it('refuses a comment anchored to a section that does not exist, keeping the input', async () => {
    const res = await postFeedback(
      free,
      caseStudyId,
      { action: 'save', comments: [{ sectionId: 'no-such-section', text: 'どこの欄？' }] },
      422,
    );
    expect(res.text).to.contain('コメントの対象の欄を一覧から選んでください。');
    expect(res.text).to.contain('どこの欄？');
    const round = await ReviewRound.findOne({ caseStudyId: new Types.ObjectId(caseStudyId) });
    expect(round!.comments.map((c) => c.text)).to.deep.equal(['まだ下書きのコメントです。']);
  });

  it('sends the case back with rubric levels and anchored comments; a second click records nothing more', async () => {
    const sections = await caseSections();
    const texts = await completeTexts();
    const quote = texts[sections[1].id].slice(0, 10);
    const levels = await allLevels('要再考');
    const page = await openReview(free, caseStudyId);
    const form = {
      action: 'decide' as const,
      decision: 'revision_requested' as const,
      levels,
      overall: '全体として丁寧です。家族の視点を加えてください。',
      comments: [
        { sectionId: sections[1].id, quote, text: '紹介の経緯をもう少し詳しく。' },
        { sectionId: sections[2].id, text: '家族の負担に触れてください。' },
      ],
      revision: page.revision,
      versionNumber: page.versionNumber,
    };
    await postFeedback(free, caseStudyId, form, 303);
    // Another tab with the same page sends the same decision again.
    const again = await postFeedback(free, caseStudyId, form, 303);
    expect(again.headers.location).to.equal(reviewUrl(caseStudyId));
    const doc = await CaseStudy.findById(caseStudyId);
    expect(doc!.state).to.equal('revision_requested');
    const decided = await AuditEvent.find({ action: 'review.decided', targetId: doc!._id });
    expect(decided).to.have.length(1);
    expect(decided[0].details).to.include({ round: 1, decision: 'revision_requested' });
    const round = await ReviewRound.findOne({ caseStudyId: doc!._id, versionNumber: 1 });
    expect(round!.state).to.equal('decided');
    expect(round!.comments.map((c) => c.sectionId)).to.deep.equal([sections[1].id, sections[2].id]);
    expect(round!.comments[0].quote).to.equal(quote);
  });

  it('shows the trainee the released round: levels, comments by section, overall comment', async () => {
    const res = await trainee.get(PAGE).expect(200);
    expect(res.text).to.contain('スーパーバイザーからのフィードバック');
    expect(res.text).to.contain('修正依頼');
    expect(res.text).to.contain('紹介の経緯をもう少し詳しく。');
    expect(res.text).to.contain('家族の負担に触れてください。');
    expect(res.text).to.contain('全体として丁寧です。家族の視点を加えてください。');
    expect(res.text).to.contain('要再考');
    expect(res.text).not.to.contain('まだ下書きのコメントです。');
    expect(res.text).to.contain(`action="/review/${caseStudyId}/answers"`);
  });

  it('refuses an answer over 5,000 characters: nothing saved, every answer kept, the message beside it', async () => {
    const round = await ReviewRound.findOne({ caseStudyId: new Types.ObjectId(caseStudyId) });
    const [first, second] = round!.comments;
    const tooLong = '𠮷'.repeat(5000) + 'あ'; // 5,001 characters, 10,001 UTF-16 units
    await trainee
      .post(`/review/${caseStudyId}/answers`, {
        [`answer:${String(first._id)}`]: tooLong,
        [`answer:${String(second._id)}`]: '短い回答です。',
      })
      .expect(303);
    const unchanged = await ReviewRound.findById(round!._id);
    expect(unchanged!.comments.map((c) => c.answer ?? '')).to.deep.equal(['', '']);

    const page = await trainee.get(PAGE).expect(200);
    expect(page.text).to.contain('5,000文字以内で書いてください（いまは5,001文字です）。');
    expect(page.text).to.contain(tooLong);
    expect(page.text).to.contain('短い回答です。');
    expect(page.text).to.contain(`aria-describedby="answer-${String(first._id)}-error"`);
    // Shown once: the next visit shows the stored (empty) answers again.
    const again = await trainee.get(PAGE).expect(200);
    expect(again.text).not.to.contain('短い回答です。');

    // Exactly 5,000 characters outside the basic plane is within the limit and stored whole.
    const longest = '𠮷'.repeat(5000);
    await trainee
      .post(`/review/${caseStudyId}/answers`, { [`answer:${String(first._id)}`]: longest })
      .expect(303);
    const saved = await ReviewRound.findById(round!._id);
    expect(saved!.comments[0].answer).to.equal(longest);
  });

  it('lets the trainee answer each comment, revise and resubmit; the case returns to the same supervisor', async () => {
    const round = await ReviewRound.findOne({ caseStudyId: new Types.ObjectId(caseStudyId) });
    const [first, second] = round!.comments;
    await trainee
      .post(`/review/${caseStudyId}/answers`, {
        [`answer:${String(first._id)}`]: '紹介の経緯を書き足しました。',
        [`answer:${String(second._id)}`]: '家族の負担の段落を加えました。',
      })
      .expect(303);
    const answered = await ReviewRound.findById(round!._id);
    expect(answered!.comments.map((c) => c.answer)).to.deep.equal([
      '紹介の経緯を書き足しました。',
      '家族の負担の段落を加えました。',
    ]);
    // Someone else cannot answer for the trainee.
    await busy.post(`/review/${caseStudyId}/answers`, {}).expect(404);

    const sections = await caseSections();
    const texts = await completeTexts();
    texts[sections[1].id] += '母親から電話で相談があり、その後訪問につながった。';
    await postForm(trainee, { texts, action: 'submit' }, 303);
    const doc = await CaseStudy.findById(caseStudyId);
    expect(doc!.state).to.equal('resubmitted');
    expect(doc!.versionCount).to.equal(2);
    expect(doc!.assignedSupervisorIds.map(String)).to.deep.equal([freeId]);
  });

  it('shows the supervisor the previous round, the answers and the changes since version 1', async () => {
    const { html } = await openReview(free, caseStudyId);
    expect(html).to.contain('前回（第1版）のフィードバック');
    expect(html).to.contain('紹介の経緯をもう少し詳しく。');
    expect(html).to.contain('紹介の経緯を書き足しました。');
    expect(html).to.contain('第1版からの変更');
    expect(html).to.contain('<ins>母親から電話で相談があり、その後訪問につながった。</ins>');
  });

  it('requires every earlier comment to be marked before deciding', async () => {
    const res = await postFeedback(
      free,
      caseStudyId,
      { action: 'decide', decision: 'approved', levels: await allLevels() },
      422,
    );
    expect(res.text).to.contain('前回のコメントに対応できているかを選んでください。');
    expect((await CaseStudy.findById(caseStudyId))!.state).to.equal('resubmitted');
  });

  it('approves with the earlier comments marked addressed; the program is then complete', async () => {
    const catalog = await realCatalog();
    for (const module of catalog.program(PROGRAM)!.modules) {
      await completeModule(
        trainee,
        module.id,
        module.lessons.map((l) => l.id),
      );
    }
    const before = await trainee.get(`/learn/${PROGRAM}`).expect(200);
    expect(before.text).not.to.contain('すべての課程を修了しました');

    const earlier = await ReviewRound.findOne({
      caseStudyId: new Types.ObjectId(caseStudyId),
      versionNumber: 1,
    });
    const addressed = Object.fromEntries(
      earlier!.comments.map((c) => [String(c._id), 'yes' as const]),
    );
    await postFeedback(
      free,
      caseStudyId,
      { action: 'decide', decision: 'approved', levels: await allLevels(), addressed },
      303,
    );
    const doc = await CaseStudy.findById(caseStudyId);
    expect(doc!.state).to.equal('approved');
    const decisions = await AuditEvent.find({ action: 'review.decided', targetId: doc!._id }).sort({
      at: 1,
    });
    expect(decisions.map((d) => d.details as unknown)).to.deep.equal([
      { round: 1, decision: 'revision_requested' },
      { round: 2, decision: 'approved' },
    ]);
    expect(completions).to.have.length(1);
    expect(completions[0]).to.include({ userId: traineeId, programId: PROGRAM });

    const overview = await trainee.get(`/learn/${PROGRAM}`).expect(200);
    expect(overview.text).to.contain('すべての課程を修了しました');
    const page = await trainee.get(PAGE).expect(200);
    expect(page.text).to.contain('承認');
    expect(page.text).to.contain('対応済み');
    expect(page.text).not.to.contain(`action="/review/${caseStudyId}/answers"`);
    // The released round is frozen: the supervisor sees it, without a form.
    const review = await openReview(free, caseStudyId);
    expect(review.html).to.contain('確認結果は記録済み');
    expect(review.revision).to.equal('');
  });

  it('notifies both sides in-app and by mail', async () => {
    const toSupervisor = await Notification.find({ userId: new Types.ObjectId(freeId) }).lean();
    expect(toSupervisor.map((n) => n.kind)).to.include.members([
      'case_study.assigned',
      'case_study.resubmitted',
    ]);
    expect(toSupervisor.every((n) => n.link === `/review/${caseStudyId}`)).to.equal(true);
    const toTrainee = await Notification.find({ userId: new Types.ObjectId(traineeId) }).lean();
    expect(toTrainee.map((n) => n.kind)).to.include.members([
      'case_study.feedback_released',
      'case_study.approved',
    ]);
    const { readOutbox } = await import('../helpers/auth.js');
    const mails = await readOutbox(t.config);
    const trainee = await User.findById(traineeId);
    const supervisor = await User.findById(freeId);
    expect(mails.some((m) => m.to.includes(trainee!.email))).to.equal(true);
    expect(mails.some((m) => m.to.includes(supervisor!.email))).to.equal(true);
    // Mails carry a link only, no case content.
    expect(mails.map((m) => m.text).join('\n')).not.to.contain('紹介の経緯をもう少し詳しく。');
    expect(mails.map((m) => m.text).join('\n')).not.to.contain(filler(10).slice(0, 10));
  });
});
