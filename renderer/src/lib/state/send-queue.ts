/**
 * The composer's outgoing queue (issue 12 "Rough edges"): every Enter hands its text over at once —
 * the box empties and the person can write the next message while the previous one is still on its
 * way — and the texts go to the engine one after another, in the order they were written (a send
 * that waits for the window to reload, or a slow host, must not let a later text overtake it).
 *
 * Nothing is lost: when a send fails (the engine refused it, the host went away), it and every text
 * queued behind it are handed back, oldest first, so the composer can put them back in the box; the
 * later ones are not sent out of order past the failed one.
 *
 * Not here: what a send is (ChatState.send), the box itself (Composer.svelte).
 */
export type SendFn = (body: string) => Promise<boolean>;

export class SendQueue {
  readonly #send: SendFn;
  readonly #giveBack: (bodies: readonly string[]) => void;
  #queue: string[] = [];
  #running = false;

  /** `giveBack` receives the texts that were not sent, oldest first, after a failure. */
  constructor(send: SendFn, giveBack: (bodies: readonly string[]) => void) {
    this.#send = send;
    this.#giveBack = giveBack;
  }

  /** Texts handed over and not yet confirmed, oldest first. */
  get pending(): readonly string[] {
    return this.#queue;
  }

  /** Queues a text; blank texts are ignored. */
  push(body: string): void {
    if (body.trim() === '') return;
    this.#queue.push(body);
    if (!this.#running) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        let ok: boolean;
        try {
          ok = await this.#send(this.#queue[0]!);
        } catch {
          ok = false;
        }
        if (!ok) {
          const unsent = this.#queue;
          this.#queue = [];
          this.#giveBack(unsent);
          return;
        }
        this.#queue.shift();
      }
    } finally {
      this.#running = false;
    }
  }
}

/** The box's text after a failure: the unsent texts first, in order, then what was typed since. */
export function restoredText(unsent: readonly string[], typed: string): string {
  return [...unsent, typed].filter((t) => t.trim() !== '').join('\n');
}
