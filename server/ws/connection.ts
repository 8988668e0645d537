/**
 * One WebSocket connection of the live channel (frames in shared/wire/frames.ts). Owns the
 * connection's life: authentication by the first frame (within WS_AUTH_TIMEOUT_MS, auth attempts
 * limited per client address), per-connection budgets (frames, bytes, typing, presence; repeated
 * violations close it with 1008), validation of every frame (typed error frames, never an
 * exception), and delivery of the device's mailbox.
 *
 * Inbound frames are handled one at a time, in arrival order, on a promise chain: the shared limits
 * (auth attempts, envelopes) answer asynchronously (server/limits/limiter.ts; the connection's own
 * budgets synchronously), and authentication holds the frames that follow it until it is decided
 * (at most MAX_FRAMES_BEFORE_READY of them).
 *
 * Delivery keeps a cursor (highest seq written to this socket). On authentication a pump reads the
 * mailbox after the cursor page by page, then sends `backlog-end`; afterwards committed envelopes
 * arriving on the bus are written directly when they continue the cursor, and anything else (a gap,
 * a pump in progress, a full socket buffer) wakes the pump, which reads from the store. The pump
 * waits for the socket to drain above SOCKET_HIGH_WATER_BYTES, so a slow reader holds at most that
 * much in memory. Does not own commit (core/mailboxes.ts) or the socket table (registry.ts).
 */
import type { RawData, WebSocket } from 'ws';
import { CLIENT_FRAME_TYPES, type ClientFrameType, CloseCode } from '../../shared/wire/frames.js';
import {
  AckFrameSchema,
  AuthFrameSchema,
  PingFrameSchema,
  PresenceQueryFrameSchema,
  SendFrameSchema,
} from '../../shared/wire/frames.js';
import { RequestIdSchema } from '../../shared/wire/primitives.js';
import type { z } from 'zod';
import type { AuthService } from '../core/auth.js';
import type { AuthenticatedDevice, RelayContext } from '../core/context.js';
import { RelayError, toErrorObject } from '../core/errors.js';
import type { Mailboxes } from '../core/mailboxes.js';
import type { PresenceService } from '../core/presence.js';
import type { ConnectionBudgets } from '../limits/relay-limits.js';
import type { BusEvent } from '../bus/bus.js';
import type { ClusterDirectory } from '../bus/cluster.js';
import type { StoredEnvelope } from '../store/store.js';
import {
  ephemeralFrame,
  ackedFrame,
  BACKLOG_END_FRAME,
  envelopeFrame,
  errorFrame,
  pongFrame,
  presenceSnapshotFrame,
  readyFrame,
  rememberContentText,
  sentFrame,
} from './encode.js';
import type { ConnectionRegistry } from './registry.js';
import { describeIssues } from '../core/validation.js';

/** Envelopes per mailbox read. */
export const MAILBOX_PAGE_SIZE = 64;
/** Above this many buffered bytes, delivery waits for the socket to drain. */
export const SOCKET_HIGH_WATER_BYTES = 1024 * 1024;
/** Frames a client may pipeline behind its auth frame while the token is checked. */
const MAX_FRAMES_BEFORE_READY = 32;
/** Frames waiting for their turn once ready (they wait only for budget answers, so few ever do). */
const MAX_FRAMES_QUEUED = 1_024;

export type ConnectionDeps = {
  readonly ctx: RelayContext;
  readonly auth: AuthService;
  readonly mailboxes: Mailboxes;
  readonly presence: PresenceService;
  readonly registry: ConnectionRegistry<Connection>;
  /**
   * Several instances (ADR 0035): the per-device cap and the account's presence are decided over
   * all of them; without it, by this instance's registry alone.
   */
  readonly cluster?: ClusterDirectory | undefined;
};

type State = 'auth' | 'ready' | 'closed';
const FRAME_TYPES: ReadonlySet<string> = new Set(CLIENT_FRAME_TYPES);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One text frame as the relay reads it before the frame type's own schema (`dispatch`). */
export type DecodedClientFrame =
  | { readonly ok: true; readonly type: ClientFrameType; readonly value: Record<string, unknown>; readonly ref: string | undefined }
  | { readonly ok: false; readonly error: RelayError; readonly ref: string | undefined };

/**
 * Reads one text frame: one JSON object with a string `type` the relay knows (else MALFORMED or
 * UNSUPPORTED_FRAME), and its request id when it has a valid one (echoed in the error). Never
 * throws: test/fuzz/decoders.test.ts feeds it generated frames.
 */
export function decodeClientFrame(buffer: Buffer): DecodedClientFrame {
  let value: unknown;
  try {
    value = JSON.parse(buffer.toString('utf8'));
  } catch {
    return { ok: false, error: new RelayError('MALFORMED', 'a frame is one JSON object'), ref: undefined };
  }
  if (!isObject(value) || typeof value.type !== 'string') {
    return { ok: false, error: new RelayError('MALFORMED', 'a frame is a JSON object with a string `type`'), ref: undefined };
  }
  const ref = RequestIdSchema.safeParse(value.id).success ? (value.id as string) : undefined;
  if (!FRAME_TYPES.has(value.type)) return { ok: false, error: new RelayError('UNSUPPORTED_FRAME', 'unknown frame type'), ref };
  return { ok: true, type: value.type as ClientFrameType, value, ref };
}

export class Connection {
  deviceKey = -1;
  accountHex = '';
  /** Cleared by each heartbeat ping, set by the pong. */
  alive = true;

  private state: State = 'auth';
  private device: AuthenticatedDevice | undefined;
  private readonly authTimer: NodeJS.Timeout;
  private readonly budgets: ConnectionBudgets;
  /** The inbound chain: each frame is handled after the previous one. */
  private inbound: Promise<void> = Promise.resolve();
  private queued = 0;
  private cursor = 0;
  private pumping = false;
  private dirty = false;
  private backlogDone = false;
  private inflight = 0;
  private paused = false;
  /** Counted in the cluster directory (uncounted once, when the connection ends). */
  private entered = false;

  constructor(
    private readonly ws: WebSocket,
    /** The client's address key (server/limits/address.ts). */
    readonly address: string,
    private readonly deps: ConnectionDeps,
  ) {
    const { limits } = deps.ctx;
    this.budgets = limits.connectionBudgets();
    this.authTimer = setTimeout(() => {
      if (this.state === 'auth') {
        this.sendError(new RelayError('UNAUTHORIZED', 'no auth frame in time'), undefined);
        this.close(CloseCode.AuthTimeout, 'auth timeout');
      }
    }, limits.config.authTimeoutMs);
  }

  get authenticated(): boolean {
    return this.state === 'ready';
  }

  // ── Inbound ──────────────────────────────────────────────────────────────────

  onMessage(data: RawData, isBinary: boolean): void {
    if (this.state === 'closed') return;
    const ready = this.state === 'ready';
    if (++this.queued > (ready ? MAX_FRAMES_QUEUED : MAX_FRAMES_BEFORE_READY)) {
      this.close(CloseCode.PolicyViolation, ready ? 'too many frames queued' : 'too many frames before ready');
      return;
    }
    this.inbound = this.inbound.then(async () => {
      this.queued--;
      if (this.state === 'closed') return;
      try {
        await this.receive(data, isBinary);
      } catch (e) {
        // Only a failing limiter backend gets here; the frame cannot be judged, so it is refused.
        this.sendError(e, undefined);
      }
    });
  }

  private async receive(data: RawData, isBinary: boolean): Promise<void> {
    // binaryType is the default 'nodebuffer': a message (even a fragmented one) is one Buffer.
    const buffer = data as Buffer;
    const size = buffer.byteLength;
    const wait = this.budgets.frames(1) || this.budgets.bytes(size);
    if (this.state === 'closed') return;
    if (wait) {
      this.deps.ctx.metrics.frameIn('invalid');
      this.strike(new RelayError('RATE_LIMITED', 'too many frames; slow down', { retryAfterMs: wait }), undefined);
      return;
    }
    if (isBinary) {
      this.deps.ctx.metrics.frameIn('binary');
      this.strike(new RelayError('UNSUPPORTED_FRAME', 'binary frames are not part of the wire protocol'), undefined);
      return;
    }
    const decoded = decodeClientFrame(buffer);
    if (!decoded.ok) {
      this.deps.ctx.metrics.frameIn('invalid');
      this.strike(decoded.error, decoded.ref);
      return;
    }
    const { type, value, ref } = decoded;
    this.deps.ctx.metrics.frameIn(type);
    if (this.state === 'auth') {
      if (type !== 'auth') {
        this.sendError(new RelayError('UNAUTHORIZED', 'the first frame must be `auth`'), ref);
        this.close(CloseCode.Unauthorized, 'unauthorized');
        return;
      }
      const frame = AuthFrameSchema.safeParse(value);
      if (!frame.success) {
        this.sendError(new RelayError('UNAUTHORIZED', 'malformed auth frame'), ref);
        this.close(CloseCode.Unauthorized, 'unauthorized');
        return;
      }
      await this.authenticate(frame.data.token);
      return;
    }
    await this.dispatch(type, value, ref);
  }

  private parse<S extends z.ZodType>(schema: S, value: unknown, ref: string | undefined): z.output<S> | undefined {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    this.strike(new RelayError('MALFORMED', describeIssues(result.error)), ref);
    return undefined;
  }

  private async dispatch(type: ClientFrameType, value: Record<string, unknown>, ref: string | undefined): Promise<void> {
    const device = this.device!;
    switch (type) {
      case 'auth':
        this.strike(new RelayError('MALFORMED', 'already authenticated'), ref);
        return;
      case 'send': {
        const frame = this.parse(SendFrameSchema, value, ref);
        if (!frame) return;
        // The schema accepted them, so the raw messages are the strict base64url the bytes came from.
        const raw = value.messages as readonly { content: string }[];
        frame.messages.forEach((m, i) => rememberContentText(m.content, raw[i]!.content));
        this.track(
          this.deps.mailboxes.send(device, frame.to, frame.messages).then(
            (r) => this.sendRaw(sentFrame(frame.id, r.serverTimestamp), 'sent'),
            (e: unknown) => this.sendError(e, frame.id),
          ),
        );
        return;
      }
      case 'ack': {
        const frame = this.parse(AckFrameSchema, value, ref);
        if (!frame) return;
        this.track(
          this.deps.mailboxes.ack(device, frame.seqs).then(
            () => {
              if (frame.id !== undefined) this.sendRaw(ackedFrame(frame.id), 'acked');
            },
            (e: unknown) => this.sendError(e, frame.id),
          ),
        );
        return;
      }
      case 'presence-query': {
        const frame = this.parse(PresenceQueryFrameSchema, value, ref);
        if (!frame) return;
        const wait = this.budgets.presence(1);
        if (wait) {
          this.strike(new RelayError('RATE_LIMITED', 'too many presence queries', { retryAfterMs: wait }), frame.id);
          return;
        }
        this.deps.presence.snapshot(device, frame.accounts).then(
          (entries) =>
            this.sendRaw(presenceSnapshotFrame(frame.id, entries), 'presence-snapshot'),
          (e: unknown) => this.sendError(e, frame.id),
        );
        return;
      }
      case 'ping': {
        const frame = this.parse(PingFrameSchema, value, ref);
        if (!frame) return;
        this.sendRaw(pongFrame(frame.id, this.deps.ctx.clock()), 'pong');
        return;
      }
    }
  }

  /** Counts requests awaiting commit; past the cap the relay stops reading this socket. */
  private track(work: Promise<void>): void {
    this.inflight++;
    if (this.inflight >= this.deps.ctx.limits.config.maxInflightPerConnection && !this.paused) {
      this.paused = true;
      this.ws.pause();
    }
    void work.finally(() => {
      this.inflight--;
      if (this.paused && this.inflight <= this.deps.ctx.limits.config.maxInflightPerConnection / 2) {
        this.paused = false;
        if (this.state !== 'closed') this.ws.resume();
      }
    });
  }

  private async authenticate(token: Uint8Array): Promise<void> {
    const { ctx } = this.deps;
    let device: AuthenticatedDevice;
    try {
      const wait = await ctx.limits.wsAuth.consume(this.address);
      if (wait) {
        if ((this.state as State) === 'closed') return;
        this.sendError(new RelayError('RATE_LIMITED', 'too many authentication attempts from this address', { retryAfterMs: wait }), undefined);
        this.close(CloseCode.TooManyConnections, 'too many authentication attempts');
        return;
      }
      device = await this.deps.auth.authenticate(token);
    } catch (e) {
      if ((this.state as State) === 'closed') return;
      this.sendError(e, undefined);
      this.close(CloseCode.Unauthorized, 'unauthorized');
      return;
    } finally {
      token.fill(0);
    }
    if ((this.state as State) !== 'auth') return;
    this.device = device;
    this.deviceKey = device.deviceKey;
    this.accountHex = device.accountHex;
    const added = this.deps.registry.add(this, ctx.limits.config.maxConnections);
    if (added === 'device-full') {
      this.sendError(new RelayError('TOO_MANY_CONNECTIONS', 'this device holds the maximum number of connections', { retryAfterMs: 5_000 }), undefined);
      this.close(CloseCode.TooManyConnections, 'too many connections');
      return;
    }
    if (added === 'relay-full') {
      this.sendError(new RelayError('UNAVAILABLE', 'the relay holds its maximum of connections', { retryAfterMs: 5_000 }), undefined);
      this.close(CloseCode.TooManyConnections, 'relay full');
      return;
    }
    const { cluster } = this.deps;
    if (cluster) {
      let entry: Awaited<ReturnType<ClusterDirectory['enter']>>;
      try {
        entry = await cluster.enter(device.deviceKey, device.accountHex);
      } catch (e) {
        this.logInternal(e, 'cluster-enter');
        if ((this.state as State) === 'closed') return;
        this.sendError(new RelayError('UNAVAILABLE', 'the relay cannot count connections right now; retry later', { retryAfterMs: 5_000 }), undefined);
        this.close(CloseCode.TooManyConnections, 'unavailable');
        return;
      }
      if (entry.status === 'entered') this.entered = true;
      if ((this.state as State) === 'closed') {
        this.leaveCluster();
        return;
      }
      if (entry.status === 'device-full') {
        this.sendError(new RelayError('TOO_MANY_CONNECTIONS', 'this device holds the maximum number of connections', { retryAfterMs: 5_000 }), undefined);
        this.close(CloseCode.TooManyConnections, 'too many connections');
        return;
      }
      if (entry.firstOfAccount) this.announce(true);
    }
    clearTimeout(this.authTimer);
    this.state = 'ready';
    this.sendRaw(readyFrame(device, this.deps.ctx.clock()), 'ready');
    void this.pump();
  }

  // ── Outbound ─────────────────────────────────────────────────────────────────

  onBusEvent(event: BusEvent): void {
    if (this.state !== 'ready') return;
    if (event.kind === 'device-gone') {
      this.close(CloseCode.DeviceGone, 'device removed');
    } else if (event.kind === 'mailbox') {
      this.onMailbox(event.envelopes);
    } else if (event.kind === 'resync') {
      void this.pump();
    } else if (event.kind === 'ephemeral') {
      // Online-only (typing): after the backlog, like the live envelopes it stands beside; dropped
      // rather than queued when the socket is behind (a stale indicator is worth nothing).
      if (this.backlogDone && this.ws.bufferedAmount <= SOCKET_HIGH_WATER_BYTES) this.sendRaw(ephemeralFrame(event.serverTimestamp, event.content), 'ephemeral');
    }
  }

  /** An account-wide frame (presence) prepared by the presence service. */
  sendAccountFrame(frame: string, type: string): void {
    if (this.state === 'ready') this.sendRaw(frame, type);
  }

  private onMailbox(envelopes: readonly StoredEnvelope[] | undefined): void {
    if (envelopes && !this.pumping && this.backlogDone && this.ws.bufferedAmount <= SOCKET_HIGH_WATER_BYTES) {
      for (const envelope of envelopes) {
        if (envelope.seq <= this.cursor) continue;
        if (envelope.seq !== this.cursor + 1) {
          void this.pump();
          return;
        }
        this.sendEnvelope(envelope);
      }
      return;
    }
    void this.pump();
  }

  private sendEnvelope(envelope: StoredEnvelope, flushed?: () => void): void {
    this.sendRaw(envelopeFrame(envelope), 'envelope', flushed);
    this.cursor = envelope.seq;
    this.deps.ctx.metrics.envelopesDelivered.inc();
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.dirty = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.dirty = false;
        for (;;) {
          if (this.state !== 'ready') return;
          const page = await this.deps.ctx.store.readMailbox(this.deviceKey, this.cursor, MAILBOX_PAGE_SIZE);
          if (this.state !== 'ready' || page.nextSeq === undefined) return;
          let flushed: Promise<void> | undefined;
          page.envelopes.forEach((envelope, i) => {
            if (envelope.seq <= this.cursor) return;
            if (i === page.envelopes.length - 1) flushed = new Promise((resolve) => this.sendEnvelope(envelope, resolve));
            else this.sendEnvelope(envelope);
          });
          if (page.envelopes.length < MAILBOX_PAGE_SIZE) {
            // Every seq below nextSeq was committed before the page was read; absent ones are acked.
            this.cursor = Math.max(this.cursor, page.nextSeq - 1);
            break;
          }
          if (flushed && this.ws.bufferedAmount > SOCKET_HIGH_WATER_BYTES) await flushed;
        }
        if (!this.backlogDone) {
          this.backlogDone = true;
          this.sendRaw(BACKLOG_END_FRAME, 'backlog-end');
        }
      } while (this.dirty);
    } catch (e) {
      this.logInternal(e, 'pump');
      this.close(1011, 'internal error');
    } finally {
      this.pumping = false;
    }
  }

  private sendRaw(frame: string, type: string, flushed?: () => void): void {
    if (this.state === 'closed' || this.ws.readyState !== this.ws.OPEN) {
      flushed?.();
      return;
    }
    this.ws.send(frame, flushed && (() => flushed()));
    this.deps.ctx.metrics.frameOut(type);
  }

  private sendError(e: unknown, ref: string | undefined): void {
    const error = toErrorObject(e);
    if (error.code === 'INTERNAL') this.logInternal(e, 'frame');
    this.deps.ctx.metrics.errors.inc({ code: error.code, transport: 'ws' });
    this.sendRaw(errorFrame(error, ref), 'error');
  }

  /** An error the client caused; too many in a short time close the connection. */
  private strike(e: RelayError, ref: string | undefined): void {
    this.sendError(e, ref);
    if (this.budgets.strikes(1)) this.close(CloseCode.PolicyViolation, 'too many invalid or excess frames');
  }

  private logInternal(e: unknown, where: string): void {
    this.deps.ctx.log.error({ err: e, event: 'ws.internal', where }, 'internal error on a connection');
  }

  private announce(online: boolean): void {
    this.deps.presence
      .announce(this.device!.accountId, online)
      .catch((e: unknown) => this.deps.ctx.log.error({ err: e, event: 'presence.announce-failed' }, 'presence announcement failed'));
  }

  /** Uncounts the connection in the cluster directory; the account's last connection anywhere goes offline. */
  private leaveCluster(): void {
    if (!this.entered) return;
    this.entered = false;
    this.deps.cluster!.leave(this.deviceKey, this.accountHex).then(
      (r) => {
        if (r.lastOfAccount) this.announce(false);
      },
      (e: unknown) => this.logInternal(e, 'cluster-leave'),
    );
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.authTimer);
    this.deps.registry.remove(this);
    this.leaveCluster();
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
  }

  /** The socket is gone (closed by either side, or terminated). */
  onClosed(): void {
    this.state = 'closed';
    clearTimeout(this.authTimer);
    this.deps.registry.remove(this);
    this.leaveCluster();
  }

  terminate(): void {
    this.onClosed();
    this.ws.terminate();
  }

  ping(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
  }
}
