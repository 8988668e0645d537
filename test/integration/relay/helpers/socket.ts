/**
 * A raw WebSocket for tests that speak the wire protocol directly (hostile input, boundaries,
 * ordering): queues every frame, validates nothing, lets a test wait for the next frame matching a
 * predicate, and reports how the socket closed.
 */
import { WebSocket } from 'ws';
import { MAX_SERVER_FRAME_BYTES } from '../../../../shared/wire/wire-size.js';

export type Frame = Record<string, unknown> & { type?: unknown };

export class TestSocket {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  readonly raw: string[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];

  /** `localAddress` binds the client side (127.0.0.2, 127.0.0.3… act as distinct client addresses). */
  constructor(url: string, options: { localAddress?: string; headers?: Record<string, string> } = {}) {
    // A bare relay URL means the live channel; a URL with a path (and query) is used as given.
    const wsUrl = new URL(url);
    if (wsUrl.pathname === '/') wsUrl.pathname = '/v1/ws';
    wsUrl.protocol = 'ws:';
    this.ws = new WebSocket(wsUrl, { maxPayload: 4 * MAX_SERVER_FRAME_BYTES, ...options });
    this.ws.on('error', () => undefined);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on('message', (data) => {
      const text = (data as Buffer).toString('utf8');
      this.raw.push(text);
      let frame: Frame;
      try {
        frame = JSON.parse(text) as Frame;
      } catch {
        frame = { type: '__unparseable__', text };
      }
      const i = this.waiters.findIndex((w) => w.match(frame));
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        w!.resolve(frame);
      } else {
        this.frames.push(frame);
      }
    });
  }

  static async open(url: string, options: { localAddress?: string; headers?: Record<string, string> } = {}): Promise<TestSocket> {
    const s = new TestSocket(url, options);
    await s.opened;
    return s;
  }

  /** Opens a socket and authenticates it; resolves after `ready`. */
  static async authed(url: string, token: string, options: { localAddress?: string; headers?: Record<string, string> } = {}): Promise<TestSocket> {
    const s = await TestSocket.open(url, options);
    s.send({ type: 'auth', token });
    const ready = await s.next((f) => f.type === 'ready' || f.type === 'error');
    if (ready.type !== 'ready') throw new Error(`auth failed: ${JSON.stringify(ready)}`);
    return s;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  /** The next frame (queued or future) matching `match`. */
  next(match: (f: Frame) => boolean = () => true, timeoutMs = 10_000): Promise<Frame> {
    const i = this.frames.findIndex(match);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out waiting for a frame; queued: ${JSON.stringify(this.frames.slice(-5)).slice(0, 500)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Resolves true if no frame matching `match` arrives within `ms`. */
  async quiet(match: (f: Frame) => boolean, ms: number): Promise<boolean> {
    try {
      await this.next(match, ms);
      return false;
    } catch {
      return true;
    }
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
  }

  terminate(): void {
    this.ws.terminate();
  }
}
