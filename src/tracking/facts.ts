import type { PipelineStage } from 'mongoose';
import type { Program } from '../courses/catalog.types.js';

/**
 * The aggregation stages that turn each user (a `users` document) into one row of facts about a
 * program: organisation and sector, lessons read and quizzes passed (only those still in the
 * program), case-study state and dates, the valid certificate, the last activity, and the stage
 * (not started / in training / certified). Everything is computed in the database; a report
 * groups these rows further or pages through them.
 *
 * Whose area a person counts in: the user's CURRENT municipality and region (users), never the
 * area stored on their certificate or progress at the time. A person who moves keeps their
 * certificate and counts for the new municipality from the day of the move.
 *
 * The $lookup stages use localField/foreignField only (then filter by program), which both
 * MongoDB and the embedded store answer with one hash join per stage.
 */
export function factStages(program: Program): PipelineStage[] {
  const lessonIds = program.modules.flatMap((module) => module.lessons.map((lesson) => lesson.id));
  const quizIds = program.modules.flatMap((module) => (module.quiz ? [module.quiz.id] : []));
  const ofProgram = (field: string) => ({
    $filter: { input: `$${field}`, cond: { $eq: ['$$this.programId', program.id] } },
  });
  return [
    {
      $lookup: {
        from: 'organisations',
        localField: 'organisationId',
        foreignField: '_id',
        as: 'organisation',
      },
    },
    {
      $lookup: {
        from: 'learner_progress',
        localField: '_id',
        foreignField: 'userId',
        as: 'progress',
      },
    },
    { $lookup: { from: 'certificates', localField: '_id', foreignField: 'userId', as: 'certs' } },
    { $lookup: { from: 'case_studies', localField: '_id', foreignField: 'userId', as: 'cases' } },
    {
      $project: {
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
        organisation: { $arrayElemAt: ['$organisation', 0] },
        progress: { $arrayElemAt: [ofProgram('progress'), 0] },
        certificate: {
          $arrayElemAt: [
            {
              $filter: {
                input: '$certs',
                cond: {
                  $and: [
                    { $eq: ['$$this.programId', program.id] },
                    { $eq: ['$$this.valid', true] },
                  ],
                },
              },
            },
            0,
          ],
        },
        // The open case study, or the newest withdrawn one when none is open.
        caseStudy: {
          $arrayElemAt: [
            {
              $sortArray: {
                input: ofProgram('cases'),
                sortBy: { open: -1, createdAt: -1 },
              },
            },
            0,
          ],
        },
      },
    },
    {
      $project: {
        name: 1,
        nameKana: 1,
        email: 1,
        status: 1,
        roles: 1,
        profession: 1,
        municipalityId: 1,
        regionId: 1,
        organisationId: 1,
        organisationName: { $ifNull: ['$organisation.name', null] },
        sector: { $ifNull: ['$organisation.sector', null] },
        lessonsRead: {
          $size: { $setIntersection: [{ $ifNull: ['$progress.readLessons', []] }, lessonIds] },
        },
        quizzesPassed: {
          $size: {
            $filter: {
              input: { $objectToArray: { $ifNull: ['$progress.quizzes', {}] } },
              cond: {
                $and: [{ $in: ['$$this.k', quizIds] }, { $eq: ['$$this.v.passed', true] }],
              },
            },
          },
        },
        startedAt: { $ifNull: ['$progress.createdAt', null] },
        lastActivityAt: {
          $max: [
            { $ifNull: ['$progress.updatedAt', null] },
            { $ifNull: ['$caseStudy.stateChangedAt', null] },
          ],
        },
        caseState: { $ifNull: ['$caseStudy.state', null] },
        caseSubmittedAt: { $ifNull: ['$caseStudy.submittedAt', null] },
        caseApprovedAt: { $ifNull: ['$caseStudy.approvedAt', null] },
        certificateNumber: { $ifNull: ['$certificate.number', null] },
        certificateIssuedAt: { $ifNull: ['$certificate.issuedAt', null] },
        createdAt: 1,
        stage: {
          $cond: [
            { $ifNull: ['$certificate', false] },
            'certified',
            { $cond: [{ $ifNull: ['$progress', false] }, 'in_training', 'not_started'] },
          ],
        },
      },
    },
  ];
}

export type Stage = 'not_started' | 'in_training' | 'certified';

/** One row of facts (see factStages). */
export interface MemberFacts {
  _id: unknown;
  name: string;
  nameKana: string;
  email: string;
  status: 'pending' | 'active' | 'suspended';
  roles: string[];
  profession: string | null;
  municipalityId: unknown;
  regionId: unknown;
  organisationId: unknown;
  organisationName: string | null;
  sector: string | null;
  lessonsRead: number;
  quizzesPassed: number;
  startedAt: Date | null;
  lastActivityAt: Date | null;
  caseState: string | null;
  caseSubmittedAt: Date | null;
  caseApprovedAt: Date | null;
  certificateNumber: string | null;
  certificateIssuedAt: Date | null;
  createdAt: Date;
  stage: Stage;
}
