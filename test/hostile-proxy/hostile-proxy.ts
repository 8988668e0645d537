/**
 * A hostile relay for tests: a proxy between clients (engines, browser hosts) and the REAL relay.
 * Everything passes through unchanged until a test arms a rule; then the proxy does what a
 * malicious or broken relay could do — and nothing a relay could not (it never holds a key):
 *
 *  live channel (WebSocket, terminated here and re-opened upstream, frame by frame)
 *    - drop, tamper with (flip a byte of the content), replay (deliver again) or hold back and
 *      reorder the envelopes it delivers to a client;
 *    - inject envelopes (any source, any bytes) and answer a client's `send` itself (e.g. a false
 *      MISMATCHED_DEVICES) without forwarding it;
 *    - cut connections (the client reconnects; what it never acknowledged comes again);
 *  REST
 *    - rewrite account lookups (another account key, a rolled-back or badly signed device list)
 *      and prekey bundles (strip the ML-KEM prekey);
 *    - forward authentication to another relay (its challenge, naming its relay id, handed to the
 *      client; a signed session request carried there, the token it answers kept by the proxy),
 *      and carry account deletions there too: a relay turning a client's signatures into
 *      credentials at another relay.
 *
 * Acks of envelopes the proxy made up are answered by the proxy and never reach the relay, so the
 * relay's mailbox stays exactly what the relay itself delivered.
 *
 * Usage (accounts are the engine's contact ids: 32 hex digits):
 *
 *   const proxy = await HostileProxy.start(relay.url);
 *   const alice = await TestEngine.create({ relayUrl: proxy.url });   // or a browser host
 *   proxy.envelopes({ from: alice.accountId, to: bob.accountId }).drop();          // the next one
 *   proxy.envelopes({ to: bob.accountId }).tamper();                                // flip a byte
 *   proxy.envelopes({ to: bob.accountId }).replay(2);                               // twice more
 *   proxy.envelopes({ to: bob.accountId }).reorder(3);      // hold 3, deliver them last first
 *   proxy.inject(bob.accountId, { from: alice.accountId, deviceId: 1, content });    // made up
 *   proxy.delivered(bob.accountId)                           // every envelope delivered so far
 *   proxy.sends(alice.accountId)                             // every send frame (recipient, devices)
 *   proxy.answerSends({ from: alice.accountId }, { code: 'MISMATCHED_DEVICES', missing: [2] });
 *   proxy.rewriteAccount = (answer) => ({ ...answer, deviceList: rolledBack });
 *   proxy.stripKemPrekeys(bob.accountId);
 *   proxy.authRelay = otherRelay.url;                        // challenges and sessions from there
 *   proxy.challenges                                         // challenge requests so far
 *   proxy.stolenTokens                                       // session tokens the other relay issued
 *   proxy.signedRequests                                     // session/deletion requests that reached the proxy
 *   proxy.disconnect(bob.accountId);                         // every live channel of that account
 *   proxy.refuseSealed = true;                               // sealed uploads refused: engines send authenticated
 *   proxy.reset();                                           // rules off (between tests)
 *   await proxy.close();
 *
 * A rule acts once per matching envelope, `count` times (default 1), then retires; rules are
 * matched in the order they were armed. Does not run a relay (the tests do) and imports nothing
 * from server/ or electron/, so Playwright specs can use it as well as vitest suites.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { fromBase64Url, fromHex, toBase64Url, toHex } from '../../shared/crypto/bytes.js';

/** An account lookup answer (GET /v1/usernames/:name, GET /v1/accounts/:id), base64url fields. */
export type AccountAnswer = {
  accountId: string;
  accountKey: string;
  deviceList: string;
  /** Key-transparency proofs (docs/protocol.md §26.6), passed through unless a rule rewrites them. */
  transparency?: { head: string; leafIndex: number; leaf: string; inclusion: string[]; consistency: string[] };
};
/** A bundles answer (GET /v1/prekeys/:accountId[/:deviceId]), as the relay sends it. */
export type BundlesAnswer = { accountId: string; bundles: Record<string, unknown>[] };

/** A `send` frame a client wrote: sender, recipient, and the devices it carried envelopes for. */
export type ClientSend = { readonly from: string; readonly to: string; readonly deviceIds: readonly number[]; readonly answeredByProxy: boolean };

/** An envelope as delivered to a client: who it was for, who sent it, its bytes. */
export type DeliveredEnvelope = {
  readonly to: string;
  readonly from: string | null;
  readonly deviceId: number | null;
  readonly seq: number;
  readonly serverTimestamp: number;
  readonly content: Uint8Array;
  /** false for envelopes the proxy made up (injected) or repeated (replays). */
  readonly original: boolean;
};

export type EnvelopeMatch = {
  /** Recipient account (hex). */
  readonly to?: string;
  /** Sender account (hex). */
  readonly from?: string;
};

type EnvelopeFrame = {
  type: 'envelope';
  seq: number;
  source: { accountId: string; deviceId: number } | null;
  serverTimestamp: number;
  content: string;
};

type Action =
  | { kind: 'drop' }
  | { kind: 'tamper'; offset: number }
  | { kind: 'replay'; times: number }
  | { kind: 'reorder'; size: number; held: { conn: Proxied; frame: EnvelopeFrame }[]; order: (n: number) => number[] };

type Rule = { match: EnvelopeMatch; action: Action; remaining: number };

type SendAnswer = { code: string; message?: string; missing?: number[]; stale?: number[]; retryAfterMs?: number };
type SendRule = { match: { readonly from?: string; readonly to?: string }; answer: SendAnswer; remaining: number };

/** First seq of made-up envelopes: far above any real mailbox's, below Number.MAX_SAFE_INTEGER. */
const FAKE_SEQ_BASE = 2 ** 50;

/** One client connection and its upstream twin. */
class Proxied {
  /** Learned from the relay's `ready` frame: the authenticated account (hex) and device. */
  account: string | null = null;
  deviceId: number | null = null;
  readonly #pendingUp: string[] = [];

  constructor(
    readonly client: WebSocket,
    readonly upstream: WebSocket,
  ) {}

  toClient(frame: unknown): void {
    if (this.client.readyState === WebSocket.OPEN) this.client.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  toRelay(text: string): void {
    if (this.upstream.readyState === WebSocket.OPEN) this.upstream.send(text);
    else if (this.upstream.readyState === WebSocket.CONNECTING) this.#pendingUp.push(text);
  }

  flushUp(): void {
    for (const t of this.#pendingUp.splice(0)) this.upstream.send(t);
  }

  terminate(): void {
    this.client.terminate();
    this.upstream.terminate();
  }
}

/** Close codes a WebSocket endpoint may send (1005/1006/1015 are reserved for "no code"). */
function sendableCloseCode(code: number): number | undefined {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999) ? code : undefined;
}

/** The request body as a plain Uint8Array (a body `fetch` accepts under both Node's and the DOM's types). */
async function readBody(req: IncomingMessage): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks.length ? new Uint8Array(Buffer.concat(chunks)) : undefined;
}

const ACCOUNT_LOOKUP = /^\/v1\/(usernames\/[^/]+|accounts\/(?!me$)[^/]+)$/;
const BUNDLES = /^\/v1\/prekeys\/(?!me\/)([^/]+)(?:\/\d+)?$/;
const CHALLENGE = '/v1/auth/challenge';
const SESSION = '/v1/auth/session';
/** Requests that carry a client's signature for a relay: a session request, an account deletion. */
const SIGNED = /^\/v1\/(auth\/session|accounts\/me)$/;

export class HostileProxy {
  /** Applied to every successful account lookup while set. */
  rewriteAccount: ((answer: AccountAnswer) => AccountAnswer) | null = null;
  /** Applied to every successful bundles answer while set. */
  rewriteBundles: ((answer: BundlesAnswer) => BundlesAnswer) | null = null;
  /**
   * While set: challenge, session and account-deletion requests go to this relay instead, so a
   * client is handed another relay's challenge and its signatures are carried there.
   */
  authRelay: string | null = null;
  /**
   * While set: every sealed upload (POST /v1/sealed) is answered UNAUTHORIZED as for a stale
   * delivery token, so engines send on the authenticated channel, where the envelope rules can see
   * the sender (suites that attack that path; test/integration/hostile/sealed-hostile.test.ts
   * attacks the sealed one).
   */
  refuseSealed = false;
  /** Sealed uploads the proxy carried (or refused), with whether they carried an Authorization header. */
  readonly sealedUploads: { readonly authorization: boolean; readonly refused: boolean }[] = [];
  /** Challenge requests clients made through the proxy. */
  challenges = 0;
  /** Session tokens `authRelay` issued for requests the proxy carried there. */
  readonly stolenTokens: string[] = [];
  /** Every signed request (session, account deletion) a client sent through the proxy: path and body. */
  readonly signedRequests: { readonly path: string; readonly body: string }[] = [];

  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #upstream: URL;
  readonly #connections = new Set<Proxied>();
  #rules: Rule[] = [];
  #sendRules: SendRule[] = [];
  readonly #delivered: DeliveredEnvelope[] = [];
  readonly #sends: ClientSend[] = [];
  #nextFakeSeq = FAKE_SEQ_BASE;

  private constructor(server: Server, upstream: URL, readonly url: string) {
    this.#server = server;
    this.#upstream = upstream;
    this.#wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
  }

  static async start(upstreamUrl: string): Promise<HostileProxy> {
    const upstream = new URL(upstreamUrl);
    const holder: { proxy?: HostileProxy } = {};
    const server = createServer((req, res) => void holder.proxy!.#http(req, res));
    server.on('upgrade', (req, socket, head) => holder.proxy!.#upgrade(req, socket, head));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new HostileProxy(server, upstream, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    holder.proxy = proxy;
    return proxy;
  }

  // ── Rules ────────────────────────────────────────────────────────────────────

  /** Arms a rule for the next `count` envelopes matching `match` (see the module comment). */
  envelopes(match: EnvelopeMatch = {}, count = 1) {
    const arm = (action: Action, remaining = count) => {
      this.#rules.push({ match: normalizeMatch(match), action, remaining });
      return this;
    };
    return {
      /** Not delivered (the relay's cursor moves on; the client never acks it). */
      drop: () => arm({ kind: 'drop' }),
      /** One byte of the content flipped (default: 20 bytes from the end, inside the ciphertext). */
      tamper: (offsetFromEnd = 20) => arm({ kind: 'tamper', offset: offsetFromEnd }),
      /** Delivered, then delivered `times` more (same seq). */
      replay: (times = 1) => arm({ kind: 'replay', times }),
      /**
       * The next `size` matching envelopes are held back, then delivered in `order` (indexes into
       * the held ones; default last first).
       */
      reorder: (size: number, order: (n: number) => number[] = (n) => Array.from({ length: n }, (_, i) => n - 1 - i)) =>
        arm({ kind: 'reorder', size, held: [], order }, 1),
    };
  }

  /** Answers the next `count` matching `send` frames with this error instead of forwarding them. */
  answerSends(match: { readonly from?: string; readonly to?: string }, answer: SendAnswer, count = 1): this {
    this.#sendRules.push({ match: { from: match.from?.toLowerCase(), to: match.to?.toLowerCase() }, answer, remaining: count });
    return this;
  }

  /** Every bundle of `accountHex` (or of every account) is served without its ML-KEM prekey. */
  stripKemPrekeys(accountHex?: string): this {
    const target = accountHex === undefined ? undefined : toBase64Url(fromHex(accountHex));
    this.rewriteBundles = (a) =>
      target !== undefined && a.accountId !== target ? a : { ...a, bundles: a.bundles.map(({ kemPrekey: _kem, ...rest }) => rest) };
    return this;
  }

  /** All rules off, delivery log kept. Held envelopes are delivered as they are. */
  reset(): void {
    for (const r of this.#rules) if (r.action.kind === 'reorder') for (const h of r.action.held) this.#deliver(h.conn, h.frame, true);
    this.#rules = [];
    this.#sendRules = [];
    this.rewriteAccount = null;
    this.rewriteBundles = null;
    this.authRelay = null;
  }

  /** Rules still armed (a test can wait for its rule to have fired). */
  get armed(): number {
    return this.#rules.length + this.#sendRules.length;
  }

  // ── Actions ──────────────────────────────────────────────────────────────────

  /**
   * Delivers a made-up envelope to every live channel of `toHex` (with a seq no relay mailbox
   * uses, its ack answered here). Returns how many channels got it.
   */
  inject(toHex: string, e: { readonly from: string | null; readonly deviceId?: number; readonly content: Uint8Array; readonly serverTimestamp?: number }): number {
    const frame: EnvelopeFrame = {
      type: 'envelope',
      seq: this.#nextFakeSeq++,
      source: e.from === null ? null : { accountId: toBase64Url(fromHex(e.from)), deviceId: e.deviceId ?? 1 },
      serverTimestamp: e.serverTimestamp ?? Date.now(),
      content: toBase64Url(e.content),
    };
    let n = 0;
    for (const c of this.#connections) {
      if (c.account !== toHex.toLowerCase()) continue;
      this.#deliver(c, frame, false);
      n++;
    }
    return n;
  }

  /** Delivers an envelope delivered before once more, same seq (a replay of the relay's own frame). */
  redeliver(e: DeliveredEnvelope): number {
    const frame: EnvelopeFrame = {
      type: 'envelope',
      seq: e.seq,
      source: e.from === null ? null : { accountId: toBase64Url(fromHex(e.from)), deviceId: e.deviceId ?? 1 },
      serverTimestamp: e.serverTimestamp,
      content: toBase64Url(e.content),
    };
    let n = 0;
    for (const c of this.#connections) {
      if (c.account !== e.to) continue;
      this.#deliver(c, frame, false);
      n++;
    }
    return n;
  }

  /** `send` frames clients wrote so far (from one account, or all), oldest first. */
  sends(fromHex?: string): ClientSend[] {
    return this.#sends.filter((s) => fromHex === undefined || s.from === fromHex.toLowerCase());
  }

  /** Envelopes delivered so far (to one account, or all), oldest first. */
  delivered(toHex?: string): DeliveredEnvelope[] {
    return this.#delivered.filter((e) => toHex === undefined || e.to === toHex.toLowerCase());
  }

  /** Cuts every live channel (of one account, or all): the clients reconnect by themselves. */
  disconnect(accountHex?: string): number {
    let n = 0;
    for (const c of [...this.#connections]) {
      if (accountHex !== undefined && c.account !== accountHex.toLowerCase()) continue;
      c.terminate();
      n++;
    }
    return n;
  }

  /** Live channels (optionally of one account) that are authenticated. */
  connections(accountHex?: string): number {
    return [...this.#connections].filter((c) => c.account !== null && (accountHex === undefined || c.account === accountHex.toLowerCase())).length;
  }

  async close(): Promise<void> {
    for (const c of this.#connections) c.terminate();
    this.#wss.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ── REST ─────────────────────────────────────────────────────────────────────

  async #http(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'connection' && k !== 'content-length') headers[k] = v;
      const path = new URL(req.url ?? '/', this.#upstream).pathname;
      const signed = SIGNED.test(path) && req.method !== 'GET';
      const target = new URL(req.url ?? '/', this.authRelay !== null && (signed || path === CHALLENGE) ? this.authRelay : this.#upstream);
      const body = await readBody(req);
      if (path === '/v1/sealed') {
        this.sealedUploads.push({ authorization: req.headers.authorization !== undefined, refused: this.refuseSealed });
        if (this.refuseSealed) {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'UNAUTHORIZED', message: 'delivery token not accepted' } }));
          return;
        }
      }
      if (path === CHALLENGE) this.challenges++;
      if (signed) this.signedRequests.push({ path, body: body ? Buffer.from(body).toString('utf8') : '' });
      const up = await fetch(target, { method: req.method ?? 'GET', headers, body });
      let text = await up.text();
      if (up.ok && this.authRelay !== null && path === SESSION) this.stolenTokens.push((JSON.parse(text) as { token: string }).token);
      if (up.ok && req.method === 'GET') {
        if (this.rewriteAccount && ACCOUNT_LOOKUP.test(target.pathname)) text = JSON.stringify(this.rewriteAccount(JSON.parse(text) as AccountAnswer));
        else if (this.rewriteBundles && BUNDLES.test(target.pathname)) text = JSON.stringify(this.rewriteBundles(JSON.parse(text) as BundlesAnswer));
      }
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
      res.end(text);
    } catch {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    }
  }

  // ── Live channel ─────────────────────────────────────────────────────────────

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(req, socket, head, (client) => {
      const url = new URL(req.url ?? '/', this.#upstream);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      const upstream = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
      const conn = new Proxied(client, upstream);
      this.#connections.add(conn);
      const gone = () => {
        this.#connections.delete(conn);
      };
      upstream.on('open', () => conn.flushUp());
      upstream.on('message', (data: RawData, isBinary: boolean) => {
        if (isBinary) conn.client.send(data, { binary: true });
        else this.#fromRelay(conn, (data as Buffer).toString('utf8'));
      });
      client.on('message', (data: RawData, isBinary: boolean) => {
        if (isBinary) {
          if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: true });
        } else this.#fromClient(conn, (data as Buffer).toString('utf8'));
      });
      upstream.on('close', (code) => {
        gone();
        const c = sendableCloseCode(code);
        if (c === undefined) client.terminate();
        else if (client.readyState === WebSocket.OPEN) client.close(c);
      });
      client.on('close', () => {
        gone();
        if (upstream.readyState === WebSocket.OPEN || upstream.readyState === WebSocket.CONNECTING) upstream.terminate();
      });
      upstream.on('error', () => client.terminate());
      client.on('error', () => upstream.terminate());
    });
  }

  #fromRelay(conn: Proxied, text: string): void {
    let frame: { type?: unknown; accountId?: unknown; deviceId?: unknown };
    try {
      frame = JSON.parse(text) as typeof frame;
    } catch {
      conn.toClient(text);
      return;
    }
    if (frame.type === 'ready' && typeof frame.accountId === 'string') {
      conn.account = toHex(fromBase64Url(frame.accountId));
      conn.deviceId = typeof frame.deviceId === 'number' ? frame.deviceId : null;
    }
    if (frame.type !== 'envelope') {
      conn.toClient(text);
      return;
    }
    const envelope = frame as unknown as EnvelopeFrame;
    const rule = this.#takeRule(conn, envelope);
    if (!rule) {
      this.#deliver(conn, envelope, true);
      return;
    }
    const { action } = rule;
    switch (action.kind) {
      case 'drop':
        return;
      case 'tamper': {
        const bytes = fromBase64Url(envelope.content);
        const i = Math.max(0, bytes.length - action.offset);
        bytes[i]! ^= 0x01;
        this.#deliver(conn, { ...envelope, content: toBase64Url(bytes) }, false);
        return;
      }
      case 'replay':
        this.#deliver(conn, envelope, true);
        for (let i = 0; i < action.times; i++) this.#deliver(conn, envelope, false);
        return;
      case 'reorder':
        action.held.push({ conn, frame: envelope });
        if (action.held.length >= action.size) {
          this.#rules = this.#rules.filter((r) => r !== rule);
          const held = action.held.splice(0);
          for (const i of action.order(held.length)) this.#deliver(held[i]!.conn, held[i]!.frame, true);
        }
        return;
    }
  }

  #takeRule(conn: Proxied, e: EnvelopeFrame): Rule | undefined {
    const from = e.source ? toHex(fromBase64Url(e.source.accountId)) : null;
    const rule = this.#rules.find((r) => (r.match.to === undefined || r.match.to === conn.account) && (r.match.from === undefined || r.match.from === from));
    if (!rule) return undefined;
    // A reorder rule retires once it has its envelopes (see #fromRelay); others count down.
    if (rule.action.kind !== 'reorder' && --rule.remaining <= 0) this.#rules = this.#rules.filter((r) => r !== rule);
    return rule;
  }

  #deliver(conn: Proxied, frame: EnvelopeFrame, original: boolean): void {
    this.#delivered.push({
      to: conn.account ?? '',
      from: frame.source ? toHex(fromBase64Url(frame.source.accountId)) : null,
      deviceId: frame.source?.deviceId ?? null,
      seq: frame.seq,
      serverTimestamp: frame.serverTimestamp,
      content: fromBase64Url(frame.content),
      original,
    });
    conn.toClient(frame);
  }

  #fromClient(conn: Proxied, text: string): void {
    let frame: { type?: unknown; id?: unknown; seqs?: unknown; to?: unknown };
    try {
      frame = JSON.parse(text) as typeof frame;
    } catch {
      conn.toRelay(text);
      return;
    }
    if (frame.type === 'ack' && Array.isArray(frame.seqs)) {
      // Made-up envelopes are acknowledged here; the relay sees only its own seqs.
      const real = (frame.seqs as unknown[]).filter((s) => typeof s !== 'number' || s < FAKE_SEQ_BASE);
      if (real.length === frame.seqs.length) conn.toRelay(text);
      else if (real.length > 0) conn.toRelay(JSON.stringify({ ...frame, seqs: real }));
      else if (typeof frame.id === 'string') conn.toClient({ type: 'acked', ref: frame.id });
      return;
    }
    if (frame.type === 'send' && typeof frame.id === 'string') {
      const to = typeof frame.to === 'string' ? toHex(fromBase64Url(frame.to)) : undefined;
      const rule = this.#sendRules.find((r) => (r.match.from === undefined || r.match.from === conn.account) && (r.match.to === undefined || r.match.to === to));
      const messages = (frame as { messages?: unknown }).messages;
      this.#sends.push({
        from: conn.account ?? '',
        to: to ?? '',
        deviceIds: Array.isArray(messages) ? messages.map((m) => (m as { deviceId?: unknown }).deviceId).filter((d): d is number => typeof d === 'number') : [],
        answeredByProxy: rule !== undefined,
      });
      if (rule) {
        if (--rule.remaining <= 0) this.#sendRules = this.#sendRules.filter((r) => r !== rule);
        conn.toClient({ type: 'error', ref: frame.id, message: 'hostile proxy', ...rule.answer });
        return;
      }
    }
    conn.toRelay(text);
  }
}

function normalizeMatch(m: EnvelopeMatch): EnvelopeMatch {
  return { ...(m.to !== undefined && { to: m.to.toLowerCase() }), ...(m.from !== undefined && { from: m.from.toLowerCase() }) };
}
