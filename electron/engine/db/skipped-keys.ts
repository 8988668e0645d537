/**
 * Skipped message keys in their own table (DESIGN §3.4): per session, at most
 * MAX_SKIPPED_KEYS_PER_SESSION (oldest evicted first, insertion order = rowid order), expiring after
 * SKIPPED_KEY_TTL_MS. Implements the protocol's `SkippedKeyReader` and applies its
 * `SkippedKeyChanges` exactly like shared/testing's InMemorySkippedKeyStore (equivalence-tested):
 * remove the used key, add the new ones (a re-added key keeps its place), then evict.
 * The TTL (docs/protocol.md §8.6) is min(SKIPPED_KEY_TTL_MS, the conversation's disappearing timer):
 * the read view reports an expired key absent, and `sweepExpiredSkippedKeys` deletes them.
 */
import type { SkippedKeyChanges, SkippedKeyReader } from '../../../shared/protocol/double-ratchet.js';
import { MAX_SKIPPED_KEYS_PER_SESSION, SKIPPED_KEY_TTL_MS } from '../../../shared/protocol/constants.js';
import type { ReadDb, WriteDb } from './database.js';
import { blob } from './rows.js';
import { sql } from './sql.js';

/**
 * The read view of one session's skipped keys. With `expiry`, a key committed `ttlMs` or more
 * before `now` is absent (it expired; the sweep deletes it later).
 */
export function skippedKeyReader(
  db: ReadDb,
  sessionId: Uint8Array,
  expiry?: { readonly now: number; readonly ttlMs: number },
): SkippedKeyReader {
  const fresh = expiry ? sql`AND created_at > ${expiry.now - expiry.ttlMs}` : sql``;
  return {
    get(ratchetKey, counter) {
      const r = db.get<{ seed: Uint8Array }>(sql`
        SELECT seed FROM skipped_keys
        WHERE session_id = ${sessionId} AND ratchet_key = ${ratchetKey} AND counter = ${counter} ${fresh}`);
      return r && blob(r.seed);
    },
  };
}

/** The skipped-key TTL for a peer: min(SKIPPED_KEY_TTL_MS, its conversation's disappearing timer). */
export function skippedKeyTtl(db: ReadDb, peerAccountId: Uint8Array): number {
  const r = db.get<{ t: number | null }>(sql`
    SELECT min(expire_timer_ms) AS t FROM conversations WHERE peer_account_id = ${peerAccountId} AND expire_timer_ms IS NOT NULL`);
  return r?.t !== null && r?.t !== undefined ? Math.min(SKIPPED_KEY_TTL_MS, r.t) : SKIPPED_KEY_TTL_MS;
}

/** Deletes every skipped key past its TTL (each peer's own, §8.6); returns how many. */
export function sweepExpiredSkippedKeys(db: WriteDb, now: number): number {
  return db.run(sql`
    DELETE FROM skipped_keys
    WHERE created_at <= ${now} - coalesce((
      SELECT min(min(c.expire_timer_ms), ${SKIPPED_KEY_TTL_MS}) FROM conversations c
      WHERE c.peer_account_id = skipped_keys.peer_account_id AND c.expire_timer_ms IS NOT NULL), ${SKIPPED_KEY_TTL_MS})`).changes;
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
