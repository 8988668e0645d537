/**
 * Disappearing-message wording (docs/protocol.md §23): the timer choices a conversation offers,
 * a timer's name ("5 minutes"), the remaining time a bubble shows ("4 min"), and the system line
 * of a timer change. Pure: the chat passes the clock in.
 */
import type { MessageView } from '../../../../shared/api/types.js';

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

/** The longest timer (the engine refuses more): 4 weeks. */
export const MAX_TIMER_SECONDS = 4 * WEEK;

/** The choices of the conversation's timer menu; "custom" takes any value up to 4 weeks. */
export const TIMER_CHOICES: readonly { readonly seconds: number; readonly label: string }[] = [
  { seconds: 0, label: 'Off' },
  { seconds: 30, label: '30 seconds' },
  { seconds: 5 * MINUTE, label: '5 minutes' },
  { seconds: HOUR, label: '1 hour' },
  { seconds: 8 * HOUR, label: '8 hours' },
  { seconds: DAY, label: '1 day' },
  { seconds: WEEK, label: '1 week' },
  { seconds: 4 * WEEK, label: '4 weeks' },
];

export const CUSTOM_UNITS: readonly { readonly seconds: number; readonly label: string }[] = [
  { seconds: 1, label: 'seconds' },
  { seconds: MINUTE, label: 'minutes' },
  { seconds: HOUR, label: 'hours' },
  { seconds: DAY, label: 'days' },
  { seconds: WEEK, label: 'weeks' },
];

const UNITS: readonly [number, string][] = [
  [WEEK, 'week'],
  [DAY, 'day'],
  [HOUR, 'hour'],
  [MINUTE, 'minute'],
  [1, 'second'],
];

/** "Off", "30 seconds", "1 hour", "3 days", "90 minutes": the largest unit that divides it. */
export function timerLabel(seconds: number): string {
  if (seconds <= 0) return 'Off';
  for (const [size, name] of UNITS) {
    if (seconds % size === 0) {
      const n = seconds / size;
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return `${seconds} seconds`;
}

/** The short remaining time a bubble shows: "25s", "4m", "3h", "2d", "1w" (rounded up). */
export function remainingShort(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s < MINUTE) return `${s}s`;
  if (s < HOUR) return `${Math.ceil(s / MINUTE)}m`;
  if (s < DAY) return `${Math.ceil(s / HOUR)}h`;
  if (s < WEEK) return `${Math.ceil(s / DAY)}d`;
  return `${Math.ceil(s / WEEK)}w`;
}

/** What a screen reader (and the tooltip) says about a timed message. */
export function timerDescription(m: Pick<MessageView, 'expireTimerSeconds' | 'expiresAt'>, now: number): string | null {
  const seconds = m.expireTimerSeconds ?? null;
  if (seconds === null || seconds === 0) return null;
  if (m.expiresAt === undefined || m.expiresAt === null) return `Disappears ${timerLabel(seconds)} after it is read`;
  return `Disappears in ${timerLabel(Math.max(0, Math.ceil((m.expiresAt - now) / 1000)))}`;
}

/** The system line of a timer change: who changed it (the person's name, or "You") and to what. */
export function timerChangeLine(m: Pick<MessageView, 'direction' | 'expireTimerSeconds'>, title: string): string {
  const who = m.direction === 'outgoing' ? 'You' : title;
  const seconds = m.expireTimerSeconds ?? 0;
  return seconds === 0 ? `${who} turned off disappearing messages.` : `${who} set disappearing messages to ${timerLabel(seconds)}.`;
}
