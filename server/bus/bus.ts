/**
 * The relay's event bus: how a committed send wakes the sockets of its recipients, how a removed
 * device's sockets learn to close, how online-only sealed envelopes (typing) reach a device's open
 * sockets, and how presence events reach accounts' sockets.
 * LocalBus (one instance) delivers in process; RedisBus (redis-bus.ts, docs/adr/0035-scale-out.md)
 * also carries events to the other instances through Redis pub/sub, on one channel per device and
 * per account, which an instance listens to only while it holds a socket of that device or account
 * (`listen`). The bus carries wake-ups, never durability: a lost message costs latency (the next
 * mailbox read finds the envelope), not data. Implementations may drop `envelopes` from a mailbox
 * event (Redis does for large ones): subscribers then read the mailbox from the store. When an
 * implementation may have lost events (its connection to Redis was cut, another instance died) it
 * emits `resync`: every socket re-reads its mailbox.
 */
import type { StoredEnvelope } from '../store/store.js';

export type BusEvent =
  | {
      readonly kind: 'mailbox';
      readonly deviceKey: number;
      /** The committed envelopes in seq order, when the publisher has them at hand. */
      readonly envelopes?: readonly StoredEnvelope[];
    }
  | { readonly kind: 'device-gone'; readonly deviceKeys: readonly number[] }
  /** An online-only sealed envelope (typing) for the device's open sockets; never stored. */
  | { readonly kind: 'ephemeral'; readonly deviceKey: number; readonly serverTimestamp: number; readonly content: Uint8Array }
  /** An event for every socket of these accounts (hex ids). */
  | { readonly kind: 'account-event'; readonly accountIds: readonly string[]; readonly event: AccountEvent }
  /** Events may have been lost (never published by the bus's users): re-read every mailbox held here. */
  | { readonly kind: 'resync' };

/** What an account's sockets hear about their mutual contacts (ADR 0007); ws/encode.ts writes the frame. */
export type AccountEvent =
  /** `shared: false`: the account no longer shares its presence with the receiver (shown as nothing). */
  { readonly type: 'presence'; readonly accountId: Uint8Array; readonly online: boolean; readonly shared: boolean };

/** A device's or an account's (hex id) events, as `listen` names them. */
export type BusTopic = { readonly device: number } | { readonly account: string };

export type BusStatus = {
  readonly backend: 'local' | 'redis';
  /** Whether events reach the other instances now (always true for the local bus). */
  readonly connected: boolean;
};

export type Bus = {
  publish(event: BusEvent): void;
  /** Returns the unsubscribe function. */
  subscribe(handler: (event: BusEvent) => void): () => void;
  /**
   * This instance now holds (true) or no longer holds (false) a socket of the topic: deliver the
   * topic's events from other instances here, or stop. Resolves once events published after it
   * will arrive (so a mailbox read after it misses nothing); immediately for the local bus.
   */
  listen(topic: BusTopic, on: boolean): Promise<void>;
  status(): BusStatus;
  close(): Promise<void>;
};
