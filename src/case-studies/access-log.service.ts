import mongoose, { Types } from 'mongoose';
import { pageOf, skipFor, type Page } from '../admin/paging.js';
import { User } from '../users/user.model.js';
import { CaseStudy, CaseStudyAccess } from './case-study.model.js';

export type AccessWhat = 'draft' | 'version' | 'diff' | 'file';

/** Records that `userId` opened a case study's text or one of its files. */
export async function recordCaseStudyAccess(entry: {
  userId: string;
  caseStudyId: Types.ObjectId;
  what: AccessWhat;
  versionNumber?: number | null;
  fromVersionNumber?: number | null;
  fileId?: Types.ObjectId | null;
  fileName?: string | null;
}): Promise<void> {
  await CaseStudyAccess.create({
    userId: new Types.ObjectId(entry.userId),
    caseStudyId: entry.caseStudyId,
    what: entry.what,
    versionNumber: entry.versionNumber ?? null,
    fromVersionNumber: entry.fromVersionNumber ?? null,
    fileId: entry.fileId ?? null,
    fileName: entry.fileName ?? null,
    at: new Date(),
  });
}

export interface AccessRow {
  at: Date;
  viewerName: string;
  authorName: string;
  caseStudyId: string;
  programId: string;
  what: AccessWhat;
  versionNumber: number | null;
  fromVersionNumber: number | null;
  fileName: string | null;
}

/** The access log, newest first, with names resolved (administrators only, see the routes). */
export async function listCaseStudyAccess(page: number): Promise<Page<AccessRow>> {
  const [entries, total] = await Promise.all([
    CaseStudyAccess.find().sort({ at: -1 }).skip(skipFor(page)).limit(50).lean(),
    CaseStudyAccess.countDocuments(),
  ]);
  const caseIds = [...new Set(entries.map((e) => String(e.caseStudyId)))].map(
    (id) => new Types.ObjectId(id),
  );
  const cases = await CaseStudy.find(
    { _id: mongoose.trusted({ $in: caseIds }) },
    { userId: 1, programId: 1 },
  ).lean();
  const caseById = new Map(cases.map((c) => [String(c._id), c]));
  const userIds = [
    ...new Set([...entries.map((e) => String(e.userId)), ...cases.map((c) => String(c.userId))]),
  ].map((id) => new Types.ObjectId(id));
  const users = await User.find({ _id: mongoose.trusted({ $in: userIds }) }, { name: 1 }).lean();
  const nameOf = new Map(users.map((u) => [String(u._id), u.name]));
  const items = entries.map((entry): AccessRow => {
    const caseStudy = caseById.get(String(entry.caseStudyId));
    return {
      at: entry.at,
      viewerName: nameOf.get(String(entry.userId)) ?? '（削除された利用者）',
      authorName: caseStudy ? (nameOf.get(String(caseStudy.userId)) ?? '—') : '—',
      caseStudyId: String(entry.caseStudyId),
      programId: caseStudy?.programId ?? '—',
      what: entry.what,
      versionNumber: entry.versionNumber ?? null,
      fromVersionNumber: entry.fromVersionNumber ?? null,
      fileName: entry.fileName ?? null,
    };
  });
  return pageOf(items, total, page);
}
