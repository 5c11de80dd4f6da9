import mongoose, { Types } from 'mongoose';
import type { Program } from '../courses/catalog.types.js';
import { CASE_STUDY_STATE_LABELS, type CaseStudyState } from '../case-studies/case-study.model.js';
import { USER_STATUS_LABELS, type UserStatus } from '../users/user.model.js';
import { TrackingMember, type Stage } from './member.model.js';
import { cached } from './figures.service.js';
import type { Cell, Column } from './tables.js';

export const STAGE_LABELS: Record<Stage, string> = {
  not_started: '未受講',
  in_training: '受講中',
  certified: '修了',
};

/** 所属なし: people without an organisation (shown as a sector of its own). */
export const NO_SECTOR = '所属未設定';

/** The filters of the member list; values not offered are ignored (the default is shown). */
export interface MemberFilters {
  organisationId: string;
  sector: string;
  profession: string;
  status: string;
  stage: string;
}

/** The database filter for a list of members in these municipalities. */
export function memberQuery(
  program: Program,
  municipalityIds: string[] | 'all',
  filters: MemberFilters,
): Record<string, unknown> {
  const query: Record<string, unknown> = { programId: { $eq: program.id } };
  if (municipalityIds !== 'all')
    query.municipalityId = mongoose.trusted({
      $in: municipalityIds.map((id) => new Types.ObjectId(id)),
    });
  // 'all': no filter needed, tracking rows exist only for people with a municipality.
  if (filters.organisationId)
    query.organisationId = { $eq: new Types.ObjectId(filters.organisationId) };
  if (filters.sector) query.sector = { $eq: filters.sector === NO_SECTOR ? null : filters.sector };
  if (filters.profession) query.profession = { $eq: filters.profession };
  if (filters.status) query.status = { $eq: filters.status };
  if (filters.stage) query.stage = { $eq: filters.stage };
  return query;
}

export type MemberRow = Awaited<ReturnType<typeof findMembers>>['items'][number];

const LIST_FIELDS = {
  userId: 1,
  name: 1,
  nameKana: 1,
  status: 1,
  profession: 1,
  organisationName: 1,
  sector: 1,
  stage: 1,
  lessonsRead: 1,
  quizzesPassed: 1,
  caseState: 1,
  caseSubmittedAt: 1,
  caseApprovedAt: 1,
  certificateNumber: 1,
  certificateIssuedAt: 1,
  lastActivityAt: 1,
  registeredAt: 1,
  municipalityId: 1,
} as const;

/** One page of members, in order of their reading (ふりがな). */
export function findMembers(query: Record<string, unknown>, page: number, pageSize: number) {
  return cached(`members:${JSON.stringify(query)}:${page}:${pageSize}`, () =>
    readMembers(query, page, pageSize),
  );
}

async function readMembers(query: Record<string, unknown>, page: number, pageSize: number) {
  const [items, total] = await Promise.all([
    TrackingMember.find(query, LIST_FIELDS)
      .sort({ nameKana: 1, _id: 1 })
      .skip((page - 1) * pageSize)
      .limit(pageSize)
      .lean(),
    TrackingMember.countDocuments(query),
  ]);
  return { items, total };
}

/**
 * Active members not certified whose last activity (or, never started, their registration) is
 * older than the cutoff: the stalled list, oldest first, with its full count.
 */
export function findStalled(program: Program, municipalityId: string, cutoff: Date, limit: number) {
  // The cutoff moves with the clock: cached per minute (and until the rows change).
  const minute = Math.floor(cutoff.getTime() / 60_000);
  return cached(`stalled:${program.id}:${municipalityId}:${minute}:${limit}`, () =>
    readStalled(program, municipalityId, new Date(minute * 60_000), limit),
  );
}

async function readStalled(program: Program, municipalityId: string, cutoff: Date, limit: number) {
  const query = stalledQuery(program, municipalityId, cutoff);
  const [items, total] = await Promise.all([
    TrackingMember.find(query, LIST_FIELDS)
      .sort({ lastActivityAt: 1, nameKana: 1 })
      .limit(limit)
      .lean(),
    TrackingMember.countDocuments(query),
  ]);
  return { items, total };
}

/** The stalled members' filter (see findStalled). */
export function stalledQuery(
  program: Program,
  municipalityId: string,
  cutoff: Date,
): Record<string, unknown> {
  return {
    programId: { $eq: program.id },
    municipalityId: { $eq: new Types.ObjectId(municipalityId) },
    status: { $eq: 'active' },
    stage: mongoose.trusted({ $ne: 'certified' }),
    $or: mongoose.trusted([
      { lastActivityAt: mongoose.trusted({ $lt: cutoff }) },
      { lastActivityAt: null, registeredAt: mongoose.trusted({ $lt: cutoff }) },
    ]),
  };
}

/** Columns of the member list and its export. */
export function memberColumns(program: Program, withArea: boolean): Column[] {
  return [
    ...(withArea
      ? [
          { header: '圏域', width: 10 },
          { header: '市町村', width: 12 },
        ]
      : []),
    { header: '氏名', width: 18 },
    { header: 'ふりがな', width: 20 },
    { header: '所属機関', width: 24 },
    { header: '分野', width: 12 },
    { header: '職種', width: 18 },
    { header: 'アカウント', width: 10 },
    { header: '受講状況', width: 10 },
    { header: `レッスン（全${program.totals.lessons}）`, width: 14, numeric: true },
    { header: `確認テスト合格（全${program.totals.quizzes}）`, width: 18, numeric: true },
    { header: '事例検討', width: 14 },
    { header: '事例検討の提出日', width: 14 },
    { header: '事例検討の承認日', width: 14 },
    { header: '修了証書番号', width: 16 },
    { header: '修了証書の発行日', width: 14 },
    { header: '最終活動日', width: 14 },
  ];
}

/** A member as a row of cells (same order as memberColumns). */
export function memberCells(
  member: Omit<MemberRow, '_id'>,
  area?: { regionName: string; municipalityName: string },
): Cell[] {
  return [
    ...(area ? [area.regionName, area.municipalityName] : []),
    member.name,
    member.nameKana ?? '',
    member.organisationName ?? '',
    member.sector ?? NO_SECTOR,
    member.profession ?? '',
    USER_STATUS_LABELS[member.status as UserStatus] ?? member.status,
    STAGE_LABELS[member.stage] ?? member.stage,
    member.lessonsRead ?? 0,
    member.quizzesPassed ?? 0,
    member.caseState ? (CASE_STUDY_STATE_LABELS[member.caseState as CaseStudyState] ?? '') : '',
    member.caseSubmittedAt ?? null,
    member.caseApprovedAt ?? null,
    member.certificateNumber ?? '',
    member.certificateIssuedAt ?? null,
    member.lastActivityAt ?? null,
  ];
}

/** Every member matching the query, streamed from a cursor (for exports). */
export async function* streamMembers(
  query: Record<string, unknown>,
  areaOf?: (municipalityId: string) => { regionName: string; municipalityName: string },
): AsyncGenerator<Cell[]> {
  const cursor = TrackingMember.find(query, LIST_FIELDS)
    .sort(areaOf ? { municipalityId: 1, nameKana: 1 } : { nameKana: 1, _id: 1 })
    .lean()
    .cursor({ batchSize: 1000 });
  for await (const member of cursor) {
    yield memberCells(member, areaOf?.(String(member.municipalityId)));
  }
}
