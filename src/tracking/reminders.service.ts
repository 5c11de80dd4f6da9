import mongoose, { Types } from 'mongoose';
import { lastEventsAbout, recordAudit } from '../audit/audit.service.js';

/**
 * A reminder mail to a person whose learning has stalled is sent at most once a week per program,
 * whoever sends it: a second coordinator (or a second click) within the week is told when the last
 * one went out. Every reminder is in the audit log, which is also where the week is counted from.
 */
export const REMINDER_INTERVAL_DAYS = 7;

/** When each of these people was last reminded about the program, within the interval. */
export async function recentReminders(
  userIds: Array<string | Types.ObjectId>,
  programId: string,
  now = new Date(),
): Promise<Map<string, Date>> {
  return lastEventsAbout({
    action: 'report.reminded',
    targetIds: userIds,
    since: new Date(now.getTime() - REMINDER_INTERVAL_DAYS * 86_400_000),
    details: { programId },
  });
}

/** The day from which another reminder may be sent. */
export function nextReminderAllowed(lastSent: Date): Date {
  return new Date(lastSent.getTime() + REMINDER_INTERVAL_DAYS * 86_400_000);
}

export async function recordReminder(input: {
  actorId: string;
  userId: Types.ObjectId;
  municipalityId: string;
  programId: string;
  programTitle: string;
  ip: string | undefined;
}): Promise<void> {
  await recordAudit({
    actorId: input.actorId,
    action: 'report.reminded',
    targetType: 'User',
    targetId: input.userId,
    municipalityId: new mongoose.Types.ObjectId(input.municipalityId),
    ip: input.ip,
    details: { programId: input.programId, program: input.programTitle },
  });
}
