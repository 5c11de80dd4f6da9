import mongoose, { Types } from 'mongoose';
import { recordAudit } from '../audit/audit.service.js';
import type { CaseStudyDocument, CaseStudyState } from '../case-studies/case-study.model.js';
import { setAssignedSupervisors } from '../case-studies/case-study.service.js';
import { CaseStudy } from '../case-studies/case-study.model.js';
import { User } from '../users/user.model.js';
import { SupervisorCoverage } from './coverage.model.js';
import { tellAdminsUnassigned, tellSupervisor } from './notify.js';
import { ReviewRound } from './review-round.model.js';

/** States in which a case counts as open work for its supervisor. */
export const OPEN_REVIEW_STATES: readonly CaseStudyState[] = [
  'submitted',
  'in_review',
  'resubmitted',
  'revision_requested',
];

export interface SupervisorCoverageRow {
  userId: Types.ObjectId;
  name: string;
  organisationId: Types.ObjectId | null;
  /** Regions covered (the home region when the administrator has set none). */
  regionIds: Types.ObjectId[];
  /** True when the regions come from the administrator's setting. */
  explicit: boolean;
}

/** Active supervisors with the regions they cover. */
export async function listSupervisors(): Promise<SupervisorCoverageRow[]> {
  const [users, coverage] = await Promise.all([
    User.find(
      { roles: 'supervisor', status: 'active' },
      { name: 1, organisationId: 1, regionId: 1 },
    )
      .sort({ _id: 1 })
      .lean(),
    SupervisorCoverage.find({}).lean(),
  ]);
  const byUser = new Map(coverage.map((c) => [String(c.userId), c.regionIds]));
  return users.map((u) => {
    const set = byUser.get(String(u._id));
    return {
      userId: u._id,
      name: u.name,
      organisationId: u.organisationId ?? null,
      regionIds: set ?? (u.regionId ? [u.regionId] : []),
      explicit: !!set,
    };
  });
}

/** Open cases per supervisor (submitted, in review, resubmitted, or back with the trainee). */
async function openCaseCount(supervisorId: Types.ObjectId): Promise<number> {
  return CaseStudy.countDocuments({
    assignedSupervisorIds: supervisorId,
    open: true,
    state: mongoose.trusted({ $in: OPEN_REVIEW_STATES }),
  });
}

/**
 * The supervisor for a case: covering its region, never its author, preferably not of the
 * author's organisation, the fewest open cases (ties: the longest-standing account). Null when
 * no supervisor covers the region.
 */
export async function chooseSupervisor(
  caseStudy: Pick<CaseStudyDocument, 'userId' | 'regionId' | 'organisationId'>,
  exclude: readonly string[] = [],
): Promise<Types.ObjectId | null> {
  if (!caseStudy.regionId) return null;
  const region = String(caseStudy.regionId);
  const candidates = (await listSupervisors()).filter(
    (s) =>
      s.regionIds.some((id) => String(id) === region) &&
      String(s.userId) !== String(caseStudy.userId) &&
      !exclude.includes(String(s.userId)),
  );
  if (candidates.length === 0) return null;
  const independent = candidates.filter(
    (s) =>
      !caseStudy.organisationId ||
      !s.organisationId ||
      String(s.organisationId) !== String(caseStudy.organisationId),
  );
  const pool = independent.length > 0 ? independent : candidates;
  const counts = await Promise.all(pool.map((s) => openCaseCount(s.userId)));
  let best = 0;
  for (let i = 1; i < pool.length; i++) if (counts[i] < counts[best]) best = i;
  return pool[best].userId;
}

/**
 * Registered with the case studies: runs after each submission. A resubmission goes back to its
 * supervisor; a new submission (or one whose supervisor has gone) to the best one; none → the
 * case waits unassigned and administrators are told.
 */
export async function allocateOnSubmission(caseStudy: CaseStudyDocument): Promise<void> {
  const current = caseStudy.assignedSupervisorIds[0];
  if (current) {
    const stillThere = await User.exists({ _id: current, roles: 'supervisor', status: 'active' });
    if (stillThere) {
      await tellSupervisor(
        current,
        caseStudy.state === 'resubmitted' ? 'case_study.resubmitted' : 'case_study.assigned',
        caseStudy._id,
      );
      return;
    }
  }
  const chosen = await chooseSupervisor(caseStudy);
  if (!chosen) {
    await setAssignedSupervisors(caseStudy._id, []);
    await recordAudit({
      action: 'review.unassigned',
      targetType: 'CaseStudy',
      targetId: caseStudy._id,
      municipalityId: caseStudy.municipalityId,
      details: { version: caseStudy.versionCount },
    });
    await tellAdminsUnassigned();
    return;
  }
  await setAssignedSupervisors(caseStudy._id, [chosen]);
  await recordAudit({
    action: 'review.assigned',
    targetType: 'CaseStudy',
    targetId: caseStudy._id,
    municipalityId: caseStudy.municipalityId,
    details: { supervisorId: String(chosen), version: caseStudy.versionCount },
  });
  await tellSupervisor(
    chosen,
    caseStudy.state === 'resubmitted' ? 'case_study.resubmitted' : 'case_study.assigned',
    caseStudy._id,
  );
}

export type ReassignResult = 'reassigned' | 'unchanged' | 'not_supervisor' | 'author' | 'closed';

/** An administrator gives the case to another supervisor (recorded; both are told). */
export async function reassign(
  actorId: string,
  caseStudy: CaseStudyDocument,
  supervisorId: string,
  ip?: string,
): Promise<ReassignResult> {
  if (!Types.ObjectId.isValid(supervisorId)) return 'not_supervisor';
  const target = new Types.ObjectId(supervisorId);
  if (String(target) === String(caseStudy.userId)) return 'author';
  const isSupervisor = await User.exists({ _id: target, roles: 'supervisor', status: 'active' });
  if (!isSupervisor) return 'not_supervisor';
  const previous = caseStudy.assignedSupervisorIds[0] ?? null;
  if (previous && String(previous) === supervisorId) return 'unchanged';
  const updated = await setAssignedSupervisors(caseStudy._id, [target]);
  if (!updated) return 'closed';
  // The draft of the round under way moves with the case.
  await ReviewRound.updateMany(
    { caseStudyId: caseStudy._id, state: 'draft' },
    { $set: { supervisorId: target } },
  );
  await recordAudit({
    actorId,
    action: 'review.reassigned',
    targetType: 'CaseStudy',
    targetId: caseStudy._id,
    municipalityId: caseStudy.municipalityId,
    ip: ip ?? null,
    details: { from: previous ? String(previous) : null, to: supervisorId },
  });
  await tellSupervisor(target, 'case_study.assigned', caseStudy._id);
  if (previous) await tellSupervisor(previous, 'case_study.reassigned', caseStudy._id);
  return 'reassigned';
}

/** Sets the regions a supervisor covers (an empty list: back to their home region). */
export async function setCoverage(
  actorId: string,
  supervisorId: Types.ObjectId,
  regionIds: Types.ObjectId[],
  ip?: string,
): Promise<void> {
  if (regionIds.length === 0) {
    await SupervisorCoverage.deleteOne({ userId: supervisorId });
  } else {
    await SupervisorCoverage.updateOne(
      { userId: supervisorId },
      { $set: { regionIds } },
      { upsert: true },
    );
  }
  await recordAudit({
    actorId,
    action: 'review.coverage_changed',
    targetType: 'User',
    targetId: supervisorId,
    ip: ip ?? null,
    details: { regions: regionIds.map(String) },
  });
}
