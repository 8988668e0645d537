/**
 * The relay's provisioning channel (issue 14, docs/protocol.md §20.8, ADR 0024) over real HTTP on a
 * real relay: a new device creates a channel without an account, one device of an account joins
 * it, and a full device link (shared/protocol/linking.ts, both sides' real state machines) runs
 * through it with every frame arriving byte for byte as sent. Then what a user or an attacker can
 * observe: one join per channel (one CPace guess), the per-account attempt limit, expiry (the
 * relay's clock moved past the lifetime) and the sweep, a third party that can neither join nor
 * read nor write, a full account, bad tokens and bodies — each a typed error that changes nothing.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url, utf8 } from '../../../shared/crypto/bytes.js';
import { systemRng } from '../../../shared/crypto/random.js';
import {
  createLinkOffer,
  openProvisioning,
  parseLinkCode,
  parseLinkOfferText,
  receiveAccount,
  receiveConfirm,
  receiveHello,
  receiveReply,
  sealProvisioning,
  startPrimaryLink,
} from '../../../shared/protocol/linking.js';
import { ManualClock } from '../../../shared/testing/deterministic-rng.js';
import { MAX_PROVISIONING_MESSAGE_BYTES, MAX_PROVISIONING_MESSAGES } from '../../../shared/wire/provisioning.js';
import type { RelayClient } from '../../../electron/engine/relay/client.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { http, type HttpReply } from './helpers/http.js';
import { scrapeMetrics, spawnRelay, startTestRelay, tempDir, type TestRelay } from './helpers/relay.js';

const TTL_MS = 5 * 60_000;
const clock = new ManualClock(Date.now());
let relay: TestRelay;
let relayId: Uint8Array;
const open: RelayClient[] = [];

beforeAll(async () => {
  relay = await startTestRelay({ clock: clock.now, limits: { linkAttemptsPerAccount: { points: 3, duration: 3600 }, provisioningChannelTtlMs: TTL_MS } });
  relayId = fromBase64Url(((await http(relay.url, 'GET', '/.well-known/parley')).body as { relayId: string }).relayId);
});
afterAll(async () => {
  for (const c of open) c.close();
  await relay.stop();
});
// One test moves the clock past the lifetime; every test starts from the real time again.
beforeEach(() => clock.set(Date.now()));

const code = (r: HttpReply): string | undefined => (r.body as { error?: { code: string } } | undefined)?.error?.code;

/** The new device's side: create, post, read — with its channel token, no account. */
async function newDevice(localAddress?: string) {
  const created = await http(relay.url, 'POST', '/v1/provisioning/channels', { body: {}, ...(localAddress && { localAddress }) });
  expect(created.status).toBe(201);
  const c = created.body as { channelId: string; rendezvous: string; token: string; expiresAt: number };
  const auth = (token = c.token) => ({ authorization: `Channel ${token}` });
  return {
    ...c,
    channelIdBytes: fromBase64Url(c.channelId),
    post: (body: Uint8Array, token?: string) => raw('POST', `/v1/provisioning/channels/${c.channelId}/messages`, auth(token), { body: toBase64Url(body) }),
    read: (after = 0, token?: string) => raw('GET', `/v1/provisioning/channels/${c.channelId}/messages/${after}`, auth(token)),
  };
}

/** A request with an arbitrary Authorization header (or none). */
function raw(method: string, path: string, headers: { authorization?: string }, body?: unknown): Promise<HttpReply> {
  return http(relay.url, method, path, { ...(headers.authorization !== undefined && { authorization: headers.authorization }), ...(body !== undefined && { body }) });
}

/** A registered account's device, and the provisioning routes as it calls them. */
async function primary(deviceIds: number[] = [1]) {
  const account = new TestAccount(undefined, deviceIds);
  const clients = await registerAccount(relay.url, account);
  const client = clients.get(deviceIds[0]!)!;
  for (const c of clients.values()) open.push(c);
  const token = () => client.sessionToken();
  return {
    account,
    join: async (target: { channelId: string } | { rendezvous: string }) => http(relay.url, 'POST', '/v1/provisioning/join', { token: await token(), body: target }),
    post: async (channelId: string, body: Uint8Array) => http(relay.url, 'POST', `/v1/provisioning/channels/${channelId}/messages`, { token: await token(), body: { body: toBase64Url(body) } }),
    read: async (channelId: string, after = 0) => http(relay.url, 'GET', `/v1/provisioning/channels/${channelId}/messages/${after}`, { token: await token() }),
  };
}

const bodies = (r: HttpReply): { seq: number; body: Uint8Array }[] =>
  (r.body as { messages: { seq: number; body: string }[] }).messages.map((m) => ({ seq: m.seq, body: fromBase64Url(m.body) }));

describe('provisioning channel: a device link through the relay', () => {
  it.each(['offer', 'code'] as const)('by %s: every frame passes through unchanged and the new device ends on the signed list', async (method) => {
    const n = await newDevice();
    expect(n.rendezvous).toMatch(/^[0-9]{6}$/);
    expect(n.expiresAt).toBe(clock.now() + TTL_MS);
    const p = await primary();
    const link = createLinkOffer({ relayId, channelId: n.channelIdBytes, rendezvous: n.rendezvous }, { rng: systemRng });

    // The primary joins by what it was given: the offer's channel id, or the code's rendezvous.
    const joined = method === 'offer' ? await p.join({ channelId: toBase64Url(parseLinkOfferText(link.offerText).channelId) }) : await p.join({ rendezvous: parseLinkCode(link.code).rendezvous });
    expect(joined.status).toBe(200);
    expect(joined.body).toEqual({ channelId: n.channelId, expiresAt: n.expiresAt });
    const target = method === 'offer'
      ? { method, offer: parseLinkOfferText(link.offerText) }
      : { method, code: parseLinkCode(link.code), channelId: fromBase64Url((joined.body as { channelId: string }).channelId) };
    const start = startPrimaryLink({ relayId, target, account: { accountId: p.account.accountId, accountPublicKey: p.account.accountKey.publicKey } }, { rng: systemRng });

    // Hello: primary → relay → new device, byte for byte.
    expect((await p.post(n.channelId, start.hello)).status).toBe(201);
    const inboxN = await n.read();
    expect((inboxN.body as { joined: boolean }).joined).toBe(true);
    expect(bodies(inboxN)).toEqual([{ seq: 1, body: start.hello }]);
    const device = p.account.addDevice(2);
    const deviceKeys = { identityDhKey: device.dh.publicKey, identitySigningKey: device.signing.publicKey, capabilities: 1 };
    const h = receiveHello(link.state, bodies(inboxN)[0]!.body, deviceKeys, { rng: systemRng });

    expect((await n.post(h.reply)).body).toEqual({ seq: 2 });
    const inboxP = await p.read(n.channelId);
    expect(bodies(inboxP)).toEqual([{ seq: 2, body: h.reply }]);
    const r = receiveReply(start.state, bodies(inboxP)[0]!.body);
    expect(r.device).toEqual(deviceKeys);

    await p.post(n.channelId, r.account);
    const account = bodies(await n.read(1));
    expect(account).toEqual([{ seq: 3, body: r.account }]);
    const a = receiveAccount(h.state, account[0]!.body);

    await n.post(a.confirm);
    const confirm = bodies(await p.read(n.channelId, 2));
    expect(confirm).toEqual([{ seq: 4, body: a.confirm }]);
    const c = receiveConfirm(r.state, confirm[0]!.body);

    // Only now the primary signs the list with the new device, and provisions it.
    p.account.version += 1;
    const signedDeviceList = p.account.signedList();
    const accountState = utf8('contacts, settings, conversations');
    const provision = sealProvisioning(c.state, { deviceId: 2, signedDeviceList, accountState });
    await p.post(n.channelId, provision);
    const last = bodies(await n.read(3));
    expect(last).toEqual([{ seq: 5, body: provision }]);
    const result = openProvisioning(a.state, last[0]!.body);
    expect(result.deviceId).toBe(2);
    expect(result.accountState).toEqual(accountState);

    // Each side reads only the other side's messages.
    expect(bodies(await n.read()).map((m) => m.seq)).toEqual([1, 3, 5]);
    expect(bodies(await p.read(n.channelId)).map((m) => m.seq)).toEqual([2, 4]);
  });

  it('a wrong short code moves nothing: the primary sees the PAKE fail (LINK_AUTH_FAILED), and the channel takes no second guess', async () => {
    const n = await newDevice();
    const p = await primary();
    const link = createLinkOffer({ relayId, channelId: n.channelIdBytes, rendezvous: n.rendezvous }, { rng: systemRng });
    const typed = parseLinkCode(link.code);
    const wrong = { rendezvous: typed.rendezvous, digits: String((Number(typed.digits) + 1) % 1e8).padStart(8, '0') };
    await p.join({ rendezvous: typed.rendezvous });
    const start = startPrimaryLink({ relayId, target: { method: 'code', code: wrong, channelId: n.channelIdBytes }, account: { accountId: p.account.accountId, accountPublicKey: p.account.accountKey.publicKey } }, { rng: systemRng });
    await p.post(n.channelId, start.hello);
    const h = receiveHello(link.state, bodies(await n.read())[0]!.body, { identityDhKey: new Uint8Array(32).fill(9), identitySigningKey: p.account.accountKey.publicKey, capabilities: 0 }, { rng: systemRng });
    await n.post(h.reply);
    const replies = bodies(await p.read(n.channelId));
    let failed: unknown;
    try {
      receiveReply(start.state, replies[0]!.body);
    } catch (e) {
      failed = e;
    }
    expect((failed as { code?: string }).code).toBe('LINK_AUTH_FAILED');
    // A second join of the same channel, by the same account or any other: CHANNEL_FULL.
    expect(code(await p.join({ channelId: n.channelId }))).toBe('CHANNEL_FULL');
    expect(code(await (await primary()).join({ rendezvous: typed.rendezvous }))).toBe('CHANNEL_FULL');
  });
});

describe('provisioning channel: limits and typed errors', () => {
  it('an account that joins more channels than its attempt limit gets LINK_ATTEMPTS_EXCEEDED, even for channels that do not exist', async () => {
    const p = await primary();
    // Failed attempts count too: guessing rendezvous numbers spends the same budget.
    expect(code(await p.join({ rendezvous: '000000' }))).toMatch(/NOT_FOUND/);
    const a = await newDevice();
    expect((await p.join({ channelId: a.channelId })).status).toBe(200);
    const b = await newDevice();
    expect((await p.join({ channelId: b.channelId })).status).toBe(200);
    const c = await newDevice();
    const refused = await p.join({ channelId: c.channelId });
    expect(refused.status).toBe(429);
    expect(code(refused)).toBe('LINK_ATTEMPTS_EXCEEDED');
    expect((refused.body as { error: { retryAfterMs: number } }).error.retryAfterMs).toBeGreaterThan(0);
    // The refused join took nothing: another account still joins channel c.
    expect((await (await primary()).join({ channelId: c.channelId })).status).toBe(200);
    expect(await scrapeMetrics(relay.url)).toMatch(/parley_relay_provisioning_total\{kind="join_attempts_exceeded"\} [1-9]/);
  });

  it('after its lifetime a channel refuses joins, posts and reads with CHANNEL_EXPIRED, its rendezvous finds nothing, and the sweep deletes it', async () => {
    const n = await newDevice();
    const p = await primary();
    expect((await p.join({ channelId: n.channelId })).status).toBe(200);
    await p.post(n.channelId, utf8('hello'));
    const fresh = await newDevice();
    // Registered (and authenticated) before the clock moves: its client signs with the real time.
    const other = await primary();
    await other.read(fresh.channelId).catch(() => undefined);
    clock.advance(TTL_MS);
    expect(code(await n.post(utf8('late')))).toBe('CHANNEL_EXPIRED');
    expect(code(await n.read())).toBe('CHANNEL_EXPIRED');
    expect(code(await p.read(n.channelId))).toBe('CHANNEL_EXPIRED');
    expect(code(await p.post(n.channelId, utf8('late')))).toBe('CHANNEL_EXPIRED');
    expect(code(await other.join({ channelId: fresh.channelId }))).toBe('CHANNEL_EXPIRED');
    expect(code(await other.join({ rendezvous: fresh.rendezvous }))).toBe('NOT_FOUND');
    // The sweep deletes the messages at once and forgets the channel an hour later.
    const swept = await relay.sweep();
    expect(swept.provisioning.messages).toBeGreaterThanOrEqual(1);
    expect(code(await n.read())).toBe('CHANNEL_EXPIRED');
    clock.advance(3600_000);
    const forgotten = await relay.sweep();
    expect(forgotten.provisioning.channels).toBeGreaterThanOrEqual(2);
    expect(code(await n.read())).toBe('NOT_FOUND');
    expect(await scrapeMetrics(relay.url)).toMatch(/parley_relay_provisioning_total\{kind="swept"\} [1-9]/);
  });

  it('a third party can neither join a joined channel, nor read or write it with its own session or a wrong token', async () => {
    const n = await newDevice();
    const p = await primary();
    await p.join({ channelId: n.channelId });
    await p.post(n.channelId, utf8('for the new device only'));
    const mallory = await primary();
    expect(code(await mallory.join({ channelId: n.channelId }))).toBe('CHANNEL_FULL');
    expect(code(await mallory.read(n.channelId))).toBe('FORBIDDEN');
    expect(code(await mallory.post(n.channelId, utf8('forged')))).toBe('FORBIDDEN');
    // Another device of the joined account is a third party too.
    const sibling = await primary([1, 2]);
    expect(code(await sibling.read(n.channelId))).toBe('FORBIDDEN');
    // Another channel's token, a malformed one, none at all.
    const other = await newDevice();
    expect(code(await n.read(0, other.token))).toBe('UNAUTHORIZED');
    expect(code(await n.post(utf8('x'), other.token))).toBe('UNAUTHORIZED');
    expect(code(await n.read(0, 'not-a-token'))).toBe('UNAUTHORIZED');
    expect(code(await raw('GET', `/v1/provisioning/channels/${n.channelId}/messages/0`, {}))).toBe('UNAUTHORIZED');
    // None of it reached the channel: the new device sees exactly the primary's one message.
    expect(bodies(await n.read()).map((m) => new TextDecoder().decode(m.body))).toEqual(['for the new device only']);
    expect(bodies(await p.read(n.channelId))).toEqual([]);
  });

  it('the new device cannot post before anyone joined; a channel carries at most MAX_PROVISIONING_MESSAGES messages', async () => {
    const n = await newDevice();
    expect(code(await n.post(utf8('too early')))).toBe('FORBIDDEN');
    const p = await primary();
    await p.join({ rendezvous: n.rendezvous });
    for (let i = 0; i < MAX_PROVISIONING_MESSAGES; i++) expect((await (i % 2 ? n.post(utf8(`m${i}`)) : p.post(n.channelId, utf8(`m${i}`)))).status).toBe(201);
    expect(code(await n.post(utf8('one more')))).toBe('CHANNEL_FULL');
    expect(bodies(await n.read())).toHaveLength(MAX_PROVISIONING_MESSAGES / 2);
  });

  it('a link to an account that already has six devices is refused at the join with TOO_MANY_DEVICES', async () => {
    const n = await newDevice();
    const full = await primary([1, 2, 3, 4, 5, 6]);
    expect(code(await full.join({ channelId: n.channelId }))).toBe('TOO_MANY_DEVICES');
    expect((await (await primary()).join({ channelId: n.channelId })).status).toBe(200);
  });

  it('bad input is a typed error: unknown channel, bad ids and sequence numbers, oversized or empty bodies, extra fields', async () => {
    const n = await newDevice();
    const p = await primary();
    expect(code(await p.join({ channelId: toBase64Url(new Uint8Array(16).fill(7)) }))).toBe('NOT_FOUND');
    expect(code(await p.join({ channelId: 'short' }))).toBe('MALFORMED');
    expect(code(await p.join({ rendezvous: '12345' }))).toBe('MALFORMED');
    expect(code(await http(relay.url, 'POST', '/v1/provisioning/join', { token: await p.account.client(relay.url, 1).sessionToken(), body: { channelId: n.channelId, rendezvous: n.rendezvous } }))).toBe('MALFORMED');
    expect(code(await http(relay.url, 'POST', '/v1/provisioning/join', { body: { channelId: n.channelId } }))).toBe('UNAUTHORIZED');
    expect(code(await http(relay.url, 'POST', '/v1/provisioning/channels', { body: { extra: 1 } }))).toBe('MALFORMED');
    await p.join({ channelId: n.channelId });
    expect(code(await n.read(17))).toBe('MALFORMED');
    expect(code(await n.read(-1 as number))).toBe('MALFORMED');
    expect(code(await raw('GET', `/v1/provisioning/channels/${n.channelId}/messages/01`, { authorization: `Channel ${n.token}` }))).toBe('MALFORMED');
    expect(code(await raw('GET', `/v1/provisioning/channels/abc/messages/0`, { authorization: `Channel ${n.token}` }))).toBe('MALFORMED');
    expect(code(await n.post(new Uint8Array(0)))).toBe('MALFORMED');
    const big = await n.post(new Uint8Array(MAX_PROVISIONING_MESSAGE_BYTES + 1));
    expect(['MALFORMED', 'PAYLOAD_TOO_LARGE']).toContain(code(big));
    // The largest message passes, unchanged.
    const largest = Uint8Array.from({ length: MAX_PROVISIONING_MESSAGE_BYTES }, (_, i) => i % 251);
    expect((await n.post(largest)).status).toBe(201);
    expect(bodies(await p.read(n.channelId))).toEqual([{ seq: 1, body: largest }]);
  });

  it('channel creation without an account is limited per address', async () => {
    const limited = await startTestRelay({ limits: { provisioningChannelsPerIp: { points: 2, duration: 3600 } } });
    try {
      const create = () => http(limited.url, 'POST', '/v1/provisioning/channels', { body: {} });
      expect((await create()).status).toBe(201);
      expect((await create()).status).toBe(201);
      const refused = await create();
      expect(code(refused)).toBe('RATE_LIMITED');
      const from2 = await http(limited.url, 'POST', '/v1/provisioning/channels', { body: {}, localAddress: '127.0.0.2' });
      expect(from2.status).toBe(201);
    } finally {
      await limited.stop();
    }
  });
});

describe('provisioning channel: the relay binary', () => {
  it('PARLEY_RELAY_LIMITS sets the lifetime: a channel of the spawned relay expires in real time and then refuses its token', async () => {
    const dataDir = tempDir();
    const proc = await spawnRelay({ dataDir, limits: { provisioningChannelTtlMs: 1_500 } });
    try {
      const created = await http(proc.url, 'POST', '/v1/provisioning/channels', { body: {} });
      const c = created.body as { channelId: string; token: string; expiresAt: number };
      expect(created.status).toBe(201);
      expect(c.expiresAt - Date.now()).toBeLessThanOrEqual(1_500);
      const read = () => http(proc.url, 'GET', `/v1/provisioning/channels/${c.channelId}/messages/0`, { authorization: `Channel ${c.token}` });
      expect((await read()).body).toEqual({ messages: [], joined: false, expiresAt: c.expiresAt });
      await new Promise((r) => setTimeout(r, Math.max(0, c.expiresAt - Date.now()) + 50));
      expect(code(await read())).toBe('CHANNEL_EXPIRED');
    } finally {
      await proc.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
