/**
 * The relay's limits (DESIGN §5, docs/adr/0007-relay-wire-auth-and-limits.md), every one in this
 * file with its default and reason:
 *  - rate limits (`points` per `duration` seconds, limiter.ts) per client address (an IPv4 address
 *    or an IPv6 /64, address.ts), per account or device, per (requester, target) pair, and per
 *    WebSocket connection;
 *  - caps that protect the process: connections authenticated and not, in-flight sends, the commit
 *    queue, flood strikes before a disconnect.
 * Defaults suit a small organisation's relay; operators (and tests, and the benchmarks) override
 * any of them with PARLEY_RELAY_LIMITS (JSON, `LimitsOverrideSchema`). Adding a limit: a field in
 * DEFAULT_LIMITS (with its reason), its schema entry, and a limiter in `RateLimits`.
 * Wire limits every client must know are in shared/wire/limits.ts, not here.
 */
import { z } from 'zod';
import { WS_AUTH_TIMEOUT_MS } from '../../shared/wire/limits.js';
import { LocalWindow, memoryBackend, type Limiter, type LimiterBackend, type LimitSpec } from './limiter.js';

const per = (points: number, duration: number): LimitSpec => ({ points, duration });
const MINUTE = 60;
const HOUR = 3600;

export const DEFAULT_LIMITS = {
  // ── Per client address (IPv4 address or IPv6 /64) ──
  /** Account registrations: cheap to ask for, costly to keep (prekeys, a username). */
  registrationPerIp: per(10, HOUR),
  /** Challenge and session requests (REST auth). */
  authPerIp: per(120, MINUTE),
  /**
   * Challenges per (address, account, device): a requester cannot make one device's challenges
   * pile up, and an attacker elsewhere cannot lock the device out (issue 10, item 2).
   */
  challengesPerAddressAndDevice: per(30, MINUTE),
  /** Every REST request. */
  requestsPerIp: per(600, 2),
  /** WebSocket upgrades, counted before the handshake (a refused one costs one HTTP answer). */
  upgradesPerIp: per(120, 10),
  /** WebSocket auth frames (each costs a token lookup). */
  wsAuthPerIp: per(120, 10),
  /** Bundle fetches, whoever is asking and for whom: throwaway accounts on one address share it. */
  bundlesPerIp: per(120, MINUTE),
  /** Provisioning channels created (by new devices, without an account) per address (ADR 0024). */
  provisioningChannelsPerIp: per(20, HOUR),
  /**
   * Sealed sends (unauthenticated, ADR 0029) per address: the sender is unknown, so its address is
   * what is counted — 400 per 2 s, the authenticated per-device envelope budget.
   */
  sealedSendsPerIp: per(400, 2),

  // ── Per account, device or pair ──
  /** Account and username lookups, profile fetches and presence queries per authenticated account. */
  lookupsPerAccount: per(100, 10),
  /** Profile replacements per account (an upload is up to 66 KiB): 20 per 40 minutes, 30 an hour. */
  profileUploadsPerAccount: per(20, 40 * MINUTE),
  /** Bundle fetches per (requester account, target account). */
  bundlesPerPair: per(12, MINUTE),
  /**
   * One-time prekeys handed out per target device, whoever asks: past it bundles carry no one-time
   * key and the last-resort ML-KEM key, so nobody can drain a device's one-time keys faster than
   * this (issue 10, item 3). The engine keeps 100 of each kind and refills below 10.
   */
  oneTimeClaimsPerDevice: per(50, HOUR),
  /**
   * Sealed sends per recipient delivery token (its SHA-256), whoever sends: bounds what all token
   * holders together can push at one account (ADR 0029). A token is per recipient account.
   */
  sealedSendsPerToken: per(300, 2),
  /** Envelopes sent per device (a fan-out to n devices costs n), REST and WebSocket together. */
  envelopesPerDevice: per(400, 2),
  /**
   * Device-link attempts (joins of a provisioning channel, each one CPace guess) per account,
   * counted whether or not the join succeeds: 5 an hour bounds online guessing of short codes.
   */
  linkAttemptsPerAccount: per(5, HOUR),
  /** Contact-list replacements (PUT or DELETE /v1/contacts: up to 5,000 rows rewritten, one fsync) per account. */
  contactReplacementsPerAccount: per(60, HOUR),

  // ── Per WebSocket connection (always counted where the connection lives) ──
  /** Frames per connection. */
  framesPerConnection: per(800, 2),
  /** Frame bytes per connection: about two full fan-outs per second. */
  bytesPerConnection: per(4 * 1024 * 1024, 2),
  /** Typing frames per connection (a subset of frames). */
  typingPerConnection: per(20, 4),
  /** Presence queries per connection (REST queries count per account under lookups). */
  presenceQueriesPerConnection: per(10, 10),
  /** RATE_LIMITED or MALFORMED replies a connection may provoke per minute before it is closed (1008). */
  strikesBeforeDisconnect: 200,

  // ── Caps on what one device can make the relay store ──
  /** One-time prekeys stored per kind (X25519, ML-KEM) per device: 5 full uploads. */
  maxOneTimePrekeysPerKind: 500,
  /**
   * Undelivered envelopes per device mailbox; a send that would exceed it fails with MAILBOX_FULL
   * (nothing stored) and is counted in parley_relay_mailbox_full_total. At 96 KiB per envelope at
   * most about 940 MiB per device; a month of a busy user's traffic fits.
   */
  maxMailboxEnvelopes: 10_000,

  // ── Caps that protect the process ──
  /** Sends awaiting commit per connection before the relay stops reading from it. */
  maxInflightPerConnection: 256,
  /** Authenticated WebSocket connections on this instance. */
  maxConnections: 50_000,
  /**
   * WebSocket connections that have not authenticated yet, on this instance. Their own cap, so that
   * sockets nobody authenticates cannot take the places of those who do (issue 10, item 1).
   */
  maxPreAuthConnections: 5_000,
  /** Sockets not yet authenticated per client address. */
  maxPreAuthPerIp: 32,
  /** Pending sends and acks in the group-commit queue before new ones are refused (UNAVAILABLE). */
  maxCommitQueue: 20_000,
  /** A WebSocket must send its auth frame within this long (ms). */
  authTimeoutMs: WS_AUTH_TIMEOUT_MS,

  // ── Provisioning channels (device linking, ADR 0024) ──
  /** A provisioning channel expires this long after it was created (ms): 5 minutes. */
  provisioningChannelTtlMs: 5 * 60_000,

  // ── Attachments (server/blobs, ADR 0015) ──
  /** Attachment downloads (GET, each range request counts) per client address: 600 a minute. */
  attachmentDownloadsPerIp: per(120, 12),
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

  // ── Backups (server/blobs/backups.ts, ADR 0033; no account: counted per backup id and per address) ──
  /** Backup challenges (one per upload, download or delete) per client address: a daily backup and a few restores fit many times. */
  backupChallengesPerIp: per(60, HOUR),
  /** Backup challenges per backup id, from any address: bounds every request on one id, whoever makes it. */
  backupChallengesPerId: per(20, HOUR),
  /** Backup bytes uploaded per client address per day: the largest backup four times over. */
  backupUploadBytesPerIp: per(8 * 1024 ** 3, 24 * HOUR),
  /** The largest blob one backup id holds (bytes): 2 GiB, like the largest attachment. */
  backupMaxBytes: 2 * 1024 ** 3,
  /** A backup not replaced for this long is deleted (ms): 180 days (an automatic backup replaces it daily). */
  backupRetentionMs: 180 * 24 * 3600_000,
};

export type RelayLimitsConfig = typeof DEFAULT_LIMITS;
type RateLimitName = { [K in keyof RelayLimitsConfig]: RelayLimitsConfig[K] extends LimitSpec ? K : never }[keyof RelayLimitsConfig];
type CapName = Exclude<keyof RelayLimitsConfig, RateLimitName>;

const MAX_DURATION_SECONDS = 366 * 24 * HOUR;
const limitSchema = z.strictObject({
  points: z.number().int().positive().max(1e12),
  duration: z.number().positive().max(MAX_DURATION_SECONDS),
});
/**
 * The token-bucket shape of earlier releases, `{capacity, refillPerSecond}`, still accepted: it
 * becomes `capacity` points per the time a full refill took.
 */
const legacyBucketSchema = z
  .strictObject({ capacity: z.number().positive().max(1e12), refillPerSecond: z.number().min(0).max(1e12) })
  .transform(({ capacity, refillPerSecond }): LimitSpec => ({
    points: Math.max(1, Math.round(capacity)),
    duration: refillPerSecond > 0 ? Math.min(MAX_DURATION_SECONDS, capacity / refillPerSecond) : MAX_DURATION_SECONDS,
  }));
const rateSchema = z.union([limitSchema, legacyBucketSchema]);
const countSchema = z.number().int().positive().max(1e9);
/** Caps whose range is not a count's. */
const CAP_SCHEMAS: Partial<Record<CapName, z.ZodNumber>> = {
  attachmentMaxBytes: z.number().int().positive().max(2 ** 52),
  provisioningChannelTtlMs: z.number().int().positive().max(3600_000),
  attachmentQuotaBytes: z.number().int().positive().max(2 ** 52),
  attachmentRetentionMs: z.number().int().positive().max(10 * 365 * 24 * 3600_000),
  attachmentPartialMaxAgeMs: z.number().int().positive().max(365 * 24 * 3600_000),
  attachmentTombstoneMs: z.number().int().positive().max(10 * 365 * 24 * 3600_000),
  backupMaxBytes: z.number().int().positive().max(2 ** 52),
  backupRetentionMs: z.number().int().positive().max(10 * 365 * 24 * 3600_000),
};

const rateNames = (Object.keys(DEFAULT_LIMITS) as (keyof RelayLimitsConfig)[]).filter(
  (k): k is RateLimitName => typeof DEFAULT_LIMITS[k] === 'object',
);
const capNames = (Object.keys(DEFAULT_LIMITS) as (keyof RelayLimitsConfig)[]).filter((k): k is CapName => typeof DEFAULT_LIMITS[k] === 'number');

/** Names of earlier releases, still accepted. */
const RENAMED: Readonly<Record<string, RateLimitName>> = { authPerDevice: 'challengesPerAddressAndDevice' };

/** Partial overrides, as accepted from PARLEY_RELAY_LIMITS; unknown names are refused. */
export const LimitsOverrideSchema = z
  .preprocess(
    (raw) => {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(raw)) out[RENAMED[key] ?? key] = value;
      return out;
    },
    z.strictObject({
      ...(Object.fromEntries(rateNames.map((k) => [k, rateSchema])) as Record<RateLimitName, typeof rateSchema>),
      ...(Object.fromEntries(capNames.map((k) => [k, CAP_SCHEMAS[k] ?? countSchema])) as Record<CapName, typeof countSchema>),
    }).partial(),
  )
  .transform((o) => o as Partial<RelayLimitsConfig>);

/** What PARLEY_RELAY_LIMITS and `startRelay({ limits })` accept (before the legacy shapes are converted). */
export type LimitsOverride = {
  readonly [K in RateLimitName]?: LimitSpec | LegacyBucket;
} & { readonly [K in CapName]?: number } & { readonly authPerDevice?: LimitSpec | LegacyBucket };
type LegacyBucket = { readonly capacity: number; readonly refillPerSecond: number };

export function resolveLimits(override: LimitsOverride = {}): RelayLimitsConfig {
  return { ...DEFAULT_LIMITS, ...LimitsOverrideSchema.parse(override) };
}

/** Spends points of one of a connection's budgets, synchronously: 0 if allowed, else the retry hint in ms. */
export type Budget = (cost?: number) => number;

export type ConnectionBudgets = {
  readonly frames: Budget;
  readonly bytes: Budget;
  readonly typing: Budget;
  readonly presence: Budget;
  readonly strikes: Budget;
};

/**
 * The limiters of one relay instance. Limits that several instances must share come from the given
 * backend; per-connection budgets always count in memory, where the connection is.
 */
export class RateLimits {
  readonly registration: Limiter;
  readonly authIp: Limiter;
  readonly challenges: Limiter;
  readonly requests: Limiter;
  readonly upgrades: Limiter;
  readonly wsAuth: Limiter;
  readonly lookups: Limiter;
  readonly profileUploads: Limiter;
  readonly bundles: Limiter;
  readonly bundlesIp: Limiter;
  readonly oneTimeClaims: Limiter;
  readonly envelopes: Limiter;
  readonly attachmentDownloads: Limiter;
  readonly contactReplacements: Limiter;
  readonly provisioningChannels: Limiter;
  readonly linkAttempts: Limiter;
  readonly sealedIp: Limiter;
  readonly sealedToken: Limiter;
  readonly backupChallengesIp: Limiter;
  readonly backupChallengesId: Limiter;
  readonly backupUploadBytesIp: Limiter;

  constructor(
    readonly config: RelayLimitsConfig,
    backend: LimiterBackend = memoryBackend,
  ) {
    const shared = (name: RateLimitName): Limiter => backend.create(name, config[name]);
    this.registration = shared('registrationPerIp');
    this.authIp = shared('authPerIp');
    this.challenges = shared('challengesPerAddressAndDevice');
    this.requests = shared('requestsPerIp');
    this.upgrades = shared('upgradesPerIp');
    this.wsAuth = shared('wsAuthPerIp');
    this.lookups = shared('lookupsPerAccount');
    this.profileUploads = shared('profileUploadsPerAccount');
    this.bundles = shared('bundlesPerPair');
    this.bundlesIp = shared('bundlesPerIp');
    this.oneTimeClaims = shared('oneTimeClaimsPerDevice');
    this.envelopes = shared('envelopesPerDevice');
    this.attachmentDownloads = shared('attachmentDownloadsPerIp');
    this.contactReplacements = shared('contactReplacementsPerAccount');
    this.provisioningChannels = shared('provisioningChannelsPerIp');
    this.linkAttempts = shared('linkAttemptsPerAccount');
    this.sealedIp = shared('sealedSendsPerIp');
    this.sealedToken = shared('sealedSendsPerToken');
    this.backupChallengesIp = shared('backupChallengesPerIp');
    this.backupChallengesId = shared('backupChallengesPerId');
    this.backupUploadBytesIp = shared('backupUploadBytesPerIp');
  }

  /**
   * Budgets of a new connection, counted where the connection lives (LocalWindow: synchronous, for
   * every inbound frame) whatever the shared backend.
   */
  connectionBudgets(): ConnectionBudgets {
    const { config } = this;
    const budget = (spec: LimitSpec): Budget => {
      const window = new LocalWindow(spec);
      return (cost) => window.consume(cost);
    };
    return {
      frames: budget(config.framesPerConnection),
      bytes: budget(config.bytesPerConnection),
      typing: budget(config.typingPerConnection),
      presence: budget(config.presenceQueriesPerConnection),
      strikes: budget(per(config.strikesBeforeDisconnect, MINUTE)),
    };
  }
}
