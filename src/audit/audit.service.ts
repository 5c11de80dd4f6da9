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
  if (details) checkDetails(details);
  await AuditEvent.create({ ...eventFields(input), details });
}

/** Refuses detail keys that look like secrets or addresses (a programming error). */
function checkDetails(details: Record<string, unknown>): void {
  const bad = Object.keys(details).filter((key) => FORBIDDEN_KEYS.test(key) && key !== 'emailHash');
  if (bad.length > 0) throw new Error(`audit details must not contain ${bad.join(', ')}`);
}

/** The stored fields of an event but its time and details. */
function eventFields(input: AuditInput) {
  return {
    actorId: toObjectId(input.actorId),
    action: input.action,
    targetType: input.targetType ?? null,
    targetId: toObjectId(input.targetId),
    municipalityId: toObjectId(input.municipalityId),
    ip: input.ip ?? null,
  };
}

/**
 * A short, keyed-free hash of an e-mail address, so repeated failed sign-ins for one address can
 * be seen together without the log holding the address itself.
 */
export function emailHash(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 16);
}

/**
 * Records an event that may repeat very often (a throttled sign-in) as one event per `groupKey`
 * and window: the first occurrence writes the event, later ones in the same window add to its
 * `details.count` and move `details.lastAt`. The event's id is derived from the action, the key
 * and the window, so parallel requests and several processes still write one event.
 */
export async function recordRepeatedAudit(
  input: AuditInput & { groupKey: string; windowMinutes: number },
  now = new Date(),
): Promise<void> {
  const windowMs = input.windowMinutes * 60_000;
  const windowStart = Math.floor(now.getTime() / windowMs) * windowMs;
  const digest = createHash('sha256')
    .update(`${input.action}\n${input.groupKey}\n${windowStart}`)
    .digest();
  // An ObjectId whose time part is the window's start, and the rest from the digest.
  const id = Buffer.alloc(12);
  id.writeUInt32BE(Math.floor(windowStart / 1000), 0);
  digest.copy(id, 4, 0, 8);
  const details = input.details ?? {};
  checkDetails(details);
  const onInsert: Record<string, unknown> = { at: now, ...eventFields(input) };
  for (const [key, value] of Object.entries(details)) onInsert[`details.${key}`] = value;
  const update = {
    $setOnInsert: onInsert,
    $inc: { 'details.count': 1 },
    $set: { 'details.lastAt': now },
  };
  const filter = { _id: new Types.ObjectId(id) };
  try {
    await AuditEvent.collection.updateOne(filter, update, { upsert: true });
  } catch (error) {
    // Another request created it at the same moment: add to it.
    if ((error as { code?: unknown }).code !== 11000) throw error;
    await AuditEvent.collection.updateOne(filter, update);
  }
}

/**
 * The time of the latest `action` about each of `targetIds` since `since` (optionally only events
 * whose details hold the given values), for rules such as "one reminder a week".
 */
export async function lastEventsAbout(query: {
  action: AuditAction;
  targetIds: Array<string | Types.ObjectId>;
  since: Date;
  details?: Record<string, string>;
}): Promise<Map<string, Date>> {
  const ids = query.targetIds.map(toObjectId).filter((id): id is Types.ObjectId => id !== null);
  const last = new Map<string, Date>();
  if (ids.length === 0) return last;
  const filter: Record<string, unknown> = {
    targetId: { $in: ids },
    action: query.action,
    at: { $gte: query.since },
  };
  for (const [key, value] of Object.entries(query.details ?? {})) filter[`details.${key}`] = value;
  const events = await AuditEvent.collection
    .find(filter, { projection: { targetId: 1, at: 1 } })
    .toArray();
  for (const event of events) {
    const key = String(event.targetId);
    const at = event.at as Date;
    if (!last.has(key) || last.get(key)! < at) last.set(key, at);
  }
  return last;
}
