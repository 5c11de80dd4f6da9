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

/** 2026年12月1日 18:30 ('' for no date). */
export function formatDateTime(value: DateInput): string {
  const date = toDate(value);
  return date ? `${dateFormat.format(date)} ${timeFormat.format(date)}` : '';
}

/** 令和8年12月1日, for documents that call for the era ('' for no date). The first year is 元年. */
export function formatEraDate(value: DateInput): string {
  const date = toDate(value);
  return date ? eraFormat.format(date).replace(/(\D)1年/, '$1元年') : '';
}
