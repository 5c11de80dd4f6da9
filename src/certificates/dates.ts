/**
 * Dates as printed on certificates, in Japan's time zone: the Japanese era from ICU's Japanese
 * calendar (no hand-written era table, so a new era comes with Node's ICU data) and the Western
 * calendar as YYYY-MM-DD.
 */
const TIME_ZONE = 'Asia/Tokyo';

const eraFormat = new Intl.DateTimeFormat('ja-JP-u-ca-japanese', {
  era: 'long',
  year: 'numeric',
  month: 'long',
  day: 'numeric',
  timeZone: TIME_ZONE,
});

const isoParts = new Intl.DateTimeFormat('en-CA', {
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  timeZone: TIME_ZONE,
});

/** 令和8年12月1日 */
export function japaneseEraDate(date: Date): string {
  return eraFormat.format(date);
}

/** 2026-12-01 (the day in Japan). */
export function isoDate(date: Date): string {
  const parts = Object.fromEntries(isoParts.formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

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
