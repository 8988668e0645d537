/**
 * Where and to whom the relay serves its Prometheus metrics (/metrics). Aggregate traffic figures are
 * for the operator, not the internet, so /metrics is served only when configured:
 *  - on the public listener, to requests carrying `Authorization: Bearer <token>` (the token from
 *    PARLEY_RELAY_METRICS_TOKEN, compared as SHA-256 digests in constant time);
 *  - on a listener of its own (`--metrics-host/--metrics-port`, 127.0.0.1 unless told otherwise),
 *    which serves /metrics and nothing else (and wants the token too, if one is set).
 * With neither, /metrics answers NOT_FOUND like any unknown route. Does not own the metrics
 * themselves (server/metrics.ts).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { constantTimeEqual, utf8 } from '../../shared/crypto/bytes.js';
import { sha256 } from '../../shared/crypto/sha256.js';
import { ROUTES } from '../../shared/wire/rest.js';
import type { RelayMetrics } from '../metrics.js';

export type MetricsOptions = {
  /** Bearer token /metrics requires (on either listener). */
  readonly token?: string;
  /** A listener of its own for /metrics. */
  readonly listener?: { readonly host: string; readonly port: number };
};

const BEARER = /^Bearer (\S{1,512})$/;

/** Whether a request's Authorization header carries the token (always true without a token). */
export function metricsAuthorizer(token: string | undefined): (authorization: string | undefined) => boolean {
  if (token === undefined) return () => true;
  const expected = sha256(utf8(token));
  return (authorization) => {
    const presented = BEARER.exec(authorization ?? '')?.[1];
    return presented !== undefined && constantTimeEqual(sha256(utf8(presented)), expected);
  };
}

/** Starts the separate metrics listener; resolves once it listens. */
export async function startMetricsListener(
  metrics: RelayMetrics,
  options: MetricsOptions & { readonly listener: NonNullable<MetricsOptions['listener']> },
): Promise<{ readonly url: string; close(): Promise<void> }> {
  const authorized = metricsAuthorizer(options.token);
  const server: Server = createServer((req: IncomingMessage, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if ((req.method !== 'GET' && req.method !== 'HEAD') || path !== ROUTES.metrics.path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (!authorized(req.headers.authorization)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' }).end('unauthorized\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      () => res.writeHead(500).end(),
    );
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listener.port, options.listener.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}${ROUTES.metrics.path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
