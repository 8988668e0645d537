/**
 * Account deletion and device unregistration (issue 3): deleting an account needs a statement signed
 * by the account key (a linked device's key is not enough); it removes the account's devices,
 * mailboxes, prekeys, sessions and contacts, closes its sockets, and holds its username for 30 days.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { toBase64Url } from '../../../shared/crypto/bytes.js';
import { ed25519Sign } from '../../../shared/crypto/ed25519.js';
import { ManualClock } from '../../../shared/testing/deterministic-rng.js';
import { accountDeletionSignatureInput } from '../../../shared/wire/auth.js';
import { USERNAME_HOLD_MS } from '../../../shared/wire/limits.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { http } from './helpers/http.js';
import { text } from './helpers/inbox.js';
import { startTestRelay, type TestRelay } from './helpers/relay.js';

const clock = new ManualClock(Date.now());
let relay: TestRelay;
const open: RelayClient[] = [];
beforeAll(async () => {
  relay = await startTestRelay({ clock: clock.now });
});
afterAll(async () => {
  for (const c of open) c.close();
  await relay.stop();
});
// One test moves the relay's clock 30 days ahead; every test starts from the real time again.
beforeEach(() => clock.set(Date.now()));

async function setup(deviceIds = [1, 2]) {
  const account = new TestAccount(undefined, deviceIds);
  await registerAccount(relay.url, account, { oneTime: 5 });
  const clients = new Map(deviceIds.map((d) => [d, account.client(relay.url, d, { clock: clock.now })] as const));
  for (const c of clients.values()) open.push(c);
  return { account, clients };
}

describe('account deletion', () => {
  it('needs the account key: a device key signature is BAD_SIGNATURE, a stale statement UNAUTHORIZED', async () => {
    const { account, clients } = await setup();
    const client = clients.get(2)!;
    await expect(
      client.deleteAccount((input) => ed25519Sign(account.device(2).signing.privateKey, input)),
    ).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
    const token = await client.sessionToken();
    const time = clock.now() - 120_000;
    const r = await http(relay.url, 'DELETE', '/v1/accounts/me', {
      token,
      body: { time, signature: toBase64Url(account.signDeletion(relay.identity.relayId, time)) },
    });
    expect(r.status).toBe(401);
    // A statement for another relay does not verify here.
    const now = clock.now();
    const other = ed25519Sign(account.accountKey.privateKey, accountDeletionSignatureInput(new Uint8Array(16), account.accountId, now));
    const r2 = await http(relay.url, 'DELETE', '/v1/accounts/me', { token, body: { time: now, signature: toBase64Url(other) } });
    expect(r2.status).toBe(400);
    expect((await client.lookupAccount(account.accountId)).accountId).toEqual(account.accountId);
  });

  it('removes devices, mailboxes, prekeys and sessions, and closes every socket of the account', async () => {
    const { account, clients } = await setup();
    const peer = new TestAccount();
    await registerAccount(relay.url, peer);
    const p = peer.client(relay.url, 1, { clock: clock.now });
    open.push(p);
    await p.send(account.accountId, [1, 2].map((deviceId) => ({ deviceId, content: text('soon gone') })));
    const depthBefore = await relay.store.countEnvelopes();
    const second = clients.get(2)!;
    const gone = new Promise<void>((resolve) => second.on('gone', resolve));
    await second.connect();
    const secondToken = await second.sessionToken();
    await clients.get(1)!.deleteAccount((input) => ed25519Sign(account.accountKey.privateKey, input));
    await gone;
    expect(await relay.store.countEnvelopes()).toBe(depthBefore - 2);
    expect((await http(relay.url, 'GET', '/v1/prekeys/me/count', { token: secondToken })).status).toBe(401);
    await expect(p.lookupAccount(account.accountId)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(p.lookupUsername(account.username)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(p.fetchBundles(account.accountId)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(p.send(account.accountId, [{ deviceId: 1, content: text('x') }])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await relay.store.listDevices(account.accountId)).toEqual([]);
  });

  it('holds the username for 30 days and never gives the account id out again', async () => {
    const { account, clients } = await setup([1]);
    await clients.get(1)!.deleteAccount((input) => ed25519Sign(account.accountKey.privateKey, input));
    const claimant = new TestAccount(account.username.toUpperCase());
    await expect(RelayClient.register(relay.url, claimant.registerRequest({ createdAt: clock.now() }))).rejects.toMatchObject({
      code: 'USERNAME_TAKEN',
    });
    clock.advance(USERNAME_HOLD_MS - 1000);
    await expect(RelayClient.register(relay.url, claimant.registerRequest({ createdAt: clock.now() }))).rejects.toMatchObject({
      code: 'USERNAME_TAKEN',
    });
    clock.advance(1000);
    await expect(RelayClient.register(relay.url, claimant.registerRequest({ createdAt: clock.now() }))).resolves.toMatchObject({
      username: account.username.toLowerCase(),
    });
    const reuse = account.registerRequest({ createdAt: clock.now() });
    reuse.username = `${account.username.slice(0, 24)}_again`;
    await expect(RelayClient.register(relay.url, reuse)).rejects.toMatchObject({ code: 'ACCOUNT_EXISTS' });
  });
});
