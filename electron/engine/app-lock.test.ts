import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdleLock, systemTimers } from './app-lock.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('idle lock', () => {
  it('fires after N idle minutes and not before', () => {
    const onIdle = vi.fn();
    const lock = new IdleLock(onIdle, systemTimers);
    lock.configure(5);
    vi.advanceTimersByTime(5 * 60_000 - 1);
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  it('activity restarts the countdown', () => {
    const onIdle = vi.fn();
    const lock = new IdleLock(onIdle, systemTimers);
    lock.configure(1);
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(50_000);
      lock.touch();
    }
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(60_000);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  it('disarmed (null) or stopped, it never fires', () => {
    const onIdle = vi.fn();
    const lock = new IdleLock(onIdle, systemTimers);
    lock.configure(1);
    lock.configure(null);
    lock.touch();
    vi.advanceTimersByTime(10 * 60_000);
    lock.configure(2);
    lock.stop();
    vi.advanceTimersByTime(10 * 60_000);
    expect(onIdle).not.toHaveBeenCalled();
  });
});
