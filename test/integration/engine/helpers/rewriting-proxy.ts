/**
 * A relay that lies about accounts: a pass-through proxy in front of the real relay (REST forwarded
 * with fetch, the WebSocket piped byte for byte) whose account lookups a test can rewrite — another
 * account key, a rolled-back or equivocating device list, a broken signature. Only what the engine
 * must verify is touched; everything else is the real relay. Also, for device linking: the bytes
 * of provisioning-channel messages as they are posted (`rewriteProvisioning`), the relay
 * substituting keys in a link. Attachment downloads pass through as bytes, and a test can change
 * them (`rewriteDownload`: a flipped byte, a swapped blob) or hold them (`holdDownloads`). Any
 * REST answer a test writes itself (`answer`: e.g. a relay that claims a device was removed, ADR
 * 0027), closing the live channels with a close code of its choice (`closeLiveChannels`), and
 * hiding the relay's key-transparency log (`hideTransparency`). (The
 * full hostile proxy that tampers with frames is the fault-test issue's.)
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';

export type AccountAnswer = { accountId: string; accountKey: string; deviceList: string };
export type Rewrite = (answer: AccountAnswer) => AccountAnswer;
/** Gets each posted provisioning message's bytes; returns what the relay stores instead. */
export type ProvisioningRewrite = (body: Uint8Array) => Uint8Array;

const PROVISIONING_POST = /^\/v1\/provisioning\/channels\/[^/]+\/messages$/;

function rewriteProvisioningBody(raw: Buffer | undefined, rewrite: ProvisioningRewrite): Buffer | undefined {
  if (!raw) return raw;
  const parsed = JSON.parse(raw.toString('utf8')) as { body: string };
  const next = rewrite(new Uint8Array(Buffer.from(parsed.body, 'base64url')));
  return Buffer.from(JSON.stringify({ body: Buffer.from(next).toString('base64url') }));
}

const DOWNLOAD = /^\/v1\/attachments\/[^/]+$/;

const LOOKUP = /^\/v1\/(usernames\/[^/]+|accounts\/(?!me$)[^/]+)$/;

async function body(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks.length ? Buffer.concat(chunks) : undefined;
}

export class RewritingProxy {
  /** Applied to every successful account lookup (by username or id) while set. */
  rewrite: Rewrite | null = null;
  /**
   * While set, /.well-known/parley announces no key-transparency log: a relay without one (before
   * issue 19), whose lookups clients cannot check against a log (ADR 0034).
   */
  hideTransparency = false;
  /** Applied to every provisioning message posted (either side) while set. */
  rewriteProvisioning: ProvisioningRewrite | null = null;
  /** A provisioning message for which this says true is posted to the relay twice (a replay). */
  replayProvisioning: ((body: Uint8Array) => boolean) | null = null;
  /** Applied to the body of every attachment download (GET /v1/attachments/:id) while set. */
  rewriteDownload: ((body: Uint8Array) => Uint8Array) | null = null;
  /** While set, attachment downloads wait for it before they reach the relay. */
  holdDownloads: Promise<void> | null = null;
  /** Attachment downloads started through the proxy. */
  downloads = 0;
  /** Answers a request itself (not forwarded) when this returns an answer for its method and path. */
  answer: ((method: string, path: string) => { readonly status: number; readonly body: unknown } | null) | null = null;
  /** How many requests `answer` answered. */
  answered = 0;
  readonly sockets = new Set<{ destroy(): void; write(b: Buffer): boolean; end(): void }>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(upstream: string): Promise<RewritingProxy> {
    const target = new URL(upstream);
    const holder: { proxy?: RewritingProxy } = {};
    const server = createServer((req, res) => {
      void (async () => {
        try {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'connection') headers[k] = v;
          let sent = await body(req);
          const own = holder.proxy?.answer?.(req.method ?? 'GET', new URL(req.url ?? '/', target).pathname) ?? null;
          if (own) {
            holder.proxy!.answered++;
            res.writeHead(own.status, { 'content-type': 'application/json' });
            res.end(JSON.stringify(own.body));
            return;
          }
          const rewriteProvisioning = holder.proxy?.rewriteProvisioning;
          if (rewriteProvisioning && req.method === 'POST' && PROVISIONING_POST.test(new URL(req.url ?? '/', target).pathname)) {
            sent = rewriteProvisioningBody(sent, rewriteProvisioning);
            delete headers['content-length'];
          }
          const pathname = new URL(req.url ?? '/', target).pathname;
          if (req.method === 'GET' && DOWNLOAD.test(pathname) && holder.proxy) {
            const proxy = holder.proxy;
            proxy.downloads++;
            if (proxy.holdDownloads) await proxy.holdDownloads;
            const answer = await fetch(new URL(req.url ?? '/', target), { headers });
            let bytes = new Uint8Array(await answer.arrayBuffer());
            if (answer.ok && proxy.rewriteDownload) bytes = new Uint8Array(proxy.rewriteDownload(bytes));
            const out: Record<string, string> = { 'content-length': String(bytes.length) };
            for (const h of ['content-type', 'content-range', 'accept-ranges', 'cache-control']) {
              const v = answer.headers.get(h);
              if (v !== null) out[h] = v;
            }
            res.writeHead(answer.status, out);
            res.end(Buffer.from(bytes));
            return;
          }
          const upstreamResponse = await fetch(new URL(req.url ?? '/', target), { method: req.method ?? 'GET', headers, body: sent });
          const replay = holder.proxy?.replayProvisioning;
          if (replay && sent && upstreamResponse.ok && req.method === 'POST' && PROVISIONING_POST.test(new URL(req.url ?? '/', target).pathname)) {
            const posted = new Uint8Array(Buffer.from((JSON.parse(sent.toString('utf8')) as { body: string }).body, 'base64url'));
            if (replay(posted)) await fetch(new URL(req.url ?? '/', target), { method: 'POST', headers, body: sent });
          }
          let text = await upstreamResponse.text();
          if (holder.proxy?.hideTransparency && upstreamResponse.ok && req.method === 'GET' && pathname === '/.well-known/parley') {
            const { transparency: _hidden, ...rest } = JSON.parse(text) as Record<string, unknown>;
            text = JSON.stringify(rest);
          }
          const rewrite = holder.proxy?.rewrite;
          if (rewrite && upstreamResponse.ok && req.method === 'GET' && LOOKUP.test(new URL(req.url ?? '/', target).pathname)) {
            text = JSON.stringify(rewrite(JSON.parse(text) as AccountAnswer));
          }
          res.writeHead(upstreamResponse.status, { 'content-type': upstreamResponse.headers.get('content-type') ?? 'application/json' });
          res.end(text);
        } catch {
          res.writeHead(502).end();
        }
      })();
    });
    server.on('upgrade', (req, socket, head) => {
      holder.proxy?.sockets.add(socket);
      const up = connect(Number(target.port), target.hostname, () => {
        const lines = [`${req.method} ${req.url} HTTP/1.1`];
        for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
        up.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (head.length) up.write(head);
        socket.pipe(up);
        up.pipe(socket);
      });
      up.on('error', () => socket.destroy());
      socket.on('error', () => up.destroy());
      socket.on('close', () => up.destroy());
      up.on('close', () => socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new RewritingProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    holder.proxy = proxy;
    return proxy;
  }

  /**
   * Closes every live channel towards the engines with a WebSocket close frame of `code` (as the
   * relay would, e.g. 4410 "device removed"), then drops the connection.
   */
  closeLiveChannels(code: number): void {
    for (const s of this.sockets) {
      s.write(Buffer.from([0x88, 0x02, (code >> 8) & 0xff, code & 0xff]));
      s.end();
    }
    this.sockets.clear();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
