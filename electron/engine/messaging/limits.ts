/**
 * Every limit and interval of the messaging layer in one place (STYLE: named limits, no magic
 * numbers). Protocol limits live in shared/protocol/constants.ts, wire limits in shared/wire/limits.ts.
 */
import { MAILBOX_RETENTION_MS } from '../../../shared/wire/limits.js';

/** Inbound processing: one transaction per batch, each batch at most this much work (DESIGN §4). */
export const INBOUND_BATCH_BUDGET_MS = 20;
/**
 * …and the work plus its commit aim at this much time on the event loop: a commit (the WAL write
 * of every page the batch changed, SQLCipher-encrypted, and its fsync) grows with the batch, so the
 * next batch's work budget is this minus the last commit's duration (at least the floor below).
 */
export const INBOUND_BATCH_TARGET_MS = 25;
export const INBOUND_BATCH_MIN_BUDGET_MS = 5;
/**
 * Inbound flow control: at this many queued envelopes the live channel stops reading from its
 * socket (the relay waits), and reads again once the queue is down to the low mark. Bounds the
 * queue's memory and the frames one socket burst parses in a single event-loop turn.
 */
export const INBOUND_QUEUE_HIGH_WATER = 256;
export const INBOUND_QUEUE_LOW_WATER = 64;
/** Envelopes whose senders are resolved (device lists fetched) ahead of one batch. */
export const INBOUND_RESOLVE_AHEAD = 256;

/** Typing: at most one "started" per window while the user types… */
export const TYPING_SEND_INTERVAL_MS = 3_000;
/** …"stopped" after this long without a keystroke (or at once on send)… */
export const TYPING_IDLE_MS = 3_000;
/** …and an incoming "started" is shown for this long unless renewed. */
export const TYPING_DISPLAY_MS = 5_000;

/** At most one decryption error (and one "could not be decrypted" notice) per peer device per interval. */
export const DECRYPTION_ERROR_INTERVAL_MS = 60_000;

/** Outbox retry backoff after a transient failure (jittered, doubling). */
export const SEND_RETRY_INITIAL_MS = 1_000;
export const SEND_RETRY_MAX_MS = 5 * 60_000;
/**
 * Ready sends written to the relay at once (the outbox is delivered oldest first; with one send in
 * flight, a conversation is bounded by one relay round trip plus one commit per message).
 */
export const MAX_SENDS_IN_FLIGHT = 32;
/** MISMATCHED_DEVICES rounds (refresh the list, fix the envelopes, resend) before a send fails. */
export const MAX_MISMATCH_ROUNDS = 3;
/** Attempts of a send whose device has no bundle yet (it was just added) before it fails. */
export const MAX_BUNDLE_ATTEMPTS = 5;
/** A delivery receipt waits this long for more messages of the same batch to cover. */
export const RECEIPT_FLUSH_DELAY_MS = 200;

/** A contact's device list older than this is fetched again before sending. */
export const CONTACT_LIST_MAX_AGE_MS = 24 * 3600_000;

/** Prekey maintenance, device-list re-signature and expiry sweeps, while the engine runs. */
export const MAINTENANCE_INTERVAL_MS = 3600_000;
/** De-duplication records outlive the relay's mailbox retention (a redelivery can come that late). */
export const INBOUND_DEDUP_RETENTION_MS = MAILBOX_RETENTION_MS + 24 * 3600_000;
/** One-time prekeys uploaded this long before the newest batch are erased (db/prekeys.ts). */
export const STALE_ONE_TIME_PREKEY_MS = MAILBOX_RETENTION_MS;

/** Relay requests at logout: unregistering must not hold the user up for long. */
export const UNREGISTER_TIMEOUT_MS = 10_000;

/**
 * After the relay closed the live channel as "device removed" but this device still authenticates
 * (no removal, ADR 0027), it connects again after this pause — so a relay repeating the claim
 * cannot make it spin.
 */
export const REVIVE_DELAY_MS = 2_000;
