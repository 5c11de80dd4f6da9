import mongoose, { Types } from 'mongoose';
import type { SessionUser } from '../auth/session-user.js';
import { hasRole, isAdmin } from '../auth/session-user.js';
import { CaseStudy, type CaseStudyState } from '../case-studies/case-study.model.js';
import type { Catalog } from '../courses/catalog.types.js';
import { learnerOf } from '../learning/learner.js';
import { LearnerProgress } from '../learning/learner-progress.model.js';
import { loadProgramProgress, type NextStep } from '../learning/progress.service.js';
import { listOutbox } from '../mail/outbox.js';
import { Municipality } from '../organisations/municipality.model.js';
import { Region } from '../organisations/region.model.js';
import { OPEN_REVIEW_STATES } from '../reviews/allocation.service.js';
import { AWAITING_STATES, supervisorQueue, type QueueRow } from '../reviews/queue.service.js';
import { Invitation } from '../users/invitation.model.js';
import { User } from '../users/user.model.js';

/** One program on a trainee's home: how far along, and the one thing to do next. */
export interface TraineeProgramHome {
  programId: string;
  title: string;
  percent: number;
  completed: boolean;
  /** Every module done; only the case study is left. */
  onlyCaseStudyLeft: boolean;
  next: NextStep & { href: string | null };
}

export interface HomeSections {
  trainee?: { programs: TraineeProgramHome[] };
  supervisor?: { waiting: QueueRow[]; waitingCount: number; overdueCount: number };
  coordinator?: {
    municipalityName: string;
    pendingApprovals: number;
    openInvitations: number;
    trainees: number;
    learnersStarted: number;
  };
  regionalViewer?: {
    regionName: string;
    municipalityCount: number;
    trainees: number;
    learnersStarted: number;
    pendingApprovals: number;
  };
  admin?: {
    unassignedCases: number;
    overdueCases: number;
    pendingApprovals: number;
    undeliveredMails: number;
  };
}

export interface HomeDeps {
  catalog: Catalog;
  overdueDays: number;
  outboxDir: string;
}

const toId = (id: string | null) =>
  id && Types.ObjectId.isValid(id) ? new Types.ObjectId(id) : null;

/**
 * What the signed-in person should see first, one part per role they hold: a person who is both
 * trainee and supervisor sees both parts. Reads only what each part needs.
 */
export async function homeSections(user: SessionUser, deps: HomeDeps): Promise<HomeSections> {
  const [trainee, supervisor, coordinator, regionalViewer, admin] = await Promise.all([
    hasRole(user, 'trainee') ? traineePart(user, deps.catalog) : undefined,
    hasRole(user, 'supervisor') ? supervisorPart(user, deps.overdueDays) : undefined,
    hasRole(user, 'coordinator') && user.municipalityId ? coordinatorPart(user) : undefined,
    hasRole(user, 'regional_viewer') && user.regionId ? regionalPart(user) : undefined,
    isAdmin(user) ? adminPart(deps) : undefined,
  ]);
  return { trainee, supervisor, coordinator, regionalViewer, admin };
}

async function traineePart(user: SessionUser, catalog: Catalog) {
  const learner = learnerOf(user);
  const programs = await Promise.all(
    catalog.programs.map(async (program): Promise<TraineeProgramHome> => {
      const progress = await loadProgramProgress(learner, program);
      return {
        programId: program.id,
        title: program.title,
        percent: progress.percent,
        completed: progress.completed,
        onlyCaseStudyLeft: progress.onlyCaseStudyLeft,
        next: {
          ...progress.next,
          href:
            progress.next.href ??
            (progress.next.kind === 'caseStudy' ? `/learn/${program.id}/case-study` : null),
        },
      };
    }),
  );
  return { programs };
}

async function supervisorPart(user: SessionUser, overdueDays: number) {
  const rows = await supervisorQueue(
    user.id,
    { state: '', regionId: '', sort: 'waiting' },
    overdueDays,
  );
  const waiting = rows.filter((row) => row.daysWaiting !== null);
  return {
    waiting: waiting.slice(0, 5),
    waitingCount: waiting.length,
    overdueCount: waiting.filter((row) => row.overdue).length,
  };
}

async function coordinatorPart(user: SessionUser) {
  const municipalityId = toId(user.municipalityId);
  const [municipality, pendingApprovals, openInvitations, learners] = await Promise.all([
    Municipality.findById(municipalityId, { name: 1 }).lean(),
    User.countDocuments({ status: 'pending', municipalityId }),
    Invitation.countDocuments({
      municipalityId,
      acceptedAt: null,
      revokedAt: null,
      expiresAt: mongoose.trusted({ $gt: new Date() }),
    }),
    traineesIn({ municipalityId }),
  ]);
  return {
    municipalityName: municipality?.name ?? '',
    pendingApprovals,
    openInvitations,
    ...learners,
  };
}

async function regionalPart(user: SessionUser) {
  const regionId = toId(user.regionId);
  const [region, municipalityCount, learners, pendingApprovals] = await Promise.all([
    Region.findById(regionId, { name: 1 }).lean(),
    Municipality.countDocuments({ regionId }),
    traineesIn({ regionId }),
    User.countDocuments({ status: 'pending', regionId }),
  ]);
  return {
    regionName: region?.name ?? '',
    municipalityCount,
    pendingApprovals,
    ...learners,
  };
}

/**
 * Active trainees whose CURRENT municipality or region is this one (users move), and how many of
 * them have begun learning (a progress record, wherever it was started).
 */
async function traineesIn(
  area: { municipalityId: Types.ObjectId | null } | { regionId: Types.ObjectId | null },
) {
  const trainees = await User.find(
    { status: 'active', roles: 'trainee', ...area },
    { _id: 1 },
  ).lean();
  const started = await LearnerProgress.distinct('userId', {
    userId: mongoose.trusted({ $in: trainees.map((trainee) => trainee._id) }),
  });
  return { trainees: trainees.length, learnersStarted: started.length };
}

async function adminPart(deps: HomeDeps) {
  const open = { open: true, state: mongoose.trusted({ $in: OPEN_REVIEW_STATES }) };
  const overdueBefore = new Date(Date.now() - deps.overdueDays * 86_400_000);
  const [unassignedCases, overdueCases, pendingApprovals, outbox] = await Promise.all([
    CaseStudy.countDocuments({ ...open, assignedSupervisorIds: mongoose.trusted({ $size: 0 }) }),
    CaseStudy.countDocuments({
      open: true,
      state: mongoose.trusted({ $in: [...AWAITING_STATES] as CaseStudyState[] }),
      submittedAt: mongoose.trusted({ $lt: overdueBefore }),
    }),
    User.countDocuments({ status: 'pending' }),
    listOutbox(deps.outboxDir, 500),
  ]);
  return {
    unassignedCases,
    overdueCases,
    pendingApprovals,
    undeliveredMails: outbox.filter((entry) => entry.undelivered).length,
  };
}
