import mongoose, { Types } from 'mongoose';
import {
  CASE_STUDY_STATE_LABELS,
  CaseStudy,
  type CaseStudyState,
} from '../case-studies/case-study.model.js';
import { Municipality } from '../organisations/municipality.model.js';
import { Region } from '../organisations/region.model.js';
import { User } from '../users/user.model.js';
import { OPEN_REVIEW_STATES } from './allocation.service.js';

/** States in which the case waits for its supervisor (days waiting and overdue count here). */
export const AWAITING_STATES: readonly string[] = ['submitted', 'in_review', 'resubmitted'];
export const QUEUE_STATES: readonly CaseStudyState[] = [
  'submitted',
  'in_review',
  'resubmitted',
  'revision_requested',
  'approved',
];
export const QUEUE_SORTS = {
  waiting: '待っている日数の長い順',
  newest: '提出日の新しい順',
  name: '研修生の氏名順',
} as const;
export type QueueSort = keyof typeof QUEUE_SORTS;

export interface QueueRow {
  caseStudyId: string;
  traineeName: string;
  profession: string | null;
  municipality: string;
  region: string;
  regionId: string | null;
  state: CaseStudyState;
  stateLabel: string;
  versionNumber: number;
  submittedAt: Date | null;
  /** Whole days since the last submission while awaiting the supervisor; null otherwise. */
  daysWaiting: number | null;
  overdue: boolean;
  supervisorIds: string[];
}

const DAY_MS = 86_400_000;

/** Case studies as rows for the queue and the administrators' list. */
export async function queueRows(
  filter: Record<string, unknown>,
  overdueDays: number,
  now = new Date(),
): Promise<QueueRow[]> {
  const cases = await CaseStudy.find(filter, {
    userId: 1,
    state: 1,
    versionCount: 1,
    submittedAt: 1,
    municipalityId: 1,
    regionId: 1,
    assignedSupervisorIds: 1,
  }).lean();
  const [users, municipalities, regions] = await Promise.all([
    User.find(
      { _id: mongoose.trusted({ $in: cases.map((c) => c.userId) }) },
      { name: 1, profession: 1 },
    ).lean(),
    Municipality.find({}, { name: 1 }).lean(),
    Region.find({}, { name: 1 }).lean(),
  ]);
  const userById = new Map(users.map((u) => [String(u._id), u]));
  const municipalityName = new Map(municipalities.map((m) => [String(m._id), m.name]));
  const regionName = new Map(regions.map((r) => [String(r._id), r.name]));
  return cases.map((c) => {
    const user = userById.get(String(c.userId));
    const awaiting = AWAITING_STATES.includes(c.state) && !!c.submittedAt;
    const waitedMs = awaiting ? now.getTime() - c.submittedAt!.getTime() : 0;
    return {
      caseStudyId: String(c._id),
      traineeName: user?.name ?? '（削除された利用者）',
      profession: user?.profession ?? null,
      municipality: municipalityName.get(String(c.municipalityId)) ?? '—',
      region: regionName.get(String(c.regionId)) ?? '—',
      regionId: c.regionId ? String(c.regionId) : null,
      state: c.state,
      stateLabel: CASE_STUDY_STATE_LABELS[c.state],
      versionNumber: c.versionCount,
      submittedAt: c.submittedAt ?? null,
      daysWaiting: awaiting ? Math.floor(waitedMs / DAY_MS) : null,
      overdue: awaiting && waitedMs > overdueDays * DAY_MS,
      supervisorIds: (c.assignedSupervisorIds ?? []).map(String),
    };
  });
}

export interface QueueQuery {
  state: CaseStudyState | '';
  regionId: string;
  sort: QueueSort;
}

/** The supervisor's cases, filtered and sorted. */
export async function supervisorQueue(
  supervisorId: string,
  query: QueueQuery,
  overdueDays: number,
): Promise<QueueRow[]> {
  const filter: Record<string, unknown> = {
    assignedSupervisorIds: new Types.ObjectId(supervisorId),
    state: query.state ? { $eq: query.state } : mongoose.trusted({ $in: OPEN_REVIEW_STATES }),
  };
  if (query.regionId && Types.ObjectId.isValid(query.regionId))
    filter.regionId = new Types.ObjectId(query.regionId);
  return sortRows(await queueRows(filter, overdueDays), query.sort);
}

export function sortRows(rows: QueueRow[], sort: QueueSort): QueueRow[] {
  const time = (r: QueueRow) => r.submittedAt?.getTime() ?? 0;
  const copy = [...rows];
  if (sort === 'newest') copy.sort((a, b) => time(b) - time(a));
  else if (sort === 'name') copy.sort((a, b) => a.traineeName.localeCompare(b.traineeName, 'ja'));
  // Waiting ones first, the longest waiting at the top.
  else copy.sort((a, b) => (b.daysWaiting ?? -1) - (a.daysWaiting ?? -1) || time(a) - time(b));
  return copy;
}
