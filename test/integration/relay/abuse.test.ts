/**
 * Abuse resistance of the relay (issue 10): what one client address, or anyone who knows an account
 * id, can do to other users. Each test runs against the real relay on 127.0.0.1; distinct client
 * addresses are loopback source addresses (127.0.0.2, 127.0.1.x…) bound on the client side, or
 * X-Forwarded-For behind a trusted proxy for IPv6.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { toBase64Url } from '../../../shared/crypto/bytes.js';
import { CloseCode } from '../../../shared/wire/frames.js';
import { DEFAULT_LIMITS } from '../../../server/limits/relay-limits.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { TestAccount } from './helpers/accounts.js';
import { http } from './helpers/http.js';
import { scrapeMetrics, startTestRelay, type TestRelay } from './helpers/relay.js';
import { TestSocket } from './helpers/socket.js';

const started: TestRelay[] = [];
const sockets: { close(): void }[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  for (const r of started.splice(0)) await r.stop();
});

async function relayWith(options: Parameters<typeof startTestRelay>[0]): Promise<TestRelay> {
  const relay = await startTestRelay(options);
  started.push(relay);
  return relay;
}

/** A registered account and a session token of its first device. */
async function device(url: string): Promise<{ account: TestAccount; token: string }> {
  const account = new TestAccount();
  await RelayClient.register(url, account.registerRequest());
  return { account, token: await account.client(url).sessionToken() };
}

const wsUrl = (url: string): string => `${url.replace(/^http/, 'ws')}/v1/ws`;

/**
 * One client address opening WebSockets that never authenticate: keeps every socket the relay lets
 * it have and keeps trying for more (`loops` attempts in flight), reopening what the auth timeout
 * closes.
 */
class UpgradeFlood {
  readonly held = new Set<WebSocket>();
  refused = 0;
  private stopped = false;
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly url: string,
    private readonly localAddress: string,
    loops = 8,
  ) {
    for (let i = 0; i < loops; i++) this.loops.push(this.loop());
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      if ((await this.attempt()) === 'refused') {
        this.refused++;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }

  private attempt(): Promise<'held' | 'refused'> {
    return new Promise((resolve) => {
      const ws = new WebSocket(wsUrl(this.url), { localAddress: this.localAddress });
      ws.on('open', () => {
        if (this.stopped) ws.terminate();
        else this.held.add(ws);
        resolve('held');
      });
      ws.on('error', () => resolve('refused'));
      ws.on('close', () => this.held.delete(ws));
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    for (const ws of this.held) ws.terminate();
  }
}

async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A WebSocket upgrade's outcome: 'open', or the HTTP status it was refused with. */
function upgrade(url: string, options: { localAddress?: string; headers?: Record<string, string> }): Promise<{ status: number | 'open'; ws?: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(url), options);
    ws.on('open', () => {
      sockets.push(ws);
      resolve({ status: 'open', ws });
    });
    ws.on('unexpected-response', (req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      req.destroy();
    });
    ws.on('error', reject);
  });
}

describe('pre-auth WebSocket flood (issue 10, item 1)', () => {
  it('one address holding its maximum of pre-auth sockets and churning upgrades keeps no device of 100 from its live channel', async () => {
    const relay = await relayWith({
      limits: {
        // A small relay, so that the flood would fill it if sockets that never authenticate counted.
        maxConnections: 200,
        upgradesPerIp: DEFAULT_LIMITS.upgradesPerIp,
        wsAuthPerIp: DEFAULT_LIMITS.wsAuthPerIp,
        maxPreAuthPerIp: DEFAULT_LIMITS.maxPreAuthPerIp,
      },
    });
    const devices = await Promise.all(Array.from({ length: 100 }, () => device(relay.url)));

    const flood = new UpgradeFlood(relay.url, '127.0.0.2');
    try {
      // The attacker holds all it can get and is being refused more.
      await until(() => flood.refused >= 50);
      const held = flood.held.size;

      // 100 users, each from its own address, connect at once while the churn goes on.
      const results = await Promise.allSettled(
        devices.map(async ({ token }, i) => {
          const socket = await TestSocket.authed(relay.url, token, { localAddress: `127.0.1.${i + 1}` });
          sockets.push(socket);
          await socket.next((f) => f.type === 'backlog-end');
        }),
      );
      const failed = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
      expect(failed).toEqual([]);
      expect(held).toBe(DEFAULT_LIMITS.maxPreAuthPerIp);
      expect(flood.refused).toBeGreaterThan(50);
    } finally {
      await flood.stop();
    }
  });

  it('pre-auth sockets count per IPv6 /64 behind a trusted proxy, and in all under their own cap, apart from authenticated ones', async () => {
    const relay = await relayWith({ trustProxy: 'loopback', limits: { maxPreAuthPerIp: 2, maxPreAuthConnections: 3 } });
    const from = (address: string) => upgrade(relay.url, { headers: { 'x-forwarded-for': address } });

    expect((await from('2001:db8:0:1::1')).status).toBe('open');
    expect((await from('2001:db8:0:1:ffff::2')).status).toBe('open');
    // A third address in the same /64 is the same subscriber.
    expect((await from('2001:db8:0:1:abcd::3')).status).toBe(429);
    const other = await from('2001:db8:0:2::1');
    expect(other.status).toBe('open');
    // Three sockets that never authenticated, from two /64s: the pre-auth cap is reached.
    expect((await from('2001:db8:0:3::1')).status).toBe(503);

    // A socket that authenticates leaves the pre-auth count.
    other.ws!.close();
    const { token } = await device(relay.url);
    // The relay counts the socket closed once the closing handshake is done: retry until then.
    let user: TestSocket | undefined;
    for (let i = 0; i < 100 && !user; i++) {
      user = await TestSocket.authed(relay.url, token, { headers: { 'x-forwarded-for': '2001:db8:0:4::1' } }).catch(() => undefined);
      if (!user) await new Promise((r) => setTimeout(r, 20));
    }
    sockets.push(user!);
    expect((await from('2001:db8:0:5::1')).status).toBe('open');
  });

  it('auth attempts are limited per address: past the budget RATE_LIMITED and 4429, while another address authenticates', async () => {
    const relay = await relayWith({ limits: { wsAuthPerIp: { points: 3, duration: 60 } } });
    const bogus = toBase64Url(new Uint8Array(48).fill(7));
    for (let i = 0; i < 3; i++) {
      const s = await TestSocket.open(relay.url, { localAddress: '127.0.0.3' });
      s.send({ type: 'auth', token: bogus });
      expect(await s.next((f) => f.type === 'error')).toMatchObject({ code: 'UNAUTHORIZED' });
      expect((await s.closed).code).toBe(CloseCode.Unauthorized);
    }
    const limited = await TestSocket.open(relay.url, { localAddress: '127.0.0.3' });
    limited.send({ type: 'auth', token: bogus });
    const error = await limited.next((f) => f.type === 'error');
    expect(error).toMatchObject({ code: 'RATE_LIMITED' });
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect((await limited.closed).code).toBe(CloseCode.TooManyConnections);

    const { token } = await device(relay.url);
    sockets.push(await TestSocket.authed(relay.url, token, { localAddress: '127.0.0.4' }));
  });
});

describe('challenge lock-out (issue 10, item 2)', () => {
  it('challenges an attacker requests for a device do not keep that device from getting a token', async () => {
    const relay = await relayWith({ limits: { challengesPerAddressAndDevice: DEFAULT_LIMITS.challengesPerAddressAndDevice } });
    const victim = new TestAccount();
    await RelayClient.register(relay.url, victim.registerRequest());
    const body = { accountId: toBase64Url(victim.accountId), deviceId: 1 };

    const statuses: number[] = [];
    for (let i = 0; i < 2 * DEFAULT_LIMITS.challengesPerAddressAndDevice.points; i++) {
      statuses.push((await http(relay.url, 'POST', '/v1/auth/challenge', { body, localAddress: '127.0.0.2' })).status);
    }
    // The attacker's own requests are limited…
    expect(statuses.at(-1)).toBe(429);
    // …and the victim, elsewhere, still gets a challenge, a token and its live channel.
    const token = await victim.client(relay.url).sessionToken();
    sockets.push(await TestSocket.authed(relay.url, token));
  });
});

describe('one-time prekey draining (issue 10, item 3)', () => {
  it('nine throwaway accounts from one address take no more one-time keys than the claim budget; later bundles carry the last-resort key', async () => {
    const relay = await relayWith({
      limits: {
        registrationPerIp: DEFAULT_LIMITS.registrationPerIp,
        bundlesPerPair: DEFAULT_LIMITS.bundlesPerPair,
        bundlesPerIp: DEFAULT_LIMITS.bundlesPerIp,
        oneTimeClaimsPerDevice: DEFAULT_LIMITS.oneTimeClaimsPerDevice,
      },
    });
    const victim = new TestAccount();
    await RelayClient.register(relay.url, victim.registerRequest({ oneTime: 100 }));
    const victimClient = victim.client(relay.url);
    await victimClient.uploadPrekeys({ kemOneTimePrekeys: Array.from({ length: 100 }, () => victim.devices[0]!.kemPrekey(false)) });
    expect(await victimClient.prekeyCounts()).toMatchObject({ oneTimePrekeys: 100, kemOneTimePrekeys: 100 });

    const path = `/v1/prekeys/${toBase64Url(victim.accountId)}`;
    const bundles: { oneTimePrekey?: unknown; kemPrekey?: { lastResort: boolean } }[] = [];
    for (let i = 0; i < 9; i++) {
      const attacker = new TestAccount();
      const registered = await http(relay.url, 'POST', '/v1/accounts', { body: attacker.registerRequest(), localAddress: '127.0.0.2' });
      expect(registered.status).toBe(201);
      const token = await attacker.client(relay.url).sessionToken();
      for (;;) {
        const r = await http(relay.url, 'GET', path, { token, localAddress: '127.0.0.2' });
        if (r.status !== 200) {
          expect(r.status).toBe(429);
          break;
        }
        bundles.push(...(r.body as { bundles: typeof bundles }).bundles);
      }
    }
    const budget = DEFAULT_LIMITS.oneTimeClaimsPerDevice.points;
    expect(bundles.length).toBeGreaterThan(budget);
    expect(bundles.filter((b) => b.oneTimePrekey).length).toBe(budget);
    for (const b of bundles.slice(budget)) {
      expect(b.oneTimePrekey).toBeUndefined();
      expect(b.kemPrekey?.lastResort).toBe(true);
    }
    expect(await victimClient.prekeyCounts()).toMatchObject({ oneTimePrekeys: 100 - budget, kemOneTimePrekeys: 100 - budget });
  });
});

describe('storage exhaustion (issue 10, item 4)', () => {
  it('stored one-time prekeys are capped per kind per device: each upload answers the counts, one past the cap is refused whole', async () => {
    const relay = await relayWith({});
    const owner = new TestAccount();
    await RelayClient.register(relay.url, owner.registerRequest());
    const client = owner.client(relay.url);
    const device = owner.devices[0]!;
    const cap = DEFAULT_LIMITS.maxOneTimePrekeysPerKind;
    for (let stored = 100; stored <= cap; stored += 100) {
      expect(await client.uploadPrekeys({ oneTimePrekeys: device.oneTimePrekeys(100) })).toMatchObject({ oneTimePrekeys: stored });
    }
    await expect(client.uploadPrekeys({ oneTimePrekeys: device.oneTimePrekeys(1) })).rejects.toMatchObject({ code: 'TOO_MANY_PREKEYS' });
    // The other kind has its own cap, and the refused upload stored nothing.
    expect(await client.uploadPrekeys({ kemOneTimePrekeys: [device.kemPrekey(false)] })).toMatchObject({ oneTimePrekeys: cap, kemOneTimePrekeys: 1 });
  });

  it('contact-list replacements are budgeted per account', async () => {
    const relay = await relayWith({ limits: { contactReplacementsPerAccount: DEFAULT_LIMITS.contactReplacementsPerAccount } });
    const owner = new TestAccount();
    await RelayClient.register(relay.url, owner.registerRequest());
    const token = await owner.client(relay.url).sessionToken();
    const contacts = Array.from({ length: 100 }, () => toBase64Url(new TestAccount().accountId));
    const budget = DEFAULT_LIMITS.contactReplacementsPerAccount.points;
    for (let i = 0; i < budget; i++) expect((await http(relay.url, 'PUT', '/v1/contacts', { token, body: { contacts } })).status).toBe(204);
    const refused = await http(relay.url, 'PUT', '/v1/contacts', { token, body: { contacts } });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('a full mailbox refuses sends with MAILBOX_FULL (nothing stored) and counts them; once the recipient collects, sends go through', async () => {
    const cap = 5;
    const relay = await relayWith({ limits: { maxMailboxEnvelopes: cap } });
    const alice = new TestAccount();
    const bob = new TestAccount();
    await RelayClient.register(relay.url, alice.registerRequest());
    await RelayClient.register(relay.url, bob.registerRequest());
    const a = alice.client(relay.url);
    const content = (i: number) => new Uint8Array([i]);
    for (let i = 0; i < cap; i++) await a.send(bob.accountId, [{ deviceId: 1, content: content(i) }]);
    const refused = await a.send(bob.accountId, [{ deviceId: 1, content: content(99) }]).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'MAILBOX_FULL', details: { status: 507 } });
    expect((refused as { details: { retryAfterMs?: number } }).details.retryAfterMs).toBeGreaterThan(0);
    const metrics = await scrapeMetrics(relay.url);
    expect(metrics).toMatch(/^parley_relay_mailbox_full_total 1$/m);

    const token = await bob.client(relay.url).sessionToken();
    const socket = await TestSocket.authed(relay.url, token);
    sockets.push(socket);
    const seqs: number[] = [];
    for (let i = 0; i < cap; i++) seqs.push((await socket.next((f) => f.type === 'envelope')).seq as number);
    await socket.next((f) => f.type === 'backlog-end');
    socket.send({ type: 'ack', id: 'a1', seqs });
    await socket.next((f) => f.type === 'acked');
    await a.send(bob.accountId, [{ deviceId: 1, content: content(100) }]);
    expect(await socket.next((f) => f.type === 'envelope')).toMatchObject({ content: toBase64Url(content(100)) });
  });
});
