import { afterEach, describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from '../../../shared/crypto/bytes.js';
import { Capability, OLD_PREKEY_RETENTION_MS, SIGNED_PREKEY_ROTATION_MS } from '../../../shared/protocol/constants.js';
import { parseDeviceList, verifyDeviceList } from '../../../shared/protocol/device-list.js';
import { verifyKemPrekey, verifySignedPrekey, type PrekeyBundle } from '../../../shared/protocol/prekeys.js';
import { FailureBudgets } from '../../../shared/protocol/session.js';
import { deterministicRng, ManualClock } from '../../../shared/testing/deterministic-rng.js';
import { makeDevice, Party, type TestDevice } from '../../../shared/testing/protocol-fixtures.js';
import { getAccount, localDeviceOf, type LocalAccount } from '../db/account.js';
import type { EngineDatabase } from '../db/database.js';
import {
  applyPrekeyChanges,
  currentLastResortKemPrekey,
  currentSignedPrekey,
  readPrekeyInventory,
  SqlitePrekeyStore,
  type PrekeyInventory,
} from '../db/prekeys.js';
import { sql } from '../db/sql.js';
import { Sessions } from '../messaging/sessions.js';
import { bootstrapAccount, PRIMARY_DEVICE_ID } from './bootstrap.js';
import { BUILD_CAPABILITIES, resignDeviceListIfDue } from './device-list.js';
import { linkTestDevice } from '../../../shared/testing/device-list-fixtures.js';
import { KEM_ONE_TIME_PREKEY_BATCH, maintainPrekeys, ONE_TIME_PREKEY_BATCH, planPrekeyMaintenance } from './prekey-lifecycle.js';
import { temporaryDatabase, type TemporaryDatabase } from '../../../test/support/database.js';

const DAY = 24 * 3600_000;
const T0 = Date.UTC(2026, 10, 1);

const temps: TemporaryDatabase[] = [];
afterEach(() => {
  for (const temp of temps.splice(0)) temp.dispose();
});

async function newAccount(seed: string): Promise<{ db: EngineDatabase; account: LocalAccount; clock: ManualClock; rng: ReturnType<typeof deterministicRng> }> {
  const temp = temporaryDatabase('parley-lifecycle-');
  temps.push(temp);
  const db = temp.db;
  const rng = deterministicRng(seed);
  const clock = new ManualClock(T0);
  const { account } = await bootstrapAccount(db.writer, { username: 'alice', relayUrl: 'https://relay.example' }, { rng, now: clock.now });
  return { db, account, clock, rng };
}

const inventory = (over: Partial<PrekeyInventory> = {}): PrekeyInventory => ({
  signed: [{ keyId: 1, createdAt: T0, supersededAt: null }],
  lastResortKem: [{ keyId: 1, createdAt: T0, supersededAt: null }],
  oneTimeCount: 100,
  kemOneTimeCount: 100,
  ...over,
});

describe('prekey lifecycle plan (pure)', () => {
  it('an empty store needs everything: signed, last-resort, full one-time batches', () => {
    const plan = planPrekeyMaintenance({ signed: [], lastResortKem: [], oneTimeCount: 0, kemOneTimeCount: 0 }, T0);
    expect(plan).toEqual({
      rotateSignedPrekey: true,
      rotateLastResortKemPrekey: true,
      eraseSignedPrekeys: [],
      eraseLastResortKemPrekeys: [],
      oneTimePrekeys: ONE_TIME_PREKEY_BATCH,
      kemOneTimePrekeys: KEM_ONE_TIME_PREKEY_BATCH,
    });
  });

  it('rotates the signed and last-resort keys at 7 days, not a millisecond before', () => {
    const early = planPrekeyMaintenance(inventory(), T0 + SIGNED_PREKEY_ROTATION_MS - 1);
    expect(early.rotateSignedPrekey || early.rotateLastResortKemPrekey).toBe(false);
    const due = planPrekeyMaintenance(inventory(), T0 + SIGNED_PREKEY_ROTATION_MS);
    expect(due.rotateSignedPrekey && due.rotateLastResortKemPrekey).toBe(true);
  });

  it('rotates a current key that claims to come from the future (the clock went back)', () => {
    expect(planPrekeyMaintenance(inventory(), T0 - 2 * DAY).rotateSignedPrekey).toBe(true);
    expect(planPrekeyMaintenance(inventory(), T0 - 3600_000).rotateSignedPrekey).toBe(false);
  });

  it('erases a replaced key 30 days after it was replaced, and keeps it until then', () => {
    const replaced = inventory({
      signed: [
        { keyId: 1, createdAt: T0, supersededAt: T0 + 7 * DAY },
        { keyId: 2, createdAt: T0 + 7 * DAY, supersededAt: null },
      ],
    });
    expect(planPrekeyMaintenance(replaced, T0 + 7 * DAY + OLD_PREKEY_RETENTION_MS - 1).eraseSignedPrekeys).toEqual([]);
    expect(planPrekeyMaintenance(replaced, T0 + 7 * DAY + OLD_PREKEY_RETENTION_MS).eraseSignedPrekeys).toEqual([1]);
  });

  it('refills one-time keys below 10 (relay count preferred over the local count)', () => {
    expect(planPrekeyMaintenance(inventory({ oneTimeCount: 10 }), T0).oneTimePrekeys).toBe(0);
    expect(planPrekeyMaintenance(inventory({ oneTimeCount: 9 }), T0).oneTimePrekeys).toBe(ONE_TIME_PREKEY_BATCH - 9);
    const reported = planPrekeyMaintenance(inventory(), T0, { oneTime: 3, kemOneTime: 50 });
    expect(reported.oneTimePrekeys).toBe(ONE_TIME_PREKEY_BATCH - 3);
    expect(reported.kemOneTimePrekeys).toBe(0);
  });
});

describe('account bootstrap', () => {
  it('creates the account key, identity keys, a pq device list and the initial prekeys, all stored', async () => {
    const { db, account } = await newAccount('bootstrap');
    const stored = getAccount(db.reader)!;
    expect(stored).toEqual(account);
    expect(stored.accountPrivateKey).not.toBeNull();
    const list = verifyDeviceList(stored.deviceList.signed, stored.accountPublicKey, stored.accountId);
    expect(list.version).toBe(1);
    expect(list.devices).toHaveLength(1);
    expect(list.devices[0]!.deviceId).toBe(PRIMARY_DEVICE_ID);
    expect(list.devices[0]!.capabilities & Capability.pq).toBe(Capability.pq);
    expect(list.devices[0]!.identityDhKey).toEqual(stored.identityDh.publicKey);

    const inv = readPrekeyInventory(db.reader);
    expect(inv.signed).toHaveLength(1);
    expect(inv.lastResortKem).toHaveLength(1);
    expect(inv.oneTimeCount).toBe(ONE_TIME_PREKEY_BATCH);
    expect(inv.kemOneTimeCount).toBe(KEM_ONE_TIME_PREKEY_BATCH);
    const signingKey = stored.identitySigning.publicKey;
    expect(verifySignedPrekey(signingKey, currentSignedPrekey(db.reader)!)).toBe(true);
    expect(verifyKemPrekey(signingKey, currentLastResortKemPrekey(db.reader)!)).toBe(true);
    const kems = db.reader.all<{ key_id: number }>(sql`SELECT key_id FROM kem_prekeys WHERE last_resort = 0`);
    const store = new SqlitePrekeyStore(db.reader);
    expect(kems.every((k) => store.kemPrekey(k.key_id)?.lastResort === false)).toBe(true);
  });

  it('a peer can open a PQXDH session from the stored prekeys, and the SQLite stores decrypt it', async () => {
    const { db, account, clock, rng } = await newAccount('bundle');
    const signed = currentSignedPrekey(db.reader)!;
    const kem = db.reader.get<{ key_id: number }>(sql`SELECT key_id FROM kem_prekeys WHERE last_resort = 0 ORDER BY key_id LIMIT 1`)!;
    const kemKey = db.reader.get<{ public_key: Uint8Array; signature: Uint8Array; created_at: number }>(
      sql`SELECT public_key, signature, created_at FROM kem_prekeys WHERE key_id = ${kem.key_id}`,
    )!;
    const otk = db.reader.get<{ key_id: number; public_key: Uint8Array }>(sql`SELECT key_id, public_key FROM one_time_prekeys ORDER BY key_id LIMIT 1`)!;
    const bundle: PrekeyBundle = {
      accountId: account.accountId,
      deviceId: account.deviceId,
      identityDhKey: account.identityDh.publicKey,
      identitySigningKey: account.identitySigning.publicKey,
      signedPrekey: { keyId: signed.keyId, publicKey: signed.publicKey, createdAt: signed.createdAt, signature: signed.signature },
      oneTimePrekey: { keyId: otk.key_id, publicKey: new Uint8Array(otk.public_key) },
      kemPrekey: { keyId: kem.key_id, publicKey: new Uint8Array(kemKey.public_key), createdAt: kemKey.created_at, lastResort: false, signature: new Uint8Array(kemKey.signature) },
    };
    const peer: TestDevice = makeDevice(rng, T0);
    const party = new Party(peer, rng, clock.now);
    const self: TestDevice = {
      account: { accountId: account.accountId, accountKey: { publicKey: account.accountPublicKey, privateKey: account.accountPrivateKey! } },
      deviceId: account.deviceId,
      identityDh: account.identityDh,
      identitySigning: account.identitySigning,
      pq: true,
      entry: verifyDeviceList(account.deviceList.signed, account.accountPublicKey).devices[0]!,
      prekeys: peer.prekeys,
    };
    party.initiate(self, bundle);
    const sessions = new Sessions(db.writer, localDeviceOf(account), { rng, now: clock.now, budgets: new FailureBudgets() });
    const { result } = sessions.decrypt({ accountId: peer.account.accountId, entry: peer.entry }, party.encrypt(self, utf8('hello')), () => null);
    expect(fromUtf8(result.plaintext)).toBe('hello');
    expect(result.newSession).toBe(true);
    expect(db.reader.get(sql`SELECT 1 AS x FROM one_time_prekeys WHERE key_id = ${otk.key_id}`)).toBeUndefined();
    expect(db.reader.get(sql`SELECT 1 AS x FROM kem_prekeys WHERE key_id = ${kem.key_id}`)).toBeUndefined();
  });
});

describe('prekey lifecycle over the database', () => {
  it('rotates every 7 days, keeps replaced private keys 30 days, then erases them with their seen sets', async () => {
    const { db, account, clock, rng } = await newAccount('rotation');
    const first = currentSignedPrekey(db.reader)!;
    const firstLastResort = currentLastResortKemPrekey(db.reader)!;
    applyPrekeyChanges(db.writer, { seenBaseKey: { signedPrekeyId: first.keyId, hash: new Uint8Array(32).fill(5) } });

    clock.advance(6 * DAY);
    expect((await maintainPrekeys(db.writer, account, { rng, now: clock.now })).plan.rotateSignedPrekey).toBe(false);

    clock.advance(DAY);
    const rotated = await maintainPrekeys(db.writer, account, { rng, now: clock.now });
    expect(rotated.upload.signedPrekey!.keyId).not.toBe(first.keyId);
    expect(rotated.upload.lastResortKemPrekey!.lastResort).toBe(true);
    expect(currentSignedPrekey(db.reader)!.keyId).toBe(rotated.upload.signedPrekey!.keyId);
    // The old private keys still decrypt late prekey messages.
    const store = new SqlitePrekeyStore(db.reader);
    expect(store.signedPrekey(first.keyId)).toBeDefined();
    expect(store.kemPrekey(firstLastResort.keyId)).toBeDefined();
    expect(store.isBaseKeySeen(first.keyId, new Uint8Array(32).fill(5))).toBe(true);

    clock.advance(OLD_PREKEY_RETENTION_MS - 1);
    await maintainPrekeys(db.writer, account, { rng, now: clock.now });
    expect(store.signedPrekey(first.keyId)).toBeDefined();

    clock.advance(1);
    const erased = await maintainPrekeys(db.writer, account, { rng, now: clock.now });
    expect(erased.plan.eraseSignedPrekeys).toEqual([first.keyId]);
    expect(erased.plan.eraseLastResortKemPrekeys).toEqual([firstLastResort.keyId]);
    expect(store.signedPrekey(first.keyId)).toBeUndefined();
    expect(store.kemPrekey(firstLastResort.keyId)).toBeUndefined();
    expect(store.isBaseKeySeen(first.keyId, new Uint8Array(32).fill(5))).toBe(false);
    // The key that replaced it (and the one after) are still there.
    expect(readPrekeyInventory(db.reader).signed.length).toBeGreaterThanOrEqual(1);
    expect(currentSignedPrekey(db.reader)).toBeDefined();
  });

  it('refills one-time keys below 10 with fresh ids (consumed ids are never reused)', async () => {
    const { db, account, clock, rng } = await newAccount('refill');
    const ids = () => db.reader.all<{ key_id: number }>(sql`SELECT key_id FROM one_time_prekeys ORDER BY key_id`).map((r) => r.key_id);
    const original = ids();
    for (const id of original.slice(0, 91)) applyPrekeyChanges(db.writer, { consumedOneTimePrekeyId: id });
    expect(ids()).toHaveLength(9);
    const { upload } = await maintainPrekeys(db.writer, account, { rng, now: clock.now });
    expect(upload.oneTimePrekeys).toHaveLength(ONE_TIME_PREKEY_BATCH - 9);
    expect(ids()).toHaveLength(ONE_TIME_PREKEY_BATCH);
    const fresh = upload.oneTimePrekeys.map((k) => k.keyId);
    expect(fresh.some((id) => original.includes(id))).toBe(false);
    expect(upload.kemOneTimePrekeys).toHaveLength(0);
  });

  it('re-signs the own device list after 7 days with the next version', async () => {
    const { db, account, clock } = await newAccount('resign');
    expect(resignDeviceListIfDue(db.writer, account, clock.now() + 6 * DAY)).toBeNull();
    const next = resignDeviceListIfDue(db.writer, account, clock.now() + 7 * DAY)!;
    expect(next.version).toBe(2);
    const list = verifyDeviceList(next.signed, account.accountPublicKey, account.accountId);
    expect(list.issuedAt).toBe(clock.now() + 7 * DAY);
    expect(getAccount(db.reader)!.deviceList).toEqual(next);
  });

  it("re-signs at once when its own entry advertises other capabilities than the build's, leaving other devices' entries as signed", async () => {
    const { db, account, clock, rng } = await newAccount('advertise');
    expect(parseDeviceList(account.deviceList.signed).list.devices[0]!.capabilities).toBe(BUILD_CAPABILITIES);
    expect(resignDeviceListIfDue(db.writer, account, clock.now() + DAY)).toBeNull();
    // A second device (pq only, as an older version signs it) joins the list.
    const { next: withSecond } = linkTestDevice(account.deviceList.signed, account.accountPrivateKey!, { rng, now: clock.now });
    const second = parseDeviceList(withSecond.signed).list;
    const two = { ...account, deviceList: { signed: withSecond.signed, version: second.version, issuedAt: second.issuedAt } };
    // The build now handles one bit less (or more): the own entry follows, the other entry does not.
    const down = resignDeviceListIfDue(db.writer, two, clock.now() + DAY, Capability.pq | Capability.files)!;
    const list = verifyDeviceList(down.signed, account.accountPublicKey, account.accountId);
    expect(list.version).toBe(second.version + 1);
    expect(list.devices.map((d) => [d.deviceId, d.capabilities])).toEqual([
      [PRIMARY_DEVICE_ID, Capability.pq | Capability.files],
      [PRIMARY_DEVICE_ID + 1, Capability.pq],
    ]);
    expect(resignDeviceListIfDue(db.writer, { ...account, deviceList: down }, clock.now() + DAY, Capability.pq | Capability.files)).toBeNull();
    // A secondary device (no account key) never re-signs.
    expect(resignDeviceListIfDue(db.writer, { ...two, accountPrivateKey: null }, clock.now() + DAY, 0)).toBeNull();
  });
});
