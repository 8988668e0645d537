/**
 * LocalBus: the Bus of a single relay instance. Delivers each event synchronously to every
 * subscriber, in publish order; a throwing subscriber is reported and does not stop the others.
 */
import type { Bus, BusEvent, BusStatus } from './bus.js';

export class LocalBus implements Bus {
  private readonly handlers = new Set<(event: BusEvent) => void>();
  constructor(private readonly onHandlerError: (e: unknown) => void) {}

  publish(event: BusEvent): void {
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (e) {
        this.onHandlerError(e);
      }
    }
  }

  subscribe(handler: (event: BusEvent) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Every event is published here: nothing to listen to. */
  listen(): Promise<void> {
    return Promise.resolve();
  }

  status(): BusStatus {
    return { backend: 'local', connected: true };
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
