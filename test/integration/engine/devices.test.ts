/**
 * Device management end to end through the engine (issue 14 "Device management", ADR 0027,
 * docs/protocol.md §20.12–20.13) on the real relay: the primary removes a linked device — the list
 * is re-signed without it, the relay lets it in no more, it proves its removal from the signed list,
 * wipes itself and says so, and Bob's next message never reaches it (not even when it comes back
 * with its old keys); names travel between the account's devices; every device alerts on a list
 * change it did not make, and a contact's conversation shows that their devices changed; a relay
 * cannot keep a removed device on the list; bad input gets typed errors and changes nothing.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeDeviceListBody, parseDeviceList, signDeviceList, verifyDeviceList } from '../../../shared/protocol/device-list.js';
import { concatBytes, toBase64Url } from '../../../shared/crypto/bytes.js';
import { ed25519GenerateKeyPair } from '../../../shared/crypto/ed25519.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import { ACTIVITY_DAY_MS } from '../../../electron/engine/account/device-management.js';
import { getContact } from '../../../electron/engine/db/contacts.js';
import { isRemovalProof } from '../../../electron/engine/messaging/own-devices.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { RelayClientError } from '../../../electron/engine/relay/errors.js';
import { relayAndEngines, settledBetween, TestEngine, waitFor } from '../../support/engines.js';
import { RewritingProxy } from './helpers/rewriting-proxy.js';

const fixture = relayAndEngines();

/** Links a new engine to `primary`'s account under `name` (by the offer text); returns it, online. */
async function link(primary: TestEngine, name: string): Promise<TestEngine> {
  const device = await TestEngine.start({ relayUrl: fixture.relay.url });
  fixture.track(device);
  const offer = await device.call('link:start', { relayUrl: fixture.relay.url });
  const linking = primary.call('devices:link', { offerText: offer.offerText });
  await device.waitEvent('link:status', (s) => s.phase === 'awaiting-confirmation');
  await device.call('link:accept', { deviceName: name });
  await linking;
  device.username = primary.username;
  await device.online();
  return device;
}

const listOf = (t: TestEngine) => parseDeviceList(t.engine.current!.account.deviceList.signed).list;
const noticesIn = async (t: TestEngine, conversationId: string, kind: string) => (await t.messages(conversationId)).filter((m) => m.kind === kind);

async function noteToSelf(t: TestEngine): Promise<string | undefined> {
  return (await t.call('conversations:list', {})).find((c) => c.kind === 'note-to-self')?.id;
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('device management through the engine', () => {
  it("removing device 2: the relay lets it in no more, it wipes itself and says so, and Bob's next message never reaches it", async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const aToB = await alice.add(bob);
    await bob.add(alice);
    const second = await link(alice, "Alice's laptop");
    const bToA = (await bob.conversationWith(alice))!;
    await bob.send(bToA, 'to both devices');
    await second.receive(bob, 'to both devices');
    const secondDb = second.engine.profile.databasePath;
    const keychainEntries = second.options.keychain.secrets.size;
    expect(keychainEntries).toBe(1);
    const versionBefore = listOf(alice).version;

    const devices = await alice.call('devices:remove', { deviceId: 2 });
    expect(devices.map((d) => d.deviceId)).toEqual([1]);
    expect(listOf(alice).version).toBe(versionBefore + 1);
    // The relay holds the re-signed list without device 2.
    const relayList = verifyDeviceList((await alice.engine.messaging!.relay.lookupAccount(alice.engine.current!.account.accountId)).deviceList, alice.engine.current!.account.accountPublicKey);
    expect(relayList.devices.map((d) => d.deviceId)).toEqual([1]);

    // Device 2 is told (its channel closes), proves it from the signed list, wipes itself and says so.
    const state = await second.waitEvent('engine:state', (s) => s.removedFromAccount === true);
    expect(state.state).toBe('needs-account');
    expect(second.engine.getState()).toMatchObject({ state: 'needs-account', removedFromAccount: true, account: null });
    expect(existsSync(secondDb)).toBe(false);
    expect(second.options.keychain.secrets.size).toBe(0);
    expect(await second.errorOf('contacts:list', {})).toBe('NEEDS_ACCOUNT');

    // Bob's next message goes to device 1 only: his first send meets MISMATCHED_DEVICES and he refetches the list.
    const sent = await bob.send(bToA, 'after the removal');
    await alice.receive(bob, 'after the removal');
    await bob.waitStatus(sent.id, 'delivered');
    const info = await bob.call('messages:info', { messageId: sent.id });
    expect(info.devices?.map((d) => d.deviceId)).toEqual([1]);
    expect(second.payloads('message:added').some((p) => p.message.body === 'after the removal')).toBe(false);
    // Alice's own messages no longer go to device 2 either.
    await alice.send(aToB, 'from the primary alone');
    await bob.receive(alice, 'from the primary alone');
    await alice.drained();
  });

  it('a removed device that comes back with its old keys is refused by the relay, decrypts nothing sent after its removal, and wipes itself', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    await alice.add(bob);
    await bob.add(alice);
    const second = await link(alice, 'Old laptop');
    const bToA = (await bob.conversationWith(alice))!;
    await bob.send(bToA, 'while linked');
    await second.receive(bob, 'while linked');
    const account = second.engine.current!.account;
    const credentials = { accountId: account.accountId, deviceId: account.deviceId, identitySigningKey: account.identitySigning.privateKey.slice(), relayId: account.relayId };
    await second.close(); // offline, with its database and keys intact

    await alice.call('devices:remove', { deviceId: 2 });
    await bob.send(bToA, 'sent after the removal');
    await alice.receive(bob, 'sent after the removal');
    await settledBetween(bob, alice, bob);

    // Its old keys no longer open a session: the relay answers DEVICE_REMOVED with the signed list as proof.
    const client = new RelayClient({ url: fixture.relay.url, ...credentials });
    try {
      const refused = await client.lookupAccount(account.accountId).then(
        () => null,
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(RelayClientError);
      expect((refused as RelayClientError).code).toBe('DEVICE_REMOVED');
      const proof = await client.removalProof();
      expect(proof && parseDeviceList(proof).list.devices.map((d) => d.deviceId)).toEqual([1]);
    } finally {
      client.close();
    }

    // The device starts again on its old profile: it sees the proof, wipes, and never shows Bob's new message.
    const back = await TestEngine.start({ relayUrl: fixture.relay.url, base: second.options.base, keychain: second.options.keychain, clock: second.options.clock, timers: second.options.timers });
    fixture.track(back);
    await back.waitEvent('engine:state', (s) => s.removedFromAccount === true);
    expect(back.payloads('message:added').some((p) => p.message.body === 'sent after the removal')).toBe(false);
    expect(existsSync(back.engine.profile.databasePath)).toBe(false);
  });

  it('a relay that closes the channel as "device removed" without the signed proof gets no wipe: the device connects again', async () => {
    const proxy = await RewritingProxy.start(fixture.relay.url);
    try {
      const alice = await fixture.engine('alice');
      const bob = await fixture.engine('bob');
      await alice.add(bob);
      await bob.add(alice);
      const device = await TestEngine.start({ relayUrl: proxy.url });
      fixture.track(device);
      const offer = await device.call('link:start', { relayUrl: proxy.url });
      const linking = alice.call('devices:link', { offerText: offer.offerText });
      await device.waitEvent('link:status', (s) => s.phase === 'awaiting-confirmation');
      await device.call('link:accept', { deviceName: 'Desk' });
      await linking;
      await device.online();

      proxy.closeLiveChannels(4410); // the relay's "this device was removed", with nothing to prove it
      await waitFor(() => device.engine.messaging!.relay.state === 'gone', 'the close');
      await device.engine.messaging!.removalChecked();
      await device.online();
      await device.call('app:getState', {}); // a wipe would be queued before this
      expect(device.engine.getState()).toMatchObject({ state: 'ready' });
      expect(device.engine.getState().removedFromAccount).toBeUndefined();
      expect(existsSync(device.engine.profile.databasePath)).toBe(true);
      const bToA = (await bob.conversationWith(alice))!;
      await bob.send(bToA, 'still here?');
      await device.receive(bob, 'still here?');

      // A list the account key did not sign, or the current one, proves nothing either.
      const own = device.engine.current!.account;
      const list = parseDeviceList(own.deviceList.signed).list;
      const withoutMe = { ...list, version: list.version + 1, devices: list.devices.filter((d) => d.deviceId !== own.deviceId) };
      expect(isRemovalProof(own, concatBytes(encodeDeviceListBody(withoutMe), new Uint8Array(64)))).toBe(false);
      expect(isRemovalProof(own, own.deviceList.signed)).toBe(false);
      expect(isRemovalProof(own, signDeviceList(withoutMe, alice.engine.current!.account.accountPrivateKey!))).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('a relay that answers DEVICE_REMOVED with a list that proves nothing (signed by another key, or an older one) gets no wipe', async () => {
    const proxy = await RewritingProxy.start(fixture.relay.url);
    try {
      const alice = await fixture.engine('alice');
      const beforeLink = alice.engine.current!.account.deviceList.signed; // signed, and without device 2 — but older
      const device = await TestEngine.start({ relayUrl: proxy.url });
      fixture.track(device);
      const offer = await device.call('link:start', { relayUrl: proxy.url });
      const linking = alice.call('devices:link', { offerText: offer.offerText });
      await device.waitEvent('link:status', (s) => s.phase === 'awaiting-confirmation');
      await device.call('link:accept', { deviceName: 'Laptop' });
      await linking;
      await device.online();
      const own = device.engine.current!.account;
      const list = parseDeviceList(own.deviceList.signed).list;
      const withoutMe = { ...list, version: list.version + 1, devices: list.devices.filter((d) => d.deviceId !== own.deviceId) };
      const otherKey = ed25519GenerateKeyPair(systemRng).privateKey;
      let restarted = device;
      for (const fake of [signDeviceList(withoutMe, otherKey), beforeLink]) {
        await restarted.close();
        proxy.answered = 0;
        proxy.answer = (method, path) =>
          method === 'POST' && path === '/v1/auth/session' ? { status: 410, body: { error: { code: 'DEVICE_REMOVED', message: 'removed', deviceList: toBase64Url(fake) } } } : null;
        restarted = await TestEngine.start({ relayUrl: proxy.url, base: device.options.base, keychain: device.options.keychain, clock: device.options.clock, timers: device.options.timers });
        fixture.track(restarted);
        // Refused at connecting, then asked again for the proof: two answers, and the proof fails.
        await waitFor(() => proxy.answered >= 2 && restarted.engine.messaging?.relay.state === 'gone', 'the relay’s claim and the proof request');
        await restarted.engine.messaging!.removalChecked();
        // A wipe would be queued behind the engine's lifecycle operations: this one runs after it.
        await restarted.call('app:getState', {});
        expect(restarted.engine.getState()).toMatchObject({ state: 'ready' });
        expect(restarted.engine.getState().removedFromAccount).toBeUndefined();
        expect(existsSync(restarted.engine.profile.databasePath)).toBe(true);
      }
    } finally {
      proxy.answer = null;
      await proxy.close();
    }
  });

  it('names travel between the devices: the new device names itself, the primary renames it, a linked device renames itself only', async () => {
    const alice = await fixture.engine('alice');
    const second = await link(alice, "Alice's laptop");
    // The primary learns the new device's name from the device itself (device-names content).
    await waitUntil('the primary shows the new name', async () => (await alice.call('devices:list', {})).find((d) => d.deviceId === 2)?.name === "Alice's laptop");

    const renamed = await alice.call('devices:rename', { deviceId: 2, name: '  Work laptop ' });
    expect(renamed.find((d) => d.deviceId === 2)?.name).toBe('Work laptop');
    await waitUntil('the linked device shows the primary’s rename', async () => (await second.call('devices:list', {})).find((d) => d.deviceId === 2)?.name === 'Work laptop');

    await alice.call('devices:rename', { deviceId: 1, name: 'Desktop' });
    await waitUntil('the linked device shows the primary’s own name', async () => (await second.call('devices:list', {})).find((d) => d.deviceId === 1)?.name === 'Desktop');

    await second.call('devices:rename', { deviceId: 2, name: 'Laptop' });
    await waitUntil('the primary shows the linked device’s rename', async () => (await alice.call('devices:list', {})).find((d) => d.deviceId === 2)?.name === 'Laptop');
    expect(await second.errorOf('devices:rename', { deviceId: 1, name: 'Mine now' })).toBe('NOT_PRIMARY_DEVICE');
    expect((await alice.call('devices:list', {})).find((d) => d.deviceId === 1)?.name).toBe('Desktop');

    // Both devices were active today (UTC), as the relay reports it by day.
    const today = Math.floor(Date.now() / ACTIVITY_DAY_MS) * ACTIVITY_DAY_MS;
    expect((await alice.call('devices:list', {})).map((d) => d.lastActiveAt)).toEqual([today, today]);
  });

  it('every device alerts on a list change it did not make; a contact sees their devices changed', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    await alice.add(bob);
    await bob.add(alice);
    const bToA = (await bob.conversationWith(alice))!;
    const second = await link(alice, 'Laptop');
    const third = await link(alice, 'Tablet');

    // Device 2 did not link device 3: a notice in its note to self.
    await waitUntil('device 2 alerts on the link', async () => {
      const note = await noteToSelf(second);
      return note !== undefined && (await noticesIn(second, note, 'device-linked')).length === 1;
    });
    // The new device's name reaches the other linked device too.
    await waitUntil('device 2 knows the name of device 3', async () => (await second.call('devices:list', {})).find((d) => d.deviceId === 3)?.name === 'Tablet');
    await alice.call('devices:remove', { deviceId: 3 });
    await third.waitEvent('engine:state', (s) => s.removedFromAccount === true);
    await waitUntil('device 2 alerts on the removal, with the name', async () => {
      const removed = await noticesIn(second, (await noteToSelf(second))!, 'device-removed');
      return removed.length === 1 && removed[0]!.body === 'Tablet';
    });
    expect((await second.call('devices:list', {})).map((d) => d.deviceId)).toEqual([1, 2]);
    // The primary made both changes itself: no alert there.
    const primaryNote = await noteToSelf(alice);
    expect(primaryNote === undefined ? [] : [...(await noticesIn(alice, primaryNote, 'device-linked')), ...(await noticesIn(alice, primaryNote, 'device-removed'))]).toEqual([]);

    // Bob learns of each change with his next send (or lookup): a notice in the conversation.
    await bob.send(bToA, 'hello all of you');
    await alice.receive(bob, 'hello all of you');
    await second.receive(bob, 'hello all of you');
    expect((await noticesIn(bob, bToA, 'contact-devices-changed')).length).toBeGreaterThanOrEqual(1);
  });

  it('a relay cannot keep a removed device on the list: a re-added entry breaks the signature, an older list is a rollback', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    await alice.add(bob);
    await bob.add(alice);
    const second = await link(alice, 'Laptop');
    const bToA = (await bob.conversationWith(alice))!;
    await bob.send(bToA, 'hi');
    await second.receive(bob, 'hi');
    const withDevice2 = alice.engine.current!.account.deviceList.signed;
    const entry2 = parseDeviceList(withDevice2).list.devices.find((d) => d.deviceId === 2)!;

    await alice.call('devices:remove', { deviceId: 2 });
    await second.waitEvent('engine:state', (s) => s.removedFromAccount === true);
    const account = alice.engine.current!.account;
    const current = parseDeviceList(account.deviceList.signed).list;
    // The relay's attempt: the new list with device 2 put back, under the new list's signature.
    const kept = { ...current, devices: [...current.devices, entry2] };
    const tampered = concatBytes(encodeDeviceListBody(kept), account.deviceList.signed.subarray(account.deviceList.signed.length - 64));
    let refusal: unknown = null;
    try {
      verifyDeviceList(tampered, account.accountPublicKey, account.accountId);
    } catch (e) {
      refusal = e;
    }
    expect(isProtocolError(refusal, 'BAD_SIGNATURE')).toBe(true);
    // The relay refuses it too; Bob's engine refuses it (and the older list, once he saw the new one).
    const put = await alice.engine.messaging!.relay.putDeviceList(tampered).then(() => null, (e: RelayClientError) => e.code);
    expect(put).toBe('BAD_SIGNATURE');
    await bob.send(bToA, 'after');
    await alice.receive(bob, 'after');
    const contacts = bob.engine.messaging!.contacts;
    const stored = () => parseDeviceList(getContact(bob.engine.current!.db.reader, account.accountId)!.deviceList.signed).list;
    await waitFor(() => stored().devices.length === 1, "Bob holds Alice's new list");
    for (const deviceList of [tampered, withDevice2]) {
      let refused: unknown = null;
      try {
        contacts.apply({ accountId: account.accountId, accountKey: account.accountPublicKey, deviceList }, { username: null, accept: false });
      } catch (e) {
        refused = e;
      }
      expect((refused as { code?: string } | null)?.code).toBe('UNTRUSTED_DEVICE_LIST');
    }
    expect(stored().devices.map((d) => d.deviceId)).toEqual([1]);
  });

  it('only the primary removes; unknown devices, removing itself and hostile or oversized names are typed errors that change nothing', async () => {
    const alice = await fixture.engine('alice');
    const second = await link(alice, 'Laptop');
    await waitUntil('the primary knows the name', async () => (await alice.call('devices:list', {})).find((d) => d.deviceId === 2)?.name === 'Laptop');
    const version = listOf(alice).version;

    expect(await second.errorOf('devices:remove', { deviceId: 1 })).toBe('NOT_PRIMARY_DEVICE');
    expect(await second.errorOf('devices:remove', { deviceId: 2 })).toBe('NOT_PRIMARY_DEVICE');
    expect(await alice.errorOf('devices:remove', { deviceId: 1 })).toBe('CANNOT_REMOVE_THIS_DEVICE');
    expect(await alice.errorOf('devices:remove', { deviceId: 7 })).toBe('NOT_FOUND');
    expect(await alice.errorOf('devices:rename', { deviceId: 7, name: 'Ghost' })).toBe('NOT_FOUND');
    for (const name of ['<img src=x onerror=alert(1)>', '<b>bold</b>', 'é'.repeat(65), '   ', 'two\nlines', 'bidi \u202e trick']) {
      expect(await alice.errorOf('devices:rename', { deviceId: 2, name })).toBe('INVALID_DEVICE_NAME');
    }
    // The schema refuses what is not a device id or is far too long before the engine sees it.
    expect(await alice.errorOf('devices:remove', { deviceId: 0 })).toBe('INVALID_REQUEST');
    expect(await alice.errorOf('devices:remove', { deviceId: 1.5 })).toBe('INVALID_REQUEST');
    expect(await alice.errorOf('devices:rename', { deviceId: 2, name: 'x'.repeat(600) })).toBe('INVALID_REQUEST');
    expect(await alice.errorOf('devices:remove', { deviceId: 2, extra: true } as never)).toBe('INVALID_REQUEST');

    expect(listOf(alice).version).toBe(version);
    expect((await alice.call('devices:list', {})).map((d) => [d.deviceId, d.name])).toEqual([
      [1, null],
      [2, 'Laptop'],
    ]);
    expect(second.engine.getState().state).toBe('ready');
  });
});
