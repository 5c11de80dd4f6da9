/**
 * Seeds a database with a prefecture's worth of training records for the tracking reports: the
 * 77 municipalities, one organisation per sector in each, `users` staff spread like the
 * prefecture's population (長野市 largest, many villages with a handful), learner progress,
 * case studies, certificates (a few revoked), suspended and pending accounts. Written with the
 * driver's insertMany (fast); the models' indexes are built first. Used by bench/tracking.ts and
 * the report screenshots; deterministic for a given seed.
 */
import { Types } from 'mongoose';
import { Certificate } from '../src/certificates/certificate.model.js';
import { CaseStudy } from '../src/case-studies/case-study.model.js';
import type { Program } from '../src/courses/catalog.types.js';
import { LearnerProgress } from '../src/learning/learner-progress.model.js';
import { Municipality } from '../src/organisations/municipality.model.js';
import { Organisation, SECTORS } from '../src/organisations/organisation.model.js';
import { seedOrganisations } from '../src/organisations/organisations.seed.js';
import { PROFESSIONS, User } from '../src/users/user.model.js';

const DAY = 86_400_000;

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SeedSummary {
  users: number;
  certificates: number;
  /** 長野市's id (the largest municipality). */
  naganoId: string;
}

export async function seedTracking(
  program: Program,
  users: number,
  options: { seed?: number; now?: Date; passwordHash?: string } = {},
): Promise<SeedSummary> {
  const rnd = random(options.seed ?? 42);
  const now = options.now ?? new Date();
  await seedOrganisations();
  await Promise.all([
    User.createIndexes(),
    Certificate.createIndexes(),
    LearnerProgress.createIndexes(),
    CaseStudy.createIndexes(),
  ]);
  const municipalities = await Municipality.find().sort({ order: 1 }).lean();
  const organisations = await Organisation.insertMany(
    municipalities.flatMap((municipality) =>
      SECTORS.map((sector) => ({
        name: `${municipality.name}${sector}機関`,
        sector,
        municipalityId: municipality._id,
      })),
    ),
  );
  const orgsOf = new Map<string, (typeof organisations)[number][]>();
  for (const organisation of organisations) {
    const key = String(organisation.municipalityId);
    orgsOf.set(key, [...(orgsOf.get(key) ?? []), organisation]);
  }
  // Weights: the two big cities, the other cities, towns, villages; a third of the villages have
  // nobody registered yet.
  const weights = municipalities.map((municipality, index): number => {
    if (municipality.name === '長野市') return 60;
    if (municipality.name === '松本市') return 40;
    if (municipality.kind === '市') return 12;
    if (municipality.kind === '町') return 3;
    return index % 3 === 0 ? 0 : 1;
  });
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const pick = () => {
    let r = rnd() * totalWeight;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) return municipalities[i];
    }
    return municipalities[0];
  };
  const sectorWeights = [30, 20, 20, 8, 12, 8, 2];
  const pickSector = () => {
    let r = rnd() * 100;
    for (let i = 0; i < sectorWeights.length; i++) {
      r -= sectorWeights[i];
      if (r < 0) return i;
    }
    return 0;
  };
  const lessonIds = program.modules.flatMap((module) => module.lessons.map((lesson) => lesson.id));
  const quizIds = program.modules.flatMap((module) => (module.quiz ? [module.quiz.id] : []));
  const fiscalYearOf = (date: Date) =>
    date.getMonth() >= 3 ? date.getFullYear() : date.getFullYear() - 1;

  const userDocs: Record<string, unknown>[] = [];
  const progressDocs: Record<string, unknown>[] = [];
  const caseDocs: Record<string, unknown>[] = [];
  const certificateDocs: Record<string, unknown>[] = [];
  const serials = new Map<number, number>();
  for (let i = 0; i < users; i++) {
    const municipality = pick();
    const organisation = orgsOf.get(String(municipality._id))![pickSector()];
    const _id = new Types.ObjectId();
    const statusRoll = rnd();
    const status = statusRoll < 0.04 ? 'pending' : statusRoll < 0.08 ? 'suspended' : 'active';
    const createdAt = new Date(now.getTime() - Math.floor(rnd() * 700 + 20) * DAY);
    userDocs.push({
      _id,
      name: `研修 受講者${i}`,
      nameKana: `けんしゅう じゅこうしゃ${i}`,
      email: `trainee${i}@example.jp`,
      passwordHash: options.passwordHash ?? 'x',
      roles: i % 50 === 0 ? ['trainee', 'supervisor'] : ['trainee'],
      status,
      municipalityId: municipality._id,
      regionId: municipality.regionId,
      organisationId: organisation._id,
      profession: PROFESSIONS[Math.floor(rnd() * PROFESSIONS.length)],
      createdAt,
      updatedAt: createdAt,
    });
    if (status === 'pending' || rnd() < 0.25) continue; // not started
    const startedAt = new Date(createdAt.getTime() + Math.floor(rnd() * 10) * DAY);
    const certified = rnd() < 0.35;
    const read = certified ? lessonIds.length : Math.floor(rnd() * lessonIds.length);
    const passed = certified ? quizIds.length : Math.min(quizIds.length, Math.floor(read / 3));
    const span = Math.max(1, Math.floor((now.getTime() - startedAt.getTime()) / DAY));
    const lastActivity = new Date(startedAt.getTime() + Math.floor(rnd() * span) * DAY);
    const quizzes: Record<string, unknown> = {};
    for (const quizId of quizIds.slice(0, passed))
      quizzes[quizId] = { passed: true, passedAt: lastActivity, bestScore: 90, attempts: 1 };
    progressDocs.push({
      userId: _id,
      programId: program.id,
      municipalityId: municipality._id,
      regionId: municipality.regionId,
      readLessons: lessonIds.slice(0, read),
      openedModules: [],
      quizzes,
      secondsSpent: read * 600,
      position: { moduleId: null, lessonId: null, at: lastActivity },
      createdAt: startedAt,
      updatedAt: lastActivity,
    });
    if (read < lessonIds.length && !certified) continue;
    const submittedAt = new Date(lastActivity.getTime() - 5 * DAY);
    const state = certified
      ? 'approved'
      : (['draft', 'submitted', 'in_review', 'revision_requested', 'resubmitted'] as const)[
          Math.floor(rnd() * 5)
        ];
    caseDocs.push({
      userId: _id,
      programId: program.id,
      municipalityId: municipality._id,
      regionId: municipality.regionId,
      organisationId: organisation._id,
      state,
      open: true,
      draft: { sections: {}, attachments: [], revision: 1, savedAt: submittedAt },
      versionCount: state === 'draft' ? 0 : 1,
      assignedSupervisorIds: state === 'draft' ? [] : [userDocs[(i * 7) % userDocs.length]._id],
      submittedAt: state === 'draft' ? null : submittedAt,
      approvedAt: certified ? lastActivity : null,
      withdrawnAt: null,
      stateChangedAt: lastActivity,
      createdAt: startedAt,
      updatedAt: lastActivity,
    });
    if (!certified) continue;
    const fiscalYear = fiscalYearOf(lastActivity);
    const serial = (serials.get(fiscalYear) ?? 0) + 1;
    serials.set(fiscalYear, serial);
    const revoked = rnd() < 0.02;
    certificateDocs.push({
      number: `R${fiscalYear}-${String(serial).padStart(5, '0')}`,
      fiscalYear,
      serial,
      userId: _id,
      programId: program.id,
      name: `研修 受講者${i}`,
      organisationName: organisation.name,
      municipalityId: municipality._id,
      regionId: municipality.regionId,
      organisationId: organisation._id,
      programTitle: program.title,
      completedAt: lastActivity,
      issuedAt: lastActivity,
      kind: 'automatic',
      verificationCode: `code-${i}-${Math.floor(rnd() * 1e9)}`,
      valid: !revoked,
      revokedAt: revoked ? now : null,
      createdAt: lastActivity,
      updatedAt: lastActivity,
    });
  }
  const insert = async (
    collection: { insertMany(docs: never[]): Promise<unknown> },
    docs: Record<string, unknown>[],
  ) => {
    for (let i = 0; i < docs.length; i += 2000)
      await collection.insertMany(docs.slice(i, i + 2000) as never[]);
  };
  await insert(User.collection, userDocs);
  await insert(LearnerProgress.collection, progressDocs);
  await insert(CaseStudy.collection, caseDocs);
  await insert(Certificate.collection, certificateDocs);
  const nagano = municipalities.find((municipality) => municipality.name === '長野市')!;
  return {
    users: userDocs.length,
    certificates: certificateDocs.length,
    naganoId: String(nagano._id),
  };
}
