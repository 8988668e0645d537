/**
 * Device linking end to end through the engine (issue 14, DESIGN §3.11, electron/engine/linking):
 * a second engine links to Alice's account on the real relay — by the pasted offer text, or by the
 * typed short code — over the engine's typed IPC channels (link:*, devices:*), then works without a
 * restart: Bob's next message reaches both of Alice's devices, and the new device holds what the
 * primary sent (profile, contacts with their verification, synced settings, the conversation).
 * Bad input: a wrong short code (the PAKE fails, nothing is signed, the channel takes no second
 * guess), an expired channel, a full account (6 devices), garbage pasted.
 */
import { describe, expect, it } from 'vitest';
import { parseDeviceList } from '../../../shared/protocol/device-list.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { x25519GenerateKeyPair } from '../../../shared/crypto/x25519.js';
import { linkTestDevice } from '../../../shared/testing/device-list-fixtures.js';
import { relayAndEngines, TestEngine } from '../../support/engines.js';
import { startTestRelay } from '../relay/helpers/relay.js';
import { RewritingProxy } from './helpers/rewriting-proxy.js';

const fixture = relayAndEngines();

/** A fresh engine without an account (the new device), disposed after the test. */
async function newDevice(): Promise<TestEngine> {
  const t = await TestEngine.start({ relayUrl: fixture.relay.url });
  fixture.track(t);
  return t;
}

function listVersion(t: TestEngine): number {
  return parseDeviceList(t.engine.current!.account.deviceList.signed).list.version;
}

describe('device linking through the engine', () => {
  it.each(['offer', 'code'] as const)("by %s: the new device joins Alice's account without a restart, and Bob's message reaches both devices", async (method) => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const aToB = await alice.add(bob);
    await bob.add(alice);
    await alice.send(aToB, 'before linking');
    await bob.receive(alice, 'before linking');
    const bobContactId = bob.accountId;
    const [contact] = await alice.call('contacts:list', {});
    await alice.call('contacts:markVerified', { contactId: contact!.id, verified: true });
    await alice.call('settings:set', { readReceipts: false });

    const second = await newDevice();
    const offer = await second.call('link:start', { relayUrl: fixture.relay.url });
    expect(offer.phase).toBe('waiting');
    expect(offer.offerText).toMatch(/^parley-link:/);
    expect(offer.code).toMatch(/^[0-9]{6}-[0-9]{4}-[0-9]{4}$/);

    const linking = alice.call('devices:link', method === 'offer' ? { offerText: offer.offerText } : { code: offer.code });
    const asked = await second.waitEvent('link:status', (s) => s.phase === 'awaiting-confirmation');
    // Both devices show the same safety number of the account before the new one accepts.
    expect(asked.safetyNumber).toEqual((await alice.call('devices:accountSafetyNumber', {})).safetyNumber);
    const view = await second.call('link:accept', { deviceName: "Alice's laptop" });
    const linked = await linking;
    expect(view).toMatchObject({ username: alice.username, accountId: alice.accountId, deviceId: linked.deviceId, primaryDevice: false });
    expect(linked.deviceId).toBe(2);
    expect(second.engine.getState().state).toBe('ready');
    second.username = alice.username;

    // The account state came along: the contact (still verified), the conversation, synced settings, the profile name.
    const contacts = await second.call('contacts:list', {});
    expect(contacts.map((c) => [c.id, c.verified])).toEqual([[bobContactId, true]]);
    expect(await second.conversationWith(bob)).toBeDefined();
    expect((await second.call('settings:get', {})).readReceipts).toBe(false);
    expect((await second.call('profile:get', {})).displayName).toBe((await alice.call('profile:get', {})).displayName);
    expect(second.engine.current!.account.accountPrivateKey).toBeNull();
    const devices = await second.call('devices:list', {});
    expect(devices.map((d) => [d.deviceId, d.thisDevice, d.name])).toEqual([[1, false, null], [2, true, "Alice's laptop"]]);
    expect((await alice.call('devices:list', {})).map((d) => d.deviceId)).toEqual([1, 2]);

    await second.online();
    const bToA = (await bob.conversationWith(alice))!;
    await bob.send(bToA, 'to both of you');
    await alice.receive(bob, 'to both of you');
    await second.receive(bob, 'to both of you');
    // The new device shows Bob's profile (his key arrives with the account state — account-state.test pins that — or with his message).
    const bobName = (await bob.call('profile:get', {})).displayName;
    for (let i = 0; (await second.call('contacts:list', {}))[0]?.displayName !== bobName; i++) {
      if (i > 200) throw new Error("the new device never showed Bob's profile");
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  });

  it('a wrong short code fails the PAKE on the primary: nothing is signed, the channel takes no second guess, and the new device is told', async () => {
    const alice = await fixture.engine('alice');
    const second = await newDevice();
    const offer = await second.call('link:start', { relayUrl: fixture.relay.url });
    const digits = offer.code.replace(/-/g, '');
    const wrong = `${digits.slice(0, 6)}${String((Number(digits.slice(6)) + 1) % 1e8).padStart(8, '0')}`;
    const version = listVersion(alice);

    expect(await alice.errorOf('devices:link', { code: wrong })).toBe('LINK_WRONG_CODE');
    expect(listVersion(alice)).toBe(version);
    expect((await alice.call('devices:list', {})).map((d) => d.deviceId)).toEqual([1]);
    const failed = await second.waitEvent('link:status', (s) => s.phase === 'failed');
    expect(failed.error?.code).toBe('LINK_WRONG_CODE');
    expect(second.engine.getState().state).toBe('needs-account');
    expect(await second.errorOf('link:accept', { deviceName: 'laptop' })).toBe('LINK_WRONG_CODE');
    // The right code now: the channel was spent by the wrong guess.
    expect(await alice.errorOf('devices:link', { code: offer.code })).toBe('LINK_EXPIRED');
    expect(listVersion(alice)).toBe(version);
  });

  it("an account's link attempts are limited: after five joins (even of codes that name no channel) the next is LINK_ATTEMPTS_EXCEEDED", async () => {
    const alice = await fixture.engine('alice');
    // No live channel has rendezvous 000000 here: each join fails, and each spends an attempt.
    for (let i = 0; i < 5; i++) expect(await alice.errorOf('devices:link', { code: '000000-0000-0000' })).toBe('LINK_EXPIRED');
    const second = await newDevice();
    const offer = await second.call('link:start', { relayUrl: fixture.relay.url });
    expect(await alice.errorOf('devices:link', { offerText: offer.offerText })).toBe('LINK_ATTEMPTS_EXCEEDED');
    expect((await alice.call('devices:list', {})).map((d) => d.deviceId)).toEqual([1]);
    // The refused join took nothing: the new device is still waiting for someone.
    expect((await second.call('link:status', {}))?.phase).toBe('waiting');
  });

  it('pasted text that is not a link, or a code of the wrong length, is LINK_INVALID and spends no attempt', async () => {
    const alice = await fixture.engine('alice');
    expect(await alice.errorOf('devices:link', { offerText: 'hello' })).toBe('LINK_INVALID');
    expect(await alice.errorOf('devices:link', { offerText: 'parley-link:AAAA' })).toBe('LINK_INVALID');
    expect(await alice.errorOf('devices:link', { code: '1234' })).toBe('LINK_INVALID');
    // The schema refuses both fields at once, or neither.
    expect(await alice.errorOf('devices:link', { code: '1', offerText: 'x' } as never)).toBe('INVALID_REQUEST');
  });

  it('an expired channel: the primary gets LINK_EXPIRED and nothing changes; the new device reports it too', async () => {
    // A relay of its own whose clock the test moves past the channel's lifetime (within the ±60 s auth skew).
    let offset = 0;
    const relay = await startTestRelay({ clock: () => Date.now() + offset, limits: { provisioningChannelTtlMs: 5_000 } });
    try {
      const alice = await TestEngine.create({ relayUrl: relay.url, name: 'alice' });
      fixture.track(alice);
      const second = await TestEngine.start({ relayUrl: relay.url });
      fixture.track(second);
      const offer = await second.call('link:start', { relayUrl: relay.url });
      offset = 10_000;
      expect(await alice.errorOf('devices:link', { offerText: offer.offerText })).toBe('LINK_EXPIRED');
      expect((await alice.call('devices:list', {})).map((d) => d.deviceId)).toEqual([1]);
      const failed = await second.waitEvent('link:status', (s) => s.phase === 'failed');
      expect(failed.error?.code).toBe('LINK_EXPIRED');
      expect(second.engine.getState().state).toBe('needs-account');
    } finally {
      await relay.stop();
    }
  });

  it.each([
    ["the new device's keys (its ephemeral key in the Reply)", 0x02, (f: Uint8Array) => { f.set(x25519GenerateKeyPair(systemRng).publicKey, 2 + 32 + 1); }],
    ["the new device's identity keys (inside the sealed Reply)", 0x02, (f: Uint8Array) => { f[2 + 32 + 33 + 10]! ^= 0x01; }],
    ['the account key (inside the sealed Account frame)', 0x03, (f: Uint8Array) => { f[f.length - 40]! ^= 0x01; }],
  ] as const)('a relay that substitutes %s makes the link fail on both sides, visibly, with nothing signed', async (_what, type, change) => {
    const proxy = await RewritingProxy.start(fixture.relay.url);
    try {
      const alice = await fixture.engine('alice', proxy.url);
      const second = await newDevice();
      const version = listVersion(alice);
      proxy.rewriteProvisioning = (body) => {
        if (body[1] !== type) return body;
        const changed = body.slice();
        change(changed);
        return changed;
      };
      const offer = await second.call('link:start', { relayUrl: proxy.url });
      const linking = alice.result('devices:link', { offerText: offer.offerText });
      const failed = await second.waitEvent('link:status', (s) => s.phase === 'failed');
      const primary = await linking;
      expect(primary.ok ? null : primary.error.code).toBe('LINK_TAMPERED');
      expect(failed.error?.code).toBe('LINK_TAMPERED');
      expect(listVersion(alice)).toBe(version);
      expect(parseDeviceList((await alice.engine.messaging!.relay.lookupAccount(alice.engine.current!.account.accountId)).deviceList).list.devices).toHaveLength(1);
      expect(second.engine.getState().state).toBe('needs-account');
    } finally {
      await proxy.close();
    }
  });

  it('a relay that replays the Hello makes the link fail on both sides (LINK_TAMPERED), nothing signed', async () => {
    const proxy = await RewritingProxy.start(fixture.relay.url);
    try {
      const alice = await fixture.engine('alice', proxy.url);
      const second = await newDevice();
      const version = listVersion(alice);
      proxy.replayProvisioning = (body) => body[1] === 0x01;
      const offer = await second.call('link:start', { relayUrl: proxy.url });
      const primary = await alice.result('devices:link', { offerText: offer.offerText });
      expect(primary.ok ? null : primary.error.code).toBe('LINK_TAMPERED');
      const failed = await second.waitEvent('link:status', (s) => s.phase === 'failed');
      expect(failed.error?.code).toBe('LINK_TAMPERED');
      expect(listVersion(alice)).toBe(version);
      expect(second.engine.getState().state).toBe('needs-account');
    } finally {
      await proxy.close();
    }
  });

  it('the new device cancels: the primary stops at once with LINK_EXPIRED and signs nothing', async () => {
    const alice = await fixture.engine('alice');
    const second = await newDevice();
    const offer = await second.call('link:start', { relayUrl: fixture.relay.url });
    const linking = alice.result('devices:link', { code: offer.code });
    await second.waitEvent('link:status', (s) => s.phase === 'awaiting-confirmation');
    expect(await second.call('link:cancel', {})).toBeNull();
    const primary = await linking;
    expect(primary.ok ? null : primary.error.code).toBe('LINK_EXPIRED');
    expect((await alice.call('devices:list', {})).map((d) => d.deviceId)).toEqual([1]);
    expect(await second.call('link:status', {})).toBeNull();
    expect(await second.errorOf('link:accept', { deviceName: 'laptop' })).toBe('LINK_NOT_STARTED');
  });

  it('an account with 6 devices: linking a seventh is TOO_MANY_DEVICES with the reason, and the list stays', async () => {
    const alice = await fixture.engine('alice');
    const account = alice.engine.current!.account;
    const relayClient = alice.engine.messaging!.relay;
    let current = (await relayClient.lookupAccount(account.accountId)).deviceList;
    for (let i = 0; i < 5; i++) {
      const { next } = linkTestDevice(current, account.accountPrivateKey!, { rng: systemRng, now: Date.now }, { oneTimePrekeys: 1, kemOneTimePrekeys: 1 });
      await relayClient.putDeviceList(next.signed);
      current = next.signed;
    }
    const second = await newDevice();
    const offer = await second.call('link:start', { relayUrl: fixture.relay.url });
    const failure = await alice.result('devices:link', { offerText: offer.offerText });
    expect(failure.ok ? null : failure.error.code).toBe('TOO_MANY_DEVICES');
    expect(failure.ok ? null : failure.error.message).toMatch(/6 devices/);
    expect(parseDeviceList((await relayClient.lookupAccount(account.accountId)).deviceList).list.devices).toHaveLength(6);
  });
});
