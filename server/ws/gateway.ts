/**
 * The WebSocket gateway (DESIGN §5): accepts upgrades on WS_PATH only, with `maxPayload` set to one
 * full fan-out (MAX_CLIENT_FRAME_BYTES, derived from the schemas' worst case) and no compression;
 * tracks connections, routes bus events (mailbox wake-ups, removed devices, typing and presence
 * frames) to them, pings every HEARTBEAT_INTERVAL_MS and drops sockets that did not answer the
 * previous ping, and closes everything with 1001 when the relay drains. Does not own per-connection
 * behaviour (connection.ts).
 *
 * Admission happens before the handshake, per client address (an IPv4 address or IPv6 /64): an
 * upgrade rate, a cap on the address's sockets that have not authenticated yet, and a cap on such
 * sockets in all, separate from the cap on authenticated connections — so that one address with no
 * account cannot fill the relay with sockets that never authenticate (issue 10, item 1).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode } from '../../shared/wire/frames.js';
import { fromHex } from '../../shared/crypto/bytes.js';
import { WS_PATH } from '../../shared/wire/version.js';
import { MAX_CLIENT_FRAME_BYTES } from '../../shared/wire/wire-size.js';
import type { BusEvent, BusTopic } from '../bus/bus.js';
import type { ClusterDirectory } from '../bus/cluster.js';
import type { AuthService } from '../core/auth.js';
import type { RelayContext } from '../core/context.js';
import type { Mailboxes } from '../core/mailboxes.js';
import type { PresenceService } from '../core/presence.js';
import { Connection } from './connection.js';
import { accountEventFrame } from './encode.js';
import { ConnectionRegistry } from './registry.js';

export const HEARTBEAT_INTERVAL_MS = 30_000;
/** How long a drain waits for clients to complete the closing handshake before terminating. */
const CLOSE_GRACE_MS = 2_000;

function reject(socket: Duplex, status: number, text: string, retryAfterMs?: number): void {
  const retry = retryAfterMs === undefined ? '' : `Retry-After: ${Math.max(1, Math.ceil(retryAfterMs / 1000))}\r\n`;
  socket.end(`HTTP/1.1 ${status} ${text}\r\n${retry}Connection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** Retry hint for an address holding its maximum of sockets that have not authenticated. */
const PRE_AUTH_RETRY_MS = 5_000;

export class WsGateway {
  readonly registry: ConnectionRegistry<Connection>;
  private readonly wss: WebSocketServer;
  private readonly sockets = new Map<WebSocket, Connection>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private draining = false;

  constructor(
    private readonly ctx: RelayContext,
    private readonly services: { readonly auth: AuthService; readonly mailboxes: Mailboxes; readonly presence: PresenceService },
    /** The client's address key, under the same `trust proxy` rule as REST (http/app.ts). */
    private readonly addressOf: (request: IncomingMessage) => string,
    /** Several instances: connection counts and presence over all of them (bus/cluster.ts). */
    private readonly cluster?: ClusterDirectory,
  ) {
    this.registry = new ConnectionRegistry<Connection>(
      (accountHex, online) => {
        this.listen({ account: accountHex }, online);
        // With a cluster, the connection announces what the directory says (first/last anywhere).
        if (cluster) return;
        services.presence
          .announce(fromHex(accountHex), online)
          .catch((e: unknown) => ctx.log.error({ err: e, event: 'presence.announce-failed' }, 'presence announcement failed'));
      },
      (deviceKey, present) => {
        // Once other instances' events for the device reach this one, its sockets read the mailbox
        // again: anything committed elsewhere before the subscription took effect is found there.
        const reread = ctx.bus.status().backend === 'local' ? undefined : () => this.route({ kind: 'mailbox', deviceKey });
        this.listen({ device: deviceKey }, present, reread);
      },
    );
    services.presence.attachDirectory(cluster ?? this.registry);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_CLIENT_FRAME_BYTES,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.unsubscribe = ctx.bus.subscribe((event) => this.route(event));
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_INTERVAL_MS);
    this.heartbeat.unref();
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    let pathname: string;
    try {
      pathname = new URL(request.url ?? '/', 'http://relay').pathname;
    } catch {
      reject(socket, 400, 'Bad Request');
      return;
    }
    if (pathname !== WS_PATH) return reject(socket, 404, 'Not Found');
    if (this.draining) return reject(socket, 503, 'Service Unavailable');
    const address = this.addressOf(request);
    this.ctx.limits.upgrades.consume(address).then(
      (wait) => this.admit(address, wait, request, socket, head),
      (e: unknown) => {
        this.ctx.log.error({ err: e, event: 'ws.limiter-failed' }, 'upgrade limiter failed');
        reject(socket, 503, 'Service Unavailable');
      },
    );
  }

  private admit(address: string, wait: number, request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (socket.destroyed) return;
    const { config } = this.ctx.limits;
    const refuse = (why: 'rate' | 'address' | 'pre-auth' | 'full' | 'draining'): void => {
      this.ctx.metrics.upgradesRefused.inc({ reason: why });
      if (why === 'rate') reject(socket, 429, 'Too Many Requests', wait);
      else if (why === 'address') reject(socket, 429, 'Too Many Requests', PRE_AUTH_RETRY_MS);
      else reject(socket, 503, 'Service Unavailable');
    };
    if (this.draining) return refuse('draining');
    if (wait) return refuse('rate');
    if (this.registry.preAuthFrom(address) >= config.maxPreAuthPerIp) return refuse('address');
    if (this.registry.preAuthConnections >= config.maxPreAuthConnections) return refuse('pre-auth');
    if (this.registry.authenticatedConnections >= config.maxConnections) return refuse('full');
    // ws completes the handshake synchronously (no verifyClient), so the socket is counted before
    // the next upgrade is admitted; on a bad handshake it answers 400 and never calls back.
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, address));
  }

  private accept(ws: WebSocket, address: string): void {
    const connection = new Connection(ws, address, { ctx: this.ctx, ...this.services, registry: this.registry, cluster: this.cluster });
    this.sockets.set(ws, connection);
    this.registry.opened(connection);
    ws.on('message', (data, isBinary) => connection.onMessage(data, isBinary));
    ws.on('pong', () => {
      connection.alive = true;
    });
    // Oversized frames (1009), invalid UTF-8 (1007) and protocol errors land here; ws closes the socket.
    ws.on('error', (e) => this.ctx.log.debug({ event: 'ws.protocol-error', reason: e.message }, 'websocket protocol error'));
    ws.on('close', () => {
      connection.onClosed();
      this.sockets.delete(ws);
      this.registry.closed(connection);
    });
  }

  private listen(topic: BusTopic, on: boolean, then?: () => void): void {
    this.ctx.bus.listen(topic, on).then(
      () => {
        if (on && then) then();
      },
      (e: unknown) => this.ctx.log.warn({ err: e, event: 'bus.listen-failed' }, 'bus subscription failed'),
    );
  }

  private route(event: BusEvent): void {
    if (event.kind === 'resync') {
      for (const c of this.registry.all()) c.onBusEvent(event);
    } else if (event.kind === 'mailbox' || event.kind === 'ephemeral') {
      const connections = this.registry.ofDevice(event.deviceKey);
      if (connections) for (const c of [...connections]) c.onBusEvent(event);
    } else if (event.kind === 'device-gone') {
      for (const deviceKey of event.deviceKeys) {
        const connections = this.registry.ofDevice(deviceKey);
        if (connections) for (const c of [...connections]) c.onBusEvent(event);
      }
    } else {
      const frame = accountEventFrame(event.event);
      for (const accountHex of event.accountIds) {
        const connections = this.registry.ofAccount(accountHex);
        if (connections) for (const c of connections) c.sendAccountFrame(frame, event.event.type);
      }
    }
  }

  private beat(): void {
    for (const connection of this.sockets.values()) {
      if (!connection.alive) {
        connection.terminate();
        continue;
      }
      connection.alive = false;
      connection.ping();
    }
  }

  get connections(): { unauthenticated: number; authenticated: number } {
    return { authenticated: this.registry.authenticatedConnections, unauthenticated: this.registry.preAuthConnections };
  }

  /** Refuses new upgrades and closes every connection with 1001 (clients reconnect elsewhere or later). */
  async drain(): Promise<void> {
    this.draining = true;
    clearInterval(this.heartbeat);
    this.unsubscribe();
    for (const connection of this.sockets.values()) connection.close(CloseCode.GoingAway, 'relay shutting down');
    const deadline = Date.now() + CLOSE_GRACE_MS;
    while (this.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const ws of this.sockets.keys()) ws.terminate();
    this.wss.close();
  }
}
