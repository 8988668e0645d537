import { describe, expect, it } from 'vitest';
import type { MessageRecord } from '../db/messages.js';
import { decodeContent } from '../messaging/content.js';
import { textContentOf } from '../messaging/outbox.js';
import { checkDeleteRequest, DELETE_FOR_EVERYONE_WINDOW_MS, expiryTime, honouredTimer, isTimerValue, MAX_EXPIRE_TIMER_SECONDS, MAX_TIMED_LIFETIME_MS } from './timers.js';

const author = new Uint8Array(16).fill(1);
const other = new Uint8Array(16).fill(2);
const message = (over: Partial<MessageRecord> = {}): MessageRecord => ({
  id: 1,
  conversationId: 1,
  kind: 'text',
  direction: 'incoming',
  senderAccountId: author,
  senderDeviceId: 1,
  messageId: new Uint8Array(16),
  sentAt: 1_000,
  receivedAt: 2_000,
  displayAt: 1_000,
  body: 'hi',
  status: null,
  readAt: null,
  expireTimerSeconds: null,
  expireStartedAt: null,
  expiresAt: null,
  ...over,
});

describe('timer rules (DESIGN §3.8)', () => {
  it('a timer is 1 second to 4 weeks, whole seconds; a peer’s longer timer is cut to 4 weeks', () => {
    expect([0, 1, MAX_EXPIRE_TIMER_SECONDS, MAX_EXPIRE_TIMER_SECONDS + 1, 1.5, -1].map(isTimerValue)).toEqual([false, true, true, false, false, false]);
    expect(honouredTimer(0xffffffff)).toBe(MAX_EXPIRE_TIMER_SECONDS);
    expect(honouredTimer(30)).toBe(30);
    expect(honouredTimer(null)).toBeNull();
  });

  it('a message not shown yet lives at most 4 weeks beyond the longest timer; once shown, timer after that, never beyond the cap', () => {
    expect(MAX_TIMED_LIFETIME_MS).toBe(56 * 86400_000);
    expect(expiryTime({ timerSeconds: 30, receivedAt: 0, startedAt: null })).toBe(MAX_TIMED_LIFETIME_MS);
    expect(expiryTime({ timerSeconds: 30, receivedAt: 0, startedAt: 5_000 })).toBe(35_000);
    expect(expiryTime({ timerSeconds: MAX_EXPIRE_TIMER_SECONDS, receivedAt: 0, startedAt: MAX_TIMED_LIFETIME_MS - 1_000 })).toBe(MAX_TIMED_LIFETIME_MS);
  });
});

describe('delete for everyone: who may, and until when', () => {
  it('the author, on its own text or file, within 24 hours of the message (its own clock)', () => {
    expect(checkDeleteRequest(message(), author, 1_000 + DELETE_FOR_EVERYONE_WINDOW_MS)).toEqual({ ok: true });
    expect(checkDeleteRequest(message({ kind: 'attachment' }), author, 1_000)).toEqual({ ok: true });
  });

  it('refuses, typed: an unknown message, anyone else, a notice, a request past the window or before the message', () => {
    expect(checkDeleteRequest(undefined, author, 1_000)).toEqual({ ok: false, reason: 'NOT_FOUND' });
    expect(checkDeleteRequest(message(), other, 1_000)).toEqual({ ok: false, reason: 'NOT_AUTHOR' });
    expect(checkDeleteRequest(message({ direction: 'outgoing' }), author, 1_000)).toEqual({ ok: false, reason: 'NOT_AUTHOR' });
    expect(checkDeleteRequest(message({ kind: 'timer-changed' }), author, 1_000)).toEqual({ ok: false, reason: 'NOT_DELETABLE' });
    expect(checkDeleteRequest(message(), author, 1_001 + DELETE_FOR_EVERYONE_WINDOW_MS)).toEqual({ ok: false, reason: 'WINDOW_PASSED' });
    expect(checkDeleteRequest(message(), author, 999)).toEqual({ ok: false, reason: 'WINDOW_PASSED' });
  });
});

describe('a message keeps its own timer', () => {
  it('a retry or resend of a timed text carries the timer it was sent with (never a plain copy)', () => {
    const m = message({ direction: 'outgoing', messageId: new Uint8Array(16).fill(7), expireTimerSeconds: 300, expireStartedAt: 1_000, expiresAt: 301_000 });
    expect(decodeContent(textContentOf(m))).toMatchObject({ type: 'text', text: 'hi', expireTimerSeconds: 300 });
    expect(decodeContent(textContentOf(message({ direction: 'outgoing', messageId: new Uint8Array(16) })))).toMatchObject({ expireTimerSeconds: null });
  });
});
