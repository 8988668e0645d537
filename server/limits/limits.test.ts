/** The limiter interface over rate-limiter-flexible, address keys, and PARLEY_RELAY_LIMITS overrides. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { addressKey } from './address.js';
import { LocalWindow, memoryBackend } from './limiter.js';
import { DEFAULT_LIMITS, LimitsOverrideSchema, RateLimits, resolveLimits } from './relay-limits.js';

describe('memory limiter', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('allows `points` per window, then hints when the window ends, never early', async () => {
    const limiter = memoryBackend.create('t', { points: 3, duration: 2 });
    expect([await limiter.consume('a'), await limiter.consume('a'), await limiter.consume('a')]).toEqual([0, 0, 0]);
    const hint = await limiter.consume('a');
    expect(hint).toBeGreaterThan(1_990);
    expect(hint).toBeLessThanOrEqual(2_000);
    vi.advanceTimersByTime(hint - 1);
    expect(await limiter.consume('a')).toBeGreaterThan(0);
    vi.advanceTimersByTime(1);
    expect(await limiter.consume('a')).toBe(0);
  });

  it("a connection's synchronous window decides as the library does, step for step", async () => {
    const spec = { points: 20, duration: 2 };
    const library = memoryBackend.create('same', spec);
    const window = new LocalWindow(spec);
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let step = 0; step < 2_000; step++) {
      vi.advanceTimersByTime(next(40));
      const cost = 1 + next(4);
      const [a, b] = [await library.consume('k', cost), window.consume(cost)];
      expect([step, a > 0]).toEqual([step, b > 0]);
      if (a > 0) expect(Math.abs(a - b)).toBeLessThanOrEqual(1);
    }
  });

  it('keeps keys and limiters apart, and a refund gives points back', async () => {
    const one = memoryBackend.create('one', { points: 1, duration: 60 });
    const two = memoryBackend.create('two', { points: 1, duration: 60 });
    expect(await one.consume('k')).toBe(0);
    expect(await one.consume('k')).toBeGreaterThan(0);
    expect(await one.consume('other')).toBe(0);
    expect(await two.consume('k')).toBe(0);
    await two.refund('k');
    expect(await two.consume('k')).toBe(0);
  });

  it('a cost above the points never passes; a cost within them spends that many', async () => {
    const limiter = memoryBackend.create('t', { points: 10, duration: 1 });
    expect(await limiter.consume('a', 11)).toBeGreaterThan(0);
    vi.advanceTimersByTime(1_000);
    expect(await limiter.consume('a', 6)).toBe(0);
    expect(await limiter.consume('a', 5)).toBeGreaterThan(0);
  });

  it('per-connection budgets are separate for each connection', async () => {
    const limits = new RateLimits(resolveLimits({ presenceQueriesPerConnection: { points: 1, duration: 60 } }));
    const a = limits.connectionBudgets();
    const b = limits.connectionBudgets();
    expect(a.presence()).toBe(0);
    expect(a.presence()).toBeGreaterThan(0);
    expect(b.presence()).toBe(0);
  });

});

describe('address keys', () => {
  it('IPv4 as it is, also when written IPv4-mapped', () => {
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('::FFFF:c000:0201')).toBe('192.0.2.1');
  });

  it('IPv6 by its /64, however it is written', () => {
    const key = addressKey('2001:db8:1:2::1');
    expect(key).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff')).toBe(key);
    expect(addressKey('2001:db8:1:2:0:0:0:9%eth0')).toBe(key);
    expect(addressKey('2001:db8:1:3::1')).not.toBe(key);
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1:2:3:4')).toBe('fe80:0:0:0::/64');
    expect(addressKey('2001:db8::')).toBe('2001:db8:0:0::/64');
  });

  it('anything else is its own key', () => {
    expect(addressKey('unknown')).toBe('unknown');
  });
});

describe('limit overrides (PARLEY_RELAY_LIMITS)', () => {
  it('accept partial overrides in the points-per-duration shape', () => {
    const limits = resolveLimits({ maxConnections: 10, authPerIp: { points: 5, duration: 30 } });
    expect(limits.maxConnections).toBe(10);
    expect(limits.authPerIp).toEqual({ points: 5, duration: 30 });
    expect(limits.registrationPerIp).toEqual(DEFAULT_LIMITS.registrationPerIp);
  });

  it('accept the token-bucket shape and names of earlier releases', () => {
    const limits = resolveLimits({ authPerDevice: { capacity: 20, refillPerSecond: 0.5 }, bundlesPerPair: { capacity: 3, refillPerSecond: 0 } });
    expect(limits.challengesPerAddressAndDevice).toEqual({ points: 20, duration: 40 });
    expect(limits.bundlesPerPair.points).toBe(3);
    expect(limits.bundlesPerPair.duration).toBeGreaterThan(365 * 24 * 3600);
  });

  it('refuse unknown names and invalid values', () => {
    expect(LimitsOverrideSchema.safeParse({ maxConections: 10 }).success).toBe(false);
    expect(LimitsOverrideSchema.safeParse({ maxConnections: -1 }).success).toBe(false);
    expect(LimitsOverrideSchema.safeParse({ authPerIp: { points: 0, duration: 1 } }).success).toBe(false);
    expect(LimitsOverrideSchema.safeParse({ authPerIp: { points: 1, duration: 0 } }).success).toBe(false);
    expect(LimitsOverrideSchema.safeParse({ authPerIp: { points: 1, duration: 1, extra: 1 } }).success).toBe(false);
    expect(LimitsOverrideSchema.safeParse({ maxConnections: { points: 1, duration: 1 } }).success).toBe(false);
    expect(LimitsOverrideSchema.safeParse([]).success).toBe(false);
  });
});
