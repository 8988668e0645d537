/**
 * The account aggregate: an account, its signed device list, its devices (with the retirements of
 * devices that unregistered themselves, the removals of devices a new list dropped, and each
 * device's last active day), and what deleting it leaves behind (a tombstone on the account id, a
 * hold on the username). Owns the tables `accounts`, `devices`, `retired_devices`,
 * `removed_devices`, `account_tombstones`, `held_usernames`; deleting an account also clears its
 * rows in `contacts` and `profiles`. Does not check signatures or limits (server/core does).
 *
 * Sharp edges: a device list is replaced by compare-and-swap on its version, and the devices it
 * drops or re-keys are purged in the same transaction (device-rows.ts), so a list and its devices
 * never disagree. Every list stored (registration, replacement) appends its key-transparency leaf in
 * that same transaction, as its last step (transparency.ts).
 */
import { bytesEqual } from '../../../shared/crypto/bytes.js';
import type { AccountRecord, AccountStore, CreateAccountInput, RemovedDevice } from '../store.js';
import { bytes, isUniqueViolation, num, type Db, type StoreContext } from './context.js';
import { DEVICE_COLUMNS, insertDevice, purgeDevice, toDevice } from './device-rows.js';
import { insertPrekeys } from './prekeys.js';
import { appendKtLeaf } from './transparency.js';

function toAccount(row: {
  account_id: Uint8Array;
  account_key: Uint8Array;
  username: string;
  device_list: Uint8Array;
  device_list_version: number;
  presence_visible: number;
}): AccountRecord {
  return {
    accountId: bytes(row.account_id),
    accountKey: bytes(row.account_key),
    username: row.username,
    deviceList: bytes(row.device_list),
    deviceListVersion: num(row.device_list_version),
    presenceVisible: num(row.presence_visible) === 1,
  };
}

/** A registration that loses a race (PostgreSQL) is run again, once the winner is visible. */
const CREATE_ATTEMPTS = 3;

export function accountStore({ db, durable, rowLocks }: StoreContext): AccountStore {
  /** The account's devices; on PostgreSQL locked in the order of device-rows.ts, after the account row. */
  const lockedDevices = async (trx: Db, accountId: Uint8Array) =>
    (
      await trx
        .selectFrom('devices')
        .select(DEVICE_COLUMNS)
        .where('account_id', '=', accountId)
        .$if(rowLocks, (qb) => qb.orderBy('account_id').orderBy('device_key').forUpdate())
        .execute()
    ).map(toDevice);

  const create = (input: CreateAccountInput) =>
    db.transaction().execute(async (trx) => {
      const tomb = await trx.selectFrom('account_tombstones').select('account_id').where('account_id', '=', input.accountId).executeTakeFirst();
      const existing = await trx.selectFrom('accounts').select('account_id').where('account_id', '=', input.accountId).executeTakeFirst();
      if (tomb || existing) return { status: 'account-exists' as const };
      const taken = await trx.selectFrom('accounts').select('account_id').where('username', '=', input.username).executeTakeFirst();
      if (taken) return { status: 'username-taken' as const };
      const held = await trx.selectFrom('held_usernames').select('available_at').where('username', '=', input.username).executeTakeFirst();
      if (held && num(held.available_at) > input.now) return { status: 'username-taken' as const };
      if (held) await trx.deleteFrom('held_usernames').where('username', '=', input.username).execute();

      await trx
        .insertInto('accounts')
        .values({
          account_id: input.accountId,
          account_key: input.accountKey,
          username: input.username,
          device_list: input.deviceList,
          device_list_version: input.deviceListVersion,
          presence_visible: 1,
          created_at: input.now,
        })
        .execute();
      const deviceKey = await insertDevice(trx, input.accountId, input.device, input.now);
      await insertPrekeys(trx, deviceKey, input.prekeys);
      // Last: the log's sequencer lock (transparency.ts).
      await appendKtLeaf(trx, rowLocks, { accountId: input.accountId, accountKey: input.accountKey, deviceList: input.deviceList, version: input.deviceListVersion, now: input.now });
      return { status: 'created' as const, deviceKey };
    });

  return {
    async createAccount(input) {
      // Under concurrent transactions two registrations can both pass the checks; the loser's insert
      // then fails on the unique key, and its next attempt sees the winner and answers as SQLite would.
      for (let attempt = 1; ; attempt++) {
        try {
          const result = await create(input);
          if (result.status === 'created') await durable();
          return result;
        } catch (e) {
          if (attempt >= CREATE_ATTEMPTS || !isUniqueViolation(e)) throw e;
        }
      }
    },

    async getAccount(accountId) {
      const row = await db.selectFrom('accounts').selectAll().where('account_id', '=', accountId).executeTakeFirst();
      return row && toAccount(row);
    },

    async getAccountByUsername(username) {
      const row = await db.selectFrom('accounts').selectAll().where('username', '=', username).executeTakeFirst();
      return row && toAccount(row);
    },

    async replaceDeviceList(input) {
      const result = await db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable('accounts')
          .set({ device_list: input.deviceList, device_list_version: input.version })
          .where('account_id', '=', input.accountId)
          .where('device_list_version', '=', input.expectedVersion)
          .executeTakeFirst();
        if (num(updated.numUpdatedRows) !== 1) return { status: 'conflict' as const };

        // The UPDATE above holds the account row; the devices are locked after it.
        const current = await lockedDevices(trx, input.accountId);
        const retired = await trx
          .selectFrom('retired_devices')
          .select(['device_id', 'identity_signing_key'])
          .where('account_id', '=', input.accountId)
          .execute();
        const wanted = new Map(input.devices.map((d) => [d.deviceId, d]));
        const removed: RemovedDevice[] = [];

        for (const device of current) {
          const entry = wanted.get(device.deviceId);
          const sameKeys =
            entry !== undefined &&
            bytesEqual(entry.identitySigningKey, device.identitySigningKey) &&
            bytesEqual(entry.identityDhKey, device.identityDhKey);
          if (sameKeys) continue;
          removed.push(await purgeDevice(trx, device));
          // Kept so that the removed device can learn it was removed (and prove nothing else).
          await trx
            .insertInto('removed_devices')
            .values({ account_id: input.accountId, device_id: device.deviceId, identity_signing_key: device.identitySigningKey, removed_at: input.now })
            .onConflict((oc) => oc.columns(['account_id', 'device_id']).doUpdateSet({ identity_signing_key: device.identitySigningKey, removed_at: input.now }))
            .execute();
        }
        const kept = new Set(current.filter((d) => !removed.some((r) => r.deviceKey === d.deviceKey)).map((d) => d.deviceId));

        for (const entry of input.devices) {
          if (kept.has(entry.deviceId)) continue;
          const stillRetired = retired.some(
            (r) => num(r.device_id) === entry.deviceId && bytesEqual(bytes(r.identity_signing_key), entry.identitySigningKey),
          );
          if (!stillRetired) await insertDevice(trx, input.accountId, entry, input.now);
        }
        // A retirement ends once the list stops naming that key (a re-keyed device id is a new device).
        for (const r of retired) {
          const entry = wanted.get(num(r.device_id));
          if (!entry || !bytesEqual(entry.identitySigningKey, bytes(r.identity_signing_key))) {
            await trx.deleteFrom('retired_devices').where('account_id', '=', input.accountId).where('device_id', '=', num(r.device_id)).execute();
          }
        }
        // Last: the log's sequencer lock (transparency.ts). The account row is held by the UPDATE above.
        const { account_key: accountKey } = await trx.selectFrom('accounts').select('account_key').where('account_id', '=', input.accountId).executeTakeFirstOrThrow();
        await appendKtLeaf(trx, rowLocks, { accountId: input.accountId, accountKey: bytes(accountKey), deviceList: input.deviceList, version: input.version, now: input.now });
        return { status: 'replaced' as const, removed };
      });
      if (result.status === 'replaced') await durable();
      return result;
    },

    async unregisterDevice(deviceKey) {
      const removed = await db.transaction().execute(async (trx) => {
        let row = await trx.selectFrom('devices').select(DEVICE_COLUMNS).where('device_key', '=', deviceKey).executeTakeFirst();
        if (row && rowLocks) {
          // The account row first, then the device's (the lock order of device-rows.ts); the device
          // may have gone meanwhile, which the locking read sees.
          await trx.selectFrom('accounts').select('account_id').where('account_id', '=', row.account_id).forUpdate().execute();
          row = await trx.selectFrom('devices').select(DEVICE_COLUMNS).where('device_key', '=', deviceKey).forUpdate().executeTakeFirst();
        }
        if (!row) return undefined;
        const device = toDevice(row);
        await trx
          .insertInto('retired_devices')
          .values({ account_id: device.accountId, device_id: device.deviceId, identity_signing_key: device.identitySigningKey })
          .onConflict((oc) => oc.columns(['account_id', 'device_id']).doUpdateSet({ identity_signing_key: device.identitySigningKey }))
          .execute();
        return purgeDevice(trx, device);
      });
      await durable();
      return removed;
    },

    async deleteAccount(input) {
      const result = await db.transaction().execute(async (trx) => {
        const account = await trx
          .selectFrom('accounts')
          .select('username')
          .where('account_id', '=', input.accountId)
          .$if(rowLocks, (qb) => qb.forUpdate())
          .executeTakeFirst();
        if (!account) return undefined;
        const devices = await lockedDevices(trx, input.accountId);
        const removed: RemovedDevice[] = [];
        for (const device of devices) removed.push(await purgeDevice(trx, device));
        await trx.deleteFrom('retired_devices').where('account_id', '=', input.accountId).execute();
        await trx.deleteFrom('removed_devices').where('account_id', '=', input.accountId).execute();
        await trx.deleteFrom('contacts').where('owner', '=', input.accountId).execute();
        await trx.deleteFrom('contacts').where('contact', '=', input.accountId).execute();
        await trx.deleteFrom('profiles').where('account_id', '=', input.accountId).execute();
        await trx.deleteFrom('delivery_tokens').where('account_id', '=', input.accountId).execute();
        await trx.deleteFrom('accounts').where('account_id', '=', input.accountId).execute();
        await trx.insertInto('account_tombstones').values({ account_id: input.accountId, deleted_at: input.now }).execute();
        await trx
          .insertInto('held_usernames')
          .values({ username: account.username, available_at: input.usernameAvailableAt })
          .onConflict((oc) => oc.column('username').doUpdateSet({ available_at: input.usernameAvailableAt }))
          .execute();
        return { removed };
      });
      await durable();
      return result;
    },

    async setPresenceVisible(accountId, visible) {
      await db.updateTable('accounts').set({ presence_visible: visible ? 1 : 0 }).where('account_id', '=', accountId).execute();
      await durable();
    },

    async getDevice(accountId, deviceId) {
      const row = await db
        .selectFrom('devices')
        .select(DEVICE_COLUMNS)
        .where('account_id', '=', accountId)
        .where('device_id', '=', deviceId)
        .executeTakeFirst();
      return row && toDevice(row);
    },

    async listDevices(accountId) {
      const rows = await db.selectFrom('devices').select(DEVICE_COLUMNS).where('account_id', '=', accountId).orderBy('device_id').execute();
      return rows.map(toDevice);
    },

    async getRemovedDevice(accountId, deviceId) {
      const row = await db
        .selectFrom('removed_devices')
        .select(['identity_signing_key', 'removed_at'])
        .where('account_id', '=', accountId)
        .where('device_id', '=', deviceId)
        .executeTakeFirst();
      return row && { identitySigningKey: bytes(row.identity_signing_key), removedAt: num(row.removed_at) };
    },

    async touchDevice(deviceKey, day) {
      // At most one write a day per device: the common case (already today) changes no row.
      await db
        .updateTable('devices')
        .set({ last_active_day: day })
        .where('device_key', '=', deviceKey)
        .where((eb) => eb.or([eb('last_active_day', 'is', null), eb('last_active_day', '<>', day)]))
        .execute();
    },

    async deviceActivity(accountId) {
      const rows = await db.selectFrom('devices').select(['device_id', 'last_active_day']).where('account_id', '=', accountId).orderBy('device_id').execute();
      return rows.map((r) => ({ deviceId: num(r.device_id), lastActiveDay: r.last_active_day === null ? null : num(r.last_active_day) }));
    },
  };
}
