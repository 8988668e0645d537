/**
 * Fault injection for the engine's crash tests (DESIGN §7, issue 4 "Faults"):
 * `PARLEY_TEST_CRASH_AT=<point>[:<n>]` makes the engine process SIGKILL itself the n-th time
 * (default: the first) it reaches a named point. The points sit in the product code paths:
 *   after-encrypt-before-commit      a send is encrypted (ratchet step taken, envelope row
 *                                    written) inside its transaction, nothing is committed;
 *   after-outbox-commit              a send (message row, ratchet state, envelopes) is committed,
 *                                    nothing has reached the relay;
 *   after-inbound-commit-before-ack  an inbound batch is committed, its envelopes are not acked;
 *   mid-batch                        an inbound batch has processed an envelope, not committed;
 *   mid-rekey                        a passphrase change is rewriting the database under the new
 *                                    key (part of the pages journaled; engine.ts, db/rekey.ts);
 *   after-rekey-before-key-file      the database has the new key, the key file still wraps the
 *                                    old one (the new one waits beside it, engine.ts);
 *   mid-restore                      a restore from backup has written the new database, nothing
 *                                    is published to the relay yet (engine.ts, ADR 0033).
 * Unset (production), a point costs one comparison. The relay has its own (server/crash-points.ts).
 *
 * This module reads no environment itself: an entry point arms it (`armCrashPoints`) from the
 * environment it trusts — the engine's child-process entry (cli.ts) and the hosts
 * (host/engine-host.ts), whose Electron side drops the variable in a packaged build
 * (host/security.ts hostEnvironment). Unarmed, no point fires.
 */
export const CRASH_AT_ENV = 'PARLEY_TEST_CRASH_AT';

export type EngineCrashPoint =
  | 'after-encrypt-before-commit'
  | 'after-outbox-commit'
  | 'after-inbound-commit-before-ack'
  | 'mid-batch'
  | 'mid-rekey'
  | 'after-rekey-before-key-file'
  | 'mid-restore';

let point: string | null = null;
let remaining = 0;

/** Arms the point `spec` names (`<point>[:<n>]`); undefined or empty disarms. */
export function armCrashPoints(spec: string | undefined): void {
  const [name, countText] = (spec ?? '').split(':');
  point = name ? name : null;
  remaining = countText ? Number.parseInt(countText, 10) : 1;
}

/** The armed point, or null (tests of the arming rule). */
export function armedCrashPoint(): string | null {
  return point;
}

export function crashPoint(name: EngineCrashPoint): void {
  if (point !== name) return;
  remaining -= 1;
  if (remaining <= 0) process.kill(process.pid, 'SIGKILL');
}
