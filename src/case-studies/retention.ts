import mongoose from 'mongoose';
import { recordAudit } from '../audit/audit.service.js';
import type { Logger } from '../lib/logger.js';
import { deleteAttachment } from './attachments.js';
import { CaseStudy, CaseStudyVersion } from './case-study.model.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** How often the server looks for attachments past their retention. */
export const RETENTION_SWEEP_INTERVAL_MS = 60 * 60 * 1000;

/**
 * Deletes the attachments (GridFS files) of case studies approved more than `days` days before
 * `now`, marks each case study (filesDeletedAt) and records it in the audit log. The texts stay.
 * Returns how many case studies were swept.
 */
export async function sweepCaseStudyFiles(days: number, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - days * DAY_MS);
  const due = await CaseStudy.find(
    {
      state: 'approved',
      approvedAt: mongoose.trusted({ $lte: cutoff }),
      filesDeletedAt: null,
    },
    { _id: 1, municipalityId: 1, draft: 1 },
  ).lean();
  let swept = 0;
  for (const caseStudy of due) {
    const versions = await CaseStudyVersion.find(
      { caseStudyId: caseStudy._id },
      { attachments: 1 },
    ).lean();
    const fileIds = new Map(
      [...caseStudy.draft.attachments, ...versions.flatMap((v) => v.attachments)].map((a) => [
        String(a.fileId),
        a.fileId,
      ]),
    );
    for (const fileId of fileIds.values()) await deleteAttachment(fileId);
    const marked = await CaseStudy.updateOne(
      { _id: caseStudy._id, filesDeletedAt: null },
      { $set: { filesDeletedAt: now } },
    );
    if (marked.modifiedCount === 0) continue;
    swept++;
    await recordAudit({
      action: 'case_study.files_deleted',
      targetType: 'CaseStudy',
      targetId: caseStudy._id,
      municipalityId: caseStudy.municipalityId,
      details: { files: fileIds.size, retentionDays: days },
    });
  }
  return swept;
}

/** Runs the sweep now and then every hour; returns a function that stops it. */
export function startRetentionSweep(days: number | undefined, logger: Logger): () => void {
  if (days === undefined) return () => {};
  const run = () => {
    sweepCaseStudyFiles(days).then(
      (swept) => {
        if (swept > 0) logger.info({ swept }, 'case-study attachments past retention deleted');
      },
      (error: unknown) => logger.error({ err: error }, 'case-study retention sweep failed'),
    );
  };
  run();
  const timer = setInterval(run, RETENTION_SWEEP_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
