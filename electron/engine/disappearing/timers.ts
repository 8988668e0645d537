/**
 * Disappearing-message timers and delete-for-everyone: the named limits and the pure rules
 * (DESIGN §3.8, docs/protocol.md §23, ADR 0030). Owns what a timer value may be, when a timed
 * message's deletion time is, and whether a delete-for-everyone request may act on a message.
 * Does not own the deletion itself (expiry.ts), the content bytes (messaging/content.ts) or the
 * sends (messaging/messaging.ts).
 */
import type { MessageRecord } from '../db/messages.js';
import { bytesEqual } from '../../../shared/crypto/bytes.js';
import { MAX_EXPIRE_TIMER_SECONDS } from '../../../shared/api/primitives.js';

export { MAX_EXPIRE_TIMER_SECONDS };

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The shortest timer (a custom value may be any whole number of seconds from here). */
export const MIN_EXPIRE_TIMER_SECONDS = 1;
/** The choices the conversation menu offers (custom: any value in range). */
export const TIMER_PRESETS_SECONDS = [30, 5 * MINUTE, HOUR, 8 * HOUR, DAY, 7 * DAY, 28 * DAY] as const;
/**
 * DESIGN §3.8: a timed message lives at most this long after it arrived, read or not — 4 weeks
 * beyond the longest timer.
 */
export const MAX_TIMED_LIFETIME_MS = (MAX_EXPIRE_TIMER_SECONDS + 28 * DAY) * 1000;
/** Delete for everyone: the author may ask within this long of sending (their clock). */
export const DELETE_FOR_EVERYONE_WINDOW_MS = DAY * 1000;

/** Whether `seconds` is a timer value the engine sets or sends (0 = off is not a timer). */
export function isTimerValue(seconds: number): boolean {
  return Number.isInteger(seconds) && seconds >= MIN_EXPIRE_TIMER_SECONDS && seconds <= MAX_EXPIRE_TIMER_SECONDS;
}

/**
 * A received message's timer as this device honours it: a value above the longest timer is cut
 * to it (a peer cannot make a message outlive the maximum; §23.1).
 */
export function honouredTimer(seconds: number | null): number | null {
  if (seconds === null) return null;
  return Math.min(seconds, MAX_EXPIRE_TIMER_SECONDS);
}

/**
 * When a timed message is deleted. Outgoing (and own devices' copies): `startedAt` is the send,
 * so sentAt + timer. Incoming, not yet shown: the maximum lifetime after arrival. Incoming, shown
 * at `startedAt`: the earlier of that + timer and the maximum lifetime.
 */
export function expiryTime(o: { readonly timerSeconds: number; readonly receivedAt: number; readonly startedAt: number | null }): number {
  const cap = o.receivedAt + MAX_TIMED_LIFETIME_MS;
  if (o.startedAt === null) return cap;
  return Math.min(o.startedAt + o.timerSeconds * 1000, cap);
}

/** Why a delete-for-everyone request does nothing (a typed refusal; nothing changes). */
export type DeleteRefusal = 'NOT_FOUND' | 'NOT_AUTHOR' | 'NOT_DELETABLE' | 'WINDOW_PASSED';

/**
 * Whether a delete-for-everyone request from `requester` (sent at `requestSentAt`, its clock) may
 * remove `target`: only the author's own text or file, only within DELETE_FOR_EVERYONE_WINDOW_MS of
 * the message's own time (both times are the author's clock, so a recipient who was offline for
 * days still honours a request made in time).
 */
export function checkDeleteRequest(
  target: MessageRecord | undefined,
  requester: Uint8Array,
  requestSentAt: number,
): { readonly ok: true } | { readonly ok: false; readonly reason: DeleteRefusal } {
  if (!target) return { ok: false, reason: 'NOT_FOUND' };
  if (target.direction !== 'incoming' || !bytesEqual(target.senderAccountId, requester)) return { ok: false, reason: 'NOT_AUTHOR' };
  if (target.kind !== 'text' && target.kind !== 'attachment') return { ok: false, reason: 'NOT_DELETABLE' };
  const age = requestSentAt - target.sentAt;
  if (age < 0 || age > DELETE_FOR_EVERYONE_WINDOW_MS) return { ok: false, reason: 'WINDOW_PASSED' };
  return { ok: true };
}
