/**
 * Days of certificates in Japan's time zone: the month that numbers them and the day an
 * administrator types. How dates are written is src/lib/dates.ts's business.
 */
import { isoDate } from '../lib/dates.js';

/** The calendar year and month (1–12) of a moment in Japan. */
export function tokyoYearMonth(date: Date): { year: number; month: number } {
  const [year, month] = isoDate(date).split('-').map(Number);
  return { year, month };
}

/** The day `YYYY-MM-DD` began in Japan (00:00 JST), or null for anything else. */
export function tokyoDay(value: string): Date | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return null;
  const date = new Date(`${value}T00:00:00+09:00`);
  return Number.isNaN(date.getTime()) || isoDate(date) !== value ? null : date;
}
