/**
 * Relay authentication (DESIGN §5, issue 3): challenge → Ed25519 signature by the device identity
 * key → short-lived session token for REST and WebSocket. Replayed, forged, stale, cross-device and
 * cross-relay signatures fail with the same UNAUTHORIZED; tokens are stored only hashed and expire;
 * the WebSocket authenticates by its first frame (never the URL); a device holds at most 5 live
 * connections.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from '../../../shared/crypto/bytes.js';
import { ed25519Sign } from '../../../shared/crypto/ed25519.js';
import { ManualClock } from '../../../shared/testing/deterministic-rng.js';
import { relayAuthSignatureInput } from '../../../shared/wire/auth.js';
import { CloseCode } from '../../../shared/wire/frames.js';
import { ErrorBodySchema, ErrorFrameSchema } from '../../../shared/wire/errors.js';
import { ChallengeResponseSchema, SessionResponseSchema } from '../../../shared/wire/rest.js';
import { MAX_CONNECTIONS_PER_DEVICE, SESSION_TOKEN_TTL_MS } from '../../../shared/wire/limits.js';
import { registerAccount, TestAccount, type TestDevice } from './helpers/accounts.js';
import { http } from './helpers/http.js';
import { startTestRelay, tempDir, type TestRelay } from './helpers/relay.js';
import { TestSocket } from './helpers/socket.js';

let relay: TestRelay;
beforeAll(async () => {
  relay = await startTestRelay();
});
afterAll(async () => {
  await relay.stop();
});

async function challenge(base: string, account: TestAccount, deviceId: number) {
  const r = await http(base, 'POST', '/v1/auth/challenge', { body: { accountId: toBase64Url(account.accountId), deviceId } });
  expect(r.status).toBe(200);
  return ChallengeResponseSchema.parse(r.body);
}

function sessionBody(
  account: TestAccount,
  device: TestDevice,
  c: { nonce: Uint8Array; relayId: Uint8Array },
  overrides: { time?: number; key?: Uint8Array; relayId?: Uint8Array; deviceId?: number } = {},
) {
  const time = overrides.time ?? Date.now();
  const deviceId = overrides.deviceId ?? device.deviceId;
  const input = relayAuthSignatureInput(overrides.relayId ?? c.relayId, c.nonce, time, account.accountId, deviceId);
  return {
    accountId: toBase64Url(account.accountId),
    deviceId,
    nonce: toBase64Url(c.nonce),
    time,
    signature: toBase64Url(ed25519Sign(overrides.key ?? device.signing.privateKey, input)),
  };
}

async function expectUnauthorized(base: string, body: unknown): Promise<void> {
  const r = await http(base, 'POST', '/v1/auth/session', { body });
  expect(r.status).toBe(401);
  expect(ErrorBodySchema.parse(r.body).error.code).toBe('UNAUTHORIZED');
}

describe('challenge and session', () => {
  it('a correctly signed challenge yields a token accepted by REST and by the WebSocket auth frame', async () => {
    const alice = new TestAccount();
    await registerAccount(relay.url, alice);
    const c = await challenge(relay.url, alice, 1);
    expect(c.relayId).toEqual(relay.identity.relayId);
    const r = await http(relay.url, 'POST', '/v1/auth/session', { body: sessionBody(alice, alice.devices[0]!, c) });
    expect(r.status).toBe(200);
    const { token, expiresAt } = SessionResponseSchema.parse(r.body);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(SESSION_TOKEN_TTL_MS);
    expect(expiresAt - Date.now()).toBeGreaterThan(SESSION_TOKEN_TTL_MS - 60_000);
    expect((await http(relay.url, 'GET', '/v1/prekeys/me/count', { token })).status).toBe(200);
    const socket = await TestSocket.authed(relay.url, token);
    socket.close();
  });

  it('a replayed challenge response fails, even though it was valid the first time', async () => {
    const alice = new TestAccount();
    await registerAccount(relay.url, alice);
    const body = sessionBody(alice, alice.devices[0]!, await challenge(relay.url, alice, 1));
    expect((await http(relay.url, 'POST', '/v1/auth/session', { body })).status).toBe(200);
    await expectUnauthorized(relay.url, body);
  });

  it('a forged signature fails and burns the nonce: the genuine signature cannot use it afterwards', async () => {
    const alice = new TestAccount();
    const mallory = new TestAccount();
    await registerAccount(relay.url, alice);
    const c = await challenge(relay.url, alice, 1);
    await expectUnauthorized(relay.url, sessionBody(alice, alice.devices[0]!, c, { key: mallory.devices[0]!.signing.privateKey }));
    await expectUnauthorized(relay.url, sessionBody(alice, alice.devices[0]!, c));
  });

  it('a signature made for another relay id fails', async () => {
    const alice = new TestAccount();
    await registerAccount(relay.url, alice);
    const c = await challenge(relay.url, alice, 1);
    await expectUnauthorized(relay.url, sessionBody(alice, alice.devices[0]!, c, { relayId: new Uint8Array(16) }));
  });

  it('a signed time more than 60 s off the relay clock fails (either direction)', async () => {
    const alice = new TestAccount();
    await registerAccount(relay.url, alice);
    for (const skew of [-61_000, 61_000]) {
      const c = await challenge(relay.url, alice, 1);
      await expectUnauthorized(relay.url, sessionBody(alice, alice.devices[0]!, c, { time: Date.now() + skew }));
    }
    const c = await challenge(relay.url, alice, 1);
    expect((await http(relay.url, 'POST', '/v1/auth/session', { body: sessionBody(alice, alice.devices[0]!, c, { time: Date.now() - 30_000 }) })).status).toBe(200);
  });

  it('a challenge issued for one device cannot authenticate another device of the account', async () => {
    const alice = new TestAccount(undefined, [1, 2]);
    await registerAccount(relay.url, alice);
    const c = await challenge(relay.url, alice, 1);
    await expectUnauthorized(relay.url, sessionBody(alice, alice.device(2), c, { deviceId: 2 }));
  });

  it('an unknown account gets a challenge (nothing leaks) but never a session', async () => {
    const ghost = new TestAccount();
    const c = await challenge(relay.url, ghost, 1);
    await expectUnauthorized(relay.url, sessionBody(ghost, ghost.devices[0]!, c));
  });

  it('an expired challenge and an expired token are refused', async () => {
    const clock = new ManualClock(Date.now());
    const timed = await startTestRelay({ clock: clock.now });
    try {
      const alice = new TestAccount();
      await registerAccount(timed.url, alice);
      const c = await challenge(timed.url, alice, 1);
      clock.advance(61_000);
      await expectUnauthorized(timed.url, sessionBody(alice, alice.devices[0]!, c, { time: clock.now() }));
      const c2 = await challenge(timed.url, alice, 1);
      const r = await http(timed.url, 'POST', '/v1/auth/session', { body: sessionBody(alice, alice.devices[0]!, c2, { time: clock.now() }) });
      const { token } = SessionResponseSchema.parse(r.body);
      expect((await http(timed.url, 'GET', '/v1/prekeys/me/count', { token })).status).toBe(200);
      clock.advance(SESSION_TOKEN_TTL_MS);
      expect((await http(timed.url, 'GET', '/v1/prekeys/me/count', { token })).status).toBe(401);
      const socket = await TestSocket.open(timed.url);
      socket.send({ type: 'auth', token });
      expect((await socket.next()).code).toBe('UNAUTHORIZED');
      expect((await socket.closed).code).toBe(CloseCode.Unauthorized);
    } finally {
      await timed.stop();
    }
  });

  it('session tokens are stored only as hashes: the secret appears nowhere in the database files', async () => {
    const dataDir = tempDir();
    const own = await startTestRelay({ dataDir });
    const alice = new TestAccount();
    await registerAccount(own.url, alice);
    const c = await challenge(own.url, alice, 1);
    const { token } = SessionResponseSchema.parse((await http(own.url, 'POST', '/v1/auth/session', { body: sessionBody(alice, alice.devices[0]!, c) })).body);
    await own.stop();
    const raw = fromBase64Url(token);
    const secret = Buffer.from(raw.subarray(16));
    const tokenId = Buffer.from(raw.subarray(0, 16));
    // Every file the relay wrote (the attachments folder of server/blobs is empty here).
    const files = readdirSync(dataDir, { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => readFileSync(path.join(dataDir, entry.name)));
    expect(files.some((bytes) => bytes.includes(tokenId))).toBe(true); // the lookup id is stored…
    expect(files.some((bytes) => bytes.includes(secret))).toBe(false); // …the secret is not
  });
});

describe('WebSocket authentication', () => {
  async function token(account: TestAccount, deviceId = 1): Promise<string> {
    return account.client(relay.url, deviceId).sessionToken();
  }

  it('a token in the URL is ignored: the first frame must be `auth`', async () => {
    const alice = new TestAccount();
    await registerAccount(relay.url, alice);
    const t = await token(alice);
    const socket = await TestSocket.open(`${relay.url}/v1/ws?token=${t}`);
    socket.send({ type: 'ping', id: 'p1' });
    const error = ErrorFrameSchema.parse(await socket.next());
    expect(error.code).toBe('UNAUTHORIZED');
    expect((await socket.closed).code).toBe(CloseCode.Unauthorized);
  });

  it('a garbage token closes the socket with UNAUTHORIZED (4401)', async () => {
    const socket = await TestSocket.open(relay.url);
    socket.send({ type: 'auth', token: toBase64Url(new Uint8Array(48)) });
    expect(ErrorFrameSchema.parse(await socket.next()).code).toBe('UNAUTHORIZED');
    expect((await socket.closed).code).toBe(CloseCode.Unauthorized);
  });

  it('a socket that never authenticates is closed after the auth timeout (4408)', async () => {
    const quick = await startTestRelay({ limits: { authTimeoutMs: 200 } });
    try {
      const socket = await TestSocket.open(quick.url);
      expect(ErrorFrameSchema.parse(await socket.next()).code).toBe('UNAUTHORIZED');
      expect((await socket.closed).code).toBe(CloseCode.AuthTimeout);
    } finally {
      await quick.stop();
    }
  });

  it(`a device holds at most ${MAX_CONNECTIONS_PER_DEVICE} live connections; a closed one frees a slot`, async () => {
    const alice = new TestAccount();
    await registerAccount(relay.url, alice);
    const t = await token(alice);
    const sockets: TestSocket[] = [];
    for (let i = 0; i < MAX_CONNECTIONS_PER_DEVICE; i++) sockets.push(await TestSocket.authed(relay.url, t));
    const extra = await TestSocket.open(relay.url);
    extra.send({ type: 'auth', token: t });
    const error = ErrorFrameSchema.parse(await extra.next());
    expect(error.code).toBe('TOO_MANY_CONNECTIONS');
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect((await extra.closed).code).toBe(CloseCode.TooManyConnections);
    sockets[0]!.close();
    await sockets[0]!.closed;
    const again = await TestSocket.authed(relay.url, t);
    again.close();
    for (const s of sockets) s.close();
  });
});
