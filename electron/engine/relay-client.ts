/**
 * RelayClient: the engine's typed client for the Parley relay (REST + WebSocket, shapes in
 * shared/wire). Owns: relay authentication (challenge signed with the device's Ed25519 identity key,
 * session token cached and refreshed before expiry, one retry on UNAUTHORIZED), every REST call
 * (responses validated with the wire schemas), and the live channel — connect, auth frame, mailbox
 * backlog then `backlog-end`, live envelopes, acks confirmed by the relay, typing, presence — with
 * reconnection after a jittered exponential backoff. Errors are one class with a closed code set
 * (the relay's codes plus the client's own: NETWORK, TIMEOUT, BAD_RESPONSE, DISCONNECTED, CLOSED).
 *
 * Does not own: what envelopes mean (sessions, decryption, dedupe by message id), when to ack (the
 * engine acks after its own commit: delivery is at least once), key storage, or the outbox. Runs in
 * plain Node (global fetch, the `ws` package); it never imports electron.
 *
 * Usage:
 *   const relay = new RelayClient({ url, accountId, deviceId, identitySigningKey });
 *   relay.on('envelope', async (e) => { await engine.receive(e); await relay.ack([e.seq]); });
 *   await relay.connect();                       // resolves at the first `ready`
 *   await relay.send(to, [{ deviceId, content }]); // after commit; MISMATCHED_DEVICES lists missing/stale
 */
import { WebSocket } from 'ws';
import type { z } from 'zod';
import { toBase64Url } from '../../shared/crypto/bytes.js';
import { ed25519Sign } from '../../shared/crypto/ed25519.js';
import { systemClock, systemRng, type Clock, type Rng } from '../../shared/crypto/random.js';
import { accountDeletionSignatureInput, relayAuthSignatureInput } from '../../shared/wire/auth.js';
import { ErrorBodySchema, type ErrorCode } from '../../shared/wire/errors.js';
import { CloseCode, ServerFrameSchema, type Envelope, type ServerFrame } from '../../shared/wire/frames.js';
import { MAX_ACK_BATCH, MAX_PRESENCE_QUERY } from '../../shared/wire/limits.js';
import {
  AccountResponseSchema,
  BundlesResponseSchema,
  ChallengeResponseSchema,
  ContactsResponseSchema,
  PresenceSnapshotSchema,
  PrekeyCountsSchema,
  PutDeviceListResponseSchema,
  RegisterResponseSchema,
  ROUTES,
  SendResponseSchema,
  SessionResponseSchema,
  WellKnownSchema,
  type AccountResponse,
  type Bundle,
  type OutgoingMessage,
  type PrekeyCounts,
  type PrekeyUploadInput,
  type RegisterRequestInput,
  type RouteName,
  type WellKnown,
} from '../../shared/wire/rest.js';
import { WS_PATH } from '../../shared/wire/version.js';
import { MAX_SERVER_FRAME_BYTES } from '../../shared/wire/wire-size.js';

// ── Errors ─────────────────────────────────────────────────────────────────────

export type RelayClientErrorCode = ErrorCode | 'NETWORK' | 'TIMEOUT' | 'BAD_RESPONSE' | 'DISCONNECTED' | 'CLOSED';

export class RelayClientError extends Error {
  override readonly name = 'RelayClientError';
  constructor(
    readonly code: RelayClientErrorCode,
    message: string,
    readonly details: {
      readonly status?: number;
      readonly retryAfterMs?: number;
      readonly missing?: readonly number[];
      readonly stale?: readonly number[];
    } = {},
  ) {
    super(message);
  }
}

// ── Backoff ────────────────────────────────────────────────────────────────────

export type BackoffOptions = {
  /** Delay ceiling of the first retry. */
  readonly initialDelayMs: number;
  /** Ceiling of any delay. */
  readonly maxDelayMs: number;
  readonly factor: number;
};

export const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 500, maxDelayMs: 30_000, factor: 2 };

/**
 * "Equal jitter": half the exponential ceiling plus a uniform random half, so clients that lost the
 * relay together spread out, and none retries immediately.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, rng: Rng): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** Math.max(0, attempt));
  const random = new DataView(rng(4).buffer).getUint32(0) / 2 ** 32;
  return Math.round(ceiling / 2 + (random * ceiling) / 2);
}

// ── Events ─────────────────────────────────────────────────────────────────────

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'gone' | 'closed';

export type RelayClientEvents = {
  /** A mailbox envelope (backlog or live). Ack it after it is durably processed. */
  envelope: (envelope: Envelope) => void;
  /** The backlog of this connection has been delivered; live envelopes follow. */
  backlogEnd: () => void;
  typing: (event: { from: { accountId: Uint8Array; deviceId: number }; state: 'started' | 'stopped' }) => void;
  /** `shared: false`: the account does not share presence with us (hidden, or not a mutual contact). */
  presence: (event: { accountId: Uint8Array; online: boolean; shared: boolean }) => void;
  state: (state: ConnectionState) => void;
  /** The relay closed the channel for good (device removed, unregistered, account deleted). */
  gone: () => void;
  /** A problem the client recovers from by itself (reconnects, unsolicited error frames). */
  error: (error: RelayClientError) => void;
};

// ── Client ─────────────────────────────────────────────────────────────────────

export type RelayClientOptions = {
  /** Base URL of the relay, e.g. http://127.0.0.1:8787. */
  readonly url: string;
  readonly accountId: Uint8Array;
  readonly deviceId: number;
  /** This device's Ed25519 identity private key (32-byte seed); used only to sign relay challenges. */
  readonly identitySigningKey: Uint8Array;
  readonly clock?: Clock;
  readonly rng?: Rng;
  readonly backoff?: Partial<BackoffOptions>;
  /** Per REST request and per WebSocket request (send, ack, presence, ping). */
  readonly requestTimeoutMs?: number;
};

/** A token is renewed when it has less than this left. */
export const TOKEN_REFRESH_MARGIN_MS = 60_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

type Pending = {
  readonly resolve: (frame: ServerFrame) => void;
  readonly reject: (e: RelayClientError) => void;
  readonly timer: NodeJS.Timeout;
};

type Listeners = { [K in keyof RelayClientEvents]: Set<RelayClientEvents[K]> };

function fillPath(path: string, params: Readonly<Record<string, string>>): string {
  return path.replace(/:([A-Za-z]+)/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RelayClientError('BAD_RESPONSE', `relay answered ${response.status} with a body that is not JSON`, { status: response.status });
  }
}

function errorFromBody(status: number, body: unknown): RelayClientError {
  const parsed = ErrorBodySchema.safeParse(body);
  if (!parsed.success) return new RelayClientError('BAD_RESPONSE', `relay answered ${status} without an error body`, { status });
  const { code, message, ...details } = parsed.data.error;
  return new RelayClientError(code, message, { status, ...details });
}

async function call<S extends z.ZodType>(
  baseUrl: string,
  route: RouteName,
  options: {
    readonly params?: Readonly<Record<string, string>>;
    readonly body?: unknown;
    readonly token?: string;
    readonly schema?: S;
    readonly timeoutMs: number;
  },
): Promise<z.output<S>> {
  const { method, path } = ROUTES[route];
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let response: Response;
  try {
    response = await fetch(new URL(fillPath(path, options.params ?? {}), baseUrl), {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (e) {
    const timeout = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
    throw new RelayClientError(timeout ? 'TIMEOUT' : 'NETWORK', timeout ? 'relay request timed out' : 'relay unreachable');
  }
  const body = await readJson(response);
  if (!response.ok) throw errorFromBody(response.status, body);
  if (!options.schema) return undefined as z.output<S>;
  const parsed = options.schema.safeParse(body);
  if (!parsed.success) throw new RelayClientError('BAD_RESPONSE', `unexpected response to ${route}`, { status: response.status });
  return parsed.data;
}

export class RelayClient {
  private readonly baseUrl: string;
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly backoff: BackoffOptions;
  private readonly timeoutMs: number;
  private readonly listeners: Listeners = {
    envelope: new Set(),
    backlogEnd: new Set(),
    typing: new Set(),
    presence: new Set(),
    state: new Set(),
    gone: new Set(),
    error: new Set(),
  };

  private token: { readonly value: string; readonly expiresAt: number } | undefined;
  private authenticating: Promise<string> | undefined;
  private relayId: Uint8Array | undefined;

  private ws: WebSocket | undefined;
  private wanted = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAt: number | null = null;
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private connectionState: ConnectionState = 'idle';
  private readyWaiters: { resolve: () => void; reject: (e: RelayClientError) => void }[] = [];

  constructor(private readonly options: RelayClientOptions) {
    this.baseUrl = options.url.endsWith('/') ? options.url : `${options.url}/`;
    this.clock = options.clock ?? systemClock;
    this.rng = options.rng ?? systemRng;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  // ── Unauthenticated calls ──

  static wellKnown(url: string, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<WellKnown> {
    return call(url, 'wellKnown', { schema: WellKnownSchema, timeoutMs });
  }

  /** Registers an account with its first device (the device list names exactly that device). */
  static register(
    url: string,
    request: RegisterRequestInput,
    timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
  ): Promise<z.output<typeof RegisterResponseSchema>> {
    return call(url, 'register', { body: request, schema: RegisterResponseSchema, timeoutMs });
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

  // ── Authentication ──

  /** A valid session token, fetching a new one (challenge → signature → session) when needed. */
  async sessionToken(): Promise<string> {
    if (this.token && this.token.expiresAt - this.clock() > TOKEN_REFRESH_MARGIN_MS) return this.token.value;
    this.authenticating ??= this.authenticate().finally(() => {
      this.authenticating = undefined;
    });
    return this.authenticating;
  }

  private async authenticate(): Promise<string> {
    const accountId = toBase64Url(this.options.accountId);
    const challenge = await call(this.baseUrl, 'challenge', {
      body: { accountId, deviceId: this.options.deviceId },
      schema: ChallengeResponseSchema,
      timeoutMs: this.timeoutMs,
    });
    this.relayId = challenge.relayId;
    const time = this.clock();
    const signature = ed25519Sign(
      this.options.identitySigningKey,
      relayAuthSignatureInput(challenge.relayId, challenge.nonce, time, this.options.accountId, this.options.deviceId),
    );
    const session = await call(this.baseUrl, 'session', {
      body: {
        accountId,
        deviceId: this.options.deviceId,
        nonce: toBase64Url(challenge.nonce),
        time,
        signature: toBase64Url(signature),
      },
      schema: SessionResponseSchema,
      timeoutMs: this.timeoutMs,
    });
    this.token = { value: session.token, expiresAt: session.expiresAt };
    return session.token;
  }

  private async authed<S extends z.ZodType>(
    route: RouteName,
    options: { readonly params?: Readonly<Record<string, string>>; readonly body?: unknown; readonly schema?: S } = {},
  ): Promise<z.output<S>> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.sessionToken();
      try {
        return await call(this.baseUrl, route, { ...options, token, timeoutMs: this.timeoutMs });
      } catch (e) {
        // The relay may have restarted its sessions or expired the token early: renew once.
        if (attempt === 0 && e instanceof RelayClientError && e.code === 'UNAUTHORIZED') {
          this.token = undefined;
          continue;
        }
        throw e;
      }
    }
  }

  // ── REST ──

  lookupAccount(accountId: Uint8Array): Promise<AccountResponse> {
    return this.authed('lookupAccount', { params: { accountId: toBase64Url(accountId) }, schema: AccountResponseSchema });
  }

  lookupUsername(username: string): Promise<AccountResponse> {
    return this.authed('lookupUsername', { params: { username }, schema: AccountResponseSchema });
  }

  /** Publishes a new signed device list (higher version, signed by the account key). */
  putDeviceList(signedDeviceList: Uint8Array): Promise<{ version: number; removedDeviceIds: number[] }> {
    return this.authed('putDeviceList', { body: { deviceList: toBase64Url(signedDeviceList) }, schema: PutDeviceListResponseSchema });
  }

  async setPresenceVisible(presenceVisible: boolean): Promise<void> {
    await this.authed('putSettings', { body: { presenceVisible } });
  }

  /** Unregisters this device: its mailbox, prekeys and sessions are deleted on the relay. */
  async unregisterDevice(): Promise<void> {
    await this.authed('unregisterDevice');
    this.close();
  }

  /**
   * Deletes the account. `signWithAccountKey` signs the deletion statement with the account private
   * key (held by the primary device only); the relay checks it against the registered account key.
   */
  async deleteAccount(signWithAccountKey: (input: Uint8Array) => Uint8Array): Promise<void> {
    if (!this.relayId) await this.sessionToken();
    const time = this.clock();
    const signature = signWithAccountKey(accountDeletionSignatureInput(this.relayId!, this.options.accountId, time));
    await this.authed('deleteAccount', { body: { time, signature: toBase64Url(signature) } });
    this.close();
  }

  uploadPrekeys(upload: PrekeyUploadInput): Promise<PrekeyCounts> {
    return this.authed('uploadPrekeys', { body: upload, schema: PrekeyCountsSchema });
  }

  prekeyCounts(): Promise<PrekeyCounts> {
    return this.authed('prekeyCounts', { schema: PrekeyCountsSchema });
  }

  /** Claims bundles for every current device of the account (or one device). */
  async fetchBundles(accountId: Uint8Array, deviceId?: number): Promise<Bundle[]> {
    const params: Record<string, string> = { accountId: toBase64Url(accountId) };
    const response =
      deviceId === undefined
        ? await this.authed('bundles', { params, schema: BundlesResponseSchema })
        : await this.authed('deviceBundle', { params: { ...params, deviceId: String(deviceId) }, schema: BundlesResponseSchema });
    return response.bundles;
  }

  async setContacts(contacts: readonly Uint8Array[]): Promise<void> {
    await this.authed('putContacts', { body: { contacts: contacts.map(toBase64Url) } });
  }

  getContacts(): Promise<{ contacts: Uint8Array[]; presenceVisible: boolean }> {
    return this.authed('getContacts', { schema: ContactsResponseSchema });
  }

  async deleteContacts(): Promise<void> {
    await this.authed('deleteContacts');
  }

  // ── Messages and presence (live channel when open, REST otherwise) ──

  /**
   * Sends one ciphertext per current device of `to` (your own account: your other devices).
   * Resolves with the relay timestamp once committed; MISMATCHED_DEVICES carries `missing`/`stale`.
   */
  async send(to: Uint8Array, messages: readonly OutgoingMessage[]): Promise<{ serverTimestamp: number }> {
    const wire = { to: toBase64Url(to), messages: messages.map((m) => ({ deviceId: m.deviceId, content: toBase64Url(m.content) })) };
    if (this.connectionState === 'open') {
      const frame = await this.request({ type: 'send', ...wire });
      if (frame.type !== 'sent') throw new RelayClientError('BAD_RESPONSE', 'unexpected reply to send');
      return { serverTimestamp: frame.serverTimestamp };
    }
    return this.authed('send', { body: wire, schema: SendResponseSchema });
  }

  /** Deletes envelopes from this device's mailbox; resolves when the relay has committed it. */
  async ack(seqs: readonly number[]): Promise<void> {
    for (let i = 0; i < seqs.length; i += MAX_ACK_BATCH) {
      await this.request({ type: 'ack', seqs: seqs.slice(i, i + MAX_ACK_BATCH) });
    }
  }

  /**
   * Flow control of the live channel: while paused, nothing more is read from the socket, so the
   * relay's socket buffer fills and its mailbox pump waits (server/ws/connection.ts). The inbound
   * processor pauses when its queue is long and resumes when it has drained, which bounds both its
   * memory and how many frames one burst from the socket parses in a single event-loop turn. A new
   * connection starts unpaused.
   */
  pauseDelivery(): void {
    this.ws?.pause();
  }

  resumeDelivery(): void {
    this.ws?.resume();
  }

  /** Best effort: dropped when the channel is not open; the relay forwards it to mutual contacts only. */
  typing(to: Uint8Array, state: 'started' | 'stopped'): void {
    if (this.connectionState !== 'open') return;
    this.ws?.send(JSON.stringify({ type: 'typing', to: toBase64Url(to), state }));
  }

  /** `shared` is true when an older relay leaves it out (it could not tell hidden from offline). */
  async presence(accounts: readonly Uint8Array[]): Promise<{ accountId: Uint8Array; online: boolean; shared: boolean }[]> {
    const out: { accountId: Uint8Array; online: boolean; shared: boolean }[] = [];
    for (let i = 0; i < accounts.length; i += MAX_PRESENCE_QUERY) {
      const part = accounts.slice(i, i + MAX_PRESENCE_QUERY).map(toBase64Url);
      if (this.connectionState === 'open') {
        const frame = await this.request({ type: 'presence-query', accounts: part });
        if (frame.type !== 'presence-snapshot') throw new RelayClientError('BAD_RESPONSE', 'unexpected reply to presence-query');
        out.push(...frame.entries.map(withShared));
      } else {
        out.push(...(await this.authed('presenceQuery', { body: { accounts: part }, schema: PresenceSnapshotSchema })).entries.map(withShared));
      }
    }
    return out;
  }

  /** Round trip over the live channel; resolves with the relay's clock. */
  async ping(): Promise<number> {
    const frame = await this.request({ type: 'ping' });
    if (frame.type !== 'pong') throw new RelayClientError('BAD_RESPONSE', 'unexpected reply to ping');
    return frame.serverTime;
  }

  // ── Live channel ──

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

  /** Closes the live channel for good; pending requests fail with CLOSED. */
  close(): void {
    this.wanted = false;
    clearTimeout(this.reconnectTimer);
    const ws = this.ws;
    this.ws = undefined;
    ws?.removeAllListeners();
    ws?.on('error', () => undefined);
    if (ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) ws.close(1000, 'client closing');
    this.failPending(new RelayClientError('CLOSED', 'client closed'));
    this.failReady(new RelayClientError('CLOSED', 'client closed'));
    if (this.connectionState !== 'gone') this.setState('closed');
  }

  private async openSocket(): Promise<void> {
    let token: string;
    try {
      token = await this.sessionToken();
    } catch (e) {
      this.emit('error', e instanceof RelayClientError ? e : new RelayClientError('NETWORK', 'authentication failed'));
      this.scheduleReconnect();
      return;
    }
    if (!this.wanted) return;
    const url = new URL(WS_PATH, this.baseUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url, { maxPayload: MAX_SERVER_FRAME_BYTES, perMessageDeflate: false, handshakeTimeout: this.timeoutMs });
    this.ws = ws;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token })));
    ws.on('message', (data, isBinary) => {
      if (this.ws === ws) this.onFrame(data as Buffer, isBinary);
    });
    ws.on('error', () => undefined); // 'close' follows and decides what to do
    ws.on('close', (code) => {
      if (this.ws === ws) this.onSocketClosed(code);
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
      case 'typing':
        this.emit('typing', { from: frame.from, state: frame.state });
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

  private onSocketClosed(code: number): void {
    this.ws = undefined;
    this.failPending(new RelayClientError('DISCONNECTED', `connection closed (${code})`));
    if (code === CloseCode.DeviceGone) {
      this.wanted = false;
      this.setState('gone');
      this.failReady(new RelayClientError('CLOSED', 'the relay removed this device'));
      this.emit('gone');
      return;
    }
    if (code === CloseCode.Unauthorized) this.token = undefined;
    if (!this.wanted) return;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (!this.wanted) return;
    const delay = backoffDelay(this.attempt++, this.backoff, this.rng);
    this.reconnectAt = this.clock() + delay;
    // A failed retry stays `reconnecting`; listeners still learn the new due time.
    if (this.connectionState === 'reconnecting') this.emit('state', 'reconnecting');
    else this.setState('reconnecting');
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      if (this.wanted) void this.openSocket();
    }, delay);
  }

  private request(frame: Record<string, unknown>): Promise<ServerFrame> {
    const ws = this.ws;
    if (this.connectionState !== 'open' || !ws) return Promise.reject(new RelayClientError('DISCONNECTED', 'the live channel is not open'));
    const id = `r${this.nextId++}`;
    return new Promise<ServerFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RelayClientError('TIMEOUT', `no reply to ${String(frame.type)}`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ ...frame, id }));
    });
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

/** A presence entry or event with `shared` spelled out (absent: an older relay, which meant shared). */
function withShared(e: { readonly accountId: Uint8Array; readonly online: boolean; readonly shared?: boolean | undefined }) {
  return { accountId: e.accountId, online: e.online, shared: e.shared ?? true };
}
