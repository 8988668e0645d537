/**
 * Rows of the `devices` table as the aggregates read, create and remove them. A device is owned by
 * its account (accounts.ts) but read by auth (a session names its device) and prekeys (bundles are
 * per device); removing one cascades to everything it owns, so that cascade lives here, next to the
 * row it starts from. Owns no RelayStore method.
 *
 * Lock order on PostgreSQL, kept by every transaction that locks more than one row so that two of
 * them never wait on each other: an account row before its devices, devices by (account_id,
 * device_key). Batches (mailbox.ts) lock devices only; account changes lock the account first.
 */
import type { DeviceKeys, DeviceRecord, RemovedDevice } from '../store.js';
import { bytes, num, type Db } from './context.js';

export const DEVICE_COLUMNS = ['device_key', 'account_id', 'device_id', 'identity_signing_key', 'identity_dh_key'] as const;

export function toDevice(row: {
  device_key: number;
  account_id: Uint8Array;
  device_id: number;
  identity_signing_key: Uint8Array;
  identity_dh_key: Uint8Array;
}): DeviceRecord {
  return {
    deviceKey: num(row.device_key),
    accountId: bytes(row.account_id),
    deviceId: num(row.device_id),
    identitySigningKey: bytes(row.identity_signing_key),
    identityDhKey: bytes(row.identity_dh_key),
  };
}

/** A new incarnation of a device, with an empty mailbox (its seqs start at 1); returns its key. */
export async function insertDevice(trx: Db, accountId: Uint8Array, device: DeviceKeys, now: number): Promise<number> {
  const row = await trx
    .insertInto('devices')
    .values({
      account_id: accountId,
      device_id: device.deviceId,
      identity_signing_key: device.identitySigningKey,
      identity_dh_key: device.identityDhKey,
      next_seq: 1,
      created_at: now,
    })
    .returning('device_key')
    .executeTakeFirstOrThrow();
  return num(row.device_key);
}

/**
 * Deletes a device with its mailbox, prekeys and sessions. On PostgreSQL the caller has locked the
 * device row already (FOR UPDATE), so no batch can be adding envelopes to it meanwhile.
 */
export async function purgeDevice(trx: Db, device: DeviceRecord): Promise<RemovedDevice> {
  const k = device.deviceKey;
  const mailbox = await trx.deleteFrom('mailbox').where('device_key', '=', k).executeTakeFirst();
  await trx.deleteFrom('signed_prekeys').where('device_key', '=', k).execute();
  await trx.deleteFrom('last_resort_kem_prekeys').where('device_key', '=', k).execute();
  await trx.deleteFrom('one_time_prekeys').where('device_key', '=', k).execute();
  await trx.deleteFrom('kem_one_time_prekeys').where('device_key', '=', k).execute();
  await trx.deleteFrom('sessions').where('device_key', '=', k).execute();
  await trx.deleteFrom('devices').where('device_key', '=', k).execute();
  return { deviceKey: k, deviceId: device.deviceId, envelopesDeleted: num(mailbox.numDeletedRows) };
}
