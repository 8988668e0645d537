/**
 * Sealed-sender rows (issue 15, ADR 0029; migration 0016): the relay certificate keys this device
 * pinned, which profile key's delivery token the relay holds for this account, and which contact
 * tokens the relay refused. Does not
 * seal, open or decide anything (electron/engine/messaging/sealed.ts).
 */
import type { ReadDb, WriteDb } from './database.js';
import { blob, blobOrNull } from './rows.js';
import { sql } from './sql.js';

export function pinnedCertificateKeys(db: ReadDb): Map<number, Uint8Array> {
  const rows = db.all<{ key_id: number; public_key: Uint8Array }>(sql`SELECT key_id, public_key FROM relay_certificate_keys`);
  return new Map(rows.map((r) => [r.key_id, blob(r.public_key)]));
}

/** Pins a key id on first sight; never replaces a pinned key. */
export function pinCertificateKey(db: WriteDb, keyId: number, publicKey: Uint8Array, now: number): void {
  db.run(sql`INSERT INTO relay_certificate_keys (key_id, public_key, pinned_at) VALUES (${keyId}, ${publicKey}, ${now}) ON CONFLICT (key_id) DO NOTHING`);
}

export function ownTokenKeyId(db: ReadDb): Uint8Array | null {
  const r = db.get<{ token_key_id: Uint8Array | null }>(sql`SELECT token_key_id FROM own_profile WHERE singleton = 1`);
  return r ? blobOrNull(r.token_key_id) : null;
}

export function markOwnTokenRegistered(db: WriteDb, keyId: Uint8Array): void {
  db.run(sql`UPDATE own_profile SET token_key_id = ${keyId} WHERE singleton = 1`);
}

export function contactTokenRefusedKeyId(db: ReadDb, accountId: Uint8Array): Uint8Array | null {
  const r = db.get<{ token_refused_key_id: Uint8Array | null }>(sql`SELECT token_refused_key_id FROM contact_profiles WHERE account_id = ${accountId}`);
  return r ? blobOrNull(r.token_refused_key_id) : null;
}

export function clearContactTokenRefused(db: WriteDb, accountId: Uint8Array): void {
  db.run(sql`UPDATE contact_profiles SET token_refused_key_id = NULL WHERE account_id = ${accountId}`);
}

export function markContactTokenRefused(db: WriteDb, accountId: Uint8Array, keyId: Uint8Array): void {
  db.run(sql`UPDATE contact_profiles SET token_refused_key_id = ${keyId} WHERE account_id = ${accountId}`);
}
