/**
 * Fault injection for the engine's crash tests (DESIGN §7, issue 4 "Faults"):
 * `PARLEY_TEST_CRASH_AT=<point>[:<n>]` makes the engine process SIGKILL itself the n-th time
 * (default: the first) it reaches a named point. The points sit in the product code paths:
 *   after-encrypt-before-commit      a send is encrypted (ratchet step taken, envelope row
 *                                    written) inside its transaction, nothing is committed;
 *   after-outbox-commit              a send (message row, ratchet state, envelopes) is committed,
 *                                    nothing has reached the relay;
 *   after-inbound-commit-before-ack  an inbound batch is committed, its envelopes are not acked;
 *   mid-batch                        an inbound batch has processed an envelope, not committed.
 * Unset (production), a point costs one comparison. The relay has its own (server/crash-points.ts).
 */
const spec = process.env.PARLEY_TEST_CRASH_AT ?? '';
const [point, countText] = spec.split(':');
let remaining = countText ? Number.parseInt(countText, 10) : 1;

export type EngineCrashPoint = 'after-encrypt-before-commit' | 'after-outbox-commit' | 'after-inbound-commit-before-ack' | 'mid-batch';

export function crashPoint(name: EngineCrashPoint): void {
  if (point !== name) return;
  remaining -= 1;
  if (remaining <= 0) process.kill(process.pid, 'SIGKILL');
}
