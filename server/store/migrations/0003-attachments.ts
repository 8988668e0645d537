/**
 * Migration 0003: attachments (issue 13) — ownership, declared size, state and expiry of every
 * upload the relay holds (the bytes are files, server/blobs). Indexed for the two questions asked
 * of it besides lookups by id: an account's usage (quota, uploads at once) and what has expired.
 */
import type { Kysely } from 'kysely';
import type { DialectTypes } from './dialect-types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb, t: DialectTypes): Promise<void> {
  await db.schema
    .createTable('attachments')
    .addColumn('attachment_id', t.binary, (c) => c.primaryKey())
    .addColumn('account_id', t.binary, (c) => c.notNull())
    .addColumn('length', t.int64, (c) => c.notNull())
    .addColumn('state', t.int64, (c) => c.notNull())
    .addColumn('created_at', t.int64, (c) => c.notNull())
    .addColumn('expires_at', t.int64, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('attachments_account_state').on('attachments').columns(['account_id', 'state']).execute();
  await db.schema.createIndex('attachments_state_expiry').on('attachments').columns(['state', 'expires_at']).execute();
}
