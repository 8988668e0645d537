/**
 * The relay's rate limits and resource caps (DESIGN §5): registration, challenges and sessions per
 * IP; lookups per requester; profile uploads per account; bundle fetches per (requester, target); sends per device; frames and
 * bytes per WebSocket connection; plus caps that protect the process (connections, in-flight sends
 * per connection, flood strikes before a disconnect). Defaults suit a small organisation's relay;
 * operators (and tests, and the benchmark) override any of them with PARLEY_RELAY_LIMITS (JSON).
 * Wire limits every client must know are in shared/wire/limits.ts, not here.
 */
import { z } from 'zod';
import type { Clock } from '../../shared/crypto/random.js';
import { WS_AUTH_TIMEOUT_MS } from '../../shared/wire/limits.js';
import { type BucketSpec, KeyedRateLimiter, TokenBucket } from './rate-limiter.js';

const perMinute = (n: number, burst = n): BucketSpec => ({ capacity: burst, refillPerSecond: n / 60 });
const perSecond = (n: number, burst = n): BucketSpec => ({ capacity: burst, refillPerSecond: n });

export const DEFAULT_LIMITS = {
  /** Account registrations per client IP: 10 at once, then 10 per hour. */
  registrationPerIp: { capacity: 10, refillPerSecond: 10 / 3600 } as BucketSpec,
  /** Challenges and session requests per client IP. */
  authPerIp: perMinute(120, 60),
  /** Challenges per (account, device), whichever IP asks. */
  authPerDevice: perMinute(30, 20),
  /** Every other REST request per client IP. */
  requestsPerIp: perSecond(300, 600),
  /** Account and username lookups per authenticated account. */
  lookupsPerAccount: perMinute(600, 100),
  /** Profile replacements per account (an upload is up to 66 KiB): 20 at once, then 30 per hour. */
  profileUploadsPerAccount: { capacity: 20, refillPerSecond: 30 / 3600 } as BucketSpec,
  /** Bundle fetches per (requester account, target account). */
  bundlesPerPair: perMinute(12, 10),
  /** Envelopes sent per device (a fan-out to n devices costs n), REST and WebSocket together. */
  envelopesPerDevice: perSecond(200, 400),
  /** Frames per WebSocket connection. */
  framesPerConnection: perSecond(400, 800),
  /** Frame bytes per WebSocket connection: about two full fan-outs per second. */
  bytesPerConnection: { capacity: 4 * 1024 * 1024, refillPerSecond: 2 * 1024 * 1024 } as BucketSpec,
  /** Typing frames per connection (a subset of frames). */
  typingPerConnection: perSecond(5, 20),
  /** Presence queries per connection (REST queries count per account under lookups). */
  presenceQueriesPerConnection: perMinute(60, 10),
  /** RATE_LIMITED or MALFORMED replies a connection may provoke before it is closed (1008). */
  strikesBeforeDisconnect: 200,
  /** Sends awaiting commit per connection before the relay stops reading from it. */
  maxInflightPerConnection: 256,
  /** Open WebSocket connections (authenticated or not) on this instance. */
  maxConnections: 50_000,
  /** Pending sends and acks in the group-commit queue before new ones are refused (UNAVAILABLE). */
  maxCommitQueue: 20_000,
  /** A WebSocket must send its auth frame within this long (ms). */
  authTimeoutMs: WS_AUTH_TIMEOUT_MS,

  // ── Attachments (server/blobs, ADR 0015) ──
  /** Attachment downloads (GET, each range request counts) per client address. */
  attachmentDownloadsPerIp: perMinute(600, 120),
  /** The largest attachment ciphertext an upload may declare: 2 GiB. */
  attachmentMaxBytes: 2 * 1024 ** 3,
  /** Finished plus unfinished attachment bytes one account may keep: 10 GiB. */
  attachmentQuotaBytes: 10 * 1024 ** 3,
  /** Unfinished uploads one account may have at once. */
  attachmentMaxConcurrentUploads: 4,
  /** A finished attachment is deleted this long after its upload completed (ms): 30 days. */
  attachmentRetentionMs: 30 * 24 * 3600_000,
  /** An unfinished upload is discarded this long after it was created (ms): 24 h. */
  attachmentPartialMaxAgeMs: 24 * 3600_000,
  /** An expired attachment answers ATTACHMENT_EXPIRED this long before it is forgotten (ms): 30 days. */
  attachmentTombstoneMs: 30 * 24 * 3600_000,
};

export type RelayLimitsConfig = typeof DEFAULT_LIMITS;

const bucketSchema = z.strictObject({
  capacity: z.number().positive().max(1e12),
  refillPerSecond: z.number().min(0).max(1e12),
});
const countSchema = z.number().int().positive().max(1e9);

/** Partial overrides, as accepted from PARLEY_RELAY_LIMITS. */
export const LimitsOverrideSchema = z
  .strictObject({
    registrationPerIp: bucketSchema,
    authPerIp: bucketSchema,
    authPerDevice: bucketSchema,
    requestsPerIp: bucketSchema,
    lookupsPerAccount: bucketSchema,
    profileUploadsPerAccount: bucketSchema,
    bundlesPerPair: bucketSchema,
    envelopesPerDevice: bucketSchema,
    framesPerConnection: bucketSchema,
    bytesPerConnection: bucketSchema,
    typingPerConnection: bucketSchema,
    presenceQueriesPerConnection: bucketSchema,
    strikesBeforeDisconnect: countSchema,
    maxInflightPerConnection: countSchema,
    maxConnections: countSchema,
    maxCommitQueue: countSchema,
    authTimeoutMs: countSchema,
    attachmentDownloadsPerIp: bucketSchema,
    attachmentMaxBytes: z.number().int().positive().max(2 ** 52),
    attachmentQuotaBytes: z.number().int().positive().max(2 ** 52),
    attachmentMaxConcurrentUploads: countSchema,
    attachmentRetentionMs: z.number().int().positive().max(10 * 365 * 24 * 3600_000),
    attachmentPartialMaxAgeMs: z.number().int().positive().max(365 * 24 * 3600_000),
    attachmentTombstoneMs: z.number().int().positive().max(10 * 365 * 24 * 3600_000),
  })
  .partial();
export type LimitsOverride = z.infer<typeof LimitsOverrideSchema>;

export function resolveLimits(override: LimitsOverride = {}): RelayLimitsConfig {
  return { ...DEFAULT_LIMITS, ...override };
}

/** The keyed limiters of one relay instance. */
export class RateLimits {
  readonly registration: KeyedRateLimiter;
  readonly authIp: KeyedRateLimiter;
  readonly authDevice: KeyedRateLimiter;
  readonly requests: KeyedRateLimiter;
  readonly lookups: KeyedRateLimiter;
  readonly profileUploads: KeyedRateLimiter;
  readonly bundles: KeyedRateLimiter;
  readonly envelopes: KeyedRateLimiter;
  readonly attachmentDownloads: KeyedRateLimiter;

  constructor(
    readonly config: RelayLimitsConfig,
    private readonly now: Clock,
  ) {
    this.registration = new KeyedRateLimiter(config.registrationPerIp, now);
    this.authIp = new KeyedRateLimiter(config.authPerIp, now);
    this.authDevice = new KeyedRateLimiter(config.authPerDevice, now);
    this.requests = new KeyedRateLimiter(config.requestsPerIp, now);
    this.lookups = new KeyedRateLimiter(config.lookupsPerAccount, now);
    this.profileUploads = new KeyedRateLimiter(config.profileUploadsPerAccount, now);
    this.bundles = new KeyedRateLimiter(config.bundlesPerPair, now);
    this.envelopes = new KeyedRateLimiter(config.envelopesPerDevice, now);
    this.attachmentDownloads = new KeyedRateLimiter(config.attachmentDownloadsPerIp, now);
  }

  /** Fresh per-connection buckets. */
  connectionBuckets(): { frames: TokenBucket; bytes: TokenBucket; typing: TokenBucket; presence: TokenBucket } {
    return {
      frames: new TokenBucket(this.config.framesPerConnection, this.now),
      bytes: new TokenBucket(this.config.bytesPerConnection, this.now),
      typing: new TokenBucket(this.config.typingPerConnection, this.now),
      presence: new TokenBucket(this.config.presenceQueriesPerConnection, this.now),
    };
  }
}
