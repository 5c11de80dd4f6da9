import { expect } from 'chai';
import { Types } from 'mongoose';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { CaseStudy, type CaseStudyState } from '../../src/case-studies/case-study.model.js';
import { Notification } from '../../src/notifications/notification.model.js';
import { Region } from '../../src/organisations/region.model.js';
import { SupervisorCoverage } from '../../src/reviews/coverage.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';
import { completeTexts, postForm } from '../case-studies/helpers.js';
import { reviewUrl } from './helpers.js';

describe('supervisor review: allocation by region, waiting cases and reassignment', () => {
  let t: TestApp;
  let admin: SignedIn;
  let iida: SignedIn;
  let iidaId: string;
  let matsumoto: SignedIn;
  let matsumotoId: string;
  let ueda: SignedIn;
  let uedaId: string;
  let caseStudyId: string;

  before(async () => {
    t = await createTestApp();
    await buildMunicipality('飯田市'); // 飯伊: no supervisor lives there
    const a = await buildUser({ roles: ['admin'] });
    admin = await signIn(t.app, a.user, a.password);
    const m = await buildUser({ roles: ['supervisor'], municipality: '松本市' });
    matsumoto = await signIn(t.app, m.user, m.password);
    matsumotoId = String(m.user._id);
    const u = await buildUser({ roles: ['supervisor'], municipality: '上田市' });
    ueda = await signIn(t.app, u.user, u.password);
    uedaId = String(u.user._id);
    const trainee = await buildUser({ municipality: '飯田市' });
    iida = await signIn(t.app, trainee.user, trainee.password);
    iidaId = String(trainee.user._id);
  });
  after(async () => {
    await t.close();
  });

  it('leaves a case from a region nobody covers unassigned, records it and lists it for administrators', async () => {
    await postForm(iida, { texts: await completeTexts(), action: 'submit' }, 303);
    const doc = await CaseStudy.findOne({ userId: new Types.ObjectId(iidaId) });
    expect(doc!.state).to.equal('submitted');
    expect(doc!.assignedSupervisorIds).to.have.length(0);
    caseStudyId = String(doc!._id);
    expect(
      await AuditEvent.countDocuments({ action: 'review.unassigned', targetId: doc!._id }),
    ).to.equal(1);
    const res = await admin.get('/admin/review').expect(200);
    expect(res.text).to.contain(`data-case-study="${caseStudyId}"`);
    expect(res.text).to.contain('担当者なし');
    // No supervisor may open it.
    await matsumoto.get(reviewUrl(caseStudyId)).expect(404);
  });

  it('lets an administrator set the regions a supervisor covers (recorded)', async () => {
    const [iidaRegion, matsumotoRegion] = await Promise.all([
      Region.findOne({ name: '飯伊' }),
      Region.findOne({ name: '松本' }),
    ]);
    await admin
      .post(`/admin/review/supervisors/${matsumotoId}/regions`, {
        regionId: [String(iidaRegion!._id), String(matsumotoRegion!._id)],
      })
      .expect(303);
    const coverage = await SupervisorCoverage.findOne({ userId: new Types.ObjectId(matsumotoId) });
    expect(coverage!.regionIds.map(String).sort()).to.deep.equal(
      [String(iidaRegion!._id), String(matsumotoRegion!._id)].sort(),
    );
    expect(await AuditEvent.countDocuments({ action: 'review.coverage_changed' })).to.equal(1);
    const page = await admin.get('/admin/review').expect(200);
    expect(page.text).to.match(/value="[0-9a-f]{24}" checked> 飯伊/);
  });

  it('lets an administrator assign the waiting case, then reassign it; each change is recorded', async () => {
    await admin
      .post(`/admin/review/${caseStudyId}/assign`, { supervisorId: matsumotoId })
      .expect(303);
    expect(
      (await CaseStudy.findById(caseStudyId))!.assignedSupervisorIds.map(String),
    ).to.deep.equal([matsumotoId]);
    await matsumoto.get(reviewUrl(caseStudyId)).expect(200);
    const queue = await matsumoto.get('/review').expect(200);
    expect(queue.text).to.contain(`/review/${caseStudyId}`);

    await admin.post(`/admin/review/${caseStudyId}/assign`, { supervisorId: uedaId }).expect(303);
    await matsumoto.get(reviewUrl(caseStudyId)).expect(404);
    await ueda.get(reviewUrl(caseStudyId)).expect(200);
    const events = await AuditEvent.find({
      action: 'review.reassigned',
      targetId: new Types.ObjectId(caseStudyId),
    }).sort({ at: 1 });
    expect(events.map((e) => e.details as unknown)).to.deep.equal([
      { from: null, to: matsumotoId },
      { from: matsumotoId, to: uedaId },
    ]);
  });

  it('refuses to give a case to its author or to someone who is not a supervisor', async () => {
    const res = await admin
      .post(`/admin/review/${caseStudyId}/assign`, { supervisorId: iidaId })
      .expect(303);
    const page = await admin.get(String(res.headers.location)).expect(200);
    expect(page.text).to.contain('本人を担当にすることはできません。');
    await admin
      .post(`/admin/review/${caseStudyId}/assign`, { supervisorId: 'not-an-id' })
      .expect(303);
    expect(
      (await CaseStudy.findById(caseStudyId))!.assignedSupervisorIds.map(String),
    ).to.deep.equal([uedaId]);
  });

  it('tells administrators of the waiting case and both supervisors of a reassignment', async () => {
    const kinds = async (userId: string) =>
      (await Notification.find({ userId: new Types.ObjectId(userId) }).lean()).map((n) => n.kind);
    const adminUser = await AuditEvent.findOne({ action: 'review.reassigned' });
    expect(await kinds(String(adminUser!.actorId))).to.include('case_study.unassigned');
    expect(await kinds(matsumotoId)).to.include.members([
      'case_study.assigned',
      'case_study.reassigned',
    ]);
    expect(await kinds(uedaId)).to.include('case_study.assigned');
  });

  it('assigns new cases from the covered region automatically', async () => {
    const other = await buildUser({ municipality: '飯田市' });
    const session = await signIn(t.app, other.user, other.password);
    await postForm(session, { texts: await completeTexts(), action: 'submit' }, 303);
    const doc = await CaseStudy.findOne({ userId: other.user._id });
    // 松本 covers 飯伊 now and has no open case left (the first one went to 上田).
    expect(doc!.assignedSupervisorIds.map(String)).to.deep.equal([matsumotoId]);
  });
});

describe('supervisor review: the queue marks overdue cases, filters and sorts', () => {
  let t: TestApp;
  let supervisor: SignedIn;

  before(async () => {
    t = await createTestApp({ REVIEW_OVERDUE_DAYS: '3' });
    const s = await buildUser({ roles: ['supervisor'], municipality: '長野市' });
    supervisor = await signIn(t.app, s.user, s.password);
    const day = 86_400_000;
    const nagano = await buildMunicipality('長野市');
    const suzaka = await buildMunicipality('須坂市');
    const make = async (
      name: string,
      daysAgo: number,
      state: CaseStudyState,
      municipality = nagano,
    ) => {
      const { user } = await buildUser({ name, municipality });
      await CaseStudy.create({
        userId: user._id,
        programId: 'basic-training',
        municipalityId: municipality._id,
        regionId: municipality.regionId,
        state,
        versionCount: 1,
        submittedAt: new Date(Date.now() - daysAgo * day),
        assignedSupervisorIds: [s.user._id],
      });
    };
    await make('青木 一郎', 5, 'submitted');
    await make('石田 二郎', 2, 'in_review', suzaka);
    await make('上野 三郎', 10, 'revision_requested');
  });
  after(async () => {
    await t.close();
  });

  it('marks a case waiting longer than REVIEW_OVERDUE_DAYS, longest waiting first', async () => {
    const res = await supervisor.get('/review').expect(200);
    const order = ['青木 一郎', '石田 二郎', '上野 三郎'].map((name) => res.text.indexOf(name));
    expect(order.every((i) => i > 0)).to.equal(true);
    expect(order[0]).to.be.lessThan(order[1]);
    expect(order[1]).to.be.lessThan(order[2]);
    expect(res.text).to.contain('5日 <span class="badge badge--warn">期限超過</span>');
    expect(res.text).to.contain('2日</td>');
    expect(res.text.match(/期限超過<\/span>/g)).to.have.length(1);
  });

  it('filters by state and sorts by submission date', async () => {
    const filtered = await supervisor.get('/review?state=in_review').expect(200);
    expect(filtered.text).to.contain('石田 二郎');
    expect(filtered.text).not.to.contain('青木 一郎');
    const newest = await supervisor.get('/review?sort=newest').expect(200);
    expect(newest.text.indexOf('石田 二郎')).to.be.lessThan(newest.text.indexOf('青木 一郎'));
    expect(newest.text.indexOf('青木 一郎')).to.be.lessThan(newest.text.indexOf('上野 三郎'));
  });
});
