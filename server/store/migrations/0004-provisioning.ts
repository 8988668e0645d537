/**
 * Migration 0004: provisioning channels (issue 14, docs/protocol.md §20.8, ADR 0024). A channel row
 * per device link in progress — its rendezvous number, the SHA-256 of the new device's token, its
 * expiry, the one device that joined it — and the opaque messages both sides posted, numbered per
 * channel. Indexed for lookups by rendezvous and for the expiry sweep.
 */
import type { Kysely } from 'kysely';
import type { DialectTypes } from './dialect-types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb, t: DialectTypes): Promise<void> {
  await db.schema
    .createTable('provisioning_channels')
    .addColumn('channel_id', t.binary, (c) => c.primaryKey())
    .addColumn('rendezvous', 'text', (c) => c.notNull())
    .addColumn('token_hash', t.binary, (c) => c.notNull())
    .addColumn('created_at', t.int64, (c) => c.notNull())
    .addColumn('expires_at', t.int64, (c) => c.notNull())
    .addColumn('joined_account', t.binary)
    .addColumn('joined_device', t.int64)
    .addColumn('next_seq', t.int64, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('provisioning_channels_rendezvous').on('provisioning_channels').columns(['rendezvous', 'expires_at']).execute();
  await db.schema.createIndex('provisioning_channels_expiry').on('provisioning_channels').column('expires_at').execute();
  await t
    .clustered(
      db.schema
        .createTable('provisioning_messages')
        .addColumn('channel_id', t.binary, (c) => c.notNull())
        .addColumn('seq', t.int64, (c) => c.notNull())
        .addColumn('sender', t.int64, (c) => c.notNull())
        .addColumn('body', t.binary, (c) => c.notNull())
        .addPrimaryKeyConstraint('provisioning_messages_pk', ['channel_id', 'seq']),
    )
    .execute();
}
