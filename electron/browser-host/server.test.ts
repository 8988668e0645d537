/**
 * The browser host over real sockets (node:http and ws clients): static files with the CSP, the
 * Host and Origin checks, the secret as first frame, and the contract round trip through the same
 * invoker as Electron. The same defences are driven from Chromium in test/e2e.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CHANNELS, CONTRACT } from '../../shared/api/contract.js';
import { EVENT_NAMES } from '../../shared/api/events.js';
import { createDispatcher, type Handlers } from '../engine/dispatch.js';
import { describeChannels } from '../host/channels.js';
import { CONTENT_SECURITY_POLICY } from '../host/security.js';
import { CLOSE_AUTH_TIMEOUT, CLOSE_GOING_AWAY, CLOSE_POLICY, CLOSE_UNAUTHORIZED, MAX_SOCKETS } from './protocol.js';
import { startBrowserHost, type BrowserHost } from './server.js';

const TYPING = { conversationId: '1', contactId: 'b0'.repeat(16), typing: true };
const SECRET = new Uint8Array(32).fill(7);
const SECRET_TEXT = Buffer.from(SECRET).toString('base64url');

let rendererDir: string;
const hosts: BrowserHost[] = [];

beforeAll(() => {
  rendererDir = mkdtempSync(path.join(os.tmpdir(), 'parley-bh-'));
  mkdirSync(path.join(rendererDir, 'assets'));
  writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>Parley</title>');
});
afterAll(() => rmSync(rendererDir, { recursive: true, force: true }));
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()));
});

async function start(options: { authTimeoutMs?: number } = {}) {
  const log: string[] = [];
  const unexpected = () => {
    throw new Error('not under test');
  };
  const invoke = createDispatcher({
    ...(Object.fromEntries(CHANNELS.map((c) => [c, unexpected])) as unknown as Handlers),
    'conversations:setTyping': () => null,
  });
  const host = await startBrowserHost({
    rendererDir,
    channels: describeChannels(CONTRACT),
    invoke,
    secret: SECRET,
    log: (line) => log.push(line),
    ...options,
  });
  hosts.push(host);
  return { host, log };
}

function get(port: number, pathName: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: pathName, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a socket; resolves with it once open, or with the HTTP status that refused the upgrade. */
function open(host: BrowserHost, headers: Record<string, string> = { Origin: host.origin }) {
  return new Promise<{ ws: WebSocket } | { refused: number }>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${host.port}/ws`, { headers });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ refused: res.statusCode ?? 0 }));
    ws.once('error', reject);
  });
}

function nextFrame(ws: WebSocket) {
  return new Promise<Record<string, unknown>>((resolve) => ws.once('message', (data) => resolve(JSON.parse(String(data)) as Record<string, unknown>)));
}
function closeCode(ws: WebSocket) {
  return new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
}

async function authed(host: BrowserHost) {
  const opened = await open(host);
  if (!('ws' in opened)) throw new Error(`refused ${opened.refused}`);
  const ready = nextFrame(opened.ws);
  opened.ws.send(JSON.stringify({ type: 'hello', secret: SECRET_TEXT }));
  return { ws: opened.ws, ready: await ready };
}

describe('HTTP', () => {
  it('listens on 127.0.0.1 and puts the secret in the fragment only', async () => {
    const { host } = await start();
    expect(host.origin).toBe(`http://127.0.0.1:${host.port}`);
    expect(host.url).toBe(`${host.origin}/#k=${SECRET_TEXT}`);
  });

  it('serves the renderer with the same CSP as Electron', async () => {
    const { host } = await start();
    const res = await get(host.port, '/');
    expect(res.status).toBe(200);
    expect(res.body).toContain('<title>Parley</title>');
    expect(res.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
  });

  it.each(['evil.example', `evil.example:${0}`, 'localhost', '127.0.0.1', '[::1]'])('refuses Host %s (DNS rebinding)', async (hostHeader) => {
    const { host, log } = await start();
    const res = await get(host.port, '/', { Host: hostHeader.replace(':0', `:${host.port}`) });
    expect(res.status).toBe(421);
    expect(res.body).not.toContain('<title>');
    expect(res.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(log).toContain('refused http: wrong Host header');
  });

  it('refuses absolute-form request targets and non-GET methods', async () => {
    const { host } = await start();
    expect((await get(host.port, `http://evil.example/`)).status).toBe(400);
    const post = await new Promise<number>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: host.port, path: '/', method: 'POST' }, (res) => resolve(res.statusCode ?? 0));
      req.end('x');
    });
    expect(post).toBe(405);
  });
});

describe('WebSocket upgrade', () => {
  it('refuses a wrong Host header', async () => {
    const { host } = await start();
    expect(await open(host, { Origin: host.origin, Host: `evil.example:${host.port}` })).toEqual({ refused: 421 });
  });

  it.each([
    ['a foreign origin', 'http://evil.example'],
    ['another loopback port', 'http://127.0.0.1:1'],
    ['localhost instead of 127.0.0.1', 'http://localhost'],
    ['an opaque origin', 'null'],
  ])('refuses %s', async (_name, origin) => {
    const { host, log } = await start();
    expect(await open(host, { Origin: origin.replace(/^http:\/\/localhost$/, `http://localhost:${host.port}`) })).toEqual({ refused: 403 });
    expect(log).toContain('refused upgrade: foreign or missing Origin');
  });

  it('refuses a client that sends no Origin', async () => {
    const { host } = await start();
    expect(await open(host, {})).toEqual({ refused: 403 });
  });

  it('refuses sockets beyond the limit', async () => {
    const { host } = await start();
    const sockets = [];
    for (let i = 0; i < MAX_SOCKETS; i++) sockets.push(await open(host));
    expect(await open(host)).toEqual({ refused: 503 });
    for (const s of sockets) if ('ws' in s) s.ws.close();
  });
});

describe('the secret as first frame', () => {
  it('answers a good hello with the channel list and event names', async () => {
    const { host } = await start();
    const { ready } = await authed(host);
    expect(ready).toEqual({ type: 'ready', channels: describeChannels(CONTRACT), events: EVENT_NAMES });
    expect(host.connections()).toBe(1);
  });

  it.each([
    ['a wrong secret', { type: 'hello', secret: Buffer.alloc(32, 8).toString('base64url') }],
    ['an empty secret', { type: 'hello', secret: '' }],
    ['the secret with extra keys', { type: 'hello', secret: SECRET_TEXT, admin: true }],
    ['a request instead of a hello (missing secret)', { type: 'request', id: 1, channel: 'conversations:setTyping', request: TYPING }],
  ])('closes with 4401 on %s, without answering', async (_name, frame) => {
    const { host } = await start();
    const opened = await open(host);
    if (!('ws' in opened)) throw new Error('refused');
    const frames: unknown[] = [];
    opened.ws.on('message', (d) => frames.push(String(d)));
    const code = closeCode(opened.ws);
    opened.ws.send(JSON.stringify(frame));
    expect(await code).toBe(CLOSE_UNAUTHORIZED);
    expect(frames).toEqual([]);
    expect(host.connections()).toBe(0);
  });

  it('closes with 4401 on a first frame that is not JSON or is too long', async () => {
    const { host } = await start();
    for (const text of ['not json', JSON.stringify({ type: 'hello', secret: SECRET_TEXT, pad: 'x'.repeat(300) })]) {
      const opened = await open(host);
      if (!('ws' in opened)) throw new Error('refused');
      const code = closeCode(opened.ws);
      opened.ws.send(text);
      expect(await code).toBe(CLOSE_UNAUTHORIZED);
    }
  });

  it('closes with 4408 when no hello arrives in time', async () => {
    const { host } = await start({ authTimeoutMs: 100 });
    const opened = await open(host);
    if (!('ws' in opened)) throw new Error('refused');
    expect(await closeCode(opened.ws)).toBe(CLOSE_AUTH_TIMEOUT);
  });
});

describe('the contract over the socket', () => {
  it('answers INTERNAL if the injected invoke breaks its promise not to throw', async () => {
    const host = await startBrowserHost({
      rendererDir,
      channels: [{ channel: 'conversations:setTyping', method: 'setTyping' }],
      invoke: () => {
        throw new Error('bug');
      },
      secret: SECRET,
    });
    hosts.push(host);
    const { ws } = await authed(host);
    const reply = nextFrame(ws);
    ws.send(JSON.stringify({ type: 'request', id: 9, channel: 'conversations:setTyping', request: { conversationId: '1', typing: true } }));
    expect(await reply).toEqual({ type: 'response', id: 9, result: { ok: false, error: { code: 'INTERNAL', message: 'internal error' } } });
  });

  it("round-trips a request through the engine's dispatcher", async () => {
    const { host } = await start();
    const { ws } = await authed(host);
    const reply = nextFrame(ws);
    ws.send(JSON.stringify({ type: 'request', id: 5, channel: 'conversations:setTyping', request: { conversationId: '1', typing: true } }));
    expect(await reply).toEqual({ type: 'response', id: 5, result: { ok: true, value: null } });
  });

  it('answers an invalid request or unknown channel with INVALID_REQUEST', async () => {
    const { host } = await start();
    const { ws } = await authed(host);
    for (const [channel, request] of [
      ['conversations:setTyping', { conversationId: '', typing: true }],
      ['conversations:setTyping', { conversationId: '1', typing: true, extra: 1 }],
      ['account:selfDestruct', {}],
    ] as const) {
      const reply = nextFrame(ws);
      ws.send(JSON.stringify({ type: 'request', id: 1, channel, request }));
      const frame = (await reply) as { result: { ok: boolean; error: { code: string } } };
      expect(frame.result.ok).toBe(false);
      expect(frame.result.error.code).toBe('INVALID_REQUEST');
    }
  });

  it.each([
    ['not JSON', 'nope'],
    ['a frame without an id', JSON.stringify({ type: 'request', channel: 'conversations:setTyping', request: {} })],
    ['a second hello', JSON.stringify({ type: 'hello', secret: SECRET_TEXT })],
  ])('closes with 1008 on %s', async (_name, text) => {
    const { host } = await start();
    const { ws } = await authed(host);
    const code = closeCode(ws);
    ws.send(text);
    expect(await code).toBe(CLOSE_POLICY);
  });

  it('pushes validated events to authenticated sockets only', async () => {
    const { host } = await start();
    const { ws } = await authed(host);
    const stranger = await open(host);
    if (!('ws' in stranger)) throw new Error('refused');
    const strangerFrames: unknown[] = [];
    stranger.ws.on('message', (d) => strangerFrames.push(String(d)));

    const pushed = nextFrame(ws);
    expect(host.emit({ event: 'typing', payload: TYPING })).toBe(true);
    expect(await pushed).toEqual({ type: 'event', event: 'typing', payload: TYPING });
    expect(host.emit({ event: 'typing', payload: { ...TYPING, typing: 'yes' } } as never)).toBe(false);
    // Barriers: a valid event after the invalid one (the authenticated socket sees only it), and a
    // bad hello from the stranger, whose close comes after anything the host had sent it.
    const sentinel = { ...TYPING, typing: false };
    const next = nextFrame(ws);
    host.emit({ event: 'typing', payload: sentinel });
    expect(await next).toEqual({ type: 'event', event: 'typing', payload: sentinel });
    const closed = closeCode(stranger.ws);
    stranger.ws.send(JSON.stringify({ type: 'hello', secret: 'wrong' }));
    expect(await closed).toBe(CLOSE_UNAUTHORIZED);
    expect(strangerFrames).toEqual([]);
  });

  it('closes sockets with 1001 on shutdown', async () => {
    const { host } = await start();
    const { ws } = await authed(host);
    const code = closeCode(ws);
    await host.close();
    hosts.splice(hosts.indexOf(host), 1);
    expect(await code).toBe(CLOSE_GOING_AWAY);
  });
});
