import mongoose, { Types } from 'mongoose';
import { Certificate, VALID_CERTIFICATE } from '../certificates/certificate.model.js';
import { CaseStudy } from '../case-studies/case-study.model.js';
import type { Program } from '../courses/catalog.types.js';
import { LearnerProgress } from '../learning/learner-progress.model.js';
import { Organisation } from '../organisations/organisation.model.js';
import { User } from '../users/user.model.js';
import { TrackingMember, TrackingState, type Stage } from './member.model.js';

/**
 * Keeps tracking_members (one flat row per person and program) in step with its sources before
 * a report reads it. The first run, or a change of VERSION, rebuilds every row, streaming the
 * users in batches. After that each run catches up: it asks each source for the documents whose
 * `updatedAt` (mongoose timestamps) is at or after the stored watermark and recomputes the rows of
 * the people they belong to. The watermark trails the start of the last run by MARGIN_MS, so a
 * write whose timestamp was taken before a run but committed during it is still seen next time.
 *
 * What is not seen: writes that bypass mongoose's timestamps (raw driver updates) and deleted
 * source documents, until the next rebuild (bump VERSION, or drop tracking_state).
 */
const VERSION = 1;
const MARGIN_MS = 5_000;
const BATCH = 500;
const DAY_MS = 86_400_000;

/** Bumped whenever this process writes tracking rows: report caches keyed on it stay coherent. */
let generation = 0;
export function trackingGeneration(): number {
  return generation;
}

const running = new Map<string, Promise<void>>();
let indexesReady: Promise<unknown> | null = null;

/** Brings the program's rows up to date (concurrent callers share one run). */
export function syncMembers(program: Program): Promise<void> {
  let run = running.get(program.id);
  if (!run) {
    run = syncOnce(program).finally(() => running.delete(program.id));
    running.set(program.id, run);
  }
  return run;
}

/** Indexes the catch-up needs on the sources (created once per process; cheap when present). */
function ensureIndexes(): Promise<unknown> {
  indexesReady ??= Promise.all([
    TrackingMember.createIndexes(),
    ...[User, LearnerProgress, Certificate, CaseStudy, Organisation].map((model) =>
      model.collection.createIndex({ updatedAt: 1 }, { name: 'updatedAt_1_tracking' }),
    ),
  ]).catch((error: unknown) => {
    indexesReady = null;
    throw error;
  });
  return indexesReady;
}

async function syncOnce(program: Program): Promise<void> {
  await ensureIndexes();
  const startedAt = new Date();
  const state = await TrackingState.findById(program.id).lean();
  if (!state || state.version !== VERSION) {
    await rebuildAll(program);
  } else {
    const since = { $gte: state.watermark };
    const ofProgram = { programId: { $eq: program.id }, updatedAt: mongoose.trusted(since) };
    const [users, progress, certificates, caseStudies, organisations] = await Promise.all([
      User.find({ updatedAt: mongoose.trusted(since) }, { _id: 1 }).lean(),
      LearnerProgress.find(ofProgram, { userId: 1 }).lean(),
      Certificate.find(ofProgram, { userId: 1 }).lean(),
      CaseStudy.find(ofProgram, { userId: 1 }).lean(),
      Organisation.find({ updatedAt: mongoose.trusted(since) }, { _id: 1 }).lean(),
    ]);
    const ids = new Set<string>();
    for (const user of users) ids.add(String(user._id));
    for (const row of [...progress, ...certificates, ...caseStudies]) ids.add(String(row.userId));
    if (organisations.length > 0) {
      const members = await TrackingMember.find(
        {
          programId: { $eq: program.id },
          organisationId: mongoose.trusted({ $in: organisations.map((o) => o._id) }),
        },
        { userId: 1 },
      ).lean();
      for (const member of members) ids.add(String(member.userId));
    }
    if (ids.size > 0) await refreshUsers(program, [...ids]);
  }
  await TrackingState.updateOne(
    { _id: { $eq: program.id } },
    mongoose.trusted({
      $set: { version: VERSION },
      $max: { watermark: new Date(startedAt.getTime() - MARGIN_MS) },
    }),
    { upsert: true },
  );
}

/** Recomputes the rows of these people (and removes rows of people no longer staff anywhere). */
export async function refreshUsers(program: Program, userIds: string[]): Promise<void> {
  for (let i = 0; i < userIds.length; i += BATCH) {
    const batch = userIds.slice(i, i + BATCH).map((id) => new Types.ObjectId(id));
    const users = await User.find({ _id: mongoose.trusted({ $in: batch }) }, USER_FIELDS).lean();
    const rows = await factsFor(program, users);
    await writeRows(program, rows);
    const kept = new Set(rows.map((row) => String(row.userId)));
    const gone = batch.filter((id) => !kept.has(String(id)));
    if (gone.length > 0) {
      await TrackingMember.deleteMany({
        programId: { $eq: program.id },
        userId: mongoose.trusted({ $in: gone }),
      });
      generation++;
    }
  }
}

/** Rebuilds every row of the program from the sources, a batch of users at a time. */
export async function rebuildAll(program: Program): Promise<void> {
  await TrackingMember.deleteMany({ programId: { $eq: program.id } });
  generation++;
  const cursor = User.find({ municipalityId: mongoose.trusted({ $ne: null }) }, USER_FIELDS)
    .lean()
    .cursor({ batchSize: BATCH });
  let batch: UserRow[] = [];
  for await (const user of cursor) {
    batch.push(user);
    if (batch.length === BATCH) {
      await writeRows(program, await factsFor(program, batch));
      batch = [];
    }
  }
  if (batch.length > 0) await writeRows(program, await factsFor(program, batch));
}

const USER_FIELDS = {
  name: 1,
  nameKana: 1,
  email: 1,
  status: 1,
  roles: 1,
  profession: 1,
  municipalityId: 1,
  regionId: 1,
  organisationId: 1,
  createdAt: 1,
} as const;

interface UserRow {
  _id: Types.ObjectId;
  name: string;
  nameKana?: string | null;
  email?: string | null;
  status: string;
  roles: string[];
  profession?: string | null;
  municipalityId?: Types.ObjectId | null;
  regionId?: Types.ObjectId | null;
  organisationId?: Types.ObjectId | null;
  createdAt?: Date;
}

async function writeRows(program: Program, rows: Record<string, unknown>[]): Promise<void> {
  if (rows.length === 0) return;
  const now = new Date();
  // The driver's bulkWrite: the rows are built here from typed values, nothing to cast.
  await TrackingMember.collection.bulkWrite(
    rows.map((row) => ({
      replaceOne: {
        filter: { userId: row.userId, programId: program.id },
        replacement: { ...row, updatedAt: now },
        upsert: true,
      },
    })),
    { ordered: false },
  );
  generation++;
}

/** The rows of these users, from four indexed reads per batch. Users without an area are skipped. */
async function factsFor(program: Program, users: UserRow[]): Promise<Record<string, unknown>[]> {
  const staff = users.filter((user) => user.municipalityId);
  if (staff.length === 0) return [];
  const ids = staff.map((user) => user._id);
  const byUser = { programId: { $eq: program.id }, userId: mongoose.trusted({ $in: ids }) };
  const organisationIds = [
    ...new Set(staff.flatMap((user) => (user.organisationId ? [String(user.organisationId)] : []))),
  ];
  const [organisations, progress, certificates, caseStudies] = await Promise.all([
    organisationIds.length > 0
      ? Organisation.find(
          { _id: mongoose.trusted({ $in: organisationIds.map((id) => new Types.ObjectId(id)) }) },
          { name: 1, sector: 1 },
        ).lean()
      : [],
    LearnerProgress.find(byUser, {
      userId: 1,
      readLessons: 1,
      quizzes: 1,
      createdAt: 1,
      updatedAt: 1,
    }).lean(),
    Certificate.find(
      { ...byUser, ...VALID_CERTIFICATE },
      { userId: 1, number: 1, issuedAt: 1, completedAt: 1 },
    ).lean(),
    CaseStudy.find(byUser, {
      userId: 1,
      state: 1,
      open: 1,
      createdAt: 1,
      submittedAt: 1,
      approvedAt: 1,
      stateChangedAt: 1,
    }).lean(),
  ]);
  const organisationOf = new Map(organisations.map((o) => [String(o._id), o]));
  const progressOf = new Map(progress.map((p) => [String(p.userId), p]));
  const certificateOf = new Map(certificates.map((c) => [String(c.userId), c]));
  const caseOf = new Map<string, (typeof caseStudies)[number]>();
  for (const caseStudy of caseStudies) {
    const key = String(caseStudy.userId);
    const current = caseOf.get(key);
    // The open case study, or the newest withdrawn one when none is open.
    if (
      !current ||
      (caseStudy.open && !current.open) ||
      (caseStudy.open === current.open && caseStudy.createdAt > current.createdAt)
    )
      caseOf.set(key, caseStudy);
  }
  const lessonIds = new Set(program.modules.flatMap((m) => m.lessons.map((lesson) => lesson.id)));
  const quizIds = program.modules.flatMap((m) => (m.quiz ? [m.quiz.id] : []));

  return staff.map((user) => {
    const key = String(user._id);
    const organisation = user.organisationId
      ? organisationOf.get(String(user.organisationId))
      : undefined;
    const summary = progressOf.get(key);
    const certificate = certificateOf.get(key);
    const caseStudy = caseOf.get(key);
    const quizzes = (summary?.quizzes ?? {}) as Record<string, { passed?: boolean } | undefined>;
    const stage: Stage = certificate ? 'certified' : summary ? 'in_training' : 'not_started';
    const activity = [summary?.updatedAt, caseStudy?.stateChangedAt].filter(
      (date): date is Date => date instanceof Date,
    );
    return {
      userId: user._id,
      programId: program.id,
      name: user.name,
      nameKana: user.nameKana ?? '',
      email: user.email ?? '',
      status: user.status,
      roles: user.roles,
      profession: user.profession ?? null,
      municipalityId: user.municipalityId ?? null,
      regionId: user.regionId ?? null,
      organisationId: user.organisationId ?? null,
      organisationName: organisation?.name ?? null,
      sector: organisation?.sector ?? null,
      stage,
      lessonsRead: (summary?.readLessons ?? []).filter((id) => lessonIds.has(id)).length,
      quizzesPassed: quizIds.filter((id) => quizzes[id]?.passed === true).length,
      startedAt: summary?.createdAt ?? null,
      lastActivityAt:
        activity.length > 0 ? new Date(Math.max(...activity.map((d) => d.getTime()))) : null,
      caseState: caseStudy?.state ?? null,
      caseSubmittedAt: caseStudy?.submittedAt ?? null,
      caseApprovedAt: caseStudy?.approvedAt ?? null,
      certificateNumber: certificate?.number ?? null,
      certificateIssuedAt: certificate?.issuedAt ?? null,
      daysToCertificate:
        certificate && summary?.createdAt
          ? Math.max(0, (certificate.completedAt.getTime() - summary.createdAt.getTime()) / DAY_MS)
          : null,
      registeredAt: user.createdAt ?? null,
    };
  });
}
