import { describe, expect, it } from 'vitest';
import { calendarDay, formatDaySeparator, formatMessageTime, isSameCalendarDay } from './time.js';

const NY = 'America/New_York';
const BERLIN = 'Europe/Berlin';
const TOKYO = 'Asia/Tokyo';
const MIN = 60_000;
const HOUR = 60 * MIN;

/** An instant given as UTC wall time (the zone of each case is explicit in the assertions). */
const utc = (iso: string) => Date.parse(`${iso}Z`);

describe('formatMessageTime, en-US (issue 5 examples)', () => {
  // now = Fri 2025-06-20 14:34 in New York (EDT, UTC-4)
  const now = utc('2025-06-20T18:34:00');

  it('says "now" under a minute, including a little clock skew into the future', () => {
    expect(formatMessageTime(now, now, 'en-US', NY)).toBe('now');
    expect(formatMessageTime(now - 59_999, now, 'en-US', NY)).toBe('now');
    expect(formatMessageTime(now + 30_000, now, 'en-US', NY)).toBe('now');
  });

  it('counts whole minutes from one minute up to the hour', () => {
    expect(formatMessageTime(now - MIN, now, 'en-US', NY)).toBe('1 min. ago');
    expect(formatMessageTime(now - 12 * MIN - 59_000, now, 'en-US', NY)).toBe('12 min. ago');
    expect(formatMessageTime(now - 59 * MIN, now, 'en-US', NY)).toBe('59 min. ago');
  });

  it('shows the clock time from one hour on, the same calendar day', () => {
    expect(formatMessageTime(now - HOUR, now, 'en-US', NY)).toBe('1:34 PM');
    expect(formatMessageTime(utc('2025-06-20T04:05:00'), now, 'en-US', NY)).toBe('12:05 AM');
  });

  it('says "Yesterday at" for the previous calendar day', () => {
    expect(formatMessageTime(utc('2025-06-19T18:34:00'), now, 'en-US', NY)).toBe('Yesterday at 2:34 PM');
  });

  it('shows month and day for older messages of the same year', () => {
    expect(formatMessageTime(utc('2025-01-15T19:34:00'), now, 'en-US', NY)).toBe('Jan 15 at 2:34 PM');
    expect(formatMessageTime(utc('2025-06-18T18:34:00'), now, 'en-US', NY)).toBe('Jun 18 at 2:34 PM');
  });

  it('adds the year for messages of another year', () => {
    expect(formatMessageTime(utc('2024-01-15T19:34:00'), utc('2025-03-01T12:00:00'), 'en-US', NY)).toBe('Jan 15, 2024 at 2:34 PM');
    expect(formatMessageTime(utc('2025-01-15T19:34:00'), utc('2026-02-01T12:00:00'), 'en-US', NY)).toBe('Jan 15, 2025 at 2:34 PM');
  });

  it('prints plain ASCII spaces (no narrow no-break space before AM/PM)', () => {
    const text = formatMessageTime(utc('2025-06-19T18:34:00'), now, 'en-US', NY);
    expect(text).not.toMatch(/[\u202f\u2009\u00a0]/);
  });
});

describe('formatMessageTime across time zones', () => {
  // 2025-03-10 03:30 UTC is 23:30 on Mar 9 in New York (EDT) and 04:30 on Mar 10 in Berlin (CET).
  const ts = utc('2025-03-10T03:30:00');
  const now = utc('2025-03-10T14:00:00'); // 10:00 in New York, 15:00 in Berlin

  it('the same instant is "yesterday" in New York and "today" in Berlin', () => {
    expect(formatMessageTime(ts, now, 'en-US', NY)).toBe('Yesterday at 11:30 PM');
    expect(formatMessageTime(ts, now, 'en-US', BERLIN)).toBe('4:30 AM');
  });

  it('uses the locale for words and clock style, the zone for the calendar', () => {
    expect(formatMessageTime(ts, now, 'de-DE', BERLIN)).toBe('04:30');
    expect(formatMessageTime(ts, now, 'de-DE', NY)).toBe('Gestern um 23:30');
    expect(formatMessageTime(ts, now, 'en-GB', TOKYO)).toBe('12:30');
  });

  it('the relative forms do not depend on the zone', () => {
    for (const zone of [NY, BERLIN, TOKYO, 'UTC']) {
      expect(formatMessageTime(now - 12 * MIN, now, 'en-US', zone)).toBe('12 min. ago');
    }
  });
});

describe('formatMessageTime at midnight', () => {
  it('a message two minutes before midnight, read 61 minutes later, is yesterday', () => {
    const ts = utc('2025-06-21T03:58:00'); // 23:58 Jun 20 in New York
    expect(formatMessageTime(ts, ts + 61 * MIN, 'en-US', NY)).toBe('Yesterday at 11:58 PM');
  });

  it('within the hour the relative form wins over the day change', () => {
    const ts = utc('2025-06-21T03:58:00');
    expect(formatMessageTime(ts, ts + 5 * MIN, 'en-US', NY)).toBe('5 min. ago');
  });

  it('midnight itself belongs to the new day', () => {
    const midnight = utc('2025-06-21T04:00:00'); // 00:00 Jun 21 in New York
    expect(formatMessageTime(midnight, midnight + 2 * HOUR, 'en-US', NY)).toBe('12:00 AM');
    expect(formatMessageTime(midnight - 1, midnight + 2 * HOUR, 'en-US', NY)).toBe('Yesterday at 11:59 PM');
  });
});

describe('formatMessageTime at New Year', () => {
  const now = utc('2025-01-01T14:00:00'); // 09:00 Jan 1 in New York

  it('New Year\'s Eve is "Yesterday", without the year', () => {
    expect(formatMessageTime(utc('2025-01-01T03:00:00'), now, 'en-US', NY)).toBe('Yesterday at 10:00 PM');
  });

  it('two days back is last year and shows the year', () => {
    expect(formatMessageTime(utc('2024-12-30T20:00:00'), now, 'en-US', NY)).toBe('Dec 30, 2024 at 3:00 PM');
  });

  it('the year boundary follows the zone: the same instant is this year in Tokyo', () => {
    const ts = utc('2024-12-31T16:30:00'); // 01:30 Jan 1 2025 in Tokyo, 11:30 Dec 31 2024 in New York
    const later = utc('2025-01-03T00:00:00');
    expect(formatMessageTime(ts, later, 'en-US', TOKYO)).toBe('Jan 1 at 1:30 AM');
    expect(formatMessageTime(ts, later, 'en-US', NY)).toBe('Dec 31, 2024 at 11:30 AM');
  });
});

describe('formatMessageTime across a DST change', () => {
  it('spring forward: 23 hours back is still "Yesterday" at the same wall time', () => {
    // 2025-03-08 12:00 EST (UTC-5) → 2025-03-09 12:00 EDT (UTC-4): 23 hours apart.
    const ts = utc('2025-03-08T17:00:00');
    const now = utc('2025-03-09T16:00:00');
    expect(now - ts).toBe(23 * HOUR);
    expect(formatMessageTime(ts, now, 'en-US', NY)).toBe('Yesterday at 12:00 PM');
  });

  it('fall back: a 25-hour day keeps 24+ hours ago on "today"', () => {
    // 2025-11-02: 00:30 EDT (UTC-4) and 23:45 EST (UTC-5) are 24 h 15 min apart, the same day.
    const ts = utc('2025-11-02T04:30:00');
    const now = utc('2025-11-03T04:45:00');
    expect(now - ts).toBe(24 * HOUR + 15 * MIN);
    expect(formatMessageTime(ts, now, 'en-US', NY)).toBe('12:30 AM');
    expect(formatDaySeparator(ts, now, 'en-US', NY)).toBe('Today');
  });

  it('the repeated hour of fall back shows its wall time both times', () => {
    const first = utc('2025-11-02T05:30:00'); // 01:30 EDT
    const second = utc('2025-11-02T06:30:00'); // 01:30 EST, one hour later
    const now = utc('2025-11-02T20:00:00');
    expect(formatMessageTime(first, now, 'en-US', NY)).toBe('1:30 AM');
    expect(formatMessageTime(second, now, 'en-US', NY)).toBe('1:30 AM');
  });
});

describe('formatDaySeparator', () => {
  const now = utc('2025-06-20T18:34:00'); // Fri Jun 20 2025, 14:34 in New York

  it('labels today, yesterday, this year and other years', () => {
    expect(formatDaySeparator(utc('2025-06-20T04:00:00'), now, 'en-US', NY)).toBe('Today');
    expect(formatDaySeparator(utc('2025-06-20T03:59:00'), now, 'en-US', NY)).toBe('Yesterday');
    expect(formatDaySeparator(utc('2025-01-15T19:34:00'), now, 'en-US', NY)).toBe('Wednesday, January 15');
    expect(formatDaySeparator(utc('2024-01-15T19:34:00'), now, 'en-US', NY)).toBe('Monday, January 15, 2024');
  });

  it('follows the zone and the locale', () => {
    const ts = utc('2025-06-19T23:00:00'); // 19:00 Jun 19 in New York, 01:00 Jun 20 in Berlin
    expect(formatDaySeparator(ts, now, 'en-US', NY)).toBe('Yesterday');
    expect(formatDaySeparator(ts, now, 'de-DE', BERLIN)).toBe('Heute');
    expect(formatDaySeparator(utc('2025-01-15T12:00:00'), now, 'fr-FR', BERLIN)).toBe('Mercredi 15 janvier');
  });

  it('New Year: Dec 31 is "Yesterday", Dec 30 carries its year', () => {
    const newYear = utc('2025-01-01T15:00:00');
    expect(formatDaySeparator(utc('2024-12-31T15:00:00'), newYear, 'en-US', NY)).toBe('Yesterday');
    expect(formatDaySeparator(utc('2024-12-30T15:00:00'), newYear, 'en-US', NY)).toBe('Monday, December 30, 2024');
  });
});

describe('calendar days', () => {
  it('day numbers step by one across DST changes and the year end', () => {
    const days = ['2025-03-08T17:00:00', '2025-03-09T16:00:00', '2025-03-10T16:00:00'].map((t) => calendarDay(utc(t), NY).index);
    expect(days[1]! - days[0]!).toBe(1);
    expect(days[2]! - days[1]!).toBe(1);
    const newYear = calendarDay(utc('2025-01-01T05:00:00'), NY);
    expect(newYear.index - calendarDay(utc('2024-12-31T05:00:00'), NY).index).toBe(1);
    expect(newYear.year).toBe(2025);
  });

  it('isSameCalendarDay decides where a separator goes, per zone', () => {
    const evening = utc('2025-06-20T02:00:00'); // 22:00 Jun 19 New York, 04:00 Jun 20 Berlin
    const morning = utc('2025-06-20T10:00:00'); // 06:00 Jun 20 New York, 12:00 Jun 20 Berlin
    expect(isSameCalendarDay(evening, morning, NY)).toBe(false);
    expect(isSameCalendarDay(evening, morning, BERLIN)).toBe(true);
  });
});
