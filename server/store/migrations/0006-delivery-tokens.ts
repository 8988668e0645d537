/**
 * Migration 0006: sealed-sender delivery tokens (issue 15, docs/protocol.md §21.1). One row per
 * account: SHA-256 of its current delivery token (the token itself is never stored; the account
 * replaces the hash when its profile key rotates) and when it was set. Removed with the account.
 */
import type { Kysely } from 'kysely';
import type { DialectTypes } from './dialect-types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb, t: DialectTypes): Promise<void> {
  await db.schema
    .createTable('delivery_tokens')
    .addColumn('account_id', t.binary, (c) => c.primaryKey())
    .addColumn('token_hash', t.binary, (c) => c.notNull())
    .addColumn('updated_at', t.int64, (c) => c.notNull())
    .execute();
}
