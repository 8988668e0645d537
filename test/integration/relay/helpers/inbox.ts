/** Collects what a RelayClient receives, with waits for counts and for the end of the backlog. */
import type { RelayClient } from '../../../../electron/engine/relay/client.js';
import { RelayClientError } from '../../../../electron/engine/relay/errors.js';
import type { Envelope } from '../../../../shared/wire/frames.js';

export class Inbox {
  readonly envelopes: Envelope[] = [];
  backlogEnds = 0;
  private waiters: (() => void)[] = [];

  constructor(client: RelayClient) {
    client.on('envelope', (e) => {
      this.envelopes.push(e);
      this.wake();
    });
    client.on('backlogEnd', () => {
      this.backlogEnds++;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  async until(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what} (have ${this.envelopes.length} envelopes, ${this.backlogEnds} backlog ends)`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  count(n: number, timeoutMs?: number): Promise<void> {
    return this.until(() => this.envelopes.length >= n, timeoutMs, `${n} envelopes`);
  }

  backlogEnd(n = 1, timeoutMs?: number): Promise<void> {
    return this.until(() => this.backlogEnds >= n, timeoutMs, `backlog end #${n}`);
  }

  texts(): string[] {
    return this.envelopes.map((e) => Buffer.from(e.content).toString('utf8'));
  }
}

export const text = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

/** The RelayClientError a promise rejects with (fails the test if it resolves). */
export async function failure(p: Promise<unknown>): Promise<RelayClientError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RelayClientError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}
