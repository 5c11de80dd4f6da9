import mongoose, { Types } from 'mongoose';
import { Certificate } from '../certificates/certificate.model.js';
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
const REFRESH_BATCH = 40;
const REBUILD_ABOVE = 2_000;
const DAY_MS = 86_400_000;

/** Bumped whenever this process writes tracking rows: report caches keyed on it stay coherent. */
let generation = 0;
export function trackingGeneration(): number {
  return generation;
}

const running = new Map<string, Promise<void>>();
/** Per database (tests make many): the indexes are asked for once each. */
const indexesReady = new Map<string, Promise<unknown>>();

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
  const name = mongoose.connection.name;
  let ready = indexesReady.get(name);
  if (!ready) {
    ready = Promise.all([
      TrackingMember.createIndexes(),
      ...[User, LearnerProgress, Certificate, CaseStudy, Organisation].map((model) =>
        model.collection.createIndex({ updatedAt: 1 }, { name: 'updatedAt_1_tracking' }),
      ),
    ]).catch((error: unknown) => {
      indexesReady.delete(name);
      throw error;
    });
    indexesReady.set(name, ready);
  }
  return ready;
}

async function syncOnce(program: Program): Promise<void> {
  await ensureIndexes();
  const startedAt = new Date();
  const state = await TrackingState.findById(program.id).lean();
  if (!state || state.version !== VERSION) {
    await rebuildAll(program);
  } else {
    const since = { $gte: state.watermark };
    // By time alone, so that the updatedAt index answers (the program is checked on the rows).
    const recent = { updatedAt: mongoose.trusted(since) };
    const [users, progress, certificates, caseStudies, organisations] = await Promise.all([
      User.find(recent, { _id: 1 }).lean(),
      LearnerProgress.find(recent, { userId: 1, programId: 1 }).lean(),
      Certificate.find(recent, { userId: 1, programId: 1 }).lean(),
      CaseStudy.find(recent, { userId: 1, programId: 1 }).lean(),
      Organisation.find(recent, { _id: 1 }).lean(),
    ]);
    const ids = new Set<string>();
    for (const user of users) ids.add(String(user._id));
    for (const row of [...progress, ...certificates, ...caseStudies])
      if (row.programId === program.id) ids.add(String(row.userId));
    for (let i = 0; i < organisations.length; i += REFRESH_BATCH) {
      const members = await TrackingMember.find(
        {
          organisationId: mongoose.trusted({
            $in: organisations.slice(i, i + REFRESH_BATCH).map((o) => o._id),
          }),
        },
        { userId: 1 },
      ).lean();
      for (const member of members) ids.add(String(member.userId));
    }
    // Past a few thousand people one pass over everything is quicker than batches of ids.
    if (ids.size > REBUILD_ABOVE) await rebuildAll(program);
    else if (ids.size > 0) await refreshUsers(program, [...ids]);
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

/**
 * Recomputes the rows of these people (and removes rows of people no longer staff anywhere).
 * Small batches: the store answers an `$in` of a few dozen ids from the index at once, while a
 * long list is matched document by document.
 */
export async function refreshUsers(program: Program, userIds: string[]): Promise<void> {
  for (let i = 0; i < userIds.length; i += REFRESH_BATCH) {
    const batch = userIds.slice(i, i + REFRESH_BATCH).map((id) => new Types.ObjectId(id));
    const byUser = { userId: mongoose.trusted({ $in: batch }) };
    const [users, progress, certificates, caseStudies, organisations] = await Promise.all([
      User.find({ _id: mongoose.trusted({ $in: batch }) }, USER_FIELDS).lean<UserRow[]>(),
      LearnerProgress.find(byUser, PROGRESS_FIELDS).lean<ProgressRow[]>(),
      Certificate.find(byUser, CERTIFICATE_FIELDS).lean<CertificateRow[]>(),
      CaseStudy.find(byUser, CASE_FIELDS).lean<CaseRow[]>(),
      organisationMap(),
    ]);
    const rows: Record<string, unknown>[] = [];
    for (const user of users) {
      const mine = (row: { userId: Types.ObjectId }) => row.userId.equals(user._id);
      const row = buildRow(program, organisations, user, {
        progress: progress.filter(mine),
        certificates: certificates.filter(mine),
        caseStudies: caseStudies.filter(mine),
      });
      if (row) rows.push(row);
    }
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

/**
 * Rebuilds every row of the program from the sources in one pass: the users and the program's
 * progress, certificates and case studies are each read once, sorted by user id, and merged as
 * they stream (memory holds one batch of each, never all users).
 */
export async function rebuildAll(program: Program): Promise<void> {
  await TrackingMember.deleteMany({ programId: { $eq: program.id } });
  generation++;
  const organisations = await organisationMap();
  const ofProgram = { programId: { $eq: program.id } };
  const users = new Merge<UserRow>(
    User.find({ municipalityId: mongoose.trusted({ $ne: null }) }, USER_FIELDS)
      .sort({ _id: 1 })
      .lean()
      .cursor({ batchSize: BATCH }),
    (row) => row._id,
  );
  const progress = new Merge<ProgressRow>(
    LearnerProgress.find(ofProgram, PROGRESS_FIELDS)
      .sort({ userId: 1 })
      .lean()
      .cursor({ batchSize: BATCH }),
    (row) => row.userId,
  );
  const certificates = new Merge<CertificateRow>(
    Certificate.find(ofProgram, CERTIFICATE_FIELDS)
      .sort({ userId: 1 })
      .lean()
      .cursor({ batchSize: BATCH }),
    (row) => row.userId,
  );
  const caseStudies = new Merge<CaseRow>(
    CaseStudy.find(ofProgram, CASE_FIELDS).sort({ userId: 1 }).lean().cursor({ batchSize: BATCH }),
    (row) => row.userId,
  );
  let rows: Record<string, unknown>[] = [];
  for (let user = await users.next(); user; user = await users.next()) {
    const key = user._id.toHexString();
    const row = buildRow(program, organisations, user, {
      progress: await progress.take(key),
      certificates: await certificates.take(key),
      caseStudies: await caseStudies.take(key),
    });
    if (row) rows.push(row);
    if (rows.length === BATCH) {
      await writeRows(program, rows);
      rows = [];
    }
  }
  await writeRows(program, rows);
}

/** A cursor sorted by a user id, read in step with the users (ids compare as hex strings). */
class Merge<T> {
  private pending: T | null | undefined;
  constructor(
    private readonly cursor: { next(): Promise<unknown> },
    private readonly keyOf: (row: T) => Types.ObjectId,
  ) {}

  async next(): Promise<T | null> {
    if (this.pending !== undefined) {
      const row = this.pending;
      this.pending = undefined;
      return row;
    }
    return ((await this.cursor.next()) as T | null) ?? null;
  }

  /** The rows of this user; rows of smaller ids (users without an area) are skipped. */
  async take(key: string): Promise<T[]> {
    const taken: T[] = [];
    for (;;) {
      const row = await this.next();
      if (row === null) {
        this.pending = null;
        return taken;
      }
      const rowKey = this.keyOf(row).toHexString();
      if (rowKey < key) continue;
      if (rowKey > key) {
        this.pending = row;
        return taken;
      }
      taken.push(row);
    }
  }
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
const PROGRESS_FIELDS = {
  userId: 1,
  programId: 1,
  readLessons: 1,
  quizzes: 1,
  createdAt: 1,
  updatedAt: 1,
} as const;
const CERTIFICATE_FIELDS = {
  userId: 1,
  programId: 1,
  valid: 1,
  number: 1,
  issuedAt: 1,
  completedAt: 1,
} as const;
const CASE_FIELDS = {
  userId: 1,
  programId: 1,
  state: 1,
  open: 1,
  createdAt: 1,
  submittedAt: 1,
  approvedAt: 1,
  stateChangedAt: 1,
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
interface ProgressRow {
  userId: Types.ObjectId;
  programId: string;
  readLessons?: string[];
  quizzes?: Record<string, { passed?: boolean } | undefined>;
  createdAt?: Date;
  updatedAt?: Date;
}
interface CertificateRow {
  userId: Types.ObjectId;
  programId: string;
  valid: boolean;
  number: string;
  issuedAt: Date;
  completedAt: Date;
}
interface CaseRow {
  userId: Types.ObjectId;
  programId: string;
  state: string;
  open?: boolean | null;
  createdAt: Date;
  submittedAt?: Date | null;
  approvedAt?: Date | null;
  stateChangedAt?: Date | null;
}

type OrganisationMap = Map<string, { name: string; sector: string }>;

/** Every organisation's name and sector (a few hundred; not people). */
async function organisationMap(): Promise<OrganisationMap> {
  const organisations = await Organisation.find({}, { name: 1, sector: 1 }).lean();
  return new Map(organisations.map((o) => [String(o._id), { name: o.name, sector: o.sector }]));
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

/** One person's row (null for people without an area: administrators). */
function buildRow(
  program: Program,
  organisations: OrganisationMap,
  user: UserRow,
  records: { progress: ProgressRow[]; certificates: CertificateRow[]; caseStudies: CaseRow[] },
): Record<string, unknown> | null {
  if (!user.municipalityId) return null;
  const ofProgram = <T extends { programId: string }>(rows: T[]) =>
    rows.filter((row) => row.programId === program.id);
  const summary = ofProgram(records.progress)[0];
  const certificate = ofProgram(records.certificates).find((c) => c.valid);
  // The open case study, or the newest withdrawn one when none is open.
  const caseStudy = ofProgram(records.caseStudies).sort(
    (a, b) =>
      Number(Boolean(b.open)) - Number(Boolean(a.open)) ||
      b.createdAt.getTime() - a.createdAt.getTime(),
  )[0];
  const organisation = user.organisationId
    ? organisations.get(String(user.organisationId))
    : undefined;
  const lessonIds = new Set(program.modules.flatMap((m) => m.lessons.map((lesson) => lesson.id)));
  const quizIds = program.modules.flatMap((m) => (m.quiz ? [m.quiz.id] : []));
  const quizzes = summary?.quizzes ?? {};
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
    municipalityId: user.municipalityId,
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
}
