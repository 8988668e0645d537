/**
 * Device lists on the relay (DESIGN §3.2, issue 3): stored verbatim as signed by the account key; a
 * replacement must verify, be for this account and have a higher version; at most 6 devices. A list
 * that drops a device deletes that device's mailbox and prekeys and closes its sockets; a device
 * that unregisters itself stays out until the list stops naming its key. The relay cannot add a
 * device on its own: every current device is on a list the account key signed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, fromBase64Url, toBase64Url } from '../../../shared/crypto/bytes.js';
import { ed25519Sign } from '../../../shared/crypto/ed25519.js';
import { Writer } from '../../../shared/protocol/codec.js';
import { label } from '../../../shared/protocol/constants.js';
import { KeyType } from '../../../shared/crypto/encoding.js';
import { MAX_DEVICES_PER_ACCOUNT } from '../../../shared/wire/limits.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { registerAccount, TestAccount, type TestDevice } from './helpers/accounts.js';
import { Inbox, text } from './helpers/inbox.js';
import { startTestRelay, type TestRelay } from './helpers/relay.js';

let relay: TestRelay;
const open: RelayClient[] = [];
beforeAll(async () => {
  relay = await startTestRelay();
});
afterAll(async () => {
  for (const c of open) c.close();
  await relay.stop();
});

async function setup(deviceIds: number[]) {
  const account = new TestAccount(undefined, deviceIds);
  const clients = await registerAccount(relay.url, account, { oneTime: 3 });
  for (const c of clients.values()) open.push(c);
  return { account, clients, primary: clients.get(deviceIds[0]!)! };
}

/** A list with any number of entries, encoded by hand (the protocol encoder refuses more than 6). */
function handEncodedList(account: TestAccount, version: number, devices: readonly TestDevice[]): Uint8Array {
  const w = new Writer().bytes(label('DeviceList')).bytes(account.accountId).u64(version).u64(Date.now()).u8(devices.length);
  for (const d of devices) w.u32(d.deviceId).key(KeyType.X25519, d.dh.publicKey).key(KeyType.Ed25519, d.signing.publicKey).u32(1).u64(d.addedAt);
  const body = w.finish();
  return concatBytes(body, ed25519Sign(account.accountKey.privateKey, body));
}

describe('device-list rules', () => {
  it('a higher version signed by the account key replaces the list; lookups return it verbatim', async () => {
    const { account, primary } = await setup([1]);
    account.addDevice(2);
    account.version = 5;
    const signed = account.signedList();
    expect(await primary.putDeviceList(signed)).toEqual({ version: 5, removedDeviceIds: [] });
    expect((await primary.lookupAccount(account.accountId)).deviceList).toEqual(signed);
    // The same bytes again are a harmless repeat.
    expect(await primary.putDeviceList(signed)).toEqual({ version: 5, removedDeviceIds: [] });
  });

  it('the same or a lower version is STALE_VERSION', async () => {
    const { account, primary } = await setup([1]);
    account.version = 3;
    await primary.putDeviceList(account.signedList());
    await expect(primary.putDeviceList(account.signedList(3, account.devices, Date.now() + 1))).rejects.toMatchObject({ code: 'STALE_VERSION' });
    await expect(primary.putDeviceList(account.signedList(2))).rejects.toMatchObject({ code: 'STALE_VERSION' });
  });

  it('a list not signed by the account key is BAD_SIGNATURE, one for another account MALFORMED', async () => {
    const { account, primary } = await setup([1]);
    const other = new TestAccount();
    const forged = account.signedList(9);
    forged.set(ed25519Sign(other.accountKey.privateKey, forged.subarray(0, forged.length - 64)), forged.length - 64);
    await expect(primary.putDeviceList(forged)).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
    const foreign = other.signedList(9);
    await expect(primary.putDeviceList(foreign)).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
    // Signed by the right key but naming another account id.
    const mislabeled = new TestAccount();
    (mislabeled as { accountKey: unknown }).accountKey = account.accountKey;
    await expect(primary.putDeviceList(mislabeled.signedList(9))).rejects.toMatchObject({ code: 'MALFORMED' });
  });

  it(`at most ${MAX_DEVICES_PER_ACCOUNT} devices: ${MAX_DEVICES_PER_ACCOUNT} pass, ${MAX_DEVICES_PER_ACCOUNT + 1} are TOO_MANY_DEVICES`, async () => {
    const { account, primary } = await setup([1]);
    for (let id = 2; id <= MAX_DEVICES_PER_ACCOUNT + 1; id++) account.addDevice(id);
    const seven = handEncodedList(account, 2, account.devices);
    await expect(primary.putDeviceList(seven)).rejects.toMatchObject({ code: 'TOO_MANY_DEVICES' });
    const six = handEncodedList(account, 2, account.devices.slice(0, MAX_DEVICES_PER_ACCOUNT));
    expect((await primary.putDeviceList(six)).version).toBe(2);
  });

  it('a list that drops a device deletes its mailbox and prekeys, closes its sockets and voids its token', async () => {
    const { account, clients, primary } = await setup([1, 2]);
    const sender = new TestAccount();
    const s = (await registerAccount(relay.url, sender)).get(1)!;
    open.push(s);
    await s.send(account.accountId, [1, 2].map((deviceId) => ({ deviceId, content: text('before') })));
    const second = clients.get(2)!;
    const token = await second.sessionToken();
    const gone = new Promise<void>((resolve) => second.on('gone', resolve));
    await second.connect();
    account.removeDevice(2);
    account.version += 1;
    expect(await primary.putDeviceList(account.signedList())).toEqual({ version: account.version, removedDeviceIds: [2] });
    await gone;
    expect(second.state).toBe('gone');
    const r = await fetch(`${relay.url}/v1/prekeys/me/count`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(401);
    await expect(s.fetchBundles(account.accountId, 2)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(s.send(account.accountId, [1, 2].map((deviceId) => ({ deviceId, content: text('x') })))).rejects.toMatchObject({
      details: { missing: [], stale: [2] },
    });

    // Re-adding device id 2 with a new identity key is a new device with an empty mailbox.
    account.addDevice(2);
    account.version += 1;
    await primary.putDeviceList(account.signedList());
    const reborn = account.client(relay.url, 2);
    open.push(reborn);
    const inbox = new Inbox(reborn);
    await reborn.connect();
    await inbox.backlogEnd();
    expect(inbox.envelopes).toEqual([]);
    expect(await reborn.prekeyCounts()).toMatchObject({ oneTimePrekeys: 0, signedPrekey: null });
  });

  it('a device that unregisters is gone until the list stops naming its key', async () => {
    const { account, clients, primary } = await setup([1, 2]);
    const second = clients.get(2)!;
    await second.connect();
    const stillListed = account.device(2);
    await second.unregisterDevice();
    expect(second.state).toBe('closed');
    const peer = new TestAccount();
    const p = (await registerAccount(relay.url, peer)).get(1)!;
    open.push(p);
    await expect(p.send(account.accountId, [1, 2].map((deviceId) => ({ deviceId, content: text('x') })))).rejects.toMatchObject({
      details: { missing: [], stale: [2] },
    });
    // A newer list still naming the same key does not bring it back…
    account.version += 1;
    await primary.putDeviceList(account.signedList());
    await expect(p.send(account.accountId, [{ deviceId: 1, content: text('x') }])).resolves.toBeDefined();
    // …a list naming a new key under that id does.
    account.removeDevice(2);
    account.addDevice(2);
    expect(account.device(2)).not.toBe(stillListed);
    account.version += 1;
    await primary.putDeviceList(account.signedList());
    await expect(p.send(account.accountId, [{ deviceId: 1, content: text('x') }])).rejects.toMatchObject({ details: { missing: [2] } });
  });

  it('a removed device cannot authenticate again: its signed request gets DEVICE_REMOVED with the list as proof, anyone else UNAUTHORIZED', async () => {
    const { account, primary } = await setup([1, 2]);
    const removed = account.device(2);
    account.removeDevice(2);
    account.version += 1;
    await primary.putDeviceList(account.signedList());
    const fresh = new RelayClient({ url: relay.url, accountId: account.accountId, deviceId: 2, identitySigningKey: removed.signing.privateKey });
    const refused = await fresh.sessionToken().then(() => null, (e: { code: string; details: { deviceList?: string } }) => e);
    expect(refused?.code).toBe('DEVICE_REMOVED');
    expect(fromBase64Url(refused!.details.deviceList!)).toEqual((await primary.lookupAccount(account.accountId)).deviceList);
    // Another key under the removed device's id proves nothing and learns nothing.
    const impostor = new RelayClient({ url: relay.url, accountId: account.accountId, deviceId: 2, identitySigningKey: account.device(1).signing.privateKey });
    await expect(impostor.sessionToken()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('stored lists are the exact signed bytes (base64url round trip)', async () => {
    const { account, primary } = await setup([1]);
    const looked = await primary.lookupAccount(account.accountId);
    expect(fromBase64Url(toBase64Url(looked.deviceList))).toEqual(looked.deviceList);
    expect(looked.deviceList.subarray(0, label('DeviceList').length)).toEqual(label('DeviceList'));
  });
});
