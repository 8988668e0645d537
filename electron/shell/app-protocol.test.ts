/**
 * The app:// handler and the file reader behind both hosts: only files under the renderer build,
 * always with the CSP; traversal, encoded separators, dot-files and escaping symlinks refused.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppProtocolHandler } from './app-protocol.js';
import { CONTENT_SECURITY_POLICY } from '../host/security.js';
import { readStaticAsset, safeSegments } from '../host/static-assets.js';

let root: string;
let outside: string;

beforeAll(() => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'parley-assets-'));
  root = path.join(base, 'dist');
  outside = path.join(base, 'outside');
  mkdirSync(path.join(root, 'assets'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>Parley</title>');
  writeFileSync(path.join(root, 'assets', 'app-1.js'), 'console.log(1)');
  writeFileSync(path.join(root, 'assets', 'app-1.css'), 'body{}');
  writeFileSync(path.join(root, 'assets', 'blob.bin'), 'x');
  writeFileSync(path.join(root, '.env'), 'SECRET=1');
  writeFileSync(path.join(outside, 'secret.txt'), 'not for the renderer');
  symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'assets', 'link.txt'));
});

afterAll(() => rmSync(path.dirname(root), { recursive: true, force: true }));

describe('readStaticAsset', () => {
  it('serves / as index.html with the CSP and a content type', async () => {
    const asset = await readStaticAsset(root, '/');
    expect(asset.status).toBe(200);
    expect(new TextDecoder().decode(asset.body)).toContain('<title>Parley</title>');
    expect(asset.headers['Content-Type']).toBe('text/html; charset=utf-8');
    expect(asset.headers['Content-Security-Policy']).toBe(CONTENT_SECURITY_POLICY);
  });

  it('types scripts and styles so nosniff lets them run', async () => {
    expect((await readStaticAsset(root, '/assets/app-1.js')).headers['Content-Type']).toBe('text/javascript; charset=utf-8');
    expect((await readStaticAsset(root, '/assets/app-1.css')).headers['Content-Type']).toBe('text/css; charset=utf-8');
    expect((await readStaticAsset(root, '/assets/blob.bin')).headers['Content-Type']).toBe('application/octet-stream');
  });

  it.each([
    '/../outside/secret.txt',
    '/assets/../../outside/secret.txt',
    '/%2e%2e/outside/secret.txt',
    '/assets%2f..%2f..%2foutside%2fsecret.txt',
    '/assets%5c..%5c..%5coutside%5csecret.txt',
    '/index.html%00.js',
    '/.env',
    '/%2eenv',
    '/assets//app-1.js',
    '/C:%5cwindows',
    '/%E0%A4%A',
    'index.html',
  ])('refuses the path %s without reading outside the build', async (urlPath) => {
    const asset = await readStaticAsset(root, urlPath);
    expect(asset.status).toBe(400);
    expect(asset.body.byteLength).toBe(0);
    expect(asset.headers['Content-Security-Policy']).toBe(CONTENT_SECURITY_POLICY);
  });

  it('does not follow a symlink out of the build', async () => {
    expect((await readStaticAsset(root, '/assets/link.txt')).status).toBe(404);
  });

  it('answers 404 for a missing file and for a directory', async () => {
    expect((await readStaticAsset(root, '/nope.js')).status).toBe(404);
    expect((await readStaticAsset(root, '/assets')).status).toBe(404);
    expect((await readStaticAsset(path.join(root, 'missing-root'), '/')).status).toBe(404);
  });

  it('splits paths into plain file names only', () => {
    expect(safeSegments('/assets/a%20b.js')).toEqual(['assets', 'a b.js']);
    expect(safeSegments('/a/./b')).toBeNull();
  });
});

describe('app:// protocol handler', () => {
  const handler = () => createAppProtocolHandler({ rendererDir: root });

  it('serves the entry page of app://parley with the CSP', async () => {
    const response = await handler()(new Request('app://parley/index.html'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(await response.text()).toContain('<title>Parley</title>');
  });

  it('refuses another host of the scheme', async () => {
    expect((await handler()(new Request('app://evil/index.html'))).status).toBe(404);
  });

  it('refuses methods other than GET and HEAD', async () => {
    const response = await handler()(new Request('app://parley/index.html', { method: 'POST', body: 'x' }));
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers HEAD without a body', async () => {
    const response = await handler()(new Request('app://parley/index.html', { method: 'HEAD' }));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
  });

  it('keeps traversal inside the build even in a URL', async () => {
    // The URL parser already folds `%2e%2e` into `..` and drops it: /outside/secret.txt is not in the build.
    const response = await handler()(new Request('app://parley/%2e%2e/outside/secret.txt'));
    expect(response.status).toBe(404);
    expect(await response.text()).toBe('');
    expect(response.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
  });
});
