/**
 * Raw HTTP for tests that need to see statuses, headers and bodies the typed client hides; with
 * `localAddress`, from that client address (127.0.0.2, 127.0.0.3… act as distinct clients).
 */
import { request } from 'node:http';

export type HttpReply = { status: number; headers: Headers; body: unknown; text: string };

export async function http(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string | Uint8Array; token?: string; authorization?: string; contentType?: string; localAddress?: string } = {},
): Promise<HttpReply> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined || options.raw !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  // Any other scheme, verbatim (the new device's `Channel <token>` on provisioning routes).
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  if (options.localAddress) {
    const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    return httpFrom(options.localAddress, `${base.replace(/\/$/, '')}${path}`, method, headers, payload);
  }
  // Concatenated, not resolved: a path like `//x` must stay a path, not become a host.
  const res = await fetch(`${base.replace(/\/$/, '')}${path}`, {
    method,
    headers,
    body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body, text };
}

/** fetch cannot choose the source address; node:http can. */
function httpFrom(localAddress: string, url: string, method: string, headers: Record<string, string>, payload: string | Uint8Array | undefined): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          body = undefined;
        }
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
        resolve({ status: res.statusCode ?? 0, headers: h, body, text });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}
