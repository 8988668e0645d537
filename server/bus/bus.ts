/**
 * The relay's event bus: how a committed send wakes the sockets of its recipients, how a removed
 * device's sockets learn to close, how online-only sealed envelopes (typing) reach a device's open
 * sockets, and how presence events reach accounts' sockets.
 * Only this instance's LocalBus exists now; the scale-out issue adds a Redis implementation of the
 * same type. The bus carries wake-ups, never durability: a lost message costs latency (the next
 * mailbox read finds the envelope), not data. Implementations may drop `envelopes` from a mailbox
 * event (Redis will): subscribers then read the mailbox from the store.
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
  | { readonly kind: 'account-event'; readonly accountIds: readonly string[]; readonly event: AccountEvent };

/** What an account's sockets hear about their mutual contacts (ADR 0007); ws/encode.ts writes the frame. */
export type AccountEvent =
  /** `shared: false`: the account no longer shares its presence with the receiver (shown as nothing). */
  { readonly type: 'presence'; readonly accountId: Uint8Array; readonly online: boolean; readonly shared: boolean };

export type Bus = {
  publish(event: BusEvent): void;
  /** Returns the unsubscribe function. */
  subscribe(handler: (event: BusEvent) => void): () => void;
  close(): Promise<void>;
};
