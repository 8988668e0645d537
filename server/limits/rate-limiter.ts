/**
 * Token buckets, single and keyed (per IP, per device, per requester/target pair, per connection).
 * Owns the arithmetic and a bounded key table (oldest keys evicted first, so an attacker cycling
 * keys costs memory only up to the cap); does not own which limits exist (relay-limits.ts).
 * Buckets are per relay instance: with several instances (scale-out issue) each enforces its own.
 */
import type { Clock } from '../../shared/crypto/random.js';

export type BucketSpec = {
  /** Burst size: tokens available to an idle key. */
  readonly capacity: number;
  /** Tokens added per second. */
  readonly refillPerSecond: number;
};

/** Keys tracked per limiter before the oldest are forgotten (a forgotten key starts full). */
export const DEFAULT_MAX_KEYS = 100_000;

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  constructor(
    private readonly spec: BucketSpec,
    private readonly now: Clock,
  ) {
    this.tokens = spec.capacity;
    this.updatedAt = now();
  }

  private refill(): void {
    const t = this.now();
    const elapsed = Math.max(0, t - this.updatedAt);
    this.tokens = Math.min(this.spec.capacity, this.tokens + (elapsed * this.spec.refillPerSecond) / 1000);
    this.updatedAt = t;
  }

  /** Takes `cost` tokens and returns 0, or takes nothing and returns the ms until it could. */
  take(cost = 1): number {
    this.refill();
    if (cost <= this.tokens) {
      this.tokens -= cost;
      return 0;
    }
    if (cost > this.spec.capacity || this.spec.refillPerSecond <= 0) return Number.MAX_SAFE_INTEGER;
    return Math.ceil(((cost - this.tokens) * 1000) / this.spec.refillPerSecond);
  }

  get full(): boolean {
    this.refill();
    return this.tokens >= this.spec.capacity;
  }
}

export class KeyedRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  constructor(
    private readonly spec: BucketSpec,
    private readonly now: Clock,
    private readonly maxKeys = DEFAULT_MAX_KEYS,
  ) {}

  /** 0 if allowed, else the retry hint in ms. */
  take(key: string, cost = 1): number {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) this.evict();
      bucket = new TokenBucket(this.spec, this.now);
      this.buckets.set(key, bucket);
    }
    return bucket.take(cost);
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Drops full buckets (they carry no state) and, if still over the cap, the oldest tenth. */
  private evict(): void {
    for (const [key, bucket] of this.buckets) if (bucket.full) this.buckets.delete(key);
    if (this.buckets.size < this.maxKeys) return;
    let drop = Math.max(1, Math.floor(this.maxKeys / 10));
    for (const key of this.buckets.keys()) {
      if (drop-- <= 0) break;
      this.buckets.delete(key);
    }
  }
}
