/**
 * Prekeys on the relay (DESIGN §3.3, issue 3): uploads of at most 100 one-time keys, every signature
 * checked against the device identity key; bundles for all current devices (or one) that pass the
 * initiator's own checks (verifyBundle); one-time X25519 and ML-KEM keys consumed atomically — under
 * concurrency no key is ever handed out twice — with the last-resort ML-KEM key as fallback;
 * remaining counts; fetches rate-limited per (requester, target).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64Url, toHex } from '../../../shared/crypto/bytes.js';
import { parseDeviceList } from '../../../shared/protocol/device-list.js';
import { verifyBundle } from '../../../shared/protocol/prekeys.js';
import { ErrorBodySchema } from '../../../shared/wire/errors.js';
import type { Bundle } from '../../../shared/wire/rest.js';
import type { RelayClient } from '../../../electron/engine/relay/client.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { http } from './helpers/http.js';
import { failure } from './helpers/inbox.js';
import { startTestRelay, type TestRelay } from './helpers/relay.js';

let relay: TestRelay;
const open: RelayClient[] = [];
beforeAll(async () => {
  relay = await startTestRelay({ limits: { bundlesPerPair: { points: 1_000, duration: 1 } } });
});
afterAll(async () => {
  for (const c of open) c.close();
  await relay.stop();
});

async function account(deviceIds = [1], options: { oneTime?: number; kemOneTime?: number } = {}, url = relay.url) {
  const a = new TestAccount(undefined, deviceIds);
  const clients = await registerAccount(url, a, options);
  for (const c of clients.values()) open.push(c);
  return { account: a, clients, client: clients.get(deviceIds[0]!)! };
}

describe('upload', () => {
  it('reports counts after an upload and accepts up to 100 one-time keys per request', async () => {
    const { account: a, client } = await account();
    const d = a.devices[0]!;
    const counts = await client.uploadPrekeys({ oneTimePrekeys: d.oneTimePrekeys(60), kemOneTimePrekeys: [...Array(40)].map(() => d.kemPrekey(false)) });
    expect(counts).toMatchObject({ oneTimePrekeys: 60, kemOneTimePrekeys: 40 });
    expect(counts.signedPrekey).not.toBeNull();
    expect(counts.lastResortKemPrekey).not.toBeNull();
    await expect(client.uploadPrekeys({ oneTimePrekeys: d.oneTimePrekeys(101) })).rejects.toMatchObject({ code: 'MALFORMED' });
    await expect(
      client.uploadPrekeys({ oneTimePrekeys: d.oneTimePrekeys(51), kemOneTimePrekeys: [...Array(50)].map(() => d.kemPrekey(false)) }),
    ).rejects.toMatchObject({ code: 'MALFORMED' });
    expect(await client.prekeyCounts()).toMatchObject({ oneTimePrekeys: 60, kemOneTimePrekeys: 40 });
  });

  it('refuses prekeys signed by any key but the device identity key', async () => {
    const { client } = await account();
    const stranger = new TestAccount().devices[0]!;
    await expect(client.uploadPrekeys({ signedPrekey: stranger.signedPrekey() })).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
    await expect(client.uploadPrekeys({ kemOneTimePrekeys: [stranger.kemPrekey(false)] })).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
    await expect(client.uploadPrekeys({ lastResortKemPrekey: stranger.kemPrekey(true) })).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
  });

  it('a new signed prekey replaces the old one', async () => {
    const { account: a, client } = await account();
    const fresh = a.devices[0]!.signedPrekey(Date.now(), 777);
    await client.uploadPrekeys({ signedPrekey: fresh });
    const { client: other } = await account();
    const [bundle] = await other.fetchBundles(a.accountId);
    expect(bundle!.signedPrekey.keyId).toBe(777);
  });
});

describe('bundles', () => {
  it('serves every current device with a bundle that passes the initiator checks (verifyBundle)', async () => {
    const { account: target } = await account([1, 2, 3], { oneTime: 2, kemOneTime: 2 });
    const { client: requester } = await account();
    const bundles = await requester.fetchBundles(target.accountId);
    expect(bundles.map((b) => b.deviceId)).toEqual([1, 2, 3]);
    const { list } = parseDeviceList((await requester.lookupAccount(target.accountId)).deviceList);
    for (const b of bundles) {
      const entry = list.devices.find((e) => e.deviceId === b.deviceId)!;
      const verified = verifyBundle({ ...b, accountId: target.accountId }, entry, target.accountId, Date.now());
      expect(verified.mode).toBe('pqxdh');
      expect(b.oneTimePrekey).toBeDefined();
      expect(b.kemPrekey?.lastResort).toBe(false);
    }
    const one = await requester.fetchBundles(target.accountId, 2);
    expect(one.map((b) => b.deviceId)).toEqual([2]);
    await expect(requester.fetchBundles(target.accountId, 9)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(requester.fetchBundles(new TestAccount().accountId)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const token = await requester.sessionToken();
    for (const bad of ['0', '-1', 'abc', '4294967296', '01']) {
      const r = await http(relay.url, 'GET', `/v1/prekeys/${toBase64Url(target.accountId)}/${bad}`, { token });
      expect(r.status).toBe(400);
      expect(ErrorBodySchema.parse(r.body).error.code).toBe('MALFORMED');
    }
  });

  it('each fetch consumes one one-time key of each kind, then falls back to the last-resort ML-KEM key', async () => {
    const { account: target, client } = await account([1], { oneTime: 2, kemOneTime: 1 });
    const { client: requester } = await account();
    const got: Bundle[] = [];
    for (let i = 0; i < 4; i++) got.push(...(await requester.fetchBundles(target.accountId)));
    expect(got.map((b) => b.oneTimePrekey !== undefined)).toEqual([true, true, false, false]);
    expect(got.map((b) => b.kemPrekey?.lastResort)).toEqual([false, true, true, true]);
    expect(new Set(got.filter((b) => b.oneTimePrekey).map((b) => b.oneTimePrekey!.keyId)).size).toBe(2);
    expect(await client.prekeyCounts()).toMatchObject({ oneTimePrekeys: 0, kemOneTimePrekeys: 0 });
  });

  it('concurrent fetches never share a one-time key', async () => {
    const ONE_TIME = 40;
    const FETCHES = 72;
    const { account: target, client } = await account([1, 2]);
    for (const d of target.devices) {
      const c = d.deviceId === 1 ? client : target.client(relay.url, d.deviceId);
      await c.uploadPrekeys({ oneTimePrekeys: d.oneTimePrekeys(ONE_TIME), kemOneTimePrekeys: [...Array(ONE_TIME)].map(() => d.kemPrekey(false)) });
    }
    const requesters = await Promise.all([0, 1, 2, 3].map(() => account()));
    const results = await Promise.all(
      Array.from({ length: FETCHES }, (_, i) => requesters[i % requesters.length]!.client.fetchBundles(target.accountId)),
    );
    for (const deviceId of [1, 2]) {
      const bundles = results.map((r) => r.find((b) => b.deviceId === deviceId)!);
      const oneTime = bundles.filter((b) => b.oneTimePrekey).map((b) => toHex(b.oneTimePrekey!.publicKey));
      const kem = bundles.filter((b) => !b.kemPrekey!.lastResort).map((b) => b.kemPrekey!.keyId);
      expect(oneTime).toHaveLength(ONE_TIME);
      expect(new Set(oneTime).size).toBe(ONE_TIME);
      expect(kem).toHaveLength(ONE_TIME);
      expect(new Set(kem).size).toBe(ONE_TIME);
      expect(bundles.filter((b) => b.kemPrekey!.lastResort)).toHaveLength(FETCHES - ONE_TIME);
    }
  });

  it('fetches are rate-limited per (requester, target), not across them', async () => {
    const strict = await startTestRelay({ limits: { bundlesPerPair: { points: 3, duration: 300 } } });
    try {
      const { account: t1 } = await account([1], {}, strict.url);
      const { account: t2 } = await account([1], {}, strict.url);
      const { client: r1 } = await account([1], {}, strict.url);
      const { client: r2 } = await account([1], {}, strict.url);
      for (let i = 0; i < 3; i++) await r1.fetchBundles(t1.accountId);
      const e = await failure(r1.fetchBundles(t1.accountId));
      expect(e.code).toBe('RATE_LIMITED');
      expect(e.details.retryAfterMs).toBeGreaterThan(1000);
      await expect(r1.fetchBundles(t2.accountId)).resolves.toHaveLength(1);
      await expect(r2.fetchBundles(t1.accountId)).resolves.toHaveLength(1);
    } finally {
      await strict.stop();
    }
  });
});
