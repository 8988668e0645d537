/**
 * Skipped message keys in their own table (DESIGN §3.4): per session, at most
 * MAX_SKIPPED_KEYS_PER_SESSION (oldest evicted first, insertion order = rowid order), expiring after
 * SKIPPED_KEY_TTL_MS. Implements the protocol's `SkippedKeyReader` and applies its
 * `SkippedKeyChanges` exactly like shared/testing's InMemorySkippedKeyStore (equivalence-tested):
 * remove the used key, add the new ones (a re-added key keeps its place), then evict.
 * Does not own the per-conversation disappearing timer (a later migration shortens the TTL per peer).
 */
import type { SkippedKeyChanges, SkippedKeyReader } from '../../../shared/protocol/double-ratchet.js';
import { MAX_SKIPPED_KEYS_PER_SESSION, SKIPPED_KEY_TTL_MS } from '../../../shared/protocol/constants.js';
import type { ReadDb, WriteDb } from './database.js';
import { blob } from './rows.js';
import { sql } from './sql.js';

export function skippedKeyReader(db: ReadDb, sessionId: Uint8Array): SkippedKeyReader {
  return {
    get(ratchetKey, counter) {
      const r = db.get<{ seed: Uint8Array }>(sql`
        SELECT seed FROM skipped_keys WHERE session_id = ${sessionId} AND ratchet_key = ${ratchetKey} AND counter = ${counter}`);
      return r && blob(r.seed);
    },
  };
}

/** Applies one decrypt's changes to a session's skipped keys (in the session's commit transaction). */
export function applySkippedKeyChanges(
  db: WriteDb,
  sessionId: Uint8Array,
  peerAccountId: Uint8Array,
  changes: SkippedKeyChanges,
  now: number,
): void {
  if (changes.removed) {
    db.run(sql`
      DELETE FROM skipped_keys
      WHERE session_id = ${sessionId} AND ratchet_key = ${changes.removed.ratchetKey} AND counter = ${changes.removed.counter}`);
  }
  for (const k of changes.added) {
    db.run(sql`
      INSERT INTO skipped_keys (session_id, peer_account_id, ratchet_key, counter, seed, created_at)
      VALUES (${sessionId}, ${peerAccountId}, ${k.ratchetKey}, ${k.counter}, ${k.seed}, ${now})
      ON CONFLICT (session_id, ratchet_key, counter) DO UPDATE SET seed = excluded.seed`);
  }
  if (changes.added.length > 0) evictOldest(db, sessionId);
}

/** Keeps the newest MAX_SKIPPED_KEYS_PER_SESSION keys of a session. */
function evictOldest(db: WriteDb, sessionId: Uint8Array): void {
  db.run(sql`
    DELETE FROM skipped_keys
    WHERE session_id = ${sessionId} AND id <= (
      SELECT id FROM skipped_keys WHERE session_id = ${sessionId}
      ORDER BY id DESC LIMIT 1 OFFSET ${MAX_SKIPPED_KEYS_PER_SESSION})`);
}

/** Deletes every skipped key of a session (it fell off the archive, or was deleted). */
export function dropSkippedKeys(db: WriteDb, sessionId: Uint8Array): void {
  db.run(sql`DELETE FROM skipped_keys WHERE session_id = ${sessionId}`);
}

/** Deletes skipped keys older than the TTL; returns how many. */
export function expireSkippedKeys(db: WriteDb, now: number, ttlMs: number = SKIPPED_KEY_TTL_MS): number {
  return db.run(sql`DELETE FROM skipped_keys WHERE created_at <= ${now - ttlMs}`).changes;
}

export function countSkippedKeys(db: ReadDb, sessionId?: Uint8Array): number {
  const q = sessionId
    ? sql`SELECT count(*) AS n FROM skipped_keys WHERE session_id = ${sessionId}`
    : sql`SELECT count(*) AS n FROM skipped_keys`;
  return db.get<{ n: number }>(q)!.n;
}
