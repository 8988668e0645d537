/**
 * Fault injection for the durability tests (DESIGN §7): `PARLEY_TEST_CRASH_AT=<point>[:<n>]` makes
 * the relay SIGKILL itself the n-th time (default first) it reaches a named point. Points:
 *   mailbox.after-commit — a batch of sends/acks is committed and durable; no answer or delivery has left.
 * Unset (production), a crash point costs one comparison.
 */
const spec = process.env.PARLEY_TEST_CRASH_AT ?? '';
const [point, countText] = spec.split(':');
let remaining = countText ? Number.parseInt(countText, 10) : 1;

export type CrashPoint = 'mailbox.after-commit';

export function crashPoint(name: CrashPoint): void {
  if (point !== name) return;
  remaining -= 1;
  if (remaining <= 0) process.kill(process.pid, 'SIGKILL');
}
