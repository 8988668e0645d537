/**
 * Timers that fire only when a test moves time forward: one implementation of the `Timers` the
 * engine (electron/engine/app-lock.ts) and the renderer's state classes
 * (renderer/src/lib/state/call.ts) take, so idle locks, typing expiry, debounces and throttles run
 * in order, at exact times, without sleeping.
 */

/** Every member either runtime's Timers asks for (each takes the subset it needs). */
export type Timers = {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
};

export class ManualTimers implements Timers {
  #now: number;
  #next = 1;
  readonly #pending = new Map<number, { readonly at: number; readonly fn: () => void }>();

  constructor(start = 0) {
    this.#now = start;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#pending.set(id, { at: this.#now + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#pending.delete(handle as number);
  }

  now(): number {
    return this.#now;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#pending) if (entry[1].at <= target && (!due || entry[1].at < due[1].at)) due = entry;
      if (!due) break;
      this.#pending.delete(due[0]);
      this.#now = due[1].at;
      due[1].fn();
    }
    this.#now = target;
  }

  /** How long each armed timer has left, soonest first. */
  remaining(): number[] {
    return [...this.#pending.values()].map((p) => p.at - this.#now).sort((a, b) => a - b);
  }
}
