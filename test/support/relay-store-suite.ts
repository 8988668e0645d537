/**
 * The RelayStore conformance suite (DESIGN §5): one set of invariants, run against every backend —
 * SQLite inline and on its worker thread (server/store/store.test.ts), PostgreSQL
 * (server/store/store.services.test.ts). Each test opens its own empty, migrated store. Cases marked
 * "concurrent" run transactions at once: trivially serial on SQLite, real row-lock races on
 * PostgreSQL.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toHex } from '../../shared/crypto/bytes.js';
import { MAX_ENCRYPTED_PROFILE_BYTES } from '../../shared/protocol/constants.js';
import { deterministicRng } from '../../shared/testing/deterministic-rng.js';
import { StoreLockedError } from '../../server/store/sqlite.js';
import type { DeviceKeys, RelayStore, SendItem } from '../../server/store/store.js';

export type StoreBackend = {
  readonly name: string;
  /** Whether a second open of the same database must fail while the first holds it (SQLite). */
  readonly exclusive: boolean;
  /** A new, empty, migrated store; `reopen` opens the same database again (and migrates). */
  open(): Promise<{ store: RelayStore; reopen(): Promise<RelayStore>; cleanup(): Promise<void> }>;
};

const rng = deterministicRng('store suite');
const NOW = 1_800_000_000_000;

function device(deviceId: number): DeviceKeys {
  return { deviceId, identitySigningKey: rng(32), identityDhKey: rng(32) };
}

const spk = (keyId: number) => ({ keyId, publicKey: rng(32), createdAt: NOW, signature: rng(64) });

export function relayStoreSuite(backend: StoreBackend): void {
  describe(`RelayStore on ${backend.name}`, () => {
    let store: RelayStore;
    let reopen: () => Promise<RelayStore>;
    let cleanup: () => Promise<void>;
    let closed = false;

    beforeEach(async () => {
      ({ store, reopen, cleanup } = await backend.open());
      closed = false;
    });
    afterEach(async () => {
      if (!closed) await store.close();
      await cleanup();
    });

    async function account(deviceIds = [1], username = `u${toHex(rng(6))}`) {
      const accountId = rng(16);
      const [first, ...rest] = deviceIds.map(device);
      const created = await store.createAccount({
        accountId,
        accountKey: rng(32),
        username,
        deviceList: rng(100),
        deviceListVersion: 1,
        device: first!,
        prekeys: { signedPrekey: spk(1), lastResortKemPrekey: spk(2) },
        now: NOW,
      });
      if (created.status !== 'created') throw new Error(created.status);
      if (rest.length > 0) {
        const r = await store.replaceDeviceList({ accountId, expectedVersion: 1, deviceList: rng(100), version: 2, devices: [first!, ...rest], now: NOW });
        expect(r.status).toBe('replaced');
      }
      const devices = await store.listDevices(accountId);
      return { accountId, username, devices, keys: [first!, ...rest] };
    }

    function send(from: { accountId: Uint8Array }, to: Uint8Array, deviceIds: number[], content = 'x'): SendItem {
      return { from: { accountId: from.accountId, deviceId: 1 }, to, messages: deviceIds.map((deviceId) => ({ deviceId, content: new TextEncoder().encode(content) })) };
    }

    it('a username and an account id are registered once; a deleted account keeps both out (the name for a while)', async () => {
      const a = await account([1], 'alice');
      const base = { accountKey: rng(32), deviceList: rng(10), deviceListVersion: 1, device: device(1), prekeys: {}, now: NOW };
      expect((await store.createAccount({ ...base, accountId: rng(16), username: 'alice' })).status).toBe('username-taken');
      expect((await store.createAccount({ ...base, accountId: a.accountId, username: 'other' })).status).toBe('account-exists');
      await store.deleteAccount({ accountId: a.accountId, now: NOW, usernameAvailableAt: NOW + 1000 });
      expect((await store.createAccount({ ...base, accountId: rng(16), username: 'alice', now: NOW + 999 })).status).toBe('username-taken');
      expect((await store.createAccount({ ...base, accountId: a.accountId, username: 'fresh', now: NOW + 1000 })).status).toBe('account-exists');
      expect((await store.createAccount({ ...base, accountId: rng(16), username: 'alice', now: NOW + 1000 })).status).toBe('created');
    });

    it('a device list is replaced by compare-and-swap on its version', async () => {
      const a = await account([1]);
      const args = { accountId: a.accountId, deviceList: rng(100), devices: a.keys, now: NOW };
      expect((await store.replaceDeviceList({ ...args, expectedVersion: 7, version: 8 })).status).toBe('conflict');
      expect((await store.replaceDeviceList({ ...args, expectedVersion: 1, version: 2 })).status).toBe('replaced');
      expect((await store.replaceDeviceList({ ...args, expectedVersion: 1, version: 3 })).status).toBe('conflict');
      expect((await store.getAccount(a.accountId))!.deviceListVersion).toBe(2);
    });

    it('reconciling a list removes dropped and re-keyed devices with their mailboxes, keeps the rest', async () => {
      const a = await account([1, 2, 3]);
      const sender = await account([1]);
      await store.commitBatch({ sends: [send(sender, a.accountId, [1, 2, 3])], acks: [], now: NOW });
      const rekeyed = device(3);
      const r = await store.replaceDeviceList({
        accountId: a.accountId,
        expectedVersion: 2,
        deviceList: rng(100),
        version: 3,
        devices: [a.keys[0]!, rekeyed],
        now: NOW,
      });
      if (r.status !== 'replaced') throw new Error('conflict');
      expect(r.removed.map((x) => [x.deviceId, x.envelopesDeleted])).toEqual([
        [2, 1],
        [3, 1],
      ]);
      const after = await store.listDevices(a.accountId);
      expect(after.map((d) => d.deviceId)).toEqual([1, 3]);
      expect(after[0]!.deviceKey).toBe(a.devices[0]!.deviceKey);
      expect(after[1]!.deviceKey).not.toBe(a.devices[2]!.deviceKey);
      expect((await store.readMailbox(after[1]!.deviceKey, 0, 10)).envelopes).toEqual([]);
      expect((await store.readMailbox(after[0]!.deviceKey, 0, 10)).envelopes).toHaveLength(1);
    });

    it('a device a new list drops is remembered with its key until the account goes; a listed or unregistered one is not', async () => {
      const a = await account([1, 2, 3]);
      expect(await store.getRemovedDevice(a.accountId, 2)).toBeUndefined();
      await store.unregisterDevice(a.devices[2]!.deviceKey);
      const r = await store.replaceDeviceList({ accountId: a.accountId, expectedVersion: 2, deviceList: rng(100), version: 3, devices: [a.keys[0]!], now: NOW + 5 });
      expect(r.status).toBe('replaced');
      const removed = await store.getRemovedDevice(a.accountId, 2);
      expect(removed && [removed.identitySigningKey, removed.removedAt]).toEqual([a.keys[1]!.identitySigningKey, NOW + 5]);
      // Device 3 unregistered itself before: it was not removed by a list.
      expect(await store.getRemovedDevice(a.accountId, 3)).toBeUndefined();
      expect(await store.getRemovedDevice(a.accountId, 1)).toBeUndefined();
      await store.deleteAccount({ accountId: a.accountId, now: NOW, usernameAvailableAt: NOW });
      expect(await store.getRemovedDevice(a.accountId, 2)).toBeUndefined();
    });

    it('a device records the UTC day it was last active; only its own account lists it', async () => {
      const a = await account([1, 2]);
      const other = await account([1]);
      expect(await store.deviceActivity(a.accountId)).toEqual([
        { deviceId: 1, lastActiveDay: null },
        { deviceId: 2, lastActiveDay: null },
      ]);
      await store.touchDevice(a.devices[1]!.deviceKey, 20_000);
      await store.touchDevice(a.devices[1]!.deviceKey, 20_000);
      await store.touchDevice(a.devices[0]!.deviceKey, 19_998);
      await store.touchDevice(a.devices[0]!.deviceKey, 19_999);
      expect(await store.deviceActivity(a.accountId)).toEqual([
        { deviceId: 1, lastActiveDay: 19_999 },
        { deviceId: 2, lastActiveDay: 20_000 },
      ]);
      expect(await store.deviceActivity(other.accountId)).toEqual([{ deviceId: 1, lastActiveDay: null }]);
    });

    it('an unregistered device stays out while the list names its key, and returns under a new key', async () => {
      const a = await account([1, 2]);
      const removed = await store.unregisterDevice(a.devices[1]!.deviceKey);
      expect(removed?.deviceId).toBe(2);
      const replace = (version: number, devices: DeviceKeys[]) =>
        store.replaceDeviceList({ accountId: a.accountId, expectedVersion: version - 1, deviceList: rng(100), version, devices, now: NOW });
      await replace(3, a.keys);
      expect((await store.listDevices(a.accountId)).map((d) => d.deviceId)).toEqual([1]);
      await replace(4, [a.keys[0]!, device(2)]);
      expect((await store.listDevices(a.accountId)).map((d) => d.deviceId)).toEqual([1, 2]);
    });

    it('a batch commits sends with contiguous per-device seqs in order; a mismatched send stores nothing', async () => {
      const bob = await account([1, 2]);
      const alice = await account([1]);
      const result = await store.commitBatch({
        sends: [send(alice, bob.accountId, [1, 2], 'a'), send(alice, bob.accountId, [1], 'bad'), send(alice, bob.accountId, [2, 1], 'b'), send(alice, rng(16), [1])],
        acks: [],
        now: NOW,
      });
      expect(result.sends.map((s) => s.status)).toEqual(['committed', 'mismatched', 'committed', 'unknown-recipient']);
      expect(result.sends[1]).toEqual({ status: 'mismatched', missing: [2], stale: [] });
      for (const d of bob.devices) {
        const page = await store.readMailbox(d.deviceKey, 0, 10);
        expect(page.envelopes.map((e) => [e.seq, new TextDecoder().decode(e.content)])).toEqual([
          [1, 'a'],
          [2, 'b'],
        ]);
        expect(page.nextSeq).toBe(3);
      }
    });

    it('sending to your own account excludes the sending device', async () => {
      const me = await account([1, 2]);
      const r = await store.commitBatch({ sends: [send(me, me.accountId, [1, 2]), send(me, me.accountId, [2])], acks: [], now: NOW });
      expect(r.sends[0]).toEqual({ status: 'mismatched', missing: [], stale: [1] });
      expect(r.sends[1]!.status).toBe('committed');
    });

    it('acks delete only the named seqs of the acking device; seqs are never reused', async () => {
      const bob = await account([1, 2]);
      const alice = await account([1]);
      await store.commitBatch({ sends: [1, 2, 3].map((i) => send(alice, bob.accountId, [1, 2], String(i))), acks: [], now: NOW });
      const [d1, d2] = bob.devices;
      const r = await store.commitBatch({ sends: [], acks: [{ deviceKey: d1!.deviceKey, seqs: [1, 3, 99] }], now: NOW });
      expect(r.acked).toBe(2);
      expect((await store.readMailbox(d1!.deviceKey, 0, 10)).envelopes.map((e) => e.seq)).toEqual([2]);
      expect((await store.readMailbox(d2!.deviceKey, 0, 10)).envelopes.map((e) => e.seq)).toEqual([1, 2, 3]);
      await store.commitBatch({ sends: [], acks: [{ deviceKey: d1!.deviceKey, seqs: [2] }], now: NOW });
      await store.commitBatch({ sends: [send(alice, bob.accountId, [1, 2], 'later')], acks: [], now: NOW });
      expect((await store.readMailbox(d1!.deviceKey, 0, 10)).envelopes.map((e) => e.seq)).toEqual([4]);
    });

    it('mailbox reads page by seq and report the counter read before the page', async () => {
      const bob = await account([1]);
      const alice = await account([1]);
      await store.commitBatch({ sends: Array.from({ length: 10 }, (_, i) => send(alice, bob.accountId, [1], String(i))), acks: [], now: NOW });
      const k = bob.devices[0]!.deviceKey;
      const first = await store.readMailbox(k, 0, 4);
      expect(first.envelopes.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      const rest = await store.readMailbox(k, 4, 100);
      expect(rest.envelopes.map((e) => e.seq)).toEqual([5, 6, 7, 8, 9, 10]);
      expect(rest.nextSeq).toBe(11);
      expect((await store.readMailbox(123456, 0, 10)).nextSeq).toBeUndefined();
      expect(await store.countEnvelopes()).toBe(10);
    });

    it('one-time prekeys are claimed once each, even by concurrent claims; the last-resort key is the fallback', async () => {
      const a = await account([1]);
      const k = a.devices[0]!.deviceKey;
      await store.storePrekeys(k, {
        oneTimePrekeys: Array.from({ length: 20 }, (_, i) => ({ keyId: 100 + i, publicKey: rng(32) })),
        kemOneTimePrekeys: Array.from({ length: 10 }, (_, i) => spk(200 + i)),
      });
      expect(await store.prekeyCounts(k)).toMatchObject({ oneTimePrekeys: 20, kemOneTimePrekeys: 10 });
      const claims = (await Promise.all(Array.from({ length: 30 }, () => store.claimBundles(a.accountId)))).map((b) => b[0]!);
      const oneTime = claims.filter((c) => c.oneTimePrekey).map((c) => c.oneTimePrekey!.keyId);
      expect(oneTime).toHaveLength(20);
      expect(new Set(oneTime).size).toBe(20);
      const kem = claims.map((c) => c.kemPrekey!);
      expect(new Set(kem.filter((x) => !x.lastResort).map((x) => x.keyId)).size).toBe(10);
      expect(kem.filter((x) => x.lastResort).map((x) => x.keyId)).toEqual(Array(20).fill(2));
      expect(await store.prekeyCounts(k)).toMatchObject({ oneTimePrekeys: 0, kemOneTimePrekeys: 0, signedPrekey: { keyId: 1 } });
    });

    it('a claim outside `oneTimeFor` consumes no one-time key and hands out the last-resort key', async () => {
      const a = await account([1, 2]);
      const [k1, k2] = a.devices.map((d) => d.deviceKey) as [number, number];
      for (const k of [k1, k2]) {
        await store.storePrekeys(k, {
          signedPrekey: spk(1),
          lastResortKemPrekey: spk(2),
          oneTimePrekeys: [{ keyId: 100, publicKey: rng(32) }],
          kemOneTimePrekeys: [spk(200)],
        });
      }
      const [b1, b2] = await store.claimBundles(a.accountId, undefined, { oneTimeFor: [k2] });
      expect(b1!.oneTimePrekey).toBeUndefined();
      expect(b1).toMatchObject({ deviceId: 1, kemPrekey: { keyId: 2, lastResort: true } });
      expect(b2).toMatchObject({ deviceId: 2, oneTimePrekey: { keyId: 100 }, kemPrekey: { keyId: 200, lastResort: false } });
      expect(await store.prekeyCounts(k1)).toMatchObject({ oneTimePrekeys: 1, kemOneTimePrekeys: 1 });
      expect(await store.prekeyCounts(k2)).toMatchObject({ oneTimePrekeys: 0, kemOneTimePrekeys: 0 });
    });

    it('an upload past the one-time prekey cap is not stored at all, and says what was stored before it', async () => {
      const a = await account([1]);
      const k = a.devices[0]!.deviceKey;
      const keys = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ keyId: from + i, publicKey: rng(32) }));
      expect(await store.storePrekeys(k, { oneTimePrekeys: keys(1, 8), kemOneTimePrekeys: [spk(500)] }, { maxOneTimePerKind: 10 })).toEqual({ status: 'stored' });
      // Replacing stored ids adds nothing; new ones past the cap refuse the whole upload.
      expect(await store.storePrekeys(k, { oneTimePrekeys: keys(1, 10) }, { maxOneTimePerKind: 10 })).toEqual({ status: 'stored' });
      expect(await store.storePrekeys(k, { oneTimePrekeys: keys(11, 1), kemOneTimePrekeys: [spk(501)] }, { maxOneTimePerKind: 10 })).toEqual({
        status: 'too-many',
        oneTimePrekeys: 10,
        kemOneTimePrekeys: 1,
      });
      expect(await store.prekeyCounts(k)).toMatchObject({ oneTimePrekeys: 10, kemOneTimePrekeys: 1 });
    });

    it('a send to a full mailbox stores nothing (mailbox-full), counting the earlier sends of its batch', async () => {
      const bob = await account([1, 2]);
      const alice = await account([1]);
      const first = await store.commitBatch({ sends: [send(alice, bob.accountId, [1, 2])], acks: [], now: NOW, maxMailboxEnvelopes: 2 });
      expect(first.sends.map((s) => s.status)).toEqual(['committed']);
      const second = await store.commitBatch({
        sends: [send(alice, bob.accountId, [1, 2]), send(alice, bob.accountId, [1, 2])],
        acks: [],
        now: NOW,
        maxMailboxEnvelopes: 2,
      });
      expect(second.sends.map((s) => s.status)).toEqual(['committed', 'mailbox-full']);
      const [k1] = bob.devices.map((d) => d.deviceKey) as [number];
      expect((await store.readMailbox(k1, 0, 10)).envelopes.map((e) => e.seq)).toEqual([1, 2]);
      // An ack makes room.
      await store.commitBatch({ sends: [], acks: [{ deviceKey: k1, seqs: [1] }, { deviceKey: bob.devices[1]!.deviceKey, seqs: [1] }], now: NOW });
      const third = await store.commitBatch({ sends: [send(alice, bob.accountId, [1, 2])], acks: [], now: NOW, maxMailboxEnvelopes: 2 });
      expect(third.sends.map((s) => s.status)).toEqual(['committed']);
    });

    it('a challenge can be taken once', async () => {
      const nonce = rng(32);
      await store.putChallenge({ nonce, accountId: rng(16), deviceId: 1, expiresAt: NOW });
      expect(await store.takeChallenge(nonce)).toMatchObject({ deviceId: 1, expiresAt: NOW });
      expect(await store.takeChallenge(nonce)).toBeUndefined();
    });

    it('mutual contacts need both directions, and visibility when asked for', async () => {
      const [a, b, c, d] = await Promise.all([account(), account(), account(), account()]);
      await store.replaceContacts(a.accountId, [b.accountId, c.accountId, d.accountId, a.accountId]);
      await store.replaceContacts(b.accountId, [a.accountId]);
      await store.replaceContacts(d.accountId, [a.accountId]);
      await store.setPresenceVisible(d.accountId, false);
      const hexes = (xs: Uint8Array[]) => xs.map(toHex).sort();
      expect(hexes(await store.getContacts(a.accountId))).toEqual(hexes([b.accountId, c.accountId, d.accountId]));
      expect(hexes(await store.mutualContacts(a.accountId, { visibleOnly: false }))).toEqual(hexes([b.accountId, d.accountId]));
      expect(hexes(await store.mutualContacts(a.accountId, { visibleOnly: true }))).toEqual(hexes([b.accountId]));
      expect(await store.mutualContacts(a.accountId, { among: [c.accountId], visibleOnly: false })).toEqual([]);
      expect(hexes(await store.mutualContacts(b.accountId, { visibleOnly: false }))).toEqual(hexes([a.accountId]));
    });

    it('the sweep deletes expired envelopes, challenges, sessions and username holds', async () => {
      const bob = await account([1]);
      const alice = await account([1]);
      await store.commitBatch({ sends: [send(alice, bob.accountId, [1], 'old')], acks: [], now: NOW - 10 });
      await store.commitBatch({ sends: [send(alice, bob.accountId, [1], 'new')], acks: [], now: NOW + 10 });
      await store.putChallenge({ nonce: rng(32), accountId: rng(16), deviceId: 1, expiresAt: NOW - 1 });
      await store.putSession({ tokenId: rng(16), secretHash: rng(32), deviceKey: bob.devices[0]!.deviceKey, expiresAt: NOW - 1 });
      const result = await store.sweep({ now: NOW, mailboxCutoff: NOW, batchSize: 1 });
      expect(result).toEqual({ envelopes: 1, challenges: 1, sessions: 1, usernames: 0 });
      expect((await store.readMailbox(bob.devices[0]!.deviceKey, 0, 10)).envelopes.map((e) => new TextDecoder().decode(e.content))).toEqual(['new']);
    });

    it('ids, seqs, versions, times and counts come back as numbers', async () => {
      const bob = await account([1]);
      const alice = await account([1]);
      await store.commitBatch({ sends: [send(alice, bob.accountId, [1])], acks: [], now: NOW });
      const k = bob.devices[0]!.deviceKey;
      const page = await store.readMailbox(k, 0, 10);
      const account_ = (await store.getAccount(bob.accountId))!;
      const counts = await store.prekeyCounts(k);
      const values = [
        k,
        bob.devices[0]!.deviceId,
        page.nextSeq,
        page.envelopes[0]!.seq,
        page.envelopes[0]!.serverTimestamp,
        page.envelopes[0]!.sourceDevice,
        account_.deviceListVersion,
        counts.oneTimePrekeys,
        counts.signedPrekey!.keyId,
        counts.signedPrekey!.createdAt,
        await store.countEnvelopes(),
      ];
      for (const value of values) expect(typeof value).toBe('number');
      expect(page.envelopes[0]!.serverTimestamp).toBe(NOW);
      expect(page.envelopes[0]!.content).toBeInstanceOf(Uint8Array);
    });

    it('concurrent registrations of one username, or of one account id, create exactly one account', async () => {
      const base = { accountKey: rng(32), deviceList: rng(10), deviceListVersion: 1, prekeys: {}, now: NOW };
      const byName = await Promise.all(
        Array.from({ length: 8 }, () => store.createAccount({ ...base, accountId: rng(16), username: 'contested', device: device(1) })),
      );
      expect(byName.filter((r) => r.status === 'created')).toHaveLength(1);
      expect(byName.filter((r) => r.status === 'username-taken')).toHaveLength(7);
      const id = rng(16);
      const byId = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.createAccount({ ...base, accountId: id, username: `claimant${i}`, device: device(1) })),
      );
      expect(byId.filter((r) => r.status === 'created')).toHaveLength(1);
      expect(byId.filter((r) => r.status === 'account-exists')).toHaveLength(7);
      expect(await store.listDevices(id)).toHaveLength(1);
    });

    it('concurrent batches to the same devices give each device distinct, contiguous seqs', async () => {
      const bob = await account([1, 2]);
      const carol = await account([1, 2]);
      const alice = await account([1]);
      // Half the batches name bob first, half carol first: the locks must not deadlock on the order.
      const batches = Array.from({ length: 12 }, (_, i) => {
        const order = i % 2 === 0 ? [bob, carol] : [carol, bob];
        const sends = order.flatMap((to) => [send(alice, to.accountId, [1, 2], `${i}a`), send(alice, to.accountId, [2, 1], `${i}b`)]);
        return store.commitBatch({ sends, acks: [], now: NOW });
      });
      const results = await Promise.all(batches);
      expect(results.flatMap((r) => r.sends.map((s) => s.status)).every((s) => s === 'committed')).toBe(true);
      for (const d of [...bob.devices, ...carol.devices]) {
        const page = await store.readMailbox(d.deviceKey, 0, 100);
        expect(page.envelopes.map((e) => e.seq)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
        expect(page.nextSeq).toBe(25);
      }
    });

    it('a device dropped from its list while batches are sent to it leaves no envelope behind', async () => {
      const bob = await account([1, 2]);
      const alice = await account([1]);
      const batches = Array.from({ length: 10 }, (_, i) => store.commitBatch({ sends: [send(alice, bob.accountId, [1, 2], String(i))], acks: [], now: NOW }));
      const replaced = store.replaceDeviceList({ accountId: bob.accountId, expectedVersion: 2, deviceList: rng(100), version: 3, devices: [bob.keys[0]!], now: NOW });
      const [outcomes, replacement] = await Promise.all([Promise.all(batches), replaced]);
      expect(replacement.status).toBe('replaced');
      const committed = outcomes.filter((o) => o.sends[0]!.status === 'committed').length;
      for (const o of outcomes) if (o.sends[0]!.status !== 'committed') expect(o.sends[0]).toEqual({ status: 'mismatched', missing: [], stale: [2] });
      // Device 1 holds one envelope per committed send; device 2's are gone with it, none orphaned.
      expect((await store.readMailbox(bob.devices[0]!.deviceKey, 0, 100)).envelopes).toHaveLength(committed);
      expect(await store.countEnvelopes()).toBe(committed);
    });

    it('concurrent deletions of one account: one removes it, the others find nothing', async () => {
      const a = await account([1, 2]);
      const results = await Promise.all(
        Array.from({ length: 4 }, () => store.deleteAccount({ accountId: a.accountId, now: NOW, usernameAvailableAt: NOW + 1 })),
      );
      const removed = results.filter((r) => r !== undefined);
      expect(removed).toHaveLength(1);
      expect(removed[0]!.removed.map((d) => d.deviceId).sort()).toEqual([1, 2]);
      expect(await store.getAccount(a.accountId)).toBeUndefined();
    });

    it('concurrent unregistrations of one device: one removes it, the others find nothing', async () => {
      const a = await account([1, 2]);
      const results = await Promise.all(Array.from({ length: 4 }, () => store.unregisterDevice(a.devices[1]!.deviceKey)));
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
      expect((await store.listDevices(a.accountId)).map((d) => d.deviceId)).toEqual([1]);
    });

    it('a device that unregisters while its list is replaced: both finish, and the device stays out', async () => {
      const a = await account([1, 2, 3]);
      const [unregistered, replaced] = await Promise.all([
        store.unregisterDevice(a.devices[1]!.deviceKey),
        store.replaceDeviceList({ accountId: a.accountId, expectedVersion: 2, deviceList: rng(100), version: 3, devices: a.keys.slice(0, 2), now: NOW }),
      ]);
      expect(replaced.status).toBe('replaced');
      if (replaced.status !== 'replaced') return;
      // Device 2 is removed by exactly one of the two, device 3 by the replacement.
      const removedIds = [...(unregistered ? [unregistered.deviceId] : []), ...replaced.removed.map((d) => d.deviceId)].sort();
      expect(removedIds).toEqual([2, 3]);
      expect((await store.listDevices(a.accountId)).map((d) => d.deviceId)).toEqual([1]);
    });

    it('concurrent replacements of a contact list leave exactly one of them, whole', async () => {
      const owner = await account();
      const lists = Array.from({ length: 6 }, () => [rng(16), rng(16), rng(16)]);
      await Promise.all(lists.map((list) => store.replaceContacts(owner.accountId, list)));
      const stored = (await store.getContacts(owner.accountId)).map(toHex).sort();
      expect(lists.map((list) => list.map(toHex).sort())).toContainEqual(stored);
    });

    it('an encrypted profile is stored verbatim, replaced whole, and only for an account that exists', async () => {
      const a = await account();
      expect(await store.getProfile(a.accountId)).toBeUndefined();
      const first = rng(702);
      expect(await store.putProfile({ accountId: a.accountId, profile: first, now: NOW })).toBe('stored');
      expect(await store.getProfile(a.accountId)).toEqual({ profile: first, updatedAt: NOW });
      const second = rng(1006);
      expect(await store.putProfile({ accountId: a.accountId, profile: second, now: NOW + 5 })).toBe('stored');
      expect(await store.getProfile(a.accountId)).toEqual({ profile: second, updatedAt: NOW + 5 });
      const stranger = rng(16);
      expect(await store.putProfile({ accountId: stranger, profile: first, now: NOW })).toBe('no-account');
      expect(await store.getProfile(stranger)).toBeUndefined();
    });

    it('the largest encrypted profile (one carrying a 64 KiB avatar) is stored and served byte for byte', async () => {
      const a = await account();
      const largest = rng(MAX_ENCRYPTED_PROFILE_BYTES);
      expect(await store.putProfile({ accountId: a.accountId, profile: largest, now: NOW })).toBe('stored');
      expect(await store.getProfile(a.accountId)).toEqual({ profile: largest, updatedAt: NOW });
      // Replaced by a profile without an avatar: nothing of the larger one is left behind.
      const small = rng(702);
      await store.putProfile({ accountId: a.accountId, profile: small, now: NOW + 1 });
      expect(await store.getProfile(a.accountId)).toEqual({ profile: small, updatedAt: NOW + 1 });
    });

    it('deleting an account deletes its profile; other profiles stay', async () => {
      const a = await account();
      const b = await account();
      await store.putProfile({ accountId: a.accountId, profile: rng(702), now: NOW });
      const kept = rng(702);
      await store.putProfile({ accountId: b.accountId, profile: kept, now: NOW });
      await store.deleteAccount({ accountId: a.accountId, now: NOW, usernameAvailableAt: NOW + 1 });
      expect(await store.getProfile(a.accountId)).toBeUndefined();
      expect(await store.putProfile({ accountId: a.accountId, profile: rng(702), now: NOW })).toBe('no-account');
      expect((await store.getProfile(b.accountId))?.profile).toEqual(kept);
    });

    it('a delivery-token hash (sealed sender) is set, replaced whole, only for an account that exists, and goes with the account', async () => {
      const a = await account();
      const b = await account();
      expect(await store.deliveryTokenHash(a.accountId)).toBeUndefined();
      const first = rng(32);
      expect(await store.putDeliveryTokenHash({ accountId: a.accountId, tokenHash: first, now: NOW })).toBe('stored');
      expect(await store.deliveryTokenHash(a.accountId)).toEqual(first);
      // A rotation (the owner blocked someone) replaces it: the old hash is gone.
      const rotated = rng(32);
      expect(await store.putDeliveryTokenHash({ accountId: a.accountId, tokenHash: rotated, now: NOW + 1 })).toBe('stored');
      expect(await store.deliveryTokenHash(a.accountId)).toEqual(rotated);
      const kept = rng(32);
      await store.putDeliveryTokenHash({ accountId: b.accountId, tokenHash: kept, now: NOW });
      expect(await store.putDeliveryTokenHash({ accountId: rng(16), tokenHash: first, now: NOW })).toBe('no-account');
      await store.deleteAccount({ accountId: a.accountId, now: NOW, usernameAvailableAt: NOW + 1 });
      expect(await store.deliveryTokenHash(a.accountId)).toBeUndefined();
      expect(await store.putDeliveryTokenHash({ accountId: a.accountId, tokenHash: first, now: NOW })).toBe('no-account');
      expect(await store.deliveryTokenHash(b.accountId)).toEqual(kept);
    });

    it('a sealed send (no sender) stores no source, must name every device of the recipient, and is read back without one', async () => {
      const alice = await account([1, 2]);
      const sealed = (deviceIds: number[], content: string): SendItem => ({
        from: null,
        to: alice.accountId,
        messages: deviceIds.map((deviceId) => ({ deviceId, content: new TextEncoder().encode(content) })),
      });
      // Without a sender there is no "own device" to leave out: a send to device 2 alone is missing device 1.
      const r = await store.commitBatch({ sends: [sealed([2], 'partial'), sealed([1, 2], 'whole')], acks: [], now: NOW });
      expect(r.sends[0]).toEqual({ status: 'mismatched', missing: [1], stale: [] });
      expect(r.sends[1]!.status).toBe('committed');
      await r.durable;
      for (const d of alice.devices) {
        const page = await store.readMailbox(d.deviceKey, 0, 10);
        expect(page.envelopes.map((e) => ({ source: e.sourceAccount, device: e.sourceDevice, content: new TextDecoder().decode(e.content) }))).toEqual([
          { source: null, device: null, content: 'whole' },
        ]);
      }
    });

    it('concurrent: profile uploads racing an account deletion leave no profile behind', async () => {
      const a = await account();
      const uploads = Array.from({ length: 5 }, (_, i) => store.putProfile({ accountId: a.accountId, profile: rng(702), now: NOW + i }));
      const deletion = store.deleteAccount({ accountId: a.accountId, now: NOW, usernameAvailableAt: NOW + 1 });
      await Promise.all([...uploads, deletion]);
      expect(await store.getProfile(a.accountId)).toBeUndefined();
    });

    // ── Attachments (aggregates/attachments.ts) ──

    const upload = (accountId: Uint8Array, length: number, extra: Partial<Parameters<RelayStore['createAttachment']>[0]> = {}) => ({
      attachmentId: rng(16),
      accountId,
      length,
      now: NOW,
      expiresAt: NOW + 1000,
      maxUploading: 3,
      quotaBytes: 10_000,
      ...extra,
    });

    it('an attachment is recorded with its uploader, completes once, and is forgotten when deleted', async () => {
      const a = await account();
      const input = upload(a.accountId, 1234);
      expect(await store.createAttachment(input)).toEqual({ status: 'created' });
      expect(await store.getAttachment(input.attachmentId)).toEqual({
        attachmentId: input.attachmentId,
        accountId: a.accountId,
        length: 1234,
        state: 'uploading',
        createdAt: NOW,
        expiresAt: NOW + 1000,
      });
      expect(await store.attachmentTotals()).toEqual({ storedBytes: 0, uploadsInProgress: 1 });
      expect(await store.completeAttachment(input.attachmentId, NOW + 5000)).toBe(true);
      expect(await store.completeAttachment(input.attachmentId, NOW + 9000)).toBe(false);
      expect(await store.getAttachment(input.attachmentId)).toMatchObject({ state: 'complete', expiresAt: NOW + 5000 });
      expect(await store.attachmentTotals()).toEqual({ storedBytes: 1234, uploadsInProgress: 0 });
      expect(await store.deleteAttachment(input.attachmentId)).toBe(true);
      expect(await store.deleteAttachment(input.attachmentId)).toBe(false);
      expect(await store.getAttachment(input.attachmentId)).toBeUndefined();
    });

    it('an account past its unfinished-upload count or its quota records nothing; other accounts are unaffected', async () => {
      const a = await account();
      const b = await account();
      const first = upload(a.accountId, 6000);
      await store.createAttachment(first);
      await store.completeAttachment(first.attachmentId, NOW + 5000);
      expect(await store.createAttachment(upload(a.accountId, 4001))).toEqual({ status: 'quota-exceeded' });
      expect(await store.createAttachment(upload(a.accountId, 1000))).toEqual({ status: 'created' });
      expect(await store.createAttachment(upload(a.accountId, 1000, { maxUploading: 1 }))).toEqual({ status: 'too-many-uploads' });
      expect(await store.createAttachment(upload(b.accountId, 9000))).toEqual({ status: 'created' });
      expect(await store.attachmentTotals()).toEqual({ storedBytes: 6000, uploadsInProgress: 2 });
    });

    it('concurrent uploads of one account never pass its quota together', async () => {
      const a = await account();
      const outcomes = await Promise.all(Array.from({ length: 8 }, () => store.createAttachment(upload(a.accountId, 3000, { maxUploading: 100 }))));
      expect(outcomes.filter((o) => o.status === 'created')).toHaveLength(3);
      expect(outcomes.filter((o) => o.status === 'quota-exceeded')).toHaveLength(5);
    });

    it('expiry deletes unfinished uploads, makes finished ones tombstones, then drops the tombstones; live ids are told apart', async () => {
      const a = await account();
      const partial = upload(a.accountId, 10, { expiresAt: NOW + 10 });
      const finished = upload(a.accountId, 20, { expiresAt: NOW + 10 });
      const young = upload(a.accountId, 30, { expiresAt: NOW + 10 });
      for (const u of [partial, finished, young]) await store.createAttachment(u);
      await store.completeAttachment(finished.attachmentId, NOW + 100);
      await store.completeAttachment(young.attachmentId, NOW + 10_000);
      const first = await store.expireAttachments({ now: NOW + 100, tombstoneCutoff: 0, batchSize: 1 });
      expect({ partial: first.partial, expired: first.expired, tombstones: first.tombstones }).toEqual({ partial: 1, expired: 1, tombstones: 0 });
      expect(first.files.map(toHex).sort()).toEqual([partial.attachmentId, finished.attachmentId].map(toHex).sort());
      expect(await store.getAttachment(partial.attachmentId)).toBeUndefined();
      expect(await store.getAttachment(finished.attachmentId)).toMatchObject({ state: 'expired' });
      const live = await store.liveAttachments([partial.attachmentId, finished.attachmentId, young.attachmentId, rng(16)]);
      expect(live.map(toHex)).toEqual([toHex(young.attachmentId)]);
      const second = await store.expireAttachments({ now: NOW + 200, tombstoneCutoff: NOW + 100, batchSize: 10 });
      expect({ files: second.files.length, tombstones: second.tombstones }).toEqual({ files: 0, tombstones: 1 });
      expect(await store.getAttachment(finished.attachmentId)).toBeUndefined();
      expect(await store.attachmentTotals()).toEqual({ storedBytes: 30, uploadsInProgress: 0 });
    });

    // ── Provisioning channels (device linking, ADR 0024) ──
    const channel = (rendezvous: string, expiresAt = NOW + 300_000) => ({ channelId: rng(16), rendezvous, tokenHash: rng(32), now: NOW, expiresAt });

    it('a provisioning channel is created once per live rendezvous, found by it while live, and joined exactly once', async () => {
      const c = channel('123456');
      expect(await store.createProvisioningChannel(c)).toBe('created');
      expect(await store.createProvisioningChannel(channel('123456'))).toBe('rendezvous-taken');
      expect((await store.findProvisioningChannels('123456', NOW)).map(toHex)).toEqual([toHex(c.channelId)]);
      expect(await store.findProvisioningChannels('123456', c.expiresAt)).toEqual([]);
      expect(await store.getProvisioningChannel(c.channelId)).toEqual({ channelId: c.channelId, rendezvous: '123456', tokenHash: c.tokenHash, createdAt: NOW, expiresAt: c.expiresAt, joined: null });
      const a = await account();
      const b = await account();
      expect(await store.joinProvisioningChannel({ channelId: c.channelId, accountId: a.accountId, deviceId: 1, now: NOW + 1 })).toBe('joined');
      expect(await store.joinProvisioningChannel({ channelId: c.channelId, accountId: a.accountId, deviceId: 1, now: NOW + 2 })).toBe('full');
      expect(await store.joinProvisioningChannel({ channelId: c.channelId, accountId: b.accountId, deviceId: 1, now: NOW + 2 })).toBe('full');
      expect((await store.getProvisioningChannel(c.channelId))?.joined).toEqual({ accountId: a.accountId, deviceId: 1 });
      expect(await store.joinProvisioningChannel({ channelId: rng(16), accountId: a.accountId, deviceId: 1, now: NOW })).toBe('not-found');
      const late = channel('654321', NOW + 10);
      await store.createProvisioningChannel(late);
      expect(await store.joinProvisioningChannel({ channelId: late.channelId, accountId: a.accountId, deviceId: 1, now: NOW + 10 })).toBe('expired');
      // Once expired, the rendezvous is free again.
      expect(await store.createProvisioningChannel({ ...channel('654321'), now: NOW + 10 })).toBe('created');
    });

    it('concurrent: of simultaneous joins of one channel exactly one wins', async () => {
      const c = channel('111111');
      await store.createProvisioningChannel(c);
      const accounts = await Promise.all([account(), account(), account(), account()]);
      const results = await Promise.all(accounts.map((a) => store.joinProvisioningChannel({ channelId: c.channelId, accountId: a.accountId, deviceId: 1, now: NOW + 1 })));
      expect(results.filter((r) => r === 'joined')).toHaveLength(1);
      expect(results.filter((r) => r === 'full')).toHaveLength(3);
    });

    it('provisioning messages are numbered per channel, kept verbatim per side, capped, refused after expiry, and swept', async () => {
      const c = channel('222222', NOW + 1_000);
      await store.createProvisioningChannel(c);
      const body = (n: number) => Uint8Array.from({ length: 50 + n }, (_, i) => (i * n) & 0xff);
      const append = (sender: 'new' | 'joined', n: number, now = NOW + 1) => store.appendProvisioningMessage({ channelId: c.channelId, sender, body: body(n), now, maxMessages: 3 });
      expect(await append('joined', 1)).toEqual({ status: 'stored', seq: 1 });
      expect(await append('new', 2)).toEqual({ status: 'stored', seq: 2 });
      expect(await append('joined', 3)).toEqual({ status: 'stored', seq: 3 });
      expect(await append('new', 4)).toEqual({ status: 'full' });
      expect(await store.provisioningMessages(c.channelId, 'joined', 0)).toEqual([{ seq: 1, body: body(1) }, { seq: 3, body: body(3) }]);
      expect(await store.provisioningMessages(c.channelId, 'joined', 1)).toEqual([{ seq: 3, body: body(3) }]);
      expect(await store.provisioningMessages(c.channelId, 'new', 0)).toEqual([{ seq: 2, body: body(2) }]);
      expect(await store.appendProvisioningMessage({ channelId: rng(16), sender: 'new', body: body(1), now: NOW, maxMessages: 3 })).toEqual({ status: 'not-found' });
      const other = channel('333333', NOW + 1_000);
      await store.createProvisioningChannel(other);
      expect(await store.appendProvisioningMessage({ channelId: other.channelId, sender: 'new', body: body(1), now: NOW + 1_000, maxMessages: 3 })).toEqual({ status: 'expired' });
      const live = channel('444444', NOW + 100_000);
      await store.createProvisioningChannel(live);
      await store.appendProvisioningMessage({ channelId: live.channelId, sender: 'new', body: body(9), now: NOW, maxMessages: 3 });
      // At NOW + 1,000 both short channels have expired: their messages go, the rows stay until forgotten.
      expect(await store.sweepProvisioning({ now: NOW + 1_000, forgetBefore: 0 })).toEqual({ messages: 3, channels: 0 });
      expect(await store.provisioningMessages(c.channelId, 'joined', 0)).toEqual([]);
      expect(await store.getProvisioningChannel(c.channelId)).toBeDefined();
      expect(await store.sweepProvisioning({ now: NOW + 2_000, forgetBefore: NOW + 1_000 })).toEqual({ messages: 0, channels: 2 });
      expect(await store.getProvisioningChannel(c.channelId)).toBeUndefined();
      expect(await store.provisioningMessages(live.channelId, 'new', 0)).toEqual([{ seq: 1, body: body(9) }]);
    });

    it('backups: the first store binds the auth key; a later one with it replaces the blob and names the old generation; another key changes nothing', async () => {
      const backupId = rng(16);
      const key = rng(32);
      const [g1, g2, g3] = [rng(16), rng(16), rng(16)];
      expect(await store.getBackup(backupId)).toBeUndefined();
      expect(await store.commitBackup({ backupId, authKey: key, generation: g1, length: 500, now: NOW })).toEqual({ status: 'stored', replaced: null });
      expect(await store.commitBackup({ backupId, authKey: key, generation: g2, length: 700, now: NOW + 1 })).toEqual({ status: 'stored', replaced: g1 });
      expect(await store.commitBackup({ backupId, authKey: rng(32), generation: g3, length: 9, now: NOW + 2 })).toEqual({ status: 'key-mismatch' });
      expect(await store.getBackup(backupId)).toEqual({ backupId, authKey: key, generation: g2, length: 700, storedAt: NOW + 1 });
      expect(await store.liveBackupGenerations([{ backupId, generation: g1 }, { backupId, generation: g2 }, { backupId: rng(16), generation: g2 }])).toEqual([false, true, false]);
      expect(await store.deleteBackup(backupId, rng(32))).toBeNull();
      expect(await store.deleteBackup(backupId, key)).toEqual(g2);
      expect(await store.getBackup(backupId)).toBeUndefined();
    });

    it('backups (concurrent): two first uploads of one id under two keys bind exactly one key', async () => {
      const backupId = rng(16);
      const keys = [rng(32), rng(32), rng(32), rng(32)];
      const results = await Promise.all(keys.map((authKey) => store.commitBackup({ backupId, authKey, generation: rng(16), length: 1, now: NOW })));
      const stored = results.filter((r) => r.status === 'stored');
      expect(stored.length).toBe(1);
      const bound = (await store.getBackup(backupId))!.authKey;
      expect(keys.findIndex((k) => toHex(k) === toHex(bound))).toBe(results.findIndex((r) => r.status === 'stored'));
    });

    it('backup challenges are single-use; expiry removes backups not replaced since the cutoff and expired challenges', async () => {
      const nonce = rng(32);
      const backupId = rng(16);
      await store.putBackupChallenge({ nonce, backupId, expiresAt: NOW + 60_000 });
      expect(await store.takeBackupChallenge(nonce)).toEqual({ backupId, expiresAt: NOW + 60_000 });
      expect(await store.takeBackupChallenge(nonce)).toBeUndefined();
      await store.putBackupChallenge({ nonce: rng(32), backupId, expiresAt: NOW - 1 });
      const old = { backupId: rng(16), generation: rng(16) };
      const fresh = { backupId: rng(16), generation: rng(16) };
      await store.commitBackup({ ...old, authKey: rng(32), length: 1, now: NOW - 10 });
      await store.commitBackup({ ...fresh, authKey: rng(32), length: 1, now: NOW });
      const swept = await store.expireBackups({ storedBefore: NOW - 5, now: NOW, batchSize: 100 });
      expect(swept.removed).toEqual([old]);
      expect(swept.challenges).toBe(1);
      expect(await store.getBackup(old.backupId)).toBeUndefined();
      expect(await store.getBackup(fresh.backupId)).toBeDefined();
    });

    it('committed state survives closing and reopening', async () => {
      const bob = await account([1]);
      const alice = await account([1]);
      await store.commitBatch({ sends: [send(alice, bob.accountId, [1], 'kept')], acks: [], now: NOW });
      await store.close();
      store = await reopen();
      expect((await store.readMailbox(bob.devices[0]!.deviceKey, 0, 10)).envelopes).toHaveLength(1);
      expect((await store.getAccount(bob.accountId))?.username).toBe(bob.username);
    });

    if (backend.exclusive) {
      it('a second process-level open of the same database fails while the relay holds it', async () => {
        await account([1]);
        await expect(reopen()).rejects.toBeInstanceOf(StoreLockedError);
      });
    }
  });
}
