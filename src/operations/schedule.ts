/**
 * When the scheduled backup runs, and what its files are called. Times are Japan time
 * (Asia/Tokyo, UTC+9 all year: Japan has no daylight saving), whatever the server's TZ, like
 * every time Tsunagu shows.
 */

const JAPAN_OFFSET_MS = 9 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface TimeOfDay {
  hour: number;
  minute: number;
}

/** The first BACKUP_AT strictly after `now`. */
export function nextBackupAt(now: Date, at: TimeOfDay): Date {
  const japan = new Date(now.getTime() + JAPAN_OFFSET_MS);
  const today =
    Date.UTC(japan.getUTCFullYear(), japan.getUTCMonth(), japan.getUTCDate(), at.hour, at.minute) -
    JAPAN_OFFSET_MS;
  return new Date(today > now.getTime() ? today : today + DAY_MS);
}

const pad = (n: number) => String(n).padStart(2, '0');

/** tsunagu-20261202-0230.tar.gz: the scheduled backup of that time (Japan time). */
export function scheduledBackupName(slot: Date): string {
  const j = new Date(slot.getTime() + JAPAN_OFFSET_MS);
  const day = `${j.getUTCFullYear()}${pad(j.getUTCMonth() + 1)}${pad(j.getUTCDate())}`;
  return `tsunagu-${day}-${pad(j.getUTCHours())}${pad(j.getUTCMinutes())}.tar.gz`;
}

/** The names scheduled backups get; retention deletes nothing else. */
export const SCHEDULED_BACKUP_NAME = /^tsunagu-\d{8}-\d{4}\.tar\.gz$/;
