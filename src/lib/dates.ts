/**
 * Dates and times as Tsunagu shows them, always in Japan time (Asia/Tokyo), whatever the
 * server's time zone: pages, mails and exports use these.
 */
const TIME_ZONE = 'Asia/Tokyo';

const dateFormat = new Intl.DateTimeFormat('ja-JP', {
  timeZone: TIME_ZONE,
  year: 'numeric',
  month: 'long',
  day: 'numeric',
});

const timeFormat = new Intl.DateTimeFormat('ja-JP', {
  timeZone: TIME_ZONE,
  hour: 'numeric',
  minute: '2-digit',
});

const timeWithSecondsFormat = new Intl.DateTimeFormat('ja-JP', {
  timeZone: TIME_ZONE,
  hour: 'numeric',
  minute: '2-digit',
  second: '2-digit',
});

const isoParts = new Intl.DateTimeFormat('en-CA', {
  timeZone: TIME_ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
});

const eraFormat = new Intl.DateTimeFormat('ja-JP-u-ca-japanese', {
  timeZone: TIME_ZONE,
  era: 'long',
  year: 'numeric',
  month: 'long',
  day: 'numeric',
});

type DateInput = Date | string | number | null | undefined;

function toDate(value: DateInput): Date | null {
  if (value === null || value === undefined || value === '') return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** 2026年12月1日 ('' for no date). */
export function formatDate(value: DateInput): string {
  const date = toDate(value);
  return date ? dateFormat.format(date) : '';
}

/**
 * 2026年12月1日 18:30 ('' for no date); with `seconds`, 2026年12月1日 18:30:05 (the audit log,
 * where events of the same minute must be told apart).
 */
export function formatDateTime(value: DateInput, options: { seconds?: boolean } = {}): string {
  const date = toDate(value);
  if (!date) return '';
  const time = options.seconds ? timeWithSecondsFormat : timeFormat;
  return `${dateFormat.format(date)} ${time.format(date)}`;
}

/** 18:30 ('' for no date), for a moment of today such as 「保存しました（18:30）」. */
export function formatTime(value: DateInput): string {
  const date = toDate(value);
  return date ? timeFormat.format(date) : '';
}

/**
 * 2026-12-01, the day in Japan: only where a machine or a spreadsheet reads the date (CSV cells,
 * file names, verification data); people read formatDate ('' for no date).
 */
export function isoDate(value: DateInput): string {
  const date = toDate(value);
  if (!date) return '';
  const parts = Object.fromEntries(isoParts.formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** 令和8年12月1日, for documents that call for the era ('' for no date). The first year is 元年. */
export function formatEraDate(value: DateInput): string {
  const date = toDate(value);
  return date ? eraFormat.format(date).replace(/(\D)1年/, '$1元年') : '';
}
