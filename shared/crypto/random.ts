/**
 * The one randomness source protocol code may use. Protocol functions receive an `Rng` in their
 * `deps` and never call a global generator, so every test vector is reproducible from a seed
 * (shared/testing/deterministic-rng.ts). Product code passes `systemRng`.
 */
import { randomFillSync } from 'node:crypto';

/** Returns `length` fresh random bytes. */
export type Rng = (length: number) => Uint8Array;

/** The operating system's CSPRNG (node:crypto). */
export const systemRng: Rng = (length) => randomFillSync(new Uint8Array(length));

/** Milliseconds since the Unix epoch; injected like the Rng. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();
