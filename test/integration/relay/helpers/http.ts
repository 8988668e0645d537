/** Raw HTTP for tests that need to see statuses, headers and bodies the typed client hides. */
export type HttpReply = { status: number; headers: Headers; body: unknown; text: string };

export async function http(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string | Uint8Array; token?: string; contentType?: string } = {},
): Promise<HttpReply> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined || options.raw !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
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
