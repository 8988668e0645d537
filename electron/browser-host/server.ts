/**
 * The browser host (DESIGN §2, §4): a loopback HTTP server that serves the built renderer with the
 * Electron CSP and carries the same contract over a WebSocket (frames in shared/api/host-frames.ts,
 * path, secret, close codes and limits in protocol.ts), for tests,
 * headless machines and `npm run start:browser`.
 *
 * Defences, each with an e2e test (test/e2e/browser-host-security.e2e.ts):
 *   - binds 127.0.0.1 only;
 *   - Host header must be exactly `127.0.0.1:<port>` on every request and upgrade (DNS rebinding:
 *     a page on evil.example that re-resolves to 127.0.0.1 still sends `Host: evil.example`);
 *   - the upgrade's Origin must be exactly `http://127.0.0.1:<port>` (other local pages, other ports);
 *   - the first frame must carry the per-launch secret, which only the URL fragment holds (never
 *     sent to the server in a request line, never in a Referer); anything else closes with 4401.
 * Requests then go to `invoke`, the engine's dispatcher that Electron's IPC handlers call too (the
 * one contract layer, electron/engine/dispatch.ts); events are validated by host/events.ts.
 *
 * Imports no `electron` (it runs in plain Node); the engine is passed in.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { ApiResult } from '../../shared/api/errors.js';
import { EVENTS } from '../../shared/api/events.js';
import { HelloFrameSchema, MAX_HELLO_BYTES, RequestFrameSchema, type HostFrame } from '../../shared/api/host-frames.js';
import type { EngineEvent } from '../../shared/api/types.js';
import type { Dispatch } from '../engine/dispatch.js';
import { describeEvents, type ChannelDescriptor } from '../host/channels.js';
import { createEventEmitter } from '../host/events.js';
import { readStaticAsset } from '../host/static-assets.js';
import { SECURITY_HEADERS } from '../host/security.js';
import {
  AUTH_TIMEOUT_MS,
  CLOSE_AUTH_TIMEOUT,
  CLOSE_GOING_AWAY,
  CLOSE_POLICY,
  CLOSE_UNAUTHORIZED,
  CLOSE_UNSUPPORTED,
  MAX_FRAME_BYTES,
  MAX_IN_FLIGHT,
  MAX_SOCKETS,
  SECRET_BYTES,
  SECRET_FRAGMENT_KEY,
  WS_PATH,
} from './protocol.js';

export const LOOPBACK = '127.0.0.1';

export type BrowserHostOptions = {
  readonly rendererDir: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** What the renderer's bridge offers (`describeChannels(CONTRACT)`). */
  readonly channels: readonly ChannelDescriptor[];
  /** Validates and serves one request; never rejects (the engine's dispatcher). */
  readonly invoke: Dispatch;
  /** Tests only: a fixed secret; otherwise 32 fresh random bytes per launch. */
  readonly secret?: Uint8Array;
  readonly authTimeoutMs?: number;
  /** One line per refusal or fault; never carries request data or the secret. */
  readonly log?: (line: string) => void;
};

export type BrowserHost = {
  /** Where to open the app: `http://127.0.0.1:PORT/#k=SECRET`. Treat as a password. */
  readonly url: string;
  readonly origin: string;
  readonly port: number;
  /** Sends a validated event to every authenticated socket; false if the payload was invalid. */
  emit(event: EngineEvent): boolean;
  /** Authenticated sockets right now. */
  connections(): number;
  close(): Promise<void>;
};

function digest(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** Constant-time comparison of a presented secret with the launch secret (hashing equalises lengths). */
function secretMatches(presented: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(Buffer.from(presented, 'utf8')), expectedDigest);
}

/** Writes a bare HTTP error on an upgrade socket and drops it. */
function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroy();
}

export async function startBrowserHost(options: BrowserHostOptions): Promise<BrowserHost> {
  const log = options.log ?? (() => undefined);
  const secretBytes = options.secret ?? randomBytes(SECRET_BYTES);
  const secret = Buffer.from(secretBytes).toString('base64url');
  const secretDigest = digest(Buffer.from(secret, 'utf8'));
  const authTimeoutMs = options.authTimeoutMs ?? AUTH_TIMEOUT_MS;
  const channels = options.channels.map(({ channel, method }) => ({ channel, method }));
  const eventNames = describeEvents(EVENTS);
  const authenticated = new Set<WebSocket>();
  const all = new Set<WebSocket>();

  // Known once listening; every check below compares against these exact strings.
  let expectedHost = '';
  let expectedOrigin = '';

  const server = createServer((req, res) => {
    serveHttp(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, SECURITY_HEADERS);
      res.end();
    });
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });

  async function serveHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers.host !== expectedHost) {
      log('refused http: wrong Host header');
      res.writeHead(421, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' }).end('Misdirected request: open the address Parley printed.\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...SECURITY_HEADERS, Allow: 'GET, HEAD' }).end();
      return;
    }
    const pathname = pathOf(req);
    if (pathname === null) {
      res.writeHead(400, SECURITY_HEADERS).end();
      return;
    }
    if (pathname === WS_PATH) {
      res.writeHead(426, { ...SECURITY_HEADERS, Upgrade: 'websocket' }).end();
      return;
    }
    const asset = await readStaticAsset(options.rendererDir, pathname);
    res.writeHead(asset.status, asset.headers);
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (pathOf(req) !== WS_PATH) return refuseUpgrade(socket, 404, 'Not Found');
    if (req.headers.host !== expectedHost) {
      log('refused upgrade: wrong Host header');
      return refuseUpgrade(socket, 421, 'Misdirected Request');
    }
    if (req.headers.origin !== expectedOrigin) {
      log('refused upgrade: foreign or missing Origin');
      return refuseUpgrade(socket, 403, 'Forbidden');
    }
    if (all.size >= MAX_SOCKETS) {
      log('refused upgrade: too many sockets');
      return refuseUpgrade(socket, 503, 'Service Unavailable');
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws));
  });

  function send(ws: WebSocket, frame: HostFrame): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
  }

  function accept(ws: WebSocket): void {
    all.add(ws);
    let authed = false;
    let inFlight = 0;
    const timer = setTimeout(() => {
      log('closed socket: no hello in time');
      ws.close(CLOSE_AUTH_TIMEOUT, 'authentication timeout');
    }, authTimeoutMs);
    timer.unref();

    ws.on('close', () => {
      clearTimeout(timer);
      all.delete(ws);
      authenticated.delete(ws);
    });
    ws.on('error', () => ws.terminate());

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return ws.close(CLOSE_UNSUPPORTED, 'text frames only');
      const text = rawText(data);
      if (!authed) {
        clearTimeout(timer);
        if (!isGoodHello(text)) {
          log('closed socket: wrong or missing secret');
          return ws.close(CLOSE_UNAUTHORIZED, 'unauthorized');
        }
        authed = true;
        authenticated.add(ws);
        send(ws, { type: 'ready', channels, events: eventNames });
        return;
      }
      const frame = RequestFrameSchema.safeParse(parseJson(text));
      if (!frame.success) return ws.close(CLOSE_POLICY, 'malformed frame');
      if (inFlight >= MAX_IN_FLIGHT) return ws.close(CLOSE_POLICY, 'too many requests in flight');
      inFlight++;
      const { id, channel, request } = frame.data;
      // Never rejects: a broken invoke is answered INTERNAL, and send() cannot throw.
      void Promise.resolve()
        .then(() => options.invoke(channel, request))
        .catch((): ApiResult<never> => ({ ok: false, error: { code: 'INTERNAL', message: 'internal error' } }))
        .then((result) => {
          inFlight--;
          send(ws, { type: 'response', id, result });
        });
    });
  }

  function isGoodHello(text: string): boolean {
    if (text.length > MAX_HELLO_BYTES) return false;
    const hello = HelloFrameSchema.safeParse(parseJson(text));
    return hello.success && secretMatches(hello.data.secret, secretDigest);
  }

  const emit = createEventEmitter(
    (message) => {
      for (const ws of authenticated) send(ws, { type: 'event', event: message.event, payload: message.payload });
    },
    { onFault: (fault) => log(`contract fault ${JSON.stringify(fault)}`) },
  );

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('browser host: no TCP address');
  const port = address.port;
  expectedHost = `${LOOPBACK}:${port}`;
  expectedOrigin = `http://${expectedHost}`;

  return {
    url: `${expectedOrigin}/#${SECRET_FRAGMENT_KEY}=${secret}`,
    origin: expectedOrigin,
    port,
    emit,
    connections: () => authenticated.size,
    close: async () => {
      for (const ws of all) ws.close(CLOSE_GOING_AWAY, 'host shutting down');
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        // Sockets that ignore the close frame are cut after a grace period.
        setTimeout(() => {
          for (const ws of all) ws.terminate();
        }, 1_000).unref();
      });
      wss.close();
    },
  };
}

/** The path of a request target (origin-form only: `/x?y`); null for anything else. */
function pathOf(req: IncomingMessage): string | null {
  const target = req.url ?? '';
  if (!target.startsWith('/') || target.startsWith('//')) return null;
  try {
    return new URL(target, 'http://host.invalid').pathname;
  } catch {
    return null;
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
