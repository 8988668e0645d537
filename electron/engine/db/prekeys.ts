/**
 * This device's prekey stores in SQLite (DESIGN §3.3): signed X25519 prekeys, one-time X25519
 * prekeys, ML-KEM prekeys (one-time and last-resort) and the base-key seen sets. Implements the
 * protocol's `PrekeyReader` view and applies its `PrekeyChanges`; behaves like shared/testing's
 * InMemoryPrekeyStore (an equivalence property test pins that). Key ids come from per-kind
 * counters and are never reused. Does not own the lifecycle policy (account/prekey-lifecycle.ts).
 */
import type { X25519KeyPair } from '../../../shared/crypto/x25519.js';
import type { KemPrekeyPrivate, OneTimePrekeyPrivate, SignedPrekeyPrivate } from '../../../shared/protocol/prekeys.js';
import type { PrekeyChanges, PrekeyReader } from '../../../shared/protocol/session.js';
import type { ReadDb, WriteDb } from './database.js';
import { blob, flag } from './rows.js';
import { sql } from './sql.js';

export type PrekeyKind = 'signed' | 'one-time' | 'kem';

const MAX_KEY_ID = 0xffffffff;

/** The read view session.ts needs. Inside a commit, pass the writer so reads see the transaction. */
export class SqlitePrekeyStore implements PrekeyReader {
  constructor(private readonly db: ReadDb) {}

  signedPrekey(keyId: number): X25519KeyPair | undefined {
    const r = this.db.get<{ public_key: Uint8Array; private_key: Uint8Array }>(
      sql`SELECT public_key, private_key FROM signed_prekeys WHERE key_id = ${keyId}`,
    );
    return r && { publicKey: blob(r.public_key), privateKey: blob(r.private_key) };
  }

  oneTimePrekey(keyId: number): X25519KeyPair | undefined {
    const r = this.db.get<{ public_key: Uint8Array; private_key: Uint8Array }>(
      sql`SELECT public_key, private_key FROM one_time_prekeys WHERE key_id = ${keyId}`,
    );
    return r && { publicKey: blob(r.public_key), privateKey: blob(r.private_key) };
  }

  kemPrekey(keyId: number): { seed: Uint8Array; publicKey: Uint8Array; lastResort: boolean } | undefined {
    const r = this.db.get<{ public_key: Uint8Array; seed: Uint8Array; last_resort: number }>(
      sql`SELECT public_key, seed, last_resort FROM kem_prekeys WHERE key_id = ${keyId}`,
    );
    return r && { seed: blob(r.seed), publicKey: blob(r.public_key), lastResort: flag(r.last_resort) };
  }

  isBaseKeySeen(signedPrekeyId: number, baseKeyHash: Uint8Array): boolean {
    return (
      this.db.get(sql`SELECT 1 AS seen FROM base_keys_seen WHERE signed_prekey_id = ${signedPrekeyId} AND hash = ${baseKeyHash}`) !==
      undefined
    );
  }
}

/** Applies what a successful decrypt consumed; call in the transaction that commits the session. */
export function applyPrekeyChanges(db: WriteDb, changes: PrekeyChanges): void {
  if (changes.consumedOneTimePrekeyId !== undefined) {
    db.run(sql`DELETE FROM one_time_prekeys WHERE key_id = ${changes.consumedOneTimePrekeyId}`);
  }
  if (changes.consumedKemPrekeyId !== undefined) {
    // A last-resort key is never consumed (session.ts never names one; the guard keeps it so).
    db.run(sql`DELETE FROM kem_prekeys WHERE key_id = ${changes.consumedKemPrekeyId} AND last_resort = 0`);
  }
  if (changes.seenBaseKey) {
    db.run(sql`
      INSERT INTO base_keys_seen (signed_prekey_id, hash) VALUES (${changes.seenBaseKey.signedPrekeyId}, ${changes.seenBaseKey.hash})
      ON CONFLICT DO NOTHING`);
  }
}

/**
 * Reserves `count` consecutive key ids of a kind and returns the first. Ids wrap after 2^32 − 1;
 * by then every old key has long been erased.
 */
export function allocatePrekeyIds(db: WriteDb, kind: PrekeyKind, count: number): number {
  if (!Number.isInteger(count) || count < 1) throw new RangeError('count must be a positive integer');
  const row = db.get<{ next_id: number }>(sql`SELECT next_id FROM prekey_ids WHERE kind = ${kind}`);
  let first = row?.next_id ?? 1;
  if (first + count - 1 > MAX_KEY_ID) first = 1;
  const next = first + count > MAX_KEY_ID ? 1 : first + count;
  db.run(sql`
    INSERT INTO prekey_ids (kind, next_id) VALUES (${kind}, ${next})
    ON CONFLICT (kind) DO UPDATE SET next_id = excluded.next_id`);
  return first;
}

export function insertSignedPrekey(db: WriteDb, p: SignedPrekeyPrivate): void {
  db.run(sql`
    INSERT INTO signed_prekeys (key_id, public_key, private_key, signature, created_at)
    VALUES (${p.keyId}, ${p.publicKey}, ${p.privateKey}, ${p.signature}, ${p.createdAt})`);
}

export function insertOneTimePrekeys(db: WriteDb, prekeys: readonly OneTimePrekeyPrivate[], createdAt: number): void {
  for (const p of prekeys) {
    db.run(sql`
      INSERT INTO one_time_prekeys (key_id, public_key, private_key, created_at)
      VALUES (${p.keyId}, ${p.publicKey}, ${p.privateKey}, ${createdAt})`);
  }
}

export function insertKemPrekey(db: WriteDb, p: KemPrekeyPrivate): void {
  db.run(sql`
    INSERT INTO kem_prekeys (key_id, public_key, seed, signature, created_at, last_resort)
    VALUES (${p.keyId}, ${p.publicKey}, ${p.seed}, ${p.signature}, ${p.createdAt}, ${p.lastResort})`);
}

/** Erases a signed prekey's private key and, with it, its base-key seen set (ON DELETE CASCADE). */
export function dropSignedPrekey(db: WriteDb, keyId: number): void {
  db.run(sql`DELETE FROM signed_prekeys WHERE key_id = ${keyId}`);
}

export function dropKemPrekey(db: WriteDb, keyId: number): void {
  db.run(sql`DELETE FROM kem_prekeys WHERE key_id = ${keyId}`);
}

export type RotatingPrekeyInfo = { readonly keyId: number; readonly createdAt: number; readonly supersededAt: number | null };

/** What the lifecycle policy looks at: rotating keys with their ages, and one-time counts. */
export type PrekeyInventory = {
  readonly signed: readonly RotatingPrekeyInfo[];
  readonly lastResortKem: readonly RotatingPrekeyInfo[];
  readonly oneTimeCount: number;
  readonly kemOneTimeCount: number;
};

type InfoRow = { key_id: number; created_at: number; superseded_at: number | null };
const info = (r: InfoRow): RotatingPrekeyInfo => ({ keyId: r.key_id, createdAt: r.created_at, supersededAt: r.superseded_at });

export function readPrekeyInventory(db: ReadDb): PrekeyInventory {
  const signed = db.all<InfoRow>(sql`SELECT key_id, created_at, superseded_at FROM signed_prekeys ORDER BY created_at, key_id`);
  const lastResort = db.all<InfoRow>(
    sql`SELECT key_id, created_at, superseded_at FROM kem_prekeys WHERE last_resort = 1 ORDER BY created_at, key_id`,
  );
  const counts = db.get<{ one_time: number; kem_one_time: number }>(sql`
    SELECT (SELECT count(*) FROM one_time_prekeys) AS one_time,
           (SELECT count(*) FROM kem_prekeys WHERE last_resort = 0) AS kem_one_time`)!;
  return {
    signed: signed.map(info),
    lastResortKem: lastResort.map(info),
    oneTimeCount: counts.one_time,
    kemOneTimeCount: counts.kem_one_time,
  };
}

export function supersedeSignedPrekey(db: WriteDb, keyId: number, at: number): void {
  db.run(sql`UPDATE signed_prekeys SET superseded_at = ${at} WHERE key_id = ${keyId} AND superseded_at IS NULL`);
}

export function supersedeLastResortKemPrekey(db: WriteDb, keyId: number, at: number): void {
  db.run(sql`UPDATE kem_prekeys SET superseded_at = ${at} WHERE key_id = ${keyId} AND last_resort = 1 AND superseded_at IS NULL`);
}

/** The newest signed prekey in service (what the relay should serve), with its public parts. */
export function currentSignedPrekey(db: ReadDb): SignedPrekeyPrivate | undefined {
  const r = db.get<{ key_id: number; public_key: Uint8Array; private_key: Uint8Array; signature: Uint8Array; created_at: number }>(sql`
    SELECT key_id, public_key, private_key, signature, created_at FROM signed_prekeys
    WHERE superseded_at IS NULL ORDER BY created_at DESC, key_id DESC LIMIT 1`);
  return (
    r && {
      keyId: r.key_id,
      publicKey: blob(r.public_key),
      privateKey: blob(r.private_key),
      signature: blob(r.signature),
      createdAt: r.created_at,
    }
  );
}

/** The last-resort ML-KEM prekey in service. */
export function currentLastResortKemPrekey(db: ReadDb): KemPrekeyPrivate | undefined {
  const r = db.get<{ key_id: number; public_key: Uint8Array; seed: Uint8Array; signature: Uint8Array; created_at: number }>(sql`
    SELECT key_id, public_key, seed, signature, created_at FROM kem_prekeys
    WHERE last_resort = 1 AND superseded_at IS NULL ORDER BY created_at DESC, key_id DESC LIMIT 1`);
  return (
    r && {
      keyId: r.key_id,
      publicKey: blob(r.public_key),
      seed: blob(r.seed),
      signature: blob(r.signature),
      createdAt: r.created_at,
      lastResort: true,
    }
  );
}

// ── Upload tracking (the relay's copy) ──────────────────────────────────────

/** Public prekeys the relay does not have yet: the current rotating keys and fresh one-time keys. */
export type PrekeysToUpload = {
  readonly signedPrekey: SignedPrekeyPrivate | undefined;
  readonly lastResortKemPrekey: KemPrekeyPrivate | undefined;
  readonly oneTimePrekeys: readonly { readonly keyId: number; readonly publicKey: Uint8Array }[];
  readonly kemOneTimePrekeys: readonly Omit<KemPrekeyPrivate, 'seed'>[];
};

export function prekeysToUpload(db: ReadDb): PrekeysToUpload {
  const signed = currentSignedPrekey(db);
  const signedUploaded = signed && db.get<{ u: number | null }>(sql`SELECT uploaded_at AS u FROM signed_prekeys WHERE key_id = ${signed.keyId}`)!.u;
  const lastResort = currentLastResortKemPrekey(db);
  const lastResortUploaded =
    lastResort && db.get<{ u: number | null }>(sql`SELECT uploaded_at AS u FROM kem_prekeys WHERE key_id = ${lastResort.keyId}`)!.u;
  return {
    signedPrekey: signed && signedUploaded === null ? signed : undefined,
    lastResortKemPrekey: lastResort && lastResortUploaded === null ? lastResort : undefined,
    oneTimePrekeys: db
      .all<{ key_id: number; public_key: Uint8Array }>(sql`SELECT key_id, public_key FROM one_time_prekeys WHERE uploaded_at IS NULL ORDER BY key_id`)
      .map((r) => ({ keyId: r.key_id, publicKey: blob(r.public_key) })),
    kemOneTimePrekeys: db
      .all<{ key_id: number; public_key: Uint8Array; signature: Uint8Array; created_at: number }>(sql`
        SELECT key_id, public_key, signature, created_at FROM kem_prekeys
        WHERE last_resort = 0 AND uploaded_at IS NULL ORDER BY key_id`)
      .map((r) => ({ keyId: r.key_id, publicKey: blob(r.public_key), signature: blob(r.signature), createdAt: r.created_at, lastResort: false })),
  };
}

/** The relay accepted these keys. */
export function markPrekeysUploaded(
  db: WriteDb,
  uploaded: { signedKeyId?: number | undefined; lastResortKeyId?: number | undefined; oneTimeIds: readonly number[]; kemIds: readonly number[] },
  now: number,
): void {
  if (uploaded.signedKeyId !== undefined) db.run(sql`UPDATE signed_prekeys SET uploaded_at = ${now} WHERE key_id = ${uploaded.signedKeyId}`);
  if (uploaded.lastResortKeyId !== undefined) db.run(sql`UPDATE kem_prekeys SET uploaded_at = ${now} WHERE key_id = ${uploaded.lastResortKeyId}`);
  for (const id of uploaded.oneTimeIds) db.run(sql`UPDATE one_time_prekeys SET uploaded_at = ${now} WHERE key_id = ${id}`);
  for (const id of uploaded.kemIds) db.run(sql`UPDATE kem_prekeys SET uploaded_at = ${now} WHERE key_id = ${id}`);
}

/**
 * Erases one-time keys (X25519 and ML-KEM) uploaded more than `retentionMs` before the newest
 * upload of their kind. The relay hands one-time keys out oldest first and refills only below 10,
 * so a key that old was handed out long ago; a message using it had the relay's mailbox retention
 * to arrive. Returns how many were erased.
 */
export function eraseStaleOneTimePrekeys(db: WriteDb, retentionMs: number): number {
  const a = db.run(sql`
    DELETE FROM one_time_prekeys
    WHERE uploaded_at < (SELECT max(uploaded_at) FROM one_time_prekeys) - ${retentionMs}`).changes;
  const b = db.run(sql`
    DELETE FROM kem_prekeys
    WHERE last_resort = 0 AND uploaded_at < (SELECT max(uploaded_at) FROM kem_prekeys WHERE last_resort = 0) - ${retentionMs}`).changes;
  return a + b;
}
