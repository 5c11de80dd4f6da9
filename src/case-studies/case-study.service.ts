import mongoose, { Types } from 'mongoose';
import { recordAudit } from '../audit/audit.service.js';
import type { SessionUser } from '../auth/session-user.js';
import type { CaseStudySection, Program } from '../courses/catalog.types.js';
import { isDuplicateKey } from '../lib/forms.js';
import { countCharacters } from '../lib/text.js';
import { setCaseStudyApprovalCheck } from '../learning/case-study-hook.js';
import { deleteAttachment } from './attachments.js';
import {
  CaseStudy,
  CaseStudyVersion,
  EDITABLE_STATES,
  WITHDRAWABLE_STATES,
  type AttachmentAttrs,
  type CaseStudyDocument,
  type CaseStudyState,
} from './case-study.model.js';
import { findingsFor, type PlacedFinding } from './findings.js';

/** The most one section may hold (characters as a reader counts them). */
export const MAX_SECTION_CHARACTERS = 50_000;

const toObjectId = (value: string | null | undefined) =>
  value && Types.ObjectId.isValid(value) ? new Types.ObjectId(value) : null;

/** The sections of the program's case study, or none when the program has no case study. */
export function sectionsOf(program: Program): readonly CaseStudySection[] {
  return program.caseStudy?.sections ?? [];
}

/** Texts posted for the program's sections: unknown ids dropped, line breaks normalised. */
export function sectionTexts(
  program: Program,
  posted: (id: string) => unknown,
): Map<string, string> {
  const texts = new Map<string, string>();
  for (const section of sectionsOf(program)) {
    const value = posted(section.id);
    if (typeof value === 'string') texts.set(section.id, value.replace(/\r\n?/g, '\n'));
  }
  return texts;
}

/** Sections over the maximum: section id → characters. */
export function overlongSections(texts: ReadonlyMap<string, string>): Map<string, number> {
  const over = new Map<string, number>();
  for (const [id, text] of texts) {
    if (text.length > MAX_SECTION_CHARACTERS) {
      const count = countCharacters(text);
      if (count > MAX_SECTION_CHARACTERS) over.set(id, count);
    }
  }
  return over;
}

/** The open (not withdrawn) case study of the user for the program, if any. */
export function findOpenCaseStudy(
  userId: string,
  programId: string,
): Promise<CaseStudyDocument | null> {
  return CaseStudy.findOne({
    userId: new Types.ObjectId(userId),
    programId: { $eq: programId },
    open: true,
  });
}

/** Withdrawn case studies of the user for the program, newest first. */
export function listWithdrawn(userId: string, programId: string) {
  return CaseStudy.find(
    { userId: new Types.ObjectId(userId), programId: { $eq: programId }, open: false },
    { state: 1, versionCount: 1, withdrawnAt: 1, createdAt: 1 },
  )
    .sort({ withdrawnAt: -1 })
    .lean();
}

/** A case study by id (null for a malformed or unknown id). */
export async function findCaseStudy(id: string): Promise<CaseStudyDocument | null> {
  const oid = toObjectId(id);
  return oid ? CaseStudy.findById(oid) : null;
}

export type SaveResult =
  | { outcome: 'saved'; caseStudy: CaseStudyDocument }
  | { outcome: 'conflict'; caseStudy: CaseStudyDocument | null }
  | { outcome: 'not_editable'; caseStudy: CaseStudyDocument };

/**
 * Saves the draft's texts if the draft is still at `revision` (the one the page was loaded
 * with). Another tab's newer save makes this one a conflict instead of overwriting it. The first
 * save creates the case study.
 */
export async function saveDraft(
  user: SessionUser,
  program: Program,
  revision: number,
  texts: ReadonlyMap<string, string>,
): Promise<SaveResult> {
  const now = new Date();
  const existing = await findOpenCaseStudy(user.id, program.id);
  if (!existing) {
    if (revision !== 0) return { outcome: 'conflict', caseStudy: null };
    try {
      const created = await CaseStudy.create({
        userId: new Types.ObjectId(user.id),
        programId: program.id,
        municipalityId: toObjectId(user.municipalityId),
        regionId: toObjectId(user.regionId),
        organisationId: toObjectId(user.organisationId),
        state: 'draft',
        draft: { sections: Object.fromEntries(texts), attachments: [], revision: 1, savedAt: now },
      });
      return { outcome: 'saved', caseStudy: created };
    } catch (error) {
      // Two tabs created it at once: the other one won.
      if (isDuplicateKey(error)) {
        return { outcome: 'conflict', caseStudy: await findOpenCaseStudy(user.id, program.id) };
      }
      throw error;
    }
  }
  if (!EDITABLE_STATES.includes(existing.state)) {
    return { outcome: 'not_editable', caseStudy: existing };
  }
  const set: Record<string, unknown> = { 'draft.savedAt': now };
  for (const [id, text] of texts) set[`draft.sections.${id}`] = text;
  const updated = await CaseStudy.findOneAndUpdate(
    {
      _id: existing._id,
      state: mongoose.trusted({ $in: EDITABLE_STATES }),
      'draft.revision': revision,
    },
    { $set: set, $inc: { 'draft.revision': 1 } },
    { returnDocument: 'after' },
  );
  if (updated) return { outcome: 'saved', caseStudy: updated };
  const now2 = await CaseStudy.findById(existing._id);
  if (now2 && !EDITABLE_STATES.includes(now2.state)) {
    return { outcome: 'not_editable', caseStudy: now2 };
  }
  return { outcome: 'conflict', caseStudy: now2 };
}

/**
 * Adds stored files to the draft, as long as it stays editable and within `maxFiles`. Returns
 * the updated case study, or null when the draft changed state or filled up meanwhile.
 */
export async function addAttachments(
  caseStudy: CaseStudyDocument,
  attachments: AttachmentAttrs[],
  maxFiles: number,
): Promise<CaseStudyDocument | null> {
  if (attachments.length === 0) return caseStudy;
  const room = maxFiles - attachments.length;
  const updated = await CaseStudy.findOneAndUpdate(
    {
      _id: caseStudy._id,
      state: mongoose.trusted({ $in: EDITABLE_STATES }),
      [`draft.attachments.${room}`]: mongoose.trusted({ $exists: false }),
    },
    {
      $push: { 'draft.attachments': { $each: attachments } },
      $inc: { 'draft.revision': 1 },
      $set: { 'draft.savedAt': new Date() },
    },
    { returnDocument: 'after' },
  );
  if (!updated) {
    await Promise.all(attachments.map((a) => deleteAttachment(a.fileId)));
  }
  return updated;
}

/** Removes a file from the draft; the stored bytes go too unless a submitted version keeps them. */
export async function removeAttachment(
  caseStudy: CaseStudyDocument,
  fileId: string,
): Promise<CaseStudyDocument | null> {
  const oid = toObjectId(fileId);
  if (!oid) return null;
  const updated = await CaseStudy.findOneAndUpdate(
    {
      _id: caseStudy._id,
      state: mongoose.trusted({ $in: EDITABLE_STATES }),
      'draft.attachments.fileId': oid,
    },
    {
      $pull: { 'draft.attachments': { fileId: oid } },
      $inc: { 'draft.revision': 1 },
      $set: { 'draft.savedAt': new Date() },
    },
    { returnDocument: 'after' },
  );
  if (!updated) return null;
  const kept = await CaseStudyVersion.exists({
    caseStudyId: caseStudy._id,
    'attachments.fileId': oid,
  });
  if (!kept) await deleteAttachment(oid);
  return updated;
}

/** Sections below their minimum: section id → characters written. */
export function shortSections(
  program: Program,
  texts: ReadonlyMap<string, string>,
): Map<string, number> {
  const short = new Map<string, number>();
  for (const section of sectionsOf(program)) {
    const count = countCharacters((texts.get(section.id) ?? '').trim());
    if (count < section.minLength) short.set(section.id, count);
  }
  return short;
}

/** The draft's texts as a Map (mongoose Maps and lean objects alike). */
export function draftTexts(caseStudy: CaseStudyDocument): Map<string, string> {
  return new Map(caseStudy.draft?.sections ?? []);
}

export type SubmitResult =
  | { outcome: 'submitted'; caseStudy: CaseStudyDocument; versionNumber: number }
  | { outcome: 'too_short'; short: Map<string, number>; findings: PlacedFinding[] }
  | { outcome: 'findings'; findings: PlacedFinding[] }
  | { outcome: 'conflict' }
  | { outcome: 'not_editable' };

/**
 * Submits the draft as it is at `revision`: every section at its minimum, every guard finding
 * fixed or confirmed (`confirmed` holds the keys the trainee ticked). The state changes with one
 * conditional update, so a double click freezes one version only.
 */
export async function submitCaseStudy(
  user: SessionUser,
  program: Program,
  caseStudy: CaseStudyDocument,
  revision: number,
  confirmed: ReadonlySet<string>,
  ip?: string,
): Promise<SubmitResult> {
  if (!EDITABLE_STATES.includes(caseStudy.state)) return { outcome: 'not_editable' };
  if (caseStudy.draft.revision !== revision) return { outcome: 'conflict' };
  const texts = draftTexts(caseStudy);
  const attachments = caseStudy.draft.attachments.map((a) => a.toObject<AttachmentAttrs>());
  const findings = await findingsFor(
    sectionsOf(program),
    texts,
    attachments.map((a) => a.name),
  );
  // Both problems at once, so the trainee fixes everything in one pass.
  const short = shortSections(program, texts);
  if (short.size > 0) return { outcome: 'too_short', short, findings };
  const open = findings.filter((finding) => !confirmed.has(finding.key));
  if (open.length > 0) return { outcome: 'findings', findings };

  const now = new Date();
  const from: CaseStudyState = caseStudy.state;
  const to: CaseStudyState = from === 'revision_requested' ? 'resubmitted' : 'submitted';
  const claimed = await CaseStudy.findOneAndUpdate(
    { _id: caseStudy._id, state: from, 'draft.revision': revision },
    {
      $set: { state: to, submittedAt: now, stateChangedAt: now },
      $inc: { versionCount: 1 },
    },
    { returnDocument: 'after' },
  );
  if (!claimed) {
    const current = await CaseStudy.findById(caseStudy._id);
    return current && EDITABLE_STATES.includes(current.state)
      ? { outcome: 'conflict' }
      : { outcome: 'not_editable' };
  }
  const versionNumber = claimed.versionCount;
  try {
    await CaseStudyVersion.create({
      caseStudyId: claimed._id,
      userId: claimed.userId,
      number: versionNumber,
      sections: Object.fromEntries(texts),
      attachments,
      confirmations: findings.map((f) => ({
        sectionId: f.sectionId,
        kind: f.kind,
        text: f.text,
        confirmedAt: now,
      })),
      submittedAt: now,
    });
  } catch (error) {
    // Put the case study back as it was, so the trainee can submit again.
    await CaseStudy.updateOne(
      { _id: claimed._id, state: to, versionCount: versionNumber },
      { $set: { state: from, submittedAt: caseStudy.submittedAt }, $inc: { versionCount: -1 } },
    );
    throw error;
  }
  await recordAudit({
    actorId: user.id,
    action: 'case_study.submitted',
    targetType: 'CaseStudy',
    targetId: claimed._id,
    municipalityId: claimed.municipalityId,
    ip: ip ?? null,
    details: { version: versionNumber, program: program.id },
  });
  if (submissionListener) await submissionListener(claimed, versionNumber);
  return { outcome: 'submitted', caseStudy: claimed, versionNumber };
}

/** Withdraws the case study (not once approved); the trainee may then start a new one. */
export async function withdrawCaseStudy(
  user: SessionUser,
  caseStudy: CaseStudyDocument,
  ip?: string,
): Promise<boolean> {
  const now = new Date();
  const result = await CaseStudy.updateOne(
    { _id: caseStudy._id, state: mongoose.trusted({ $in: WITHDRAWABLE_STATES }) },
    { $set: { state: 'withdrawn', open: false, withdrawnAt: now, stateChangedAt: now } },
  );
  if (result.modifiedCount === 0) return false;
  await recordAudit({
    actorId: user.id,
    action: 'case_study.withdrawn',
    targetType: 'CaseStudy',
    targetId: caseStudy._id,
    municipalityId: caseStudy.municipalityId,
    ip: ip ?? null,
    details: { program: caseStudy.programId },
  });
  return true;
}

/**
 * Approves a submitted case study. The supervisor review (issue 10) decides when; tests and that
 * issue call this.
 */
export async function approveCaseStudy(
  caseStudyId: Types.ObjectId | string,
  actorId: string | null = null,
  at = new Date(),
): Promise<boolean> {
  const result = await CaseStudy.updateOne(
    {
      _id: new Types.ObjectId(String(caseStudyId)),
      state: mongoose.trusted({ $in: ['submitted', 'in_review', 'resubmitted'] }),
    },
    { $set: { state: 'approved', approvedAt: at, stateChangedAt: at } },
  );
  if (result.modifiedCount === 0) return false;
  await recordAudit({
    actorId,
    action: 'case_study.approved',
    targetType: 'CaseStudy',
    targetId: String(caseStudyId),
  });
  return true;
}

/** Versions of a case study, oldest first, without their texts. */
export function listVersions(caseStudyId: Types.ObjectId) {
  return CaseStudyVersion.find(
    { caseStudyId },
    { number: 1, submittedAt: 1, 'attachments.name': 1, 'attachments.fileId': 1 },
  )
    .sort({ number: 1 })
    .lean();
}

export function loadVersion(caseStudyId: Types.ObjectId, number: number) {
  return CaseStudyVersion.findOne({ caseStudyId, number }).lean();
}

/** Whether the user's case study for the program is approved (registered with learning). */
export async function isCaseStudyApproved(userId: string, programId: string): Promise<boolean> {
  if (!Types.ObjectId.isValid(userId)) return false;
  const found = await CaseStudy.exists({
    userId: new Types.ObjectId(userId),
    programId: { $eq: programId },
    state: 'approved',
  });
  return !!found;
}

/** Lets learning count an approved case study (overview, /learn/me, the completion rule). */
export function registerCaseStudyApprovalCheck(): void {
  setCaseStudyApprovalCheck(isCaseStudyApproved);
}

// ── For the supervisor review (src/reviews) ──────────────────────────────────────────────────

/** Called after each submission (first or resubmission); the review feature registers allocation. */
export type SubmissionListener = (
  caseStudy: CaseStudyDocument,
  versionNumber: number,
) => Promise<void>;
let submissionListener: SubmissionListener | null = null;

export function setCaseStudySubmissionListener(listener: SubmissionListener | null): void {
  submissionListener = listener;
}

/** States a supervisor may decide on. */
export const DECIDABLE_STATES: readonly CaseStudyState[] = [
  'submitted',
  'in_review',
  'resubmitted',
];

/** Sets the supervisors assigned to an open case study; null when it is closed meanwhile. */
export function setAssignedSupervisors(
  caseStudyId: Types.ObjectId,
  supervisorIds: readonly Types.ObjectId[],
): Promise<CaseStudyDocument | null> {
  return CaseStudy.findOneAndUpdate(
    { _id: caseStudyId, open: true, state: mongoose.trusted({ $ne: 'approved' }) },
    { $set: { assignedSupervisorIds: [...supervisorIds] } },
    { returnDocument: 'after' },
  );
}

/** submitted → in_review when the supervisor starts writing feedback (conditional update). */
export async function markInReview(caseStudyId: Types.ObjectId): Promise<void> {
  const now = new Date();
  await CaseStudy.updateOne(
    { _id: caseStudyId, state: 'submitted' },
    { $set: { state: 'in_review', stateChangedAt: now } },
  );
}

/** Sends the case study back to its author; false when it is no longer awaiting a decision. */
export async function requestRevision(
  caseStudyId: Types.ObjectId,
  at = new Date(),
): Promise<boolean> {
  const result = await CaseStudy.updateOne(
    { _id: caseStudyId, state: mongoose.trusted({ $in: DECIDABLE_STATES }) },
    { $set: { state: 'revision_requested', stateChangedAt: at } },
  );
  return result.modifiedCount > 0;
}

/**
 * Loads what the trainee's page shows of the review (decided rounds only); registered by the
 * review feature, rendered by views/reviews/_trainee-feedback.ejs.
 */
export type FeedbackLoader = (caseStudy: CaseStudyDocument, program: Program) => Promise<unknown>;
let feedbackLoader: FeedbackLoader | null = null;

export function setCaseStudyFeedbackLoader(loader: FeedbackLoader | null): void {
  feedbackLoader = loader;
}

export function loadCaseStudyFeedback(
  caseStudy: CaseStudyDocument | null,
  program: Program,
): Promise<unknown> {
  return caseStudy && feedbackLoader ? feedbackLoader(caseStudy, program) : Promise.resolve(null);
}
