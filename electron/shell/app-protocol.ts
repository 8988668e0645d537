/**
 * The `app://parley/` protocol handler (DESIGN §6: the renderer is served over a custom scheme, not
 * `file://`). main.ts registers it with `protocol.handle(APP_SCHEME, handler)`; it takes and returns
 * the Fetch API's Request/Response, so it runs and is tested in plain Node.
 *
 * Only GET/HEAD on host `parley` are answered; every answer carries the CSP (security.ts).
 */
import { readStaticAsset } from '../host/static-assets.js';
import { APP_HOST, APP_SCHEME, SECURITY_HEADERS } from '../host/security.js';

export type AppProtocolHandler = (request: Request) => Promise<Response>;

export function createAppProtocolHandler(options: { readonly rendererDir: string }): AppProtocolHandler {
  return async (request) => {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return new Response(null, { status: 400, headers: SECURITY_HEADERS });
    }
    if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) {
      return new Response(null, { status: 404, headers: SECURITY_HEADERS });
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return new Response(null, { status: 405, headers: { ...SECURITY_HEADERS, Allow: 'GET, HEAD' } });
    }
    const asset = await readStaticAsset(options.rendererDir, url.pathname);
    const body = request.method === 'HEAD' || asset.status !== 200 ? null : asset.body;
    return new Response(body, { status: asset.status, headers: asset.headers });
  };
}
