/**
 * Migration 0001: the relay's first schema (issue 3). Written with Kysely's schema builder and a
 * per-dialect type map, so the same migration creates the PostgreSQL schema (scale-out issue).
 */
import type { Kysely } from 'kysely';
import type { DialectTypes } from './dialect-types.js';

// Migrations see the database as it was when they were written, so they take an untyped handle.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb, t: DialectTypes): Promise<void> {
  await db.schema
    .createTable('accounts')
    .addColumn('account_id', t.binary, (c) => c.primaryKey())
    .addColumn('account_key', t.binary, (c) => c.notNull())
    .addColumn('username', 'text', (c) => c.notNull().unique())
    .addColumn('device_list', t.binary, (c) => c.notNull())
    .addColumn('device_list_version', t.int64, (c) => c.notNull())
    .addColumn('presence_visible', t.int64, (c) => c.notNull())
    .addColumn('created_at', t.int64, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('held_usernames')
    .addColumn('username', 'text', (c) => c.primaryKey())
    .addColumn('available_at', t.int64, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('account_tombstones')
    .addColumn('account_id', t.binary, (c) => c.primaryKey())
    .addColumn('deleted_at', t.int64, (c) => c.notNull())
    .execute();

  await t
    .autoIncrementKey(db.schema.createTable('devices'), 'device_key')
    .addColumn('account_id', t.binary, (c) => c.notNull())
    .addColumn('device_id', t.int64, (c) => c.notNull())
    .addColumn('identity_signing_key', t.binary, (c) => c.notNull())
    .addColumn('identity_dh_key', t.binary, (c) => c.notNull())
    .addColumn('next_seq', t.int64, (c) => c.notNull())
    .addColumn('created_at', t.int64, (c) => c.notNull())
    .addUniqueConstraint('devices_account_device', ['account_id', 'device_id'])
    .execute();

  await db.schema
    .createTable('retired_devices')
    .addColumn('account_id', t.binary, (c) => c.notNull())
    .addColumn('device_id', t.int64, (c) => c.notNull())
    .addColumn('identity_signing_key', t.binary, (c) => c.notNull())
    .addPrimaryKeyConstraint('retired_devices_pk', ['account_id', 'device_id'])
    .execute();

  for (const table of ['signed_prekeys', 'last_resort_kem_prekeys']) {
    await db.schema
      .createTable(table)
      .addColumn('device_key', t.int64, (c) => c.primaryKey())
      .addColumn('key_id', t.int64, (c) => c.notNull())
      .addColumn('public_key', t.binary, (c) => c.notNull())
      .addColumn('created_at', t.int64, (c) => c.notNull())
      .addColumn('signature', t.binary, (c) => c.notNull())
      .execute();
  }

  await db.schema
    .createTable('one_time_prekeys')
    .addColumn('device_key', t.int64, (c) => c.notNull())
    .addColumn('key_id', t.int64, (c) => c.notNull())
    .addColumn('public_key', t.binary, (c) => c.notNull())
    .addPrimaryKeyConstraint('one_time_prekeys_pk', ['device_key', 'key_id'])
    .execute();

  await db.schema
    .createTable('kem_one_time_prekeys')
    .addColumn('device_key', t.int64, (c) => c.notNull())
    .addColumn('key_id', t.int64, (c) => c.notNull())
    .addColumn('public_key', t.binary, (c) => c.notNull())
    .addColumn('created_at', t.int64, (c) => c.notNull())
    .addColumn('signature', t.binary, (c) => c.notNull())
    .addPrimaryKeyConstraint('kem_one_time_prekeys_pk', ['device_key', 'key_id'])
    .execute();

  // Clustered on (device_key, seq): an insert or ack touches one B-tree instead of a table plus an index.
  await t
    .clustered(
      db.schema
        .createTable('mailbox')
        .addColumn('device_key', t.int64, (c) => c.notNull())
        .addColumn('seq', t.int64, (c) => c.notNull())
        .addColumn('source_account', t.binary)
        .addColumn('source_device', t.int64)
        .addColumn('server_ts', t.int64, (c) => c.notNull())
        .addColumn('content', t.binary, (c) => c.notNull())
        .addPrimaryKeyConstraint('mailbox_pk', ['device_key', 'seq']),
    )
    .execute();
  await db.schema.createIndex('mailbox_server_ts').on('mailbox').column('server_ts').execute();

  await db.schema
    .createTable('challenges')
    .addColumn('nonce', t.binary, (c) => c.primaryKey())
    .addColumn('account_id', t.binary, (c) => c.notNull())
    .addColumn('device_id', t.int64, (c) => c.notNull())
    .addColumn('expires_at', t.int64, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('challenges_expires_at').on('challenges').column('expires_at').execute();

  await db.schema
    .createTable('sessions')
    .addColumn('token_id', t.binary, (c) => c.primaryKey())
    .addColumn('secret_hash', t.binary, (c) => c.notNull())
    .addColumn('device_key', t.int64, (c) => c.notNull())
    .addColumn('expires_at', t.int64, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sessions_device_key').on('sessions').column('device_key').execute();
  await db.schema.createIndex('sessions_expires_at').on('sessions').column('expires_at').execute();

  await db.schema
    .createTable('contacts')
    .addColumn('owner', t.binary, (c) => c.notNull())
    .addColumn('contact', t.binary, (c) => c.notNull())
    .addPrimaryKeyConstraint('contacts_pk', ['owner', 'contact'])
    .execute();
  await db.schema.createIndex('contacts_contact_owner').on('contacts').columns(['contact', 'owner']).execute();
}
