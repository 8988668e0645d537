/**
 * A SHA-256 computed on a helper thread, fed through a ring of shared segment-sized slots, so that
 * hashing the plaintext runs beside the AES-GCM of the same segments instead of after it (the
 * engine's file throughput goal, bench/files). The caller fills a slot, submits it and moves on; the
 * helper hashes slots in order. Both sides synchronise with Atomics only (no messages), so the
 * caller — the file cipher worker, a synchronous loop — never has to yield to its event loop.
 *
 * A ring serves one hash after another: `finish()` returns a digest and readies the ring for the
 * next (the helper thread stays up, so a job does not pay for starting one). After a job that failed
 * half-way the ring's counters are in an unknown state: close it and make a new one.
 *
 * Owns: the ring, the helper thread and its lifetime. Does not own what is hashed or why.
 * The slots hold plaintext: `finish()` and `close()` zero them, and the helper never copies them
 * elsewhere.
 */
import { Worker } from 'node:worker_threads';
import { ATTACHMENT_SEGMENT_SIZE } from '../../../shared/protocol/constants.js';
import { FileCipherError } from './errors.js';

/** Slots in the ring: how far the cipher may run ahead of the hash (4 MiB of shared memory). */
export const HASH_RING_SLOTS = 4;
/** A helper that has not moved for this long is dead (it hashes one MiB in milliseconds). */
export const HASH_HELPER_TIMEOUT_MS = 60_000;

// Control words (Int32 indexes).
const SUBMITTED = 0;
const HASHED = 1;
const DONE = 2;
const FINISHED = 3;
/** Bumped on every submit and on finish: the word the helper sleeps on. */
const SEQ = 4;
/** 1 while the helper sleeps (or is about to): only then does a submit pay for a wake-up. */
const SLEEPING = 5;
const LENGTHS = 6;

const HELPER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { data, control, digest, slots, slotSize } = workerData;
const ctl = new Int32Array(control);
let h = createHash('sha256');
let hashed = 0;
for (;;) {
  const seq = Atomics.load(ctl, ${SEQ});
  if (hashed < Atomics.load(ctl, ${SUBMITTED})) {
    const s = hashed % slots;
    h.update(new Uint8Array(data, s * slotSize, ctl[${LENGTHS} + s]));
    hashed++;
    Atomics.store(ctl, ${HASHED}, hashed);
    Atomics.notify(ctl, ${HASHED});
    continue;
  }
  if (Atomics.load(ctl, ${DONE}) === 1) {
    new Uint8Array(digest).set(h.digest());
    h = createHash('sha256');
    hashed = 0;
    Atomics.store(ctl, ${FINISHED}, 1);
    Atomics.notify(ctl, ${FINISHED});
    // The next hash starts when the caller, having reset the counters, clears DONE.
    while (Atomics.load(ctl, ${DONE}) === 1) Atomics.wait(ctl, ${DONE}, 1);
    continue;
  }
  Atomics.store(ctl, ${SLEEPING}, 1);
  // Re-check after announcing the sleep: a submit in between either saw SLEEPING and will notify,
  // or bumped SEQ before it, in which case wait() returns at once.
  if (hashed === Atomics.load(ctl, ${SUBMITTED}) && Atomics.load(ctl, ${DONE}) === 0) Atomics.wait(ctl, ${SEQ}, seq);
  Atomics.store(ctl, ${SLEEPING}, 0);
}
`;

export class HashRing {
  readonly #data = new SharedArrayBuffer(HASH_RING_SLOTS * ATTACHMENT_SEGMENT_SIZE);
  readonly #control = new Int32Array(new SharedArrayBuffer((LENGTHS + HASH_RING_SLOTS) * 4));
  readonly #digest = new SharedArrayBuffer(32);
  readonly #helper: Worker;
  #submitted = 0;
  #open = true;

  constructor() {
    this.#helper = new Worker(HELPER_SOURCE, {
      eval: true,
      workerData: {
        data: this.#data,
        control: this.#control.buffer,
        digest: this.#digest,
        slots: HASH_RING_SLOTS,
        slotSize: ATTACHMENT_SEGMENT_SIZE,
      },
    });
    this.#helper.unref();
  }

  /** Waits (blocking) until control word `index` differs from `value`, or fails after the timeout. */
  #waitWhile(index: number, value: number): void {
    if (Atomics.wait(this.#control, index, value, HASH_HELPER_TIMEOUT_MS) === 'timed-out') {
      throw new FileCipherError('WORKER_FAILED', 'the hashing thread stopped');
    }
  }

  /** The next slot to fill (2²⁰ bytes); blocks while the helper is a full ring behind. */
  slot(): Uint8Array {
    for (;;) {
      const hashed = Atomics.load(this.#control, HASHED);
      if (this.#submitted - hashed < HASH_RING_SLOTS) break;
      this.#waitWhile(HASHED, hashed);
    }
    return new Uint8Array(this.#data, (this.#submitted % HASH_RING_SLOTS) * ATTACHMENT_SEGMENT_SIZE, ATTACHMENT_SEGMENT_SIZE);
  }

  /** Hands the first `length` bytes of the slot from `slot()` to the hash. */
  submit(length: number): void {
    this.#control[LENGTHS + (this.#submitted % HASH_RING_SLOTS)] = length;
    this.#submitted++;
    Atomics.store(this.#control, SUBMITTED, this.#submitted);
    Atomics.add(this.#control, SEQ, 1);
    if (Atomics.load(this.#control, SLEEPING) === 1) Atomics.notify(this.#control, SEQ);
  }

  /**
   * The SHA-256 of everything submitted; blocks until the helper has hashed it all, then zeroes the
   * slots and resets the ring for the next hash.
   */
  finish(): Uint8Array {
    Atomics.store(this.#control, DONE, 1);
    Atomics.add(this.#control, SEQ, 1);
    Atomics.notify(this.#control, SEQ);
    while (Atomics.load(this.#control, FINISHED) === 0) this.#waitWhile(FINISHED, 0);
    const result = new Uint8Array(this.#digest).slice();
    new Uint8Array(this.#data).fill(0);
    // The helper waits for DONE to clear; the counters must be back at zero before it looks.
    this.#submitted = 0;
    Atomics.store(this.#control, SUBMITTED, 0);
    Atomics.store(this.#control, HASHED, 0);
    Atomics.store(this.#control, FINISHED, 0);
    Atomics.store(this.#control, DONE, 0);
    Atomics.notify(this.#control, DONE);
    return result;
  }

  /** Zeroes the slots and stops the helper (whether or not finish() ran). */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    void this.#helper.terminate();
    new Uint8Array(this.#data).fill(0);
  }
}
