import mongoose, { Types } from 'mongoose';
import { recordAudit } from '../audit/audit.service.js';
import type { Catalog, Program } from '../courses/catalog.types.js';
import type { Learner } from '../learning/learner.js';
import { loadProgramProgress } from '../learning/progress.service.js';
import { notify } from '../notifications/notifications.service.js';
import { Organisation } from '../organisations/organisation.model.js';
import { User } from '../users/user.model.js';
import { notFound } from '../lib/errors.js';
import {
  Certificate,
  VALID_CERTIFICATE,
  type CertificateAttrs,
  type CertificateDocument,
} from './certificate.model.js';
import { AlreadyIssuedError, insertWithNextSerial, newVerificationCode } from './numbering.js';

export { AlreadyIssuedError } from './numbering.js';

/** What the lists, the learner's page and other features show of a certificate. */
export interface CertificateSummary {
  id: string;
  number: string;
  userId: string;
  programId: string;
  programTitle: string;
  name: string;
  organisationName: string;
  municipalityId: string | null;
  completedAt: Date;
  issuedAt: Date;
  kind: 'automatic' | 'manual';
  valid: boolean;
  revokedAt: Date | null;
}

type Lean = CertificateAttrs & { _id: Types.ObjectId };

export function summaryOf(doc: Lean | CertificateDocument): CertificateSummary {
  return {
    id: String(doc._id),
    number: doc.number,
    userId: String(doc.userId),
    programId: doc.programId,
    programTitle: doc.programTitle,
    name: doc.name,
    organisationName: doc.organisationName ?? '',
    municipalityId: doc.municipalityId ? String(doc.municipalityId) : null,
    completedAt: doc.completedAt,
    issuedAt: doc.issuedAt,
    kind: doc.kind,
    valid: doc.valid,
    revokedAt: doc.revokedAt ?? null,
  };
}

export interface IssueInput {
  userId: string;
  program: Pick<Program, 'id' | 'title'>;
  completedAt: Date;
  kind: 'automatic' | 'manual';
  /** Manual issue: the administrator and the reason (both required then). */
  issuedBy?: string | null;
  reason?: string | null;
  ip?: string | null;
}

/**
 * Issues a certificate: takes the holder's name, organisation and area as they are now, gives it
 * the next number of the fiscal year, records it in the audit log and notifies the learner.
 * Throws AlreadyIssuedError when the learner holds a valid certificate of the program (also when
 * another process issued it a moment earlier: the partial unique index decides).
 */
export async function issueCertificate(input: IssueInput): Promise<CertificateDocument> {
  const user = await User.findById(input.userId)
    .select({ name: 1, municipalityId: 1, regionId: 1, organisationId: 1 })
    .lean();
  if (!user) throw notFound('利用者が見つかりません。');
  const organisation = user.organisationId
    ? await Organisation.findById(user.organisationId).select({ name: 1 }).lean()
    : null;
  const certificate = await insertWithNextSerial(Certificate, {
    userId: user._id,
    programId: input.program.id,
    name: user.name,
    organisationName: organisation?.name ?? '',
    municipalityId: user.municipalityId ?? null,
    regionId: user.regionId ?? null,
    organisationId: user.organisationId ?? null,
    programTitle: input.program.title,
    completedAt: input.completedAt,
    issuedAt: new Date(),
    kind: input.kind,
    issuedBy: input.issuedBy ? new Types.ObjectId(input.issuedBy) : null,
    issueReason: input.reason ?? null,
    verificationCode: newVerificationCode(),
    valid: true,
    revokedAt: null,
    revokedBy: null,
    revokeReason: null,
  });
  await recordAudit({
    actorId: input.issuedBy ?? null,
    action: 'certificate.issued',
    targetType: 'Certificate',
    targetId: certificate._id,
    municipalityId: certificate.municipalityId,
    ip: input.ip ?? null,
    details: {
      number: certificate.number,
      programId: certificate.programId,
      userId: String(certificate.userId),
      kind: certificate.kind,
      ...(input.reason ? { reason: input.reason } : {}),
    },
  });
  await notify({ userIds: [String(user._id)], kind: 'certificate.issued', link: '/learn/me' });
  return certificate;
}

/**
 * Issues the certificate of a completed program unless the learner already has one of it, valid
 * or revoked: a revocation stands until an administrator issues a new one by hand, so passing a
 * quiz again does not undo it. Safe to call any number of times, from any process: returns the
 * new certificate, or null when there was one already.
 */
export async function issueOnCompletion(input: {
  userId: string;
  program: Pick<Program, 'id' | 'title'>;
  completedAt: Date;
}): Promise<CertificateDocument | null> {
  const existing = await Certificate.exists({
    userId: { $eq: new Types.ObjectId(input.userId) },
    programId: { $eq: input.program.id },
  });
  if (existing) return null;
  try {
    return await issueCertificate({ ...input, kind: 'automatic' });
  } catch (error) {
    if (error instanceof AlreadyIssuedError) return null; // another process was first
    throw error;
  }
}

/**
 * The learner's certificates, newest first; first issues any that a missed completion event left
 * out (a crash between the approval and the issue): every program the learner has completed
 * without any certificate of it gets one now.
 */
export async function certificatesOfLearner(
  catalog: Catalog,
  learner: Learner,
): Promise<CertificateSummary[]> {
  const find = () =>
    Certificate.find({ userId: { $eq: learner.userId } })
      .sort({ issuedAt: -1 })
      .lean();
  const certificates = await find();
  const covered = new Set(certificates.map((c) => c.programId));
  let issued = false;
  for (const program of catalog.programs) {
    if (covered.has(program.id)) continue;
    const progress = await loadProgramProgress(learner, program);
    if (!progress.completed) continue;
    const certificate = await issueOnCompletion({
      userId: String(learner.userId),
      program,
      completedAt: new Date(),
    });
    issued ||= certificate !== null;
  }
  return (issued ? await find() : certificates).map(summaryOf);
}

/**
 * Valid certificates of many users at once, by user id (for the tracking reports and the home
 * pages). Optionally of one program only.
 */
export async function certificatesForUsers(
  userIds: readonly (string | Types.ObjectId)[],
  programId?: string,
): Promise<Map<string, CertificateSummary[]>> {
  const ids = [...new Set(userIds.map(String))]
    .filter((id) => Types.ObjectId.isValid(id))
    .map((id) => new Types.ObjectId(id));
  const filter: Record<string, unknown> = {
    ...VALID_CERTIFICATE,
    userId: mongoose.trusted({ $in: ids }),
  };
  if (programId !== undefined) filter.programId = { $eq: programId };
  const result = new Map<string, CertificateSummary[]>();
  if (ids.length === 0) return result;
  const docs = await Certificate.find(filter).sort({ issuedAt: 1 }).lean();
  for (const doc of docs) {
    const key = String(doc.userId);
    const list = result.get(key) ?? [];
    list.push(summaryOf(doc));
    result.set(key, list);
  }
  return result;
}

/** A certificate by id, or 404. */
export async function getCertificate(id: string): Promise<CertificateDocument> {
  const certificate = Types.ObjectId.isValid(id) ? await Certificate.findById(id) : null;
  if (!certificate) throw notFound('お探しの修了証書は見つかりませんでした。');
  return certificate;
}

/** The certificate a verification code names, or null (the number alone finds nothing). */
export async function findByVerificationCode(code: string) {
  if (!/^[A-Za-z0-9_-]{22,64}$/.test(code)) return null;
  return Certificate.findOne({ verificationCode: { $eq: code } }).lean();
}

/**
 * Revokes a certificate: `valid` and `revokedAt` change together in one update that matches only
 * a valid certificate, so revoking twice (or from two tabs at once) records one revocation.
 * Returns false when it was revoked already.
 */
export async function revokeCertificate(input: {
  certificate: CertificateDocument;
  actorId: string;
  reason: string;
  ip?: string | null;
}): Promise<boolean> {
  const { certificate } = input;
  const result = await Certificate.updateOne(
    { _id: certificate._id, valid: { $eq: true } },
    {
      $set: {
        valid: false,
        revokedAt: new Date(),
        revokedBy: new Types.ObjectId(input.actorId),
        revokeReason: input.reason,
      },
    },
  );
  if (result.modifiedCount === 0) return false;
  await recordAudit({
    actorId: input.actorId,
    action: 'certificate.revoked',
    targetType: 'Certificate',
    targetId: certificate._id,
    municipalityId: certificate.municipalityId,
    ip: input.ip ?? null,
    details: { number: certificate.number, reason: input.reason },
  });
  return true;
}

/** Corrects the printed name (same number, same code); audit-logged with both names. */
export async function correctCertificateName(input: {
  certificate: CertificateDocument;
  actorId: string;
  name: string;
  ip?: string | null;
}): Promise<boolean> {
  const { certificate } = input;
  const before = certificate.name;
  if (before === input.name) return false;
  certificate.name = input.name;
  await certificate.save();
  await recordAudit({
    actorId: input.actorId,
    action: 'certificate.name_corrected',
    targetType: 'Certificate',
    targetId: certificate._id,
    municipalityId: certificate.municipalityId,
    ip: input.ip ?? null,
    details: { number: certificate.number, before, after: certificate.name },
  });
  return true;
}
