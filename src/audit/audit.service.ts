import { createHash } from 'node:crypto';
import { Types } from 'mongoose';
import { AuditEvent, type AuditAction } from './audit.model.js';

export interface AuditInput {
  actorId?: string | Types.ObjectId | null;
  action: AuditAction;
  targetType?: string;
  targetId?: string | Types.ObjectId | null;
  municipalityId?: string | Types.ObjectId | null;
  ip?: string | null;
  /** Small facts only: never passwords, tokens, e-mail addresses or case content. */
  details?: Record<string, unknown>;
}

const FORBIDDEN_KEYS = /pass|token|secret|email|mail_?body|content/i;

function toObjectId(value: string | Types.ObjectId | null | undefined): Types.ObjectId | null {
  if (!value) return null;
  if (value instanceof Types.ObjectId) return value;
  return Types.ObjectId.isValid(value) ? new Types.ObjectId(value) : null;
}

/**
 * Writes one audit event. Keys of `details` that look like secrets or addresses are refused
 * (a programming error), so a careless caller cannot leak them into the log.
 */
export async function recordAudit(input: AuditInput): Promise<void> {
  const details = input.details ?? null;
  if (details) {
    const bad = Object.keys(details).filter(
      (key) => FORBIDDEN_KEYS.test(key) && key !== 'emailHash',
    );
    if (bad.length > 0) throw new Error(`audit details must not contain ${bad.join(', ')}`);
  }
  await AuditEvent.create({
    actorId: toObjectId(input.actorId),
    action: input.action,
    targetType: input.targetType ?? null,
    targetId: toObjectId(input.targetId),
    municipalityId: toObjectId(input.municipalityId),
    ip: input.ip ?? null,
    details,
  });
}

/**
 * A short, keyed-free hash of an e-mail address, so repeated failed sign-ins for one address can
 * be seen together without the log holding the address itself.
 */
export function emailHash(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 16);
}
