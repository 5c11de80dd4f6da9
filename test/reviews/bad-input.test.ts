import { expect } from 'chai';
import { Types } from 'mongoose';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { CaseStudy } from '../../src/case-studies/case-study.model.js';
import { ReviewRound } from '../../src/reviews/review-round.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';
import { PAGE, caseSections, completeTexts, postForm } from '../case-studies/helpers.js';
import { allLevels, openReview, postFeedback, reviewUrl } from './helpers.js';

describe('supervisor review: bad input', () => {
  let t: TestApp;
  let trainee: SignedIn;
  let supervisor: SignedIn;
  let caseStudyId: string;

  before(async () => {
    t = await createTestApp();
    const s = await buildUser({ roles: ['supervisor'], municipality: '長野市' });
    supervisor = await signIn(t.app, s.user, s.password);
    const u = await buildUser({ municipality: '長野市' });
    trainee = await signIn(t.app, u.user, u.password);
    await postForm(trainee, { texts: await completeTexts(), action: 'submit' }, 303);
    caseStudyId = String((await CaseStudy.findOne({ userId: u.user._id }))!._id);
  });
  after(async () => {
    await t.close();
  });

  it('refuses a quoted passage that is not in the section, and a decision without a choice', async () => {
    const sections = await caseSections();
    const res = await postFeedback(
      supervisor,
      caseStudyId,
      {
        action: 'decide',
        levels: await allLevels(),
        comments: [{ sectionId: sections[0].id, quote: '書かれていない文', text: 'ここを直して' }],
      },
      422,
    );
    expect(res.text).to.contain(`引用した文が「${sections[0].title}」の欄に見つかりません。`);
    expect(res.text).to.contain('確認の結果（修正を依頼する・承認する）を選んでください。');
    expect(res.text).to.contain('ここを直して');
    expect(await ReviewRound.countDocuments()).to.equal(0);
  });

  it('refuses a level that is not one of the rubric’s', async () => {
    const levels = { ...(await allLevels()), assessment: '大変よい' };
    const res = await postFeedback(
      supervisor,
      caseStudyId,
      { action: 'decide', decision: 'approved', levels },
      422,
    );
    expect(res.text).to.contain('「見立て」の評価を一覧から選んでください。');
    expect((await CaseStudy.findById(caseStudyId))!.state).to.equal('submitted');
  });

  it('sends a tab opened before a resubmission back to the page instead of saving into the new round', async () => {
    const res = await postFeedback(
      supervisor,
      caseStudyId,
      { action: 'save', revision: '0', versionNumber: '7', overall: '古い画面から' },
      303,
    );
    expect(res.headers.location).to.equal(reviewUrl(caseStudyId));
    expect(await ReviewRound.countDocuments()).to.equal(0);
  });

  it('records no decision on a case withdrawn while the supervisor was writing', async () => {
    const page = await openReview(supervisor, caseStudyId);
    await trainee.post(`${PAGE}/withdraw`).expect(303);
    await postFeedback(
      supervisor,
      caseStudyId,
      {
        action: 'decide',
        decision: 'approved',
        levels: await allLevels(),
        revision: page.revision,
        versionNumber: page.versionNumber,
      },
      303,
    );
    const doc = await CaseStudy.findById(caseStudyId);
    expect(doc!.state).to.equal('withdrawn');
    expect(await AuditEvent.countDocuments({ action: 'review.decided' })).to.equal(0);
    const round = await ReviewRound.findOne({ caseStudyId: new Types.ObjectId(caseStudyId) });
    expect(round?.state ?? 'draft').to.equal('draft');
  });
});
