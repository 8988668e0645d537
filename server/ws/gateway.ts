/**
 * The WebSocket gateway (DESIGN §5): accepts upgrades on WS_PATH only, with `maxPayload` set to one
 * full fan-out (MAX_CLIENT_FRAME_BYTES, derived from the schemas' worst case) and no compression;
 * tracks connections, routes bus events (mailbox wake-ups, removed devices, typing and presence
 * frames) to them, pings every HEARTBEAT_INTERVAL_MS and drops sockets that did not answer the
 * previous ping, and closes everything with 1001 when the relay drains. Does not own per-connection
 * behaviour (connection.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode } from '../../shared/wire/frames.js';
import { fromHex } from '../../shared/crypto/bytes.js';
import { WS_PATH } from '../../shared/wire/version.js';
import { MAX_CLIENT_FRAME_BYTES } from '../../shared/wire/wire-size.js';
import type { BusEvent } from '../bus/bus.js';
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

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

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
  ) {
    this.registry = new ConnectionRegistry<Connection>((accountHex, online) => {
      services.presence
        .announce(fromHex(accountHex), online)
        .catch((e: unknown) => ctx.log.error({ err: e, event: 'presence.announce-failed' }, 'presence announcement failed'));
    });
    services.presence.attachDirectory(this.registry);
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
    if (this.registry.openConnections >= this.ctx.limits.config.maxConnections) return reject(socket, 503, 'Service Unavailable');
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    const connection = new Connection(ws, { ctx: this.ctx, ...this.services, registry: this.registry });
    this.sockets.set(ws, connection);
    this.registry.opened();
    ws.on('message', (data, isBinary) => connection.onMessage(data, isBinary));
    ws.on('pong', () => {
      connection.alive = true;
    });
    // Oversized frames (1009), invalid UTF-8 (1007) and protocol errors land here; ws closes the socket.
    ws.on('error', (e) => this.ctx.log.debug({ event: 'ws.protocol-error', reason: e.message }, 'websocket protocol error'));
    ws.on('close', () => {
      connection.onClosed();
      this.sockets.delete(ws);
      this.registry.closed();
    });
  }

  private route(event: BusEvent): void {
    if (event.kind === 'mailbox') {
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
    const authenticated = this.registry.authenticatedConnections;
    return { authenticated, unauthenticated: Math.max(0, this.registry.openConnections - authenticated) };
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
