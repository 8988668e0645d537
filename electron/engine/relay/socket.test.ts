/**
 * The live channel's reconnection delay: within [ceiling/2, ceiling] of a doubling ceiling capped at
 * maxDelayMs, and spread out between clients. The channel against a real relay process is
 * test/integration/engine/relay-client.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { deterministicRng } from '../../../shared/testing/deterministic-rng.js';
import { backoffDelay, DEFAULT_BACKOFF } from './socket.js';

describe('backoffDelay', () => {
  it('stays within [ceiling/2, ceiling] of a doubling ceiling capped at maxDelayMs, and spreads clients out', () => {
    const rng = deterministicRng('backoff');
    for (let attempt = 0; attempt < 20; attempt++) {
      const ceiling = Math.min(DEFAULT_BACKOFF.maxDelayMs, DEFAULT_BACKOFF.initialDelayMs * 2 ** attempt);
      const delays = Array.from({ length: 50 }, () => backoffDelay(attempt, DEFAULT_BACKOFF, rng));
      for (const d of delays) {
        expect(d).toBeGreaterThanOrEqual(ceiling / 2);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
      expect(new Set(delays).size).toBeGreaterThan(10);
    }
  });
});
