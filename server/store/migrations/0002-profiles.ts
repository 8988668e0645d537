/**
 * Migration 0002: encrypted profiles (issue 12, docs/protocol.md §18). One row per account: the
 * encrypted profile bytes exactly as the owner uploaded them (the relay never holds the key) and
 * when they were stored. Removed with the account.
 */
import type { Kysely } from 'kysely';
import type { DialectTypes } from './dialect-types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb, t: DialectTypes): Promise<void> {
  await db.schema
    .createTable('profiles')
    .addColumn('account_id', t.binary, (c) => c.primaryKey())
    .addColumn('profile', t.binary, (c) => c.notNull())
    .addColumn('updated_at', t.int64, (c) => c.notNull())
    .execute();
}
