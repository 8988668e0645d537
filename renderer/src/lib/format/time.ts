/**
 * Message timestamps and day separators (issue 5 "Chat"). Pure functions of (ts, now, locale,
 * timeZone), so the engine's injectable clock drives them in tests and nothing reads the system
 * clock or zone here. For en-US:
 *
 *   < 1 min            "now"
 *   < 60 min           "12 min. ago"
 *   same calendar day  "2:34 PM"
 *   previous day       "Yesterday at 2:34 PM"
 *   same year          "Jan 15 at 2:34 PM"
 *   other year         "Jan 15, 2025 at 2:34 PM"
 *
 * Days are calendar days in `timeZone` (a 23- or 25-hour DST day is still one day), compared by
 * their civil date, never by subtracting 24 h. Every word comes from Intl (RelativeTimeFormat for
 * "now", "min. ago", "yesterday", "today"; DateTimeFormat for dates), and the word joining a date to
 * a time ("at", "um", "à") is taken from the locale's own long date-time pattern. Narrow and thin
 * no-break spaces some ICU versions put in times ("2:34 PM") are normalised to plain spaces so
 * Node and every Chromium print the same string; the UI keeps times on one line with CSS.
 *
 * Not here: ordering of messages (the engine's), time-zone detection (the caller passes
 * `Intl.DateTimeFormat().resolvedOptions().timeZone`).
 */

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();
const relativeFormats = new Map<string, Intl.RelativeTimeFormat>();
const connectors = new Map<string, { readonly dateFirst: boolean; readonly text: string }>();

function dateTimeFormat(locale: string, timeZone: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale}\u0000${timeZone}\u0000${JSON.stringify(options)}`;
  let format = dateTimeFormats.get(key);
  if (format === undefined) {
    format = new Intl.DateTimeFormat(locale, { ...options, timeZone });
    dateTimeFormats.set(key, format);
  }
  return format;
}

function relativeFormat(locale: string, style: 'long' | 'short', numeric: 'auto' | 'always'): Intl.RelativeTimeFormat {
  const key = `${locale}\u0000${style}\u0000${numeric}`;
  let format = relativeFormats.get(key);
  if (format === undefined) {
    format = new Intl.RelativeTimeFormat(locale, { style, numeric });
    relativeFormats.set(key, format);
  }
  return format;
}

/** Plain spaces for the narrow/thin no-break spaces of newer CLDR data. */
function normaliseSpaces(text: string): string {
  return text.replace(/[\u202f\u2009]/g, ' ');
}

function capitalise(text: string, locale: string): string {
  const [first = '', ...rest] = [...text];
  return first.toLocaleUpperCase(locale) + rest.join('');
}

/** A civil date in `timeZone` as a day number (days since 1970-01-01), plus its year. */
export function calendarDay(ts: number, timeZone: string): { readonly index: number; readonly year: number } {
  // Parsed from a fixed locale (Latin digits, Gregorian), independent of the display locale.
  const parts = dateTimeFormat('en-US', timeZone, {
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    calendar: 'gregory',
    numberingSystem: 'latn',
  }).formatToParts(ts);
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value);
  const year = get('year');
  const index = Date.UTC(year, get('month') - 1, get('day')) / DAY_MS;
  return { index, year };
}

/** Whether two instants fall on the same calendar day in `timeZone` (where a separator goes). */
export function isSameCalendarDay(a: number, b: number, timeZone: string): boolean {
  return calendarDay(a, timeZone).index === calendarDay(b, timeZone).index;
}

/**
 * How the locale joins a date and a time (en-US " at ", de " um ", ja " "), found by formatting
 * one instant as date, as time and as both, and taking what lies between.
 */
function dateTimeConnector(locale: string): { readonly dateFirst: boolean; readonly text: string } {
  let connector = connectors.get(locale);
  if (connector !== undefined) return connector;
  const sample = Date.UTC(2025, 0, 15, 14, 34);
  const date = dateTimeFormat(locale, 'UTC', { dateStyle: 'long' }).format(sample);
  const time = dateTimeFormat(locale, 'UTC', { timeStyle: 'short' }).format(sample);
  const both = dateTimeFormat(locale, 'UTC', { dateStyle: 'long', timeStyle: 'short' }).format(sample);
  if (both.startsWith(date) && both.endsWith(time) && both.length >= date.length + time.length) {
    connector = { dateFirst: true, text: both.slice(date.length, both.length - time.length) };
  } else if (both.startsWith(time) && both.endsWith(date) && both.length >= date.length + time.length) {
    connector = { dateFirst: false, text: both.slice(time.length, both.length - date.length) };
  } else {
    connector = { dateFirst: true, text: ', ' };
  }
  connectors.set(locale, connector);
  return connector;
}

function joinDateAndTime(date: string, time: string, locale: string): string {
  const { dateFirst, text } = dateTimeConnector(locale);
  return normaliseSpaces(dateFirst ? date + text + time : time + text + date);
}

function formatClock(ts: number, locale: string, timeZone: string): string {
  return normaliseSpaces(dateTimeFormat(locale, timeZone, { timeStyle: 'short' }).format(ts));
}

/** The timestamp shown with a message. `now` is the engine clock's reading, not Date.now(). */
export function formatMessageTime(ts: number, now: number, locale: string, timeZone: string): string {
  const age = now - ts;
  // A little clock skew between devices reads as "now" rather than "in 20 sec.".
  if (age > -MINUTE_MS && age < MINUTE_MS) return relativeFormat(locale, 'short', 'auto').format(0, 'second');
  if (age >= MINUTE_MS && age < HOUR_MS) {
    return normaliseSpaces(relativeFormat(locale, 'short', 'always').format(-Math.floor(age / MINUTE_MS), 'minute'));
  }
  const day = calendarDay(ts, timeZone);
  const today = calendarDay(now, timeZone);
  const time = formatClock(ts, locale, timeZone);
  const daysAgo = today.index - day.index;
  if (daysAgo === 0) return time;
  if (daysAgo === 1) {
    const yesterday = capitalise(relativeFormat(locale, 'long', 'auto').format(-1, 'day'), locale);
    return joinDateAndTime(yesterday, time, locale);
  }
  const date = dateTimeFormat(
    locale,
    timeZone,
    day.year === today.year ? { month: 'short', day: 'numeric' } : { month: 'short', day: 'numeric', year: 'numeric' },
  ).format(ts);
  return joinDateAndTime(date, time, locale);
}

/**
 * The label of the separator above the first message of a day: "Today", "Yesterday",
 * "Wednesday, January 15" (this year), "Wednesday, January 15, 2025" (other years).
 */
export function formatDaySeparator(ts: number, now: number, locale: string, timeZone: string): string {
  const day = calendarDay(ts, timeZone);
  const today = calendarDay(now, timeZone);
  const daysAgo = today.index - day.index;
  if (daysAgo === 0 || daysAgo === 1) {
    return capitalise(relativeFormat(locale, 'long', 'auto').format(-daysAgo, 'day'), locale);
  }
  const options: Intl.DateTimeFormatOptions =
    day.year === today.year
      ? { weekday: 'long', month: 'long', day: 'numeric' }
      : { weekday: 'long', month: 'long', day: 'numeric', year: 'numeric' };
  // A label stands alone, so it starts with a capital where the locale has them ("Mercredi 15 janvier").
  return capitalise(normaliseSpaces(dateTimeFormat(locale, timeZone, options).format(ts)), locale);
}
