/**
 * Migration 0005: device management (issue 14, docs/adr/0027-device-management.md).
 *
 *  - `devices.last_active_day`: the UTC day (days since 1970-01-01) on which the device last got a
 *    session token — what Settings → Linked devices shows as "active today / 3 days ago". Day
 *    granularity on purpose: the relay keeps no finer trace of when a device was used, and
 *    rewrites the column at most once a day per device.
 *  - `removed_devices`: devices a new signed list dropped (the primary removed them), with the
 *    signing key they had. Such a device that comes back can still prove who it is (its signature
 *    under that key) and is answered DEVICE_REMOVED with the signed list that no longer names it —
 *    the proof it checks before it wipes itself. Deleted with the account.
 */
import type { Kysely } from 'kysely';
import type { DialectTypes } from './dialect-types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb, t: DialectTypes): Promise<void> {
  await db.schema.alterTable('devices').addColumn('last_active_day', t.int64).execute();
  await t
    .clustered(
      db.schema
        .createTable('removed_devices')
        .addColumn('account_id', t.binary, (c) => c.notNull())
        .addColumn('device_id', t.int64, (c) => c.notNull())
        .addColumn('identity_signing_key', t.binary, (c) => c.notNull())
        .addColumn('removed_at', t.int64, (c) => c.notNull())
        .addPrimaryKeyConstraint('removed_devices_pk', ['account_id', 'device_id']),
    )
    .execute();
}
