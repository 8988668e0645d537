/**
 * Key-transparency rows (issue 19, ADR 0034; migration 0019): pinned tree-head keys, the newest
 * verified head and the own-account monitor's position, per-account sequences and check outcomes,
 * announced own lists, and evidence. Does not verify anything (electron/engine/transparency/).
 */
import type { ReadDb, WriteDb } from './database.js';
import { blob, blobOrNull } from './rows.js';
import { sql } from './sql.js';

export function pinnedHeadKeys(db: ReadDb): Map<number, Uint8Array> {
  const rows = db.all<{ key_id: number; public_key: Uint8Array }>(sql`SELECT key_id, public_key FROM kt_head_keys`);
  return new Map(rows.map((r) => [r.key_id, blob(r.public_key)]));
}

/** Pins a key id on first sight; never replaces a pinned key. */
export function pinHeadKey(db: WriteDb, keyId: number, publicKey: Uint8Array, now: number): void {
  db.run(sql`INSERT INTO kt_head_keys (key_id, public_key, pinned_at) VALUES (${keyId}, ${publicKey}, ${now}) ON CONFLICT (key_id) DO NOTHING`);
}

export type KtState = {
  readonly head: Uint8Array;
  readonly treeSize: number;
  readonly rootHash: Uint8Array;
  readonly monitorSize: number | null;
  readonly monitorRange: Uint8Array | null;
};

export function ktState(db: ReadDb): KtState | undefined {
  const r = db.get<{ head: Uint8Array; tree_size: number; root_hash: Uint8Array; monitor_size: number | null; monitor_range: Uint8Array | null }>(
    sql`SELECT head, tree_size, root_hash, monitor_size, monitor_range FROM kt_state WHERE singleton = 1`,
  );
  return r && { head: blob(r.head), treeSize: r.tree_size, rootHash: blob(r.root_hash), monitorSize: r.monitor_size, monitorRange: blobOrNull(r.monitor_range) };
}

/** Keeps `head` as the newest head when it is larger than the one held (or the first). */
export function keepHead(db: WriteDb, head: { bytes: Uint8Array; treeSize: number; rootHash: Uint8Array }): void {
  db.run(sql`INSERT INTO kt_state (singleton, head, tree_size, root_hash) VALUES (1, ${head.bytes}, ${head.treeSize}, ${head.rootHash})
    ON CONFLICT (singleton) DO UPDATE SET head = excluded.head, tree_size = excluded.tree_size, root_hash = excluded.root_hash
    WHERE excluded.tree_size > kt_state.tree_size`);
}

export function setMonitor(db: WriteDb, size: number, range: Uint8Array): void {
  db.run(sql`UPDATE kt_state SET monitor_size = ${size}, monitor_range = ${range} WHERE singleton = 1`);
}

export type KtAccount = { readonly sequence: number; readonly status: 'match' | 'failed'; readonly problem: string | null; readonly checkedAt: number };

export function ktAccount(db: ReadDb, accountId: Uint8Array): KtAccount | undefined {
  const r = db.get<{ sequence: number; status: 'match' | 'failed'; problem: string | null; checked_at: number }>(
    sql`SELECT sequence, status, problem, checked_at FROM kt_accounts WHERE account_id = ${accountId}`,
  );
  return r && { sequence: r.sequence, status: r.status, problem: r.problem, checkedAt: r.checked_at };
}

/** A passed check: the sequence only grows. */
export function recordMatch(db: WriteDb, accountId: Uint8Array, sequence: number, now: number): void {
  db.run(sql`INSERT INTO kt_accounts (account_id, sequence, status, problem, checked_at) VALUES (${accountId}, ${sequence}, 'match', NULL, ${now})
    ON CONFLICT (account_id) DO UPDATE SET sequence = max(kt_accounts.sequence, excluded.sequence), status = 'match', problem = NULL, checked_at = excluded.checked_at`);
}

/** A failed check: the code is kept (and shown) until a later check passes. */
export function recordFailure(db: WriteDb, accountId: Uint8Array, problem: string, now: number): void {
  db.run(sql`INSERT INTO kt_accounts (account_id, sequence, status, problem, checked_at) VALUES (${accountId}, 0, 'failed', ${problem}, ${now})
    ON CONFLICT (account_id) DO UPDATE SET status = 'failed', problem = excluded.problem, checked_at = excluded.checked_at`);
}

export function announceList(db: WriteDb, listHash: Uint8Array, version: number, now: number): void {
  db.run(sql`INSERT INTO kt_announced (list_hash, version, announced_at) VALUES (${listHash}, ${version}, ${now}) ON CONFLICT (list_hash) DO NOTHING`);
}

export function isAnnounced(db: ReadDb, listHash: Uint8Array): boolean {
  return db.get(sql`SELECT 1 AS one FROM kt_announced WHERE list_hash = ${listHash}`) !== undefined;
}

export type KtEvidence = { readonly id: number; readonly kind: string; readonly accountId: Uint8Array | null; readonly headA: Uint8Array | null; readonly headB: Uint8Array | null; readonly detail: string; readonly createdAt: number };

export function addEvidence(db: WriteDb, e: Omit<KtEvidence, 'id'>): void {
  db.run(sql`INSERT INTO kt_evidence (kind, account_id, head_a, head_b, detail, created_at) VALUES (${e.kind}, ${e.accountId}, ${e.headA}, ${e.headB}, ${e.detail}, ${e.createdAt})`);
}

export function listEvidence(db: ReadDb): KtEvidence[] {
  return db
    .all<{ id: number; kind: string; account_id: Uint8Array | null; head_a: Uint8Array | null; head_b: Uint8Array | null; detail: string; created_at: number }>(
      sql`SELECT id, kind, account_id, head_a, head_b, detail, created_at FROM kt_evidence ORDER BY id`,
    )
    .map((r) => ({ id: r.id, kind: r.kind, accountId: blobOrNull(r.account_id), headA: blobOrNull(r.head_a), headB: blobOrNull(r.head_b), detail: r.detail, createdAt: r.created_at }));
}
