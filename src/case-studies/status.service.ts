import mongoose, { Types } from 'mongoose';
import { can } from '../auth/policy.js';
import type { SessionUser } from '../auth/session-user.js';
import { CaseStudy, type CaseStudyState } from './case-study.model.js';

/** What coordinators and regional viewers may know of a case study: state and dates, no content. */
export interface CaseStudyStatus {
  caseStudyId: string;
  userId: string;
  programId: string;
  state: CaseStudyState;
  versionCount: number;
  createdAt: Date;
  submittedAt: Date | null;
  approvedAt: Date | null;
  withdrawnAt: Date | null;
  stateChangedAt: Date;
}

/**
 * States and dates of the case studies of a program that `viewer` may follow ('caseStudy.status':
 * the coordinator's municipality, the regional viewer's region, everything for administrators).
 * For the tracking issue; never returns texts or files.
 */
export async function listCaseStudyStatuses(
  viewer: SessionUser,
  programId: string,
): Promise<CaseStudyStatus[]> {
  const or: Record<string, unknown>[] = [];
  const isAdmin = viewer.roles.includes('admin');
  if (!isAdmin) {
    if (viewer.roles.includes('coordinator') && viewer.municipalityId)
      or.push({ municipalityId: new Types.ObjectId(viewer.municipalityId) });
    if (viewer.roles.includes('regional_viewer') && viewer.regionId)
      or.push({ regionId: new Types.ObjectId(viewer.regionId) });
    if (or.length === 0) return [];
  }
  const filter: Record<string, unknown> = { programId: { $eq: programId } };
  if (!isAdmin) filter.$or = mongoose.trusted(or);
  const rows = await CaseStudy.find(filter, {
    userId: 1,
    programId: 1,
    state: 1,
    versionCount: 1,
    createdAt: 1,
    submittedAt: 1,
    approvedAt: 1,
    withdrawnAt: 1,
    stateChangedAt: 1,
    municipalityId: 1,
    regionId: 1,
    assignedSupervisorIds: 1,
  }).lean();
  return rows
    .filter((row) => can(viewer, 'caseStudy.status', row))
    .map((row) => ({
      caseStudyId: String(row._id),
      userId: String(row.userId),
      programId: row.programId,
      state: row.state,
      versionCount: row.versionCount,
      createdAt: row.createdAt,
      submittedAt: row.submittedAt ?? null,
      approvedAt: row.approvedAt ?? null,
      withdrawnAt: row.withdrawnAt ?? null,
      stateChangedAt: row.stateChangedAt,
    }));
}
