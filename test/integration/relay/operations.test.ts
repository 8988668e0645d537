/**
 * Operating the relay (DESIGN §5, issue 3): the `parley-relay` bin (flags, env, port 0 and its
 * parseable listening line, SIGTERM drain with exit 0), the identity created on first start (relay
 * id, two distinct Ed25519 keys, file mode 0600, stable across restarts), /healthz, /metrics without
 * per-account or per-device labels and only for the operator (issue 10, item 5), /.well-known/parley, and per-connection flood limits that close
 * the flooder while everyone else keeps being served.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toBase64Url, toHex } from '../../../shared/crypto/bytes.js';
import { ErrorFrameSchema } from '../../../shared/wire/errors.js';
import { CloseCode } from '../../../shared/wire/frames.js';
import { WellKnownSchema } from '../../../shared/wire/rest.js';
import { MAX_CLIENT_FRAME_BYTES } from '../../../shared/wire/wire-size.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { http } from './helpers/http.js';
import { Inbox, text } from './helpers/inbox.js';
import { RELAY_BIN, scrapeMetrics, spawnRelay, startTestRelay, tempDir } from './helpers/relay.js';
import { TestSocket } from './helpers/socket.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('the parley-relay bin', () => {
  it('binds port 0, prints a parseable listening line, keeps its identity across restarts, and drains on SIGTERM with exit 0', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const relay = await spawnRelay({ dataDir });
    expect(relay.port).toBeGreaterThan(0);
    const wellKnown = WellKnownSchema.parse((await http(relay.url, 'GET', '/.well-known/parley')).body);
    expect(wellKnown.relayId).toHaveLength(16);
    expect(toHex(wellKnown.certificateKey)).not.toBe(toHex(wellKnown.treeHeadKey));
    expect(wellKnown.limits.maxFrameBytes).toBe(MAX_CLIENT_FRAME_BYTES);
    expect(wellKnown.limits.maxConnectionsPerDevice).toBe(5);
    expect(statSync(path.join(dataDir, 'identity.bin')).mode & 0o777).toBe(0o600);

    const alice = new TestAccount();
    await registerAccount(relay.url, alice);
    const client = alice.client(relay.url);
    const closed = new Promise<void>((resolve) => client.on('state', (s) => s === 'reconnecting' && resolve()));
    await client.connect();
    const exit = await relay.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    await closed; // the relay closed the socket (1001) and the client went on to reconnect
    client.close();
    expect(relay.stderr()).toBe('');

    const again = await spawnRelay({ dataDir });
    const second = WellKnownSchema.parse((await http(again.url, 'GET', '/.well-known/parley')).body);
    expect(second).toEqual(wellKnown);
    await again.stop();
  });

  it('reads PARLEY_RELAY_* from the environment, and refuses a bad port or a second relay on the same data dir', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const viaEnv = path.join(dataDir, 'from-env');
    const relay = await spawnRelay({
      dataDir: viaEnv,
      args: [],
      env: { PARLEY_RELAY_HOST: '127.0.0.1', PARLEY_RELAY_PORT: '0', PARLEY_RELAY_DATA: viaEnv, PARLEY_RELAY_LOG_LEVEL: 'warn' },
    });
    expect(statSync(path.join(viaEnv, 'identity.bin')).isFile()).toBe(true);
    expect(statSync(path.join(viaEnv, 'relay.sqlite')).isFile()).toBe(true);
    expect(relay.stdoutLines().filter((l) => l.includes('"level":30'))).toEqual([]); // info is below warn
    await relay.stop();
    const bad = spawnSync(process.execPath, [RELAY_BIN, '--port', '70000'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/invalid port/);
    const unknown = spawnSync(process.execPath, [RELAY_BIN, '--frobnicate'], { encoding: 'utf8' });
    expect(unknown.status).toBe(2);
    const help = spawnSync(process.execPath, [RELAY_BIN, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--data/);

    const first = await spawnRelay({ dataDir, env: { PARLEY_RELAY_PORT: '0' } });
    const second = spawnSync(process.execPath, [RELAY_BIN, '--port', '0'], {
      encoding: 'utf8',
      env: { ...process.env, PARLEY_RELAY_DATA: dataDir },
      timeout: 20_000,
    });
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(/in use by another process/);
    await first.stop();
  });
});

describe('health, metrics, well-known', () => {
  it('/metrics is for the operator only: off on the public listener by default, else behind a bearer token or on a listener of its own', async () => {
    const plain = await startTestRelay({ metrics: {} });
    try {
      const r = await http(plain.url, 'GET', '/metrics');
      expect(r.status).toBe(404);
      expect(r.body).toMatchObject({ error: { code: 'NOT_FOUND' } });
      expect(r.text).not.toContain('parley_relay_');
      expect(plain.metricsUrl).toBeUndefined();
    } finally {
      await plain.stop();
    }

    const token = 'an-operator-token-of-enough-length';
    const guarded = await startTestRelay({ metrics: { token, listener: { host: '127.0.0.1', port: 0 } } });
    try {
      for (const bad of [undefined, 'Bearer wrong-token-wrong-token-wrong', `Basic ${token}`, `Bearer ${token}x`]) {
        const r = await fetch(`${guarded.url}/metrics`, { headers: bad === undefined ? {} : { authorization: bad } });
        expect(r.status).toBe(401);
        expect(await r.text()).not.toContain('parley_relay_');
      }
      const ok = await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('parley_relay_ws_connections');

      // The listener of its own: /metrics (with the token, since one is set) and nothing else.
      const url = guarded.metricsUrl!;
      expect(new URL(url).port).not.toBe(new URL(guarded.url).port);
      expect((await fetch(url)).status).toBe(401);
      const own = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      expect(own.status).toBe(200);
      expect(await own.text()).toContain('parley_relay_mailbox_queue_depth');
      expect((await fetch(new URL('/healthz', url), { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
    } finally {
      await guarded.stop();
    }
    // Closing the relay closes its metrics listener.
    await expect(fetch(guarded.metricsUrl!)).rejects.toThrow();
  });

  it('/metrics reports connections, frames, errors by code, queue depth and latencies, with no account or device in any label', async () => {
    const relay = await startTestRelay();
    try {
      expect(await http(relay.url, 'GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
      const alice = new TestAccount();
      const bob = new TestAccount();
      const a = (await registerAccount(relay.url, alice)).get(1)!;
      const b = (await registerAccount(relay.url, bob)).get(1)!;
      await b.connect();
      await a.connect();
      await a.send(bob.accountId, [{ deviceId: 1, content: text('m') }]);
      await expect(a.send(bob.accountId, [{ deviceId: 2, content: text('m') }])).rejects.toMatchObject({ code: 'MISMATCHED_DEVICES' });
      const metrics = await scrapeMetrics(relay.url);
      for (const name of [
        'parley_relay_ws_connections{state="authenticated"} 2',
        'parley_relay_ws_frames_in_total{type="send"} 2',
        'parley_relay_ws_frames_out_total{type="envelope"}',
        'parley_relay_errors_total{code="MISMATCHED_DEVICES",transport="ws"} 1',
        'parley_relay_mailbox_queue_depth 1',
        'parley_relay_send_commit_latency_seconds_bucket',
        'parley_relay_http_request_duration_seconds_bucket{le="0.001",method="POST",route="/v1/accounts",status="201"}',
        'parley_relay_process_resident_memory_bytes',
      ]) {
        expect(metrics).toContain(name);
      }
      for (const account of [alice, bob]) {
        expect(metrics).not.toContain(toBase64Url(account.accountId));
        expect(metrics).not.toContain(toHex(account.accountId));
      }
      // Every label is from a closed set: nothing per account, device, IP or token.
      const allowed = new Set(['state', 'type', 'code', 'transport', 'le', 'method', 'route', 'status', 'kind', 'space', 'version', 'major', 'minor', 'patch', 'quantile', 'reason', 'cause']);
      const labels = [...metrics.matchAll(/\{([^}]*)\}/g)].flatMap((m) => m[1]!.split(',').map((kv) => kv.split('=')[0]!));
      expect(labels.filter((l) => !allowed.has(l))).toEqual([]);
      const routes = new Set([...metrics.matchAll(/route="([^"]*)"/g)].map((m) => m[1]));
      for (const r of routes) expect(r === 'unmatched' || /^\/[a-z0-9/:.-]*$/i.test(r!)).toBe(true);
      a.close();
      b.close();
    } finally {
      await relay.stop();
    }
  });
});

describe('floods', () => {
  it('a flooding connection gets RATE_LIMITED with a retry hint and is then closed (1008), while others are served', async () => {
    const relay = await startTestRelay({
      limits: { framesPerConnection: { points: 50, duration: 5 }, strikesBeforeDisconnect: 100 },
    });
    try {
      const flooder = new TestAccount();
      const alice = new TestAccount();
      const bob = new TestAccount();
      await registerAccount(relay.url, flooder);
      const a = (await registerAccount(relay.url, alice)).get(1)!;
      const b = (await registerAccount(relay.url, bob)).get(1)!;
      const sock = await TestSocket.authed(relay.url, await flooder.client(relay.url).sessionToken());
      for (let i = 0; i < 1_000; i++) sock.send({ type: 'ping', id: `f${i}` });
      const limited = ErrorFrameSchema.parse(await sock.next((f) => f.type === 'error'));
      expect(limited.code).toBe('RATE_LIMITED');
      expect(limited.retryAfterMs).toBeGreaterThan(0);
      expect((await sock.closed).code).toBe(CloseCode.PolicyViolation);
      // The burst of 50 (plus 10/s of refill while the flood lasted) was served; the rest refused.
      expect(sock.frames.filter((f) => f.type === 'pong').length).toBeLessThan(200);

      const inbox = new Inbox(b);
      await b.connect();
      await inbox.backlogEnd();
      await a.send(bob.accountId, [{ deviceId: 1, content: text('unaffected') }]);
      await inbox.count(1);
      await b.ack([inbox.envelopes[0]!.seq]);
      a.close();
      b.close();
    } finally {
      await relay.stop();
    }
  });

  it('REST requests beyond the per-IP budget get 429 RATE_LIMITED with Retry-After', async () => {
    const relay = await startTestRelay({ limits: { requestsPerIp: { points: 5, duration: 10 } } });
    try {
      const replies = [];
      for (let i = 0; i < 8; i++) replies.push(await http(relay.url, 'GET', '/.well-known/parley'));
      expect(replies.slice(0, 5).every((r) => r.status === 200)).toBe(true);
      const last = replies.at(-1)!;
      expect(last.status).toBe(429);
      // Fixed windows: the wait is what remains of the 10 s window, rounded up to whole seconds.
      expect(last.headers.get('retry-after')).toBe('10');
      expect(last.body).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    } finally {
      await relay.stop();
    }
  });
});
