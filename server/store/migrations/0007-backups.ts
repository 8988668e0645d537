/**
 * Migration 0007: backups (issue 18, docs/protocol.md §25.8, ADR 0033). `backups`: one row per
 * backup id — the auth public key bound at its first upload, the current blob's file generation
 * and length, when it was stored (expiry counts from there). `backup_challenges`: single-use nonces
 * bound to a backup id. Neither names an account: nothing links a backup to one.
 */
import type { Kysely } from 'kysely';
import type { DialectTypes } from './dialect-types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb, t: DialectTypes): Promise<void> {
  await db.schema
    .createTable('backups')
    .addColumn('backup_id', t.binary, (c) => c.primaryKey())
    .addColumn('auth_key', t.binary, (c) => c.notNull())
    .addColumn('generation', t.binary, (c) => c.notNull())
    .addColumn('length', t.int64, (c) => c.notNull())
    .addColumn('stored_at', t.int64, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('backups_stored_at').on('backups').column('stored_at').execute();
  await db.schema
    .createTable('backup_challenges')
    .addColumn('nonce', t.binary, (c) => c.primaryKey())
    .addColumn('backup_id', t.binary, (c) => c.notNull())
    .addColumn('expires_at', t.int64, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('backup_challenges_expiry').on('backup_challenges').column('expires_at').execute();
}
