/**
 * The one limiter interface of the relay and its backends. A limit is `points` per window of
 * `duration` seconds, counted per key (an address, a device, a (requester, target) pair…): the
 * fixed-window model of rate-limiter-flexible, which does the counting. A key's window starts with
 * its first point and ends `duration` seconds later, so a key can spend at most 2 × points within
 * any `duration` (the end of one window and the start of the next) and points per duration on
 * average.
 *
 * The interface is asynchronous so that a shared backend fits behind it unchanged: `redisBackend`
 * (rate-limiter-flexible's Redis limiter, several instances counting together, ADR 0035);
 * `memoryBackend` is the one-instance backend
 * (RateLimiterMemory: a Map plus one unref'd timer per live window, so memory follows the keys
 * active within a window and shrinks when their windows end). Owns the mapping onto the library and
 * the retry hint; does not own which limits exist or their values (relay-limits.ts).
 *
 * `LocalWindow` is the same fixed-window rule, synchronous, for one key that is never shared
 * between instances: a WebSocket connection's own budgets, checked for every inbound frame. There
 * a promise, a result object and a timer per window per connection cost event-loop time and
 * garbage (docs/benchmarks.md, "Limits on the WebSocket hot path"); a counter and an end time do not.
 */
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export type LimitSpec = {
  /** Points a key may spend within one window. */
  readonly points: number;
  /** Window length in seconds (fractions allowed). */
  readonly duration: number;
};

export type Limiter = {
  readonly spec: LimitSpec;
  /**
   * Spends `cost` points of `key`'s window: resolves 0 if allowed, else the milliseconds until the
   * window ends (≥ 1). A refused attempt still counts within its window, so hammering a limit does
   * not shorten the wait. Rejects only when the backend fails.
   */
  consume(key: string, cost?: number): Promise<number>;
  /** Gives back points spent for something that did not happen. */
  refund(key: string, cost?: number): Promise<void>;
};

export type LimiterBackend = {
  /** A limiter whose keys are kept apart from every other limiter's (`name` is the key prefix). */
  create(name: string, spec: LimitSpec): Limiter;
};

/** Wraps any rate-limiter-flexible limiter (memory now, Redis with scale-out). */
export function flexibleLimiter(spec: LimitSpec, limiter: RateLimiterAbstract): Limiter {
  return {
    spec,
    async consume(key, cost = 1) {
      try {
        await limiter.consume(key, cost);
        return 0;
      } catch (e) {
        // The library rejects with its result object when the key is over its points.
        if (e instanceof RateLimiterRes) return Math.max(1, Math.ceil(e.msBeforeNext));
        throw e;
      }
    },
    async refund(key, cost = 1) {
      await limiter.reward(key, cost);
    },
  };
}

/** Counts in this process only: right for one relay instance and for per-connection budgets. */
export const memoryBackend: LimiterBackend = {
  create(name, spec) {
    return flexibleLimiter(spec, new RateLimiterMemory({ keyPrefix: name, points: spec.points, duration: spec.duration }));
  },
};

/**
 * Counts in Redis, shared by every instance on it. Redis windows are whole seconds (the library's
 * EX), so a fractional duration is rounded up and its points scaled with it (same average rate).
 * While Redis cannot be reached, each instance counts in memory instead (the library's insurance
 * limiter, asked at once rather than after a queued command): a Redis outage loosens the limits to
 * per-instance ones for its length, never refuses service.
 */
export function redisBackend(client: Redis, namespace: string): LimiterBackend {
  return {
    create(name, spec) {
      const duration = Math.max(1, Math.ceil(spec.duration));
      const points = Math.max(1, Math.floor((spec.points * duration) / spec.duration));
      const keyPrefix = `parley:${namespace}:rl:${name}`;
      return flexibleLimiter(
        spec,
        new RateLimiterRedis({
          storeClient: client,
          keyPrefix,
          points,
          duration,
          rejectIfRedisNotReady: true,
          insuranceLimiter: new RateLimiterMemory({ keyPrefix, points: spec.points, duration: spec.duration }),
        }),
      );
    },
  };
}

/**
 * One key's fixed window, counted synchronously: `points` per `duration` seconds from the window's
 * first point, a refused attempt still counting (as `Limiter.consume`). For budgets that live and
 * die with one object in one process (a connection's frames, bytes, typing, presence, strikes).
 */
export class LocalWindow {
  private used = 0;
  private endsAt = 0;

  constructor(
    readonly spec: LimitSpec,
    private readonly now: () => number = Date.now,
  ) {}

  /** Spends `cost` points: 0 if allowed, else the milliseconds until the window ends (≥ 1). */
  consume(cost = 1): number {
    const t = this.now();
    if (t >= this.endsAt) {
      this.used = 0;
      this.endsAt = t + this.spec.duration * 1000;
    }
    this.used += cost;
    return this.used <= this.spec.points ? 0 : Math.max(1, Math.ceil(this.endsAt - t));
  }
}
