/**
 * Message timestamps and day separators (issue 5 "Chat", issue 12 "Rough edges"). Pure functions of
 * (ts, now, locale, timeZone), so the engine's injectable clock drives them in tests and nothing
 * reads the system clock or zone here. Never relative ("now", "12 min. ago"): people read the clock
 * time, as in every messenger. For en-US:
 *
 *   a message bubble   "2:34 PM" (the day separator above it says which day), locale's 12/24 h
 *   its hover / AT     "Friday, June 20, 2025 at 2:34 PM"
 *   list and results   "2:34 PM" today, "Yesterday", "Jun 18", "Jan 15, 2024"
 *   last seen          "Today at 2:34 PM", "Yesterday at 2:34 PM", "Jun 18 at 2:34 PM", "Jan 15, 2024 at 2:34 PM"
 *   day separators     "Today", "Yesterday", "Wednesday, January 15", "Monday, January 15, 2024"
 *
 * Days are calendar days in `timeZone` (a 23- or 25-hour DST day is still one day), compared by
 * their civil date, never by subtracting 24 h. Every word comes from Intl (RelativeTimeFormat for
 * "today", "yesterday"; DateTimeFormat for dates and clock times), and the word joining a date to
 * a time ("at", "um", "à") is taken from the locale's own long date-time pattern. Narrow and thin
 * no-break spaces some ICU versions put in times ("2:34 PM") are normalised to plain spaces so
 * Node and every Chromium print the same string; the UI keeps times on one line with CSS.
 *
 * Not here: ordering of messages (the engine's), time-zone detection (the caller passes
 * `Intl.DateTimeFormat().resolvedOptions().timeZone`).
 */

const DAY_MS = 24 * 60 * 60_000;

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

function relativeFormat(locale: string): Intl.RelativeTimeFormat {
  let format = relativeFormats.get(locale);
  if (format === undefined) {
    format = new Intl.RelativeTimeFormat(locale, { style: 'long', numeric: 'auto' });
    relativeFormats.set(locale, format);
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

/** The clock time in the locale's own 12- or 24-hour style: "2:34 PM", "14:34". */
export function formatClockTime(ts: number, locale: string, timeZone: string): string {
  return normaliseSpaces(dateTimeFormat(locale, timeZone, { timeStyle: 'short' }).format(ts));
}

/** The full date and time, for hover and screen readers: "Friday, June 20, 2025 at 2:34 PM". */
export function formatFullDateTime(ts: number, locale: string, timeZone: string): string {
  return normaliseSpaces(dateTimeFormat(locale, timeZone, { dateStyle: 'full', timeStyle: 'short' }).format(ts));
}

/** The exact date and time, to the second, for Message info: "Friday, June 20, 2025 at 2:34:07 PM". */
export function formatExactDateTime(ts: number, locale: string, timeZone: string): string {
  return normaliseSpaces(dateTimeFormat(locale, timeZone, { dateStyle: 'full', timeStyle: 'medium' }).format(ts));
}

/** "Today"/"Yesterday" in the locale's words, capitalised where it has capitals. */
function relativeDay(daysAgo: 0 | 1, locale: string): string {
  return capitalise(relativeFormat(locale).format(-daysAgo, 'day'), locale);
}

function shortDate(ts: number, withYear: boolean, locale: string, timeZone: string): string {
  const options: Intl.DateTimeFormatOptions = withYear ? { month: 'short', day: 'numeric', year: 'numeric' } : { month: 'short', day: 'numeric' };
  return normaliseSpaces(dateTimeFormat(locale, timeZone, options).format(ts));
}

/**
 * The compact time of the conversation list and search results: the clock time today, then
 * "Yesterday", then the date ("Jun 18"; "Jan 15, 2024" in another year). `now` is the clock's reading.
 */
export function formatListTime(ts: number, now: number, locale: string, timeZone: string): string {
  const day = calendarDay(ts, timeZone);
  const today = calendarDay(now, timeZone);
  const daysAgo = today.index - day.index;
  // A sender clock a little ahead still reads as today.
  if (daysAgo <= 0) return formatClockTime(ts, locale, timeZone);
  if (daysAgo === 1) return relativeDay(1, locale);
  return shortDate(ts, day.year !== today.year, locale, timeZone);
}

/**
 * A moment with its day, for sentences ("Last seen …"): "Today at 2:34 PM", "Yesterday at 2:34 PM",
 * "Jun 18 at 2:34 PM", "Jan 15, 2024 at 2:34 PM".
 */
export function formatWhen(ts: number, now: number, locale: string, timeZone: string): string {
  const day = calendarDay(ts, timeZone);
  const today = calendarDay(now, timeZone);
  const daysAgo = today.index - day.index;
  const time = formatClockTime(ts, locale, timeZone);
  if (daysAgo <= 1) return joinDateAndTime(relativeDay(daysAgo <= 0 ? 0 : 1, locale), time, locale);
  return joinDateAndTime(shortDate(ts, day.year !== today.year, locale, timeZone), time, locale);
}

/**
 * The label of the separator above the first message of a day: "Today", "Yesterday",
 * "Wednesday, January 15" (this year), "Wednesday, January 15, 2025" (other years).
 */
export function formatDaySeparator(ts: number, now: number, locale: string, timeZone: string): string {
  const day = calendarDay(ts, timeZone);
  const today = calendarDay(now, timeZone);
  const daysAgo = today.index - day.index;
  if (daysAgo === 0 || daysAgo === 1) return relativeDay(daysAgo, locale);
  const options: Intl.DateTimeFormatOptions =
    day.year === today.year
      ? { weekday: 'long', month: 'long', day: 'numeric' }
      : { weekday: 'long', month: 'long', day: 'numeric', year: 'numeric' };
  // A label stands alone, so it starts with a capital where the locale has them ("Mercredi 15 janvier").
  return capitalise(normaliseSpaces(dateTimeFormat(locale, timeZone, options).format(ts)), locale);
}
