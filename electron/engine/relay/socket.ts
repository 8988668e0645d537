/**
 * The relay's live channel for one device (DESIGN §5; frames in shared/wire/frames.ts): connect, the
 * auth frame with the session token, the mailbox backlog then `backlog-end`, live envelopes,
 * online-only sealed envelopes (typing) and presence; requests (send, ack, presence-query, ping) correlated with their replies by id and
 * failed with TIMEOUT or DISCONNECTED; flow control (pause/resume reading the socket); and
 * reconnection after a jittered exponential backoff until close() — or until the relay says the
 * device is gone, which ends it for good.
 *
 * Coming back quickly (issue 10 item 17): when the relay could not be reached (connection refused
 * or dropped, or it said it was going away) and the next attempt is further off than a probe
 * interval, the relay's `/healthz` is probed every 1–3 s (HEALTH_PROBE_INTERVAL_MS, jittered); the
 * first healthy answer moves the attempt to a random moment within RECONNECT_JITTER_MS, so clients
 * that lost a restarting relay together come back within a few seconds of it, spread over a second,
 * instead of waiting out up to 30 s of backoff. A relay that answered and refused (too many connections, a policy close, an auth error)
 * is not probed: its backoff runs as it is.
 *
 * Does not own authentication (it asks auth.ts for a token and drops one the relay refused), REST
 * (rest.ts), or what envelopes mean and when to ack them (the engine's messaging layer).
 */
import { WebSocket } from 'ws';
import { systemClock, type Clock, type Rng } from '../../../shared/crypto/random.js';
import { CloseCode, ServerFrameSchema, type Envelope, type ServerFrame } from '../../../shared/wire/frames.js';
import { WS_PATH } from '../../../shared/wire/version.js';
import { MAX_SERVER_FRAME_BYTES } from '../../../shared/wire/wire-size.js';
import type { Timers } from '../app-lock.js';
import { RelayClientError } from './errors.js';
import { checkRelayTransport, relayHealthy } from './rest.js';

// ── Backoff ────────────────────────────────────────────────────────────────────

export type BackoffOptions = {
  /** Delay ceiling of the first retry. */
  readonly initialDelayMs: number;
  /** Ceiling of any delay. */
  readonly maxDelayMs: number;
  readonly factor: number;
};

export const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 500, maxDelayMs: 30_000, factor: 2 };

/** While the relay is unreachable: how often its health is probed (each interval jittered ±50 %). */
export const HEALTH_PROBE_INTERVAL_MS = 2_000;
/** After a healthy probe the attempt is made within this much (uniformly random). */
export const RECONNECT_JITTER_MS = 1_000;

/** A uniform random number in [0, 1) from the injected randomness. */
function uniform(rng: Rng): number {
  return new DataView(rng(4).buffer).getUint32(0) / 2 ** 32;
}

/**
 * "Equal jitter": half the exponential ceiling plus a uniform random half, so clients that lost the
 * relay together spread out, and none retries immediately.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, rng: Rng): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (uniform(rng) * ceiling) / 2);
}

// ── Events ─────────────────────────────────────────────────────────────────────

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'gone' | 'closed';

export type RelayClientEvents = {
  /** A mailbox envelope (backlog or live). Ack it after it is durably processed. */
  envelope: (envelope: Envelope) => void;
  /** The backlog of this connection has been delivered; live envelopes follow. */
  backlogEnd: () => void;
  /** An online-only sealed envelope (typing, docs/protocol.md §21): never stored, never acked. */
  ephemeral: (event: { serverTimestamp: number; content: Uint8Array }) => void;
  /** `shared: false`: the account does not share presence with us (hidden, or not a mutual contact). */
  presence: (event: { accountId: Uint8Array; online: boolean; shared: boolean }) => void;
  state: (state: ConnectionState) => void;
  /** The relay closed the channel for good (device removed, unregistered, account deleted). */
  gone: () => void;
  /** A problem the client recovers from by itself (reconnects, unsolicited error frames). */
  error: (error: RelayClientError) => void;
  /** While reconnecting to a relay that could not be reached: the answer of one health probe. */
  probe: (healthy: boolean) => void;
};

/** A presence entry or event with `shared` spelled out (absent: an older relay, which meant shared). */
export function withShared(e: { readonly accountId: Uint8Array; readonly online: boolean; readonly shared?: boolean | undefined }) {
  return { accountId: e.accountId, online: e.online, shared: e.shared ?? true };
}

type Listeners = { [K in keyof RelayClientEvents]: Set<RelayClientEvents[K]> };

/** What the channel needs from authentication. */
export type SocketAuth = {
  sessionToken(): Promise<string>;
  forgetToken(): void;
};

/** Real timers for the reconnection and the health probes (tests pass ManualTimers). */
const socketTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export type RelaySocketOptions = {
  /** Base URL of the relay (ends with `/`). */
  readonly baseUrl: string;
  readonly auth: SocketAuth;
  readonly rng: Rng;
  readonly clock?: Clock;
  /** Timers of the reconnection and the health probes (not of requests). */
  readonly timers?: Timers;
  readonly backoff: BackoffOptions;
  /** Per request, and for the WebSocket handshake. */
  readonly timeoutMs: number;
};

type Pending = {
  readonly resolve: (frame: ServerFrame) => void;
  readonly reject: (e: RelayClientError) => void;
  readonly timer: NodeJS.Timeout;
};

export class RelaySocket {
  private readonly clock: Clock;
  private readonly listeners: Listeners = {
    envelope: new Set(),
    backlogEnd: new Set(),
    ephemeral: new Set(),
    presence: new Set(),
    state: new Set(),
    gone: new Set(),
    error: new Set(),
    probe: new Set(),
  };

  private readonly timers: Timers;
  private ws: WebSocket | undefined;
  private wanted = false;
  private attempt = 0;
  private reconnectTimer: unknown = undefined;
  private reconnectAt: number | null = null;
  private probeTimer: unknown = undefined;
  /** The last attempt found nothing answering (or a relay going away): probe its health meanwhile. */
  private unreachable = false;
  /** Bumped by every (re)scheduling and by close(): a probe answer for an older round is ignored. */
  private round = 0;
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private connectionState: ConnectionState = 'idle';
  private readyWaiters: { resolve: () => void; reject: (e: RelayClientError) => void }[] = [];

  constructor(private readonly options: RelaySocketOptions) {
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? socketTimers;
  }

  // ── Events ──

  on<K extends keyof RelayClientEvents>(event: K, listener: RelayClientEvents[K]): () => void {
    (this.listeners[event] as Set<RelayClientEvents[K]>).add(listener);
    return () => (this.listeners[event] as Set<RelayClientEvents[K]>).delete(listener);
  }

  private emit<K extends keyof RelayClientEvents>(event: K, ...args: Parameters<RelayClientEvents[K]>): void {
    for (const listener of this.listeners[event]) {
      try {
        (listener as (...a: Parameters<RelayClientEvents[K]>) => void)(...args);
      } catch {
        // A listener's bug must not break the channel; listeners own their error handling.
      }
    }
  }

  get state(): ConnectionState {
    return this.connectionState;
  }

  /** While `reconnecting`: when the next attempt is due (this client's clock); otherwise null. */
  get nextAttemptAt(): number | null {
    return this.connectionState === 'reconnecting' ? this.reconnectAt : null;
  }

  private setState(state: ConnectionState): void {
    if (this.connectionState === state) return;
    this.connectionState = state;
    this.emit('state', state);
  }

  // ── Connection ──

  /** Opens the live channel (and keeps it open, reconnecting) until close(); resolves at `ready`. */
  connect(): Promise<void> {
    if (this.connectionState === 'gone') return Promise.reject(new RelayClientError('CLOSED', 'the relay removed this device'));
    const ready = new Promise<void>((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
    if (this.connectionState === 'open') {
      this.settleReady();
    } else if (!this.wanted) {
      this.wanted = true;
      this.setState('connecting');
      void this.openSocket();
    }
    return ready;
  }

  /**
   * Leaves `gone` and connects again: the engine found the relay's "device removed" claim false
   * (this device still authenticates, ADR 0027). Does nothing in any other state.
   */
  revive(): Promise<void> {
    if (this.connectionState !== 'gone') return Promise.resolve();
    this.setState('idle');
    return this.connect();
  }

  /** Closes the live channel for good; pending requests fail with CLOSED. */
  close(): void {
    this.wanted = false;
    this.round++;
    this.timers.clearTimeout(this.reconnectTimer);
    this.timers.clearTimeout(this.probeTimer);
    const ws = this.ws;
    this.ws = undefined;
    ws?.removeAllListeners();
    ws?.on('error', () => undefined);
    if (ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) ws.close(1000, 'client closing');
    this.failPending(new RelayClientError('CLOSED', 'client closed'));
    this.failReady(new RelayClientError('CLOSED', 'client closed'));
    if (this.connectionState !== 'gone') this.setState('closed');
  }

  /**
   * Flow control of the live channel: while paused, nothing more is read from the socket, so the
   * relay's socket buffer fills and its mailbox pump waits (server/ws/connection.ts). The inbound
   * processor pauses when its queue is long and resumes when it has drained, which bounds both its
   * memory and how many frames one burst from the socket parses in a single event-loop turn. A new
   * connection starts unpaused.
   */
  pause(): void {
    this.ws?.pause();
  }

  resume(): void {
    this.ws?.resume();
  }

  /** Best effort: a frame that needs no reply, dropped when the channel is not open. */
  sendUnanswered(frame: Record<string, unknown>): void {
    if (this.connectionState !== 'open') return;
    this.ws?.send(JSON.stringify(frame));
  }

  /** A request over the open channel, resolved with its reply (matched by id) or failed. */
  request(frame: Record<string, unknown>): Promise<ServerFrame> {
    const ws = this.ws;
    if (this.connectionState !== 'open' || !ws) return Promise.reject(new RelayClientError('DISCONNECTED', 'the live channel is not open'));
    const id = `r${this.nextId++}`;
    return new Promise<ServerFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RelayClientError('TIMEOUT', `no reply to ${String(frame.type)}`));
      }, this.options.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ ...frame, id }));
    });
  }

  private async openSocket(): Promise<void> {
    let token: string;
    try {
      checkRelayTransport(this.options.baseUrl);
      token = await this.options.auth.sessionToken();
    } catch (e) {
      const error = e instanceof RelayClientError ? e : new RelayClientError('NETWORK', 'authentication failed');
      if (error.code === 'DEVICE_REMOVED') {
        // As a close with DeviceGone: the relay no longer lets this device in (the engine checks why).
        this.wanted = false;
        this.setState('gone');
        this.failReady(new RelayClientError('CLOSED', 'the relay removed this device'));
        this.emit('gone');
        return;
      }
      this.emit('error', error);
      this.unreachable = error.code === 'NETWORK' || error.code === 'TIMEOUT';
      this.scheduleReconnect();
      return;
    }
    if (!this.wanted) return;
    const url = new URL(WS_PATH, this.options.baseUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url, { maxPayload: MAX_SERVER_FRAME_BYTES, perMessageDeflate: false, handshakeTimeout: this.options.timeoutMs });
    this.ws = ws;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token })));
    ws.on('message', (data, isBinary) => {
      if (this.ws === ws) this.onFrame(data as Buffer, isBinary);
    });
    // The relay answered the upgrade with an HTTP status (over capacity: 503): it is up and said no.
    let answered = false;
    ws.once('unexpected-response', (_request, response) => {
      answered = true;
      response.resume();
      ws.terminate();
    });
    ws.on('error', () => undefined); // 'close' follows and decides what to do
    ws.on('close', (code) => {
      if (this.ws === ws) this.onSocketClosed(code, answered);
    });
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    let frame: ServerFrame;
    try {
      if (isBinary) throw new Error('binary');
      const parsed = ServerFrameSchema.safeParse(JSON.parse(data.toString('utf8')));
      if (!parsed.success) throw new Error('schema');
      frame = parsed.data;
    } catch {
      this.emit('error', new RelayClientError('BAD_RESPONSE', 'unreadable frame from the relay'));
      return;
    }
    switch (frame.type) {
      case 'ready':
        this.attempt = 0;
        this.setState('open');
        this.settleReady();
        return;
      case 'envelope': {
        const { type: _type, ...envelope } = frame;
        this.emit('envelope', envelope);
        return;
      }
      case 'backlog-end':
        this.emit('backlogEnd');
        return;
      case 'ephemeral':
        this.emit('ephemeral', { serverTimestamp: frame.serverTimestamp, content: frame.content });
        return;
      case 'presence':
        this.emit('presence', withShared(frame));
        return;
      case 'error': {
        const { type: _type, code, message, ref, ...details } = frame;
        const error = new RelayClientError(code, message, details);
        const pending = ref === undefined ? undefined : this.pending.get(ref);
        if (pending && ref !== undefined) {
          this.pending.delete(ref);
          clearTimeout(pending.timer);
          pending.reject(error);
        } else {
          this.emit('error', error);
        }
        return;
      }
      case 'sent':
      case 'acked':
      case 'presence-snapshot':
      case 'pong': {
        const pending = this.pending.get(frame.ref);
        if (!pending) return;
        this.pending.delete(frame.ref);
        clearTimeout(pending.timer);
        pending.resolve(frame);
        return;
      }
    }
  }

  /** `refused`: the relay answered the upgrade with an HTTP error instead of a WebSocket. */
  private onSocketClosed(code: number, refused = false): void {
    this.ws = undefined;
    this.failPending(new RelayClientError('DISCONNECTED', `connection closed (${code})`));
    if (code === CloseCode.DeviceGone) {
      this.wanted = false;
      this.setState('gone');
      this.failReady(new RelayClientError('CLOSED', 'the relay removed this device'));
      this.emit('gone');
      return;
    }
    if (code === CloseCode.Unauthorized) this.options.auth.forgetToken();
    // 1006 without an HTTP answer: nothing answered (connection refused, or the relay died);
    // 1001: the relay is going away (a restart). An upgrade turned away (503) is a relay that is up.
    this.unreachable = (code === 1006 && !refused) || code === CloseCode.GoingAway;
    if (!this.wanted) return;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (!this.wanted) return;
    this.reschedule(backoffDelay(this.attempt++, this.options.backoff, this.options.rng));
    if (this.unreachable && this.reconnectAt !== null && this.reconnectAt - this.clock() > HEALTH_PROBE_INTERVAL_MS) this.scheduleProbe(this.round);
  }

  /** The next attempt in `delay` ms (replacing any scheduled one). */
  private reschedule(delay: number): void {
    this.round++;
    this.reconnectAt = this.clock() + delay;
    // A failed retry stays `reconnecting`; listeners still learn the new due time.
    if (this.connectionState === 'reconnecting') this.emit('state', 'reconnecting');
    else this.setState('reconnecting');
    this.timers.clearTimeout(this.reconnectTimer);
    this.timers.clearTimeout(this.probeTimer);
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.timers.clearTimeout(this.probeTimer);
      if (this.wanted) void this.openSocket();
    }, delay);
  }

  /** Probes the relay's health after a jittered interval, while this round's attempt is pending. */
  private scheduleProbe(round: number): void {
    const interval = HEALTH_PROBE_INTERVAL_MS;
    this.probeTimer = this.timers.setTimeout(
      () => {
        void relayHealthy(this.options.baseUrl, Math.min(this.options.timeoutMs, interval)).then((healthy) => {
          if (!this.wanted) return;
          this.emit('probe', healthy);
          if (round !== this.round) return;
          const left = (this.reconnectAt ?? 0) - this.clock();
          if (healthy) {
            // Back now: try within a jittered moment rather than waiting out the backoff.
            if (left > RECONNECT_JITTER_MS) this.reschedule(Math.floor(uniform(this.options.rng) * RECONNECT_JITTER_MS));
          } else if (left > interval) {
            this.scheduleProbe(round);
          }
        });
      },
      Math.round(interval / 2 + uniform(this.options.rng) * interval),
    );
  }

  private settleReady(): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w.resolve();
  }

  private failReady(error: RelayClientError): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w.reject(error);
  }

  private failPending(error: RelayClientError): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(error);
      this.pending.delete(id);
    }
  }
}
