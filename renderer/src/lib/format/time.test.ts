import { describe, expect, it } from 'vitest';
import { calendarDay, formatClockTime, formatDaySeparator, formatFullDateTime, formatListTime, formatWhen, isSameCalendarDay } from './time.js';

const NY = 'America/New_York';
const BERLIN = 'Europe/Berlin';
const TOKYO = 'Asia/Tokyo';
const MIN = 60_000;
const HOUR = 60 * MIN;

/** An instant given as UTC wall time (the zone of each case is explicit in the assertions). */
const utc = (iso: string) => Date.parse(`${iso}Z`);

describe('clock times, en-US (issue 12: never "now" or "12 min. ago")', () => {
  // now = Fri 2025-06-20 14:34 in New York (EDT, UTC-4)
  const now = utc('2025-06-20T18:34:00');

  it('a bubble shows the clock time however recent the message is', () => {
    expect(formatClockTime(now, 'en-US', NY)).toBe('2:34 PM');
    expect(formatClockTime(now - 50_000, 'en-US', NY)).toBe('2:33 PM');
    expect(formatClockTime(now - 12 * MIN, 'en-US', NY)).toBe('2:22 PM');
    expect(formatClockTime(utc('2025-06-20T04:05:00'), 'en-US', NY)).toBe('12:05 AM');
  });

  it('the full date and time for hover and screen readers', () => {
    expect(formatFullDateTime(now, 'en-US', NY)).toBe('Friday, June 20, 2025 at 2:34 PM');
    expect(formatFullDateTime(utc('2024-01-15T19:34:00'), 'en-US', NY)).toBe('Monday, January 15, 2024 at 2:34 PM');
  });

  it('the list shows the clock time today, then "Yesterday", then the date', () => {
    expect(formatListTime(now - 30_000, now, 'en-US', NY)).toBe('2:33 PM');
    expect(formatListTime(now - 12 * MIN, now, 'en-US', NY)).toBe('2:22 PM');
    expect(formatListTime(utc('2025-06-19T18:34:00'), now, 'en-US', NY)).toBe('Yesterday');
    expect(formatListTime(utc('2025-06-18T18:34:00'), now, 'en-US', NY)).toBe('Jun 18');
    expect(formatListTime(utc('2024-01-15T19:34:00'), now, 'en-US', NY)).toBe('Jan 15, 2024');
  });

  it('a sender clock a little ahead still reads as today in the list', () => {
    expect(formatListTime(now + 30_000, now, 'en-US', NY)).toBe('2:34 PM');
  });

  it('"last seen" moments carry their day', () => {
    expect(formatWhen(now - 12 * MIN, now, 'en-US', NY)).toBe('Today at 2:22 PM');
    expect(formatWhen(utc('2025-06-19T18:34:00'), now, 'en-US', NY)).toBe('Yesterday at 2:34 PM');
    expect(formatWhen(utc('2025-01-15T19:34:00'), now, 'en-US', NY)).toBe('Jan 15 at 2:34 PM');
    expect(formatWhen(utc('2024-01-15T19:34:00'), utc('2025-03-01T12:00:00'), 'en-US', NY)).toBe('Jan 15, 2024 at 2:34 PM');
  });

  it('prints plain ASCII spaces (no narrow no-break space before AM/PM)', () => {
    for (const text of [formatClockTime(now, 'en-US', NY), formatWhen(now, now, 'en-US', NY), formatFullDateTime(now, 'en-US', NY)]) {
      expect(text).not.toMatch(/[\u202f\u2009\u00a0]/);
    }
  });
});

describe('clock times across locales and time zones', () => {
  // 2025-03-10 03:30 UTC is 23:30 on Mar 9 in New York (EDT) and 04:30 on Mar 10 in Berlin (CET).
  const ts = utc('2025-03-10T03:30:00');
  const now = utc('2025-03-10T14:00:00'); // 10:00 in New York, 15:00 in Berlin

  it('the locale decides 12 or 24 hours', () => {
    expect(formatClockTime(ts, 'en-US', NY)).toBe('11:30 PM');
    expect(formatClockTime(ts, 'en-GB', NY)).toBe('23:30');
    expect(formatClockTime(ts, 'de-DE', BERLIN)).toBe('04:30');
    expect(formatClockTime(ts, 'en-GB', TOKYO)).toBe('12:30');
  });

  it('the same instant is "yesterday" in New York and "today" in Berlin', () => {
    expect(formatListTime(ts, now, 'en-US', NY)).toBe('Yesterday');
    expect(formatListTime(ts, now, 'en-US', BERLIN)).toBe('4:30 AM');
    expect(formatWhen(ts, now, 'en-US', NY)).toBe('Yesterday at 11:30 PM');
  });

  it('uses the locale for words and order, the zone for the calendar', () => {
    expect(formatWhen(ts, now, 'de-DE', NY)).toBe('Gestern um 23:30');
    expect(formatWhen(ts, now, 'de-DE', BERLIN)).toBe('Heute um 04:30');
    expect(formatFullDateTime(ts, 'de-DE', BERLIN)).toBe('Montag, 10. März 2025 um 04:30');
    expect(formatFullDateTime(ts, 'en-GB', NY)).toBe('Sunday, 9 March 2025 at 23:30');
  });
});

describe('days at midnight and New Year', () => {
  it('a message two minutes before midnight, read five minutes later, is yesterday', () => {
    const ts = utc('2025-06-21T03:58:00'); // 23:58 Jun 20 in New York
    expect(formatListTime(ts, ts + 5 * MIN, 'en-US', NY)).toBe('Yesterday');
    expect(formatDaySeparator(ts, ts + 5 * MIN, 'en-US', NY)).toBe('Yesterday');
    expect(formatClockTime(ts, 'en-US', NY)).toBe('11:58 PM');
  });

  it('midnight itself belongs to the new day', () => {
    const midnight = utc('2025-06-21T04:00:00'); // 00:00 Jun 21 in New York
    expect(formatListTime(midnight, midnight + 2 * HOUR, 'en-US', NY)).toBe('12:00 AM');
    expect(formatWhen(midnight - 1, midnight + 2 * HOUR, 'en-US', NY)).toBe('Yesterday at 11:59 PM');
  });

  it('New Year\'s Eve is "Yesterday"; two days back shows the year', () => {
    const now = utc('2025-01-01T14:00:00'); // 09:00 Jan 1 in New York
    expect(formatListTime(utc('2025-01-01T03:00:00'), now, 'en-US', NY)).toBe('Yesterday');
    expect(formatListTime(utc('2024-12-30T20:00:00'), now, 'en-US', NY)).toBe('Dec 30, 2024');
  });

  it('the year boundary follows the zone: the same instant is this year in Tokyo', () => {
    const ts = utc('2024-12-31T16:30:00'); // 01:30 Jan 1 2025 in Tokyo, 11:30 Dec 31 2024 in New York
    const later = utc('2025-01-03T00:00:00');
    expect(formatWhen(ts, later, 'en-US', TOKYO)).toBe('Jan 1 at 1:30 AM');
    expect(formatWhen(ts, later, 'en-US', NY)).toBe('Dec 31, 2024 at 11:30 AM');
  });
});

describe('days across a DST change', () => {
  it('spring forward: 23 hours back is still "Yesterday" at the same wall time', () => {
    // 2025-03-08 12:00 EST (UTC-5) → 2025-03-09 12:00 EDT (UTC-4): 23 hours apart.
    const ts = utc('2025-03-08T17:00:00');
    const now = utc('2025-03-09T16:00:00');
    expect(now - ts).toBe(23 * HOUR);
    expect(formatWhen(ts, now, 'en-US', NY)).toBe('Yesterday at 12:00 PM');
  });

  it('fall back: a 25-hour day keeps 24+ hours ago on "today"', () => {
    // 2025-11-02: 00:30 EDT (UTC-4) and 23:45 EST (UTC-5) are 24 h 15 min apart, the same day.
    const ts = utc('2025-11-02T04:30:00');
    const now = utc('2025-11-03T04:45:00');
    expect(now - ts).toBe(24 * HOUR + 15 * MIN);
    expect(formatListTime(ts, now, 'en-US', NY)).toBe('12:30 AM');
    expect(formatDaySeparator(ts, now, 'en-US', NY)).toBe('Today');
  });

  it('the repeated hour of fall back shows its wall time both times', () => {
    const first = utc('2025-11-02T05:30:00'); // 01:30 EDT
    const second = utc('2025-11-02T06:30:00'); // 01:30 EST, one hour later
    expect(formatClockTime(first, 'en-US', NY)).toBe('1:30 AM');
    expect(formatClockTime(second, 'en-US', NY)).toBe('1:30 AM');
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
