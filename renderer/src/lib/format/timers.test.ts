import { describe, expect, it } from 'vitest';
import { remainingShort, timerChangeLine, timerDescription, timerLabel, TIMER_CHOICES } from './timers.js';

describe('disappearing-message wording', () => {
  it('names every preset and custom values by their largest whole unit', () => {
    expect(TIMER_CHOICES.map((c) => timerLabel(c.seconds))).toEqual(['Off', '30 seconds', '5 minutes', '1 hour', '8 hours', '1 day', '1 week', '4 weeks']);
    expect(TIMER_CHOICES.map((c) => c.label)).toEqual(TIMER_CHOICES.map((c) => timerLabel(c.seconds)));
    expect(timerLabel(90)).toBe('90 seconds');
    expect(timerLabel(3 * 86400)).toBe('3 days');
    expect(timerLabel(1)).toBe('1 second');
  });

  it('shows the remaining time rounded up, in the largest unit below it', () => {
    expect(remainingShort(25_000)).toBe('25s');
    expect(remainingShort(24_001)).toBe('25s');
    expect(remainingShort(0)).toBe('0s');
    expect(remainingShort(-5)).toBe('0s');
    expect(remainingShort(4 * 60_000 + 1)).toBe('5m');
    expect(remainingShort(3 * 3600_000)).toBe('3h');
    expect(remainingShort(2 * 86400_000)).toBe('2d');
    expect(remainingShort(14 * 86400_000)).toBe('2w');
  });

  it('says when a message disappears, and who changed the timer to what', () => {
    expect(timerDescription({ expireTimerSeconds: 30, expiresAt: null }, 0)).toBe('Disappears 30 seconds after it is read');
    expect(timerDescription({ expireTimerSeconds: 30, expiresAt: 25_000 }, 0)).toBe('Disappears in 25 seconds');
    expect(timerDescription({ expireTimerSeconds: null }, 0)).toBeNull();
    expect(timerChangeLine({ direction: 'outgoing', expireTimerSeconds: 300 }, 'Bob')).toBe('You set disappearing messages to 5 minutes.');
    expect(timerChangeLine({ direction: 'incoming', expireTimerSeconds: 0 }, 'Bob')).toBe('Bob turned off disappearing messages.');
  });
});
