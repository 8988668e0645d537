/** Token buckets: burst, refill, retry hints, and a key table that stays bounded. */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/testing/deterministic-rng.js';
import { KeyedRateLimiter, TokenBucket } from './rate-limiter.js';
import { LimitsOverrideSchema, resolveLimits, DEFAULT_LIMITS } from './relay-limits.js';

describe('TokenBucket', () => {
  it('allows the burst, then hints exactly when the next token arrives', () => {
    const clock = new ManualClock(0);
    const bucket = new TokenBucket({ capacity: 3, refillPerSecond: 2 }, clock.now);
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 0]);
    expect(bucket.take()).toBe(500);
    clock.advance(490);
    const hint = bucket.take();
    expect(hint).toBeGreaterThanOrEqual(10);
    expect(hint).toBeLessThanOrEqual(11); // rounded up, never early
    clock.advance(hint);
    expect(bucket.take()).toBe(0);
    clock.advance(60_000);
    expect(bucket.full).toBe(true);
  });

  it('a cost above the capacity never passes', () => {
    const bucket = new TokenBucket({ capacity: 3, refillPerSecond: 1 }, () => 0);
    expect(bucket.take(4)).toBe(Number.MAX_SAFE_INTEGER);
    expect(bucket.take(3)).toBe(0);
  });
});

describe('KeyedRateLimiter', () => {
  it('keeps keys independent and the table bounded', () => {
    const clock = new ManualClock(0);
    const limiter = new KeyedRateLimiter({ capacity: 1, refillPerSecond: 0.001 }, clock.now, 100);
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBeGreaterThan(0);
    expect(limiter.take('b')).toBe(0);
    for (let i = 0; i < 10_000; i++) limiter.take(`k${i}`);
    expect(limiter.size).toBeLessThanOrEqual(100);
  });
});

describe('limit overrides', () => {
  it('accept partial overrides and refuse unknown or invalid ones', () => {
    const parsed = LimitsOverrideSchema.parse({ maxConnections: 10, authPerIp: { capacity: 1, refillPerSecond: 1 } });
    const limits = resolveLimits(parsed);
    expect(limits.maxConnections).toBe(10);
    expect(limits.registrationPerIp).toEqual(DEFAULT_LIMITS.registrationPerIp);
    expect(LimitsOverrideSchema.safeParse({ maxConections: 10 }).success).toBe(false);
    expect(LimitsOverrideSchema.safeParse({ maxConnections: -1 }).success).toBe(false);
  });
});
