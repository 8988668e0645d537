/**
 * Creating, dropping and rebuilding the search index (schema.ts) — the storage half of the
 * searchEnabled setting (DESIGN §3.8, §4).
 *
 *  - Drop: triggers and tables in one transaction (PRAGMA secure_delete is on, so freed pages are
 *    zeroed), then a WAL TRUNCATE checkpoint so no copy of an index page stays in the WAL.
 *  - Create: the index over no message (indexed_from above every id), under the current text format.
 *  - Rebuild: one batch at a time, newest ids first, each batch in its own transaction that also
 *    lowers indexed_from, so the triggers and the rebuild never index a message twice or miss one,
 *    and a rebuild interrupted by a crash, lock or logout resumes where it stopped.
 *
 * Does not own when this happens (service.ts) or the query side (search.ts).
 */
import type { WriteDb } from '../db/database.js';
import { sql } from '../db/sql.js';
import { DROP_SEARCH_INDEX, SEARCH_INDEX_V1 } from './schema.js';
import { INDEX_TEXT_FORMAT } from './text.js';

export type IndexRecord = { readonly indexedFrom: number; readonly textFormat: string };

export function readIndexRecord(db: WriteDb): IndexRecord | null {
  if (!db.get(sql`SELECT 1 AS x FROM sqlite_schema WHERE type = 'table' AND name = 'search_state'`)) return null;
  const row = db.get<{ indexed_from: number; text_format: string }>(sql`SELECT indexed_from, text_format FROM search_state`);
  return row ? { indexedFrom: row.indexed_from, textFormat: row.text_format } : null;
}

/** Creates the index (nothing indexed yet unless there are no messages). Call inside a transaction. */
export function createIndex(db: WriteDb): void {
  for (const statement of SEARCH_INDEX_V1) db.run(statement);
  db.run(sql`UPDATE search_state SET text_format = ${INDEX_TEXT_FORMAT}`);
}

/**
 * Drops the index and checkpoints the WAL (TRUNCATE). Returns whether the checkpoint completed
 * (a reader in the middle of a query can hold it off; the next one finishes the job).
 */
export function dropIndex(db: WriteDb): boolean {
  db.transaction(() => dropIndexObjects(db));
  return checkpoint(db);
}

/** The index's triggers and tables, dropped inside the caller's transaction (no checkpoint). */
export function dropIndexObjects(db: WriteDb): void {
  for (const statement of DROP_SEARCH_INDEX) db.run(statement);
}

/** WAL TRUNCATE checkpoint; true when every frame was copied and the WAL emptied. */
export function checkpoint(db: WriteDb): boolean {
  const r = db.get<{ busy: number; log: number; checkpointed: number }>(sql`PRAGMA wal_checkpoint(TRUNCATE)`);
  return r !== undefined && r.busy === 0;
}

/**
 * A PASSIVE checkpoint (copies what it can, waits for nothing). The rebuild runs one after each
 * batch so that SQLite's automatic checkpoint (1000 pages at once) never lands inside a batch.
 */
export function passiveCheckpoint(db: WriteDb): void {
  db.get(sql`PRAGMA wal_checkpoint(PASSIVE)`);
}

export type BatchResult = {
  /** Message rows the batch covered (of every kind). */
  readonly scanned: number;
  /** The new coverage: messages with id >= indexedFrom are indexed; 0 = complete. */
  readonly indexedFrom: number;
};

/**
 * Indexes the next `size` message ids below indexed_from (the newest not yet indexed) and lowers
 * it. Call inside a transaction.
 */
export function indexNextBatch(db: WriteDb, size: number): BatchResult {
  const from = db.get<{ indexed_from: number }>(sql`SELECT indexed_from FROM search_state`)!.indexed_from;
  if (from === 0) return { scanned: 0, indexedFrom: 0 };
  const batch = db.get<{ low: number | null; n: number }>(sql`
    SELECT min(id) AS low, count(*) AS n FROM (SELECT id FROM messages WHERE id < ${from} ORDER BY id DESC LIMIT ${size})`)!;
  if (batch.low === null) {
    db.run(sql`UPDATE search_state SET indexed_from = 0`);
    return { scanned: 0, indexedFrom: 0 };
  }
  const low = batch.low;
  db.run(sql`
    INSERT INTO search_words (rowid, body) SELECT id, parley_search_words(body) FROM messages
    WHERE id >= ${low} AND id < ${from} AND kind = 'text' AND body IS NOT NULL`);
  db.run(sql`
    INSERT INTO search_trigrams (rowid, body) SELECT id, parley_search_trigrams(body) FROM messages
    WHERE id >= ${low} AND id < ${from} AND kind = 'text' AND body IS NOT NULL`);
  db.run(sql`
    INSERT INTO search_spans (span, min_display_at, max_display_at)
    SELECT id >> 12, min(display_at), max(display_at) FROM messages WHERE id >= ${low} AND id < ${from} GROUP BY id >> 12
    ON CONFLICT (span) DO UPDATE SET
      min_display_at = min(min_display_at, excluded.min_display_at),
      max_display_at = max(max_display_at, excluded.max_display_at)`);
  // A short batch reached the oldest message.
  const indexedFrom = batch.n < size ? 0 : low;
  db.run(sql`UPDATE search_state SET indexed_from = ${indexedFrom}`);
  return { scanned: batch.n, indexedFrom };
}

/** FTS5's default `automerge`: merge a level once it holds this many segments. */
export const DEFAULT_AUTOMERGE = 4;

/**
 * Sets FTS5 `automerge` on both tables (persisted in their config). A rebuild turns it off and
 * merges in bounded steps instead (mergeStep): automerge does its work in fixed quanta of
 * 64 x levels pages inside whichever write happens to cross a quantum, tens of milliseconds at once.
 */
export function setAutomerge(db: WriteDb, segments: number): void {
  // FTS5 takes only INTEGER values here; better-sqlite3 binds a JS number as REAL, a bigint as INTEGER.
  const value = BigInt(segments);
  db.run(sql`INSERT INTO search_words (search_words, rank) VALUES ('automerge', ${value})`);
  db.run(sql`INSERT INTO search_trigrams (search_trigrams, rank) VALUES ('automerge', ${value})`);
}

/**
 * Up to `pages` leaf pages of merge work on each table, merging levels that hold `usermerge` (4)
 * segments or more. Returns whether either table did any work (FTS5 counts one change for the
 * command itself; more means it merged).
 */
export function mergeStep(db: WriteDb, pages: number): boolean {
  let worked = false;
  const value = BigInt(pages);
  for (const table of ['words', 'trigrams'] as const) {
    const before = totalChanges(db);
    if (table === 'words') db.run(sql`INSERT INTO search_words (search_words, rank) VALUES ('merge', ${value})`);
    else db.run(sql`INSERT INTO search_trigrams (search_trigrams, rank) VALUES ('merge', ${value})`);
    if (totalChanges(db) - before > 1) worked = true;
  }
  return worked;
}

function totalChanges(db: WriteDb): number {
  return db.get<{ n: number }>(sql`SELECT total_changes() AS n`)!.n;
}

/** The lowest message id (progress is measured over ids: counting rows would itself block). */
export function lowestMessageId(db: WriteDb): number | null {
  return db.get<{ id: number | null }>(sql`SELECT min(id) AS id FROM messages`)!.id;
}
