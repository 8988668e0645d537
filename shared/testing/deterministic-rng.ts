/**
 * Deterministic Rng and clock for tests and Parley's own vectors (docs/protocol.md, "Test-vector
 * RNG"): the byte stream is SHA-256(seed ‖ u64be(0)) ‖ SHA-256(seed ‖ u64be(1)) ‖ …, consumed in
 * order. Never imported by product code (lint enforces it).
 */
import { createCipheriv, createHash } from 'node:crypto';
import type { Clock, Rng } from '../crypto/random.js';

export function deterministicRng(seed: Uint8Array | string): Rng {
  const seedBytes = typeof seed === 'string' ? new TextEncoder().encode(seed) : seed;
  let counter = 0n;
  let buffer = new Uint8Array(0);
  let offset = 0;
  return (length: number) => {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      if (offset === buffer.length) {
        const ctr = new Uint8Array(8);
        new DataView(ctr.buffer).setBigUint64(0, counter++, false);
        buffer = new Uint8Array(createHash('sha256').update(seedBytes).update(ctr).digest());
        offset = 0;
      }
      const take = Math.min(length - filled, buffer.length - offset);
      out.set(buffer.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
    }
    return out;
  };
}

/** A manual clock: starts at `start` (ms) and moves only when told. */
export class ManualClock {
  constructor(private current: number) {}
  readonly now: Clock = () => this.current;
  advance(ms: number): void {
    this.current += ms;
  }
  set(ms: number): void {
    this.current = ms;
  }
}

/**
 * `length` reproducible pseudo-random bytes for bulk test data (files of several MiB), fast where
 * deterministicRng is not: the AES-256-CTR keystream under SHA-256(seed) with a zero IV. Not the
 * test-vector RNG of docs/protocol.md §13; never use it for keys in vectors.
 */
export function pseudoRandomBytes(seed: string, length: number): Uint8Array {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const out = new Uint8Array(length);
  const zeros = new Uint8Array(Math.min(length, 1 << 20));
  for (let o = 0; o < length; o += zeros.length) {
    const n = Math.min(zeros.length, length - o);
    out.set(cipher.update(zeros.subarray(0, n)), o);
  }
  return out;
}
