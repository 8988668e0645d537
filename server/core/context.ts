/**
 * What every relay service gets injected: the store, the bus, clock and randomness, the relay's
 * identity, its rate limits, metrics and logger. Assembled once in server/relay.ts.
 */
import type { Clock, Rng } from '../../shared/crypto/random.js';
import type { Bus } from '../bus/bus.js';
import type { RelayIdentity } from '../identity.js';
import type { RateLimits } from '../limits/relay-limits.js';
import type { Logger } from '../logger.js';
import type { RelayMetrics } from '../metrics.js';
import type { RelayStore } from '../store/store.js';

export type RelayContext = {
  readonly store: RelayStore;
  readonly bus: Bus;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly identity: RelayIdentity;
  readonly limits: RateLimits;
  readonly metrics: RelayMetrics;
  readonly log: Logger;
};

/** An authenticated device, as every service sees it after token verification. */
export type AuthenticatedDevice = {
  readonly accountId: Uint8Array;
  /** Hex of accountId, for map keys. */
  readonly accountHex: string;
  readonly deviceId: number;
  readonly deviceKey: number;
  readonly identitySigningKey: Uint8Array;
};
