/**
 * Reads one file of the built renderer (renderer/dist) for a URL path, for both hosts: the `app://`
 * protocol handler (app-protocol.ts) and the browser host's HTTP server. Only GET-able regular files
 * under the root are served; `..`, encoded separators, NUL, dot-files and symlinks leading out of
 * the root are refused. Every answer carries SECURITY_HEADERS (CSP included).
 *
 * Not here: SPA fallback routing (the renderer has one page and never navigates), caching.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { SECURITY_HEADERS } from './security.js';

/** File types the renderer build emits; anything else is served as opaque bytes. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

export type StaticAsset = {
  readonly status: 200 | 400 | 404;
  readonly headers: Readonly<Record<string, string>>;
  /** Empty for errors. */
  readonly body: Uint8Array;
};

/**
 * Splits a URL path (`/assets/index-abc.js`, percent-encoded) into safe file-name segments, or null
 * when it names something outside the root or not a plain file name.
 */
export function safeSegments(urlPath: string): string[] | null {
  if (!urlPath.startsWith('/')) return null;
  const raw = urlPath === '/' ? ['index.html'] : urlPath.slice(1).split('/');
  const segments: string[] = [];
  for (const part of raw) {
    let segment: string;
    try {
      segment = decodeURIComponent(part);
    } catch {
      return null;
    }
    if (segment === '' || segment.startsWith('.')) return null; // '', '.', '..', dot-files
    if (/[/\\\0:]/.test(segment)) return null; // encoded separators, NUL, drive letters / streams
    segments.push(segment);
  }
  return segments;
}

function answer(status: 400 | 404): StaticAsset {
  return { status, headers: { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' }, body: new Uint8Array() };
}

/** Reads `urlPath` below `rootDir`. Never throws for a bad path; errors are 400/404 answers. */
export async function readStaticAsset(rootDir: string, urlPath: string): Promise<StaticAsset> {
  const segments = safeSegments(urlPath);
  if (segments === null) return answer(400);
  let root: string;
  let file: string;
  try {
    root = await realpath(rootDir);
    file = await realpath(path.join(root, ...segments));
  } catch {
    return answer(404);
  }
  // A symlink inside the build could point anywhere: serve only what really lies under the root.
  if (!file.startsWith(root + path.sep)) return answer(404);
  try {
    if (!(await stat(file)).isFile()) return answer(404);
    const body = await readFile(file);
    const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
    return { status: 200, headers: { ...SECURITY_HEADERS, 'Content-Type': type }, body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) };
  } catch {
    return answer(404);
  }
}
