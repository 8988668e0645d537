/**
 * The person's input in this window — keyboard, pointer, touch, focus — reported to the engine
 * through `app:activity`: the one signal that restarts the app lock's idle countdown (issue 10 item
 * 9). Requests the renderer makes on its own (a message arriving in the open chat is marked read)
 * are not input, so a contact writing cannot keep an unattended window unlocked. Only events the
 * browser marks trusted count (a script's synthetic event does not).
 *
 * Reports are throttled to one per ACTIVITY_REPORT_INTERVAL_MS (the lock counts in minutes): the
 * first input reports at once, and input during the interval is reported once at its end, so the
 * countdown always starts from at most one interval before the last input.
 */
import type { Timers } from './call.js';

export const ACTIVITY_REPORT_INTERVAL_MS = 10_000;

/** What counts as the person being there. */
export const INPUT_EVENTS = ['keydown', 'pointerdown', 'pointermove', 'wheel', 'touchstart', 'focus'] as const;

export type InputSource = {
  addEventListener(type: string, listener: (event: { readonly isTrusted: boolean }) => void, options: AddEventListenerOptions): void;
};

export class UserInputReporter {
  readonly #report: () => void;
  readonly #timers: Timers;
  #lastReport = Number.NEGATIVE_INFINITY;
  #pending = false;

  constructor(source: InputSource, report: () => void, timers: Timers) {
    this.#report = report;
    this.#timers = timers;
    const onInput = (event: { readonly isTrusted: boolean }) => {
      if (event.isTrusted) this.#input();
    };
    // Capture: focus does not bubble, and a component that stops propagation still saw input.
    for (const type of INPUT_EVENTS) source.addEventListener(type, onInput, { capture: true, passive: true });
  }

  #input(): void {
    const wait = this.#lastReport + ACTIVITY_REPORT_INTERVAL_MS - this.#timers.now();
    if (wait <= 0) {
      this.#send();
    } else if (!this.#pending) {
      this.#pending = true;
      this.#timers.setTimeout(() => {
        this.#pending = false;
        this.#send();
      }, wait);
    }
  }

  #send(): void {
    this.#lastReport = this.#timers.now();
    this.#report();
  }
}
