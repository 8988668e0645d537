/**
 * Registration and username rules (issue 3) against the real relay on 127.0.0.1:0: the username
 * rule (NFKC, lowercase, 3-32 of [a-z0-9_.]), uniqueness across case and compatibility forms,
 * account-id uniqueness, checks on the first device list and its prekeys, the per-IP registration
 * limit, and lookups by username and account id returning the key and signed list verbatim.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from '../../../shared/crypto/bytes.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { RelayClientError } from '../../../electron/engine/relay/errors.js';
import { normalizeUsername } from '../../../shared/wire/username.js';
import { registerAccount, TestAccount, uniqueUsername } from './helpers/accounts.js';
import { startTestRelay, type TestRelay } from './helpers/relay.js';

let relay: TestRelay;
beforeAll(async () => {
  relay = await startTestRelay();
});
afterAll(async () => {
  await relay.stop();
});

async function registerError(request: Parameters<typeof RelayClient.register>[1]): Promise<RelayClientError> {
  try {
    await RelayClient.register(relay.url, request);
  } catch (e) {
    if (e instanceof RelayClientError) return e;
    throw e;
  }
  throw new Error('registration unexpectedly succeeded');
}

describe('username rule', () => {
  it.each([
    ['Alice_01', 'alice_01'],
    ['ＡＬＩＣＥ', 'alice'],
    ['\u212Aate', 'kate'], // KELVIN SIGN folds to K under NFKC
    ['a.b', 'a.b'],
    ['x'.repeat(32), 'x'.repeat(32)],
  ])('normalises %j to %j', (raw, expected) => {
    expect(normalizeUsername(raw)).toBe(expected);
  });

  it.each(['ab', 'x'.repeat(33), 'al ice', 'alice!', 'ålice', 'алиса', '', 'a\u0000b', 'x'.repeat(200)])('rejects %j', (raw) => {
    expect(normalizeUsername(raw)).toBeNull();
  });

  it('registration refuses an invalid username with INVALID_USERNAME', async () => {
    const account = new TestAccount('no spaces allowed');
    const e = await registerError(account.registerRequest());
    expect(e.code).toBe('INVALID_USERNAME');
    expect(e.details.status).toBe(400);
  });

  it('a username differing only in case or compatibility form is taken', async () => {
    const base = uniqueUsername('taken');
    await registerAccount(relay.url, new TestAccount(base));
    for (const variant of [base.toUpperCase(), base.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0))]) {
      const e = await registerError(new TestAccount(variant).registerRequest());
      expect(e.code).toBe('USERNAME_TAKEN');
      expect(e.details.status).toBe(409);
    }
  });
});

describe('registration', () => {
  it('returns the canonical username and the first device id', async () => {
    const account = new TestAccount(uniqueUsername('Canon').toUpperCase(), [7]);
    const response = await RelayClient.register(relay.url, account.registerRequest());
    expect(response.username).toBe(account.username.toLowerCase());
    expect(response.deviceId).toBe(7);
    expect(response.accountId).toEqual(account.accountId);
  });

  it('refuses a second registration of the same account id with ACCOUNT_EXISTS', async () => {
    const account = new TestAccount();
    await RelayClient.register(relay.url, account.registerRequest());
    const again = account.registerRequest();
    again.username = uniqueUsername();
    expect((await registerError(again)).code).toBe('ACCOUNT_EXISTS');
  });

  it('refuses a device list not signed by the account key with BAD_SIGNATURE', async () => {
    const account = new TestAccount();
    const other = new TestAccount();
    const request = account.registerRequest();
    request.accountKey = toBase64Url(other.accountKey.publicKey);
    expect((await registerError(request)).code).toBe('BAD_SIGNATURE');
  });

  it('refuses a device list for another account id with MALFORMED', async () => {
    const account = new TestAccount();
    const request = account.registerRequest();
    request.accountId = toBase64Url(new TestAccount().accountId);
    expect((await registerError(request)).code).toBe('MALFORMED');
  });

  it('refuses a first device list naming two devices', async () => {
    const account = new TestAccount(uniqueUsername(), [1, 2]);
    const request = account.registerRequest();
    request.deviceList = toBase64Url(account.signedList());
    expect((await registerError(request)).code).toBe('MALFORMED');
  });

  it('refuses prekeys not signed by the registering device with BAD_SIGNATURE', async () => {
    const account = new TestAccount();
    const stranger = new TestAccount();
    const request = account.registerRequest();
    request.prekeys.signedPrekey = stranger.devices[0]!.signedPrekey();
    expect((await registerError(request)).code).toBe('BAD_SIGNATURE');
    const request2 = account.registerRequest();
    request2.prekeys.lastResortKemPrekey = stranger.devices[0]!.kemPrekey(true);
    expect((await registerError(request2)).code).toBe('BAD_SIGNATURE');
  });

  it('refuses a last-resort key flagged as one-time, and more than 100 one-time prekeys', async () => {
    const account = new TestAccount();
    const request = account.registerRequest();
    request.prekeys.lastResortKemPrekey = account.devices[0]!.kemPrekey(false);
    expect((await registerError(request)).code).toBe('MALFORMED');
    const tooMany = account.registerRequest({ oneTime: 101 });
    expect((await registerError(tooMany)).code).toBe('MALFORMED');
    const mixed = account.registerRequest({ oneTime: 60, kemOneTime: 41 });
    expect((await registerError(mixed)).code).toBe('MALFORMED');
  });

  it('refuses a small-order account key', async () => {
    const account = new TestAccount();
    const request = account.registerRequest();
    request.accountKey = toBase64Url(Uint8Array.of(1, ...new Uint8Array(31)));
    expect((await registerError(request)).code).toBe('MALFORMED');
  });

  it('is rate-limited per IP with a retry hint', async () => {
    const strict = await startTestRelay({ limits: { registrationPerIp: { points: 2, duration: 7200 } } });
    try {
      await RelayClient.register(strict.url, new TestAccount().registerRequest());
      await RelayClient.register(strict.url, new TestAccount().registerRequest());
      const res = await fetch(`${strict.url}/v1/accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(new TestAccount().registerRequest()),
      });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      const body = (await res.json()) as { error: { code: string; retryAfterMs: number } };
      expect(body.error.code).toBe('RATE_LIMITED');
      expect(body.error.retryAfterMs).toBeGreaterThan(1000);
    } finally {
      await strict.stop();
    }
  });
});

describe('lookups', () => {
  it('by username (any case) and by account id return the account key and the signed list verbatim', async () => {
    const alice = new TestAccount();
    const bob = new TestAccount();
    const request = alice.registerRequest();
    await RelayClient.register(relay.url, request);
    const bobClients = await registerAccount(relay.url, bob);
    const client = bobClients.get(1)!;
    const byName = await client.lookupUsername(alice.username.toUpperCase());
    const byId = await client.lookupAccount(alice.accountId);
    expect(byName).toEqual(byId);
    expect(byId.accountId).toEqual(alice.accountId);
    expect(byId.accountKey).toEqual(alice.accountKey.publicKey);
    expect(byId.deviceList).toEqual(fromBase64Url(request.deviceList));
  });

  it('an unknown account is NOT_FOUND and lookups need a session token', async () => {
    const bob = new TestAccount();
    const client = (await registerAccount(relay.url, bob)).get(1)!;
    await expect(client.lookupAccount(new TestAccount().accountId)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(client.lookupUsername(uniqueUsername('nobody'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const res = await fetch(`${relay.url}/v1/accounts/${toBase64Url(bob.accountId)}`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
  });
});
