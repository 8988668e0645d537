/**
 * The idle part of the app lock (DESIGN §4): after N minutes without user activity the engine
 * locks (closes the database, drops the key). Activity is what the person does in the window,
 * reported by the renderer through `app:activity` (keyboard, pointer, focus) — never a request the
 * renderer or the engine makes on its own; the timer is injectable for tests. Does not own what locking does
 * (engine.ts) or the passphrase (keys/).
 */

export type Timers = {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
};

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // An armed app lock must not keep a headless engine process alive by itself.
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class IdleLock {
  #minutes: number | null = null;
  #handle: unknown = null;

  constructor(
    private readonly onIdle: () => void,
    private readonly timers: Timers = systemTimers,
  ) {}

  get minutes(): number | null {
    return this.#minutes;
  }

  /** Arms the lock for `minutes` of idleness (null disarms it); restarts the countdown. */
  configure(minutes: number | null): void {
    this.#minutes = minutes;
    this.touch();
  }

  /** User activity: the countdown starts again. */
  touch(): void {
    this.#clear();
    if (this.#minutes === null) return;
    this.#handle = this.timers.setTimeout(() => {
      this.#handle = null;
      this.onIdle();
    }, this.#minutes * 60_000);
  }

  stop(): void {
    this.#clear();
    this.#minutes = null;
  }

  #clear(): void {
    if (this.#handle !== null) this.timers.clearTimeout(this.#handle);
    this.#handle = null;
  }
}
