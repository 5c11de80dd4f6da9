import { expect } from 'chai';
import {
  formatDate,
  formatDateTime,
  formatEraDate,
  formatTime,
  isoDate,
} from '../../src/lib/dates.js';

describe('dates in Japan time (src/lib/dates.ts)', () => {
  // 2026-11-30 15:30 UTC is already 1 December in Japan.
  const instant = new Date('2026-11-30T15:30:00Z');

  it('writes the Japanese calendar day, whatever the server zone', () => {
    expect(formatDate(instant)).to.equal('2026年12月1日');
    expect(formatDateTime(instant)).to.equal('2026年12月1日 0:30');
    expect(formatDateTime(new Date('2026-12-01T09:05:00Z'))).to.equal('2026年12月1日 18:05');
  });

  it('writes seconds on request, the time alone, and the ISO day in Japan', () => {
    expect(formatDateTime(new Date('2026-12-01T09:05:07Z'), { seconds: true })).to.equal(
      '2026年12月1日 18:05:07',
    );
    expect(formatTime(new Date('2026-12-01T09:05:00Z'))).to.equal('18:05');
    expect(isoDate(instant)).to.equal('2026-12-01');
  });

  it('writes the era for documents, with 元年 for the first year', () => {
    expect(formatEraDate(instant)).to.equal('令和8年12月1日');
    expect(formatEraDate(new Date('2019-05-01T03:00:00Z'))).to.equal('令和元年5月1日');
    expect(formatEraDate(new Date('2019-04-30T03:00:00Z'))).to.equal('平成31年4月30日');
  });

  it('answers an empty string for no date or an invalid one', () => {
    expect(formatDate(null)).to.equal('');
    expect(formatDateTime(undefined)).to.equal('');
    expect(formatEraDate('not a date')).to.equal('');
  });
});
