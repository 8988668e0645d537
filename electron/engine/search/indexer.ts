/**
 * The storage half of search (DESIGN §3.8, §4; docs/adr/0005-search.md): creating, retiring,
 * purging and filling the index (schema.ts). Every function is one bounded unit of work for the
 * caller's transaction; who calls them when is maintenance.ts (the worker thread) and service.ts.
 *
 *  - create: the index over no message (indexed_from = indexed_to above every id).
 *  - retire (search turned off, or an index of another layout or text format): in one short
 *    transaction the triggers and bookkeeping tables are dropped and the tables holding index text
 *    renamed to `search_trash_<n>_*` — from then on nothing reads or writes them.
 *  - purge: the worker deletes a retired index's rows a few pages at a time (secure_delete zeroes
 *    them) and drops the emptied tables; a DROP of a full index is one statement that zeroes every
 *    page (10 s on 1M messages, holding the write lock throughout).
 *  - catch-up: search_pending, then the messages above indexed_to, raising it (new messages are
 *    indexed shortly after their commit, not inside it);
 *  - rebuild: the messages below indexed_from, newest first, lowering it.
 * Each of these moves the coverage bounds in the same transaction as the rows it indexes, so an
 * interleaving of writers and batches never indexes a message twice or misses one, and work
 * interrupted by a lock, a crash or a quit resumes where it stopped.
 *
 * Does not own when any of this happens (maintenance.ts, service.ts) or the query side (query-plan.ts).
 */
import type { ReadDb, WriteDb } from '../db/database.js';
import { identifier, sql } from '../db/sql.js';
import { DROP_SEARCH_BOOKKEEPING, INDEX_TEXT_TABLES, SEARCH_INDEX_LAYOUT, SEARCH_INDEX_V2, SPAN_BITS } from './schema.js';
import { INDEX_TEXT_FORMAT, trigramIndexText, vocabTokens, wordIndexText } from './text.js';

export type IndexRecord = {
  readonly indexedFrom: number;
  /** Messages with ids at or above it are not indexed yet (V1 indexed them in its triggers: Infinity). */
  readonly indexedTo: number;
  readonly textFormat: string;
  readonly layout: number;
};

/** The live index's bookkeeping, or null when there is no index. */
export function readIndexRecord(db: ReadDb): IndexRecord | null {
  if (!db.get(sql`SELECT 1 AS x FROM sqlite_schema WHERE type = 'table' AND name = 'search_state'`)) return null;
  // SELECT *: a V1 index has neither indexed_to nor layout.
  const row = db.get<{ indexed_from: number; indexed_to?: number; text_format: string; layout?: number }>(sql`SELECT * FROM search_state`);
  if (!row) return null;
  return { indexedFrom: row.indexed_from, indexedTo: row.indexed_to ?? Infinity, textFormat: row.text_format, layout: row.layout ?? 1 };
}

/** Whether `record` is an index this build can use as it is. */
export function isCurrent(record: IndexRecord): boolean {
  return record.layout === SEARCH_INDEX_LAYOUT && record.textFormat === INDEX_TEXT_FORMAT;
}

/** Creates the current index, covering no message yet. Call inside a transaction. */
export function createIndex(db: WriteDb): void {
  for (const statement of SEARCH_INDEX_V2) db.run(statement);
  db.run(sql`UPDATE search_state SET text_format = ${INDEX_TEXT_FORMAT}`);
}

const TRASH_RE = /^search_trash_(\d+)_(words|trigrams|vocab|vocab_trigrams)$/;

type TrashTable = { readonly name: string; readonly slot: number; readonly fts5: boolean };

/** Tables of retired indexes still to purge, oldest retirement first. */
export function trashTables(db: ReadDb): TrashTable[] {
  const rows = db.all<{ name: string; sql: string | null }>(
    sql`SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name GLOB 'search_trash_[0-9]*'`,
  );
  return rows
    .flatMap((r): TrashTable[] => {
      const m = TRASH_RE.exec(r.name);
      return m ? [{ name: r.name, slot: Number(m[1]), fts5: /^CREATE VIRTUAL TABLE/i.test(r.sql ?? '') }] : [];
    })
    .sort((a, b) => a.slot - b.slot || a.name.localeCompare(b.name));
}

/**
 * Retires the live index, if any: triggers and bookkeeping dropped, the text tables renamed to the
 * next trash slot for the worker to purge. Cheap (schema changes only). Call inside a transaction.
 * Returns whether there was an index.
 */
export function retireIndex(db: WriteDb): boolean {
  const existed = readIndexRecord(db) !== null;
  for (const statement of DROP_SEARCH_BOOKKEEPING) db.run(statement);
  const present = new Set(
    db.all<{ name: string }>(sql`SELECT name FROM sqlite_schema WHERE type = 'table' AND name GLOB 'search_*'`).map((r) => r.name),
  );
  const slot = Math.max(0, ...trashTables(db).map((t) => t.slot)) + 1;
  let renamed = false;
  for (const table of INDEX_TEXT_TABLES) {
    if (!present.has(table.name)) continue;
    db.run(sql`ALTER TABLE ${identifier(table.name)} RENAME TO ${identifier(`search_trash_${slot}_${table.kind}`)}`);
    renamed = true;
  }
  return existed || renamed;
}

/**
 * Deletes up to `rows` rows of the oldest retired index (FTS5 leaf pages and their term index, or
 * vocabulary rows; PRAGMA secure_delete zeroes what they occupied), dropping each table once it is
 * empty. `shadowWritable` lifts SQLite's defensive mode for the FTS5 shadow tables. Call inside a
 * transaction. Returns the rows deleted, whether anything is left, and which table the rows came from.
 */
export function purgeStep(
  db: WriteDb,
  shadowWritable: <T>(fn: () => T) => T,
  rows: number,
): { deleted: number; remaining: boolean; table: string | null } {
  const tables = trashTables(db);
  const table = tables[0];
  if (!table) return { deleted: 0, remaining: false, table: null };
  const limit = BigInt(Math.max(1, rows));
  let deleted = 0;
  let part = table.name;
  if (table.fts5) {
    const data = identifier(`${table.name}_data`);
    const idx = identifier(`${table.name}_idx`);
    deleted = shadowWritable(() => {
      part = `${table.name}_data`;
      let n = db.run(sql`DELETE FROM ${data} WHERE id IN (SELECT id FROM ${data} LIMIT ${limit})`).changes;
      if (n === 0) {
        part = `${table.name}_idx`;
        n = db.run(sql`DELETE FROM ${idx} WHERE (segid, term) IN (SELECT segid, term FROM ${idx} LIMIT ${limit})`).changes;
      }
      return n;
    });
  } else {
    const t = identifier(table.name);
    deleted = db.run(sql`DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} LIMIT ${limit})`).changes;
  }
  // Emptied: the DROP has only the (tiny) config and structure left to free.
  if (deleted === 0) db.run(sql`DROP TABLE ${identifier(table.name)}`);
  return { deleted, remaining: deleted > 0 || tables.length > 1, table: part };
}

type Row = { id: number; kind: string; body: string | null; display_at: number };

/**
 * Indexes `rows` (text messages with a body; others are skipped): both FTS5 tables, the
 * vocabulary, the span bounds. Returns how many were indexed.
 */
function indexRows(db: WriteDb, rows: readonly Row[]): number {
  const vocab = new Map<string, number>();
  const spans = new Map<number, { min: number; max: number }>();
  let indexed = 0;
  for (const r of rows) {
    if (r.kind !== 'text' || r.body === null) continue;
    indexed += 1;
    // FTS5 takes a rowid only as an INTEGER; better-sqlite3 binds a JS number as REAL, a bigint as INTEGER.
    const rowid = BigInt(r.id);
    db.run(sql`INSERT INTO search_words (rowid, body) VALUES (${rowid}, ${wordIndexText(r.body)})`);
    db.run(sql`INSERT INTO search_trigrams (rowid, body) VALUES (${rowid}, ${trigramIndexText(r.body)})`);
    for (const token of vocabTokens(r.body)) vocab.set(token, (vocab.get(token) ?? 0) + 1);
    const span = r.id >> SPAN_BITS;
    const s = spans.get(span);
    if (s) {
      s.min = Math.min(s.min, r.display_at);
      s.max = Math.max(s.max, r.display_at);
    } else spans.set(span, { min: r.display_at, max: r.display_at });
  }
  for (const [term, n] of vocab) {
    const row = db.get<{ id: number; docs: number }>(sql`
      INSERT INTO search_vocab (term, docs) VALUES (${term}, ${n})
      ON CONFLICT (term) DO UPDATE SET docs = docs + excluded.docs RETURNING id, docs`)!;
    // A term's row exists only while some indexed message holds it (docs >= 1): docs = n means new.
    if (row.docs === n) db.run(sql`INSERT INTO search_vocab_trigrams (rowid, term) VALUES (${BigInt(row.id)}, ${term})`);
  }
  for (const [span, s] of spans) {
    db.run(sql`
      INSERT INTO search_spans (span, min_display_at, max_display_at) VALUES (${span}, ${s.min}, ${s.max})
      ON CONFLICT (span) DO UPDATE SET
        min_display_at = min(min_display_at, excluded.min_display_at),
        max_display_at = max(max_display_at, excluded.max_display_at)`);
  }
  return indexed;
}

export type CatchUpResult = {
  /** Message rows covered (of every kind) and text messages indexed. */
  readonly scanned: number;
  readonly indexed: number;
  /** There may be more to catch up (the batch was full). */
  readonly more: boolean;
};

/**
 * Indexes up to `size` rows that are committed but not indexed: search_pending first, then the
 * messages at or above indexed_to (raising it). Call inside a transaction.
 */
export function catchUpBatch(db: WriteDb, size: number): CatchUpResult {
  const state = readIndexRecord(db);
  if (!state || !isCurrent(state)) return { scanned: 0, indexed: 0, more: false };
  const pending = db.all<Row & { pending_id: number }>(sql`
    SELECT p.id AS pending_id, m.id AS id, m.kind AS kind, m.body AS body, m.display_at AS display_at
    FROM search_pending AS p LEFT JOIN messages AS m ON m.id = p.id ORDER BY p.id LIMIT ${size}`);
  let indexed = indexRows(db, pending.filter((r) => r.id !== null));
  for (const p of pending) db.run(sql`DELETE FROM search_pending WHERE id = ${p.pending_id}`);
  const room = size - pending.length;
  let fresh: Row[] = [];
  if (room > 0) {
    fresh = db.all<Row>(sql`SELECT id, kind, body, display_at FROM messages WHERE id >= ${state.indexedTo} ORDER BY id LIMIT ${room}`);
    if (fresh.length > 0) {
      indexed += indexRows(db, fresh);
      db.run(sql`UPDATE search_state SET indexed_to = ${fresh[fresh.length - 1]!.id + 1}`);
    }
  }
  return { scanned: pending.length + fresh.length, indexed, more: pending.length + fresh.length === size };
}

export type BatchResult = {
  /** Message rows the batch covered (of every kind). */
  readonly scanned: number;
  /** The new lower bound: messages with id >= indexedFrom are covered; 0 = the rebuild is done. */
  readonly indexedFrom: number;
};

/** Rebuild: indexes the next `size` message ids below indexed_from (the newest not yet covered) and lowers it. Call inside a transaction. */
export function rebuildBatch(db: WriteDb, size: number): BatchResult {
  const state = readIndexRecord(db);
  if (!state || !isCurrent(state) || state.indexedFrom === 0) return { scanned: 0, indexedFrom: state?.indexedFrom ?? 0 };
  const rows = db.all<Row>(sql`SELECT id, kind, body, display_at FROM messages WHERE id < ${state.indexedFrom} ORDER BY id DESC LIMIT ${size}`);
  indexRows(db, rows);
  // A short batch reached the oldest message.
  const indexedFrom = rows.length < size ? 0 : rows[rows.length - 1]!.id;
  db.run(sql`UPDATE search_state SET indexed_from = ${indexedFrom}`);
  return { scanned: rows.length, indexedFrom };
}

/**
 * Committed messages not indexed yet (above indexed_to, or pending), counted up to `cap`; the
 * rebuild's share (below indexed_from) is not counted. null when there is no current index.
 */
export function catchUpBacklog(db: ReadDb, cap: number): number | null {
  const state = readIndexRecord(db);
  if (!state || !isCurrent(state)) return null;
  const limit = BigInt(cap);
  return db.get<{ n: number }>(sql`
    SELECT (SELECT count(*) FROM (SELECT 1 FROM messages WHERE id >= ${state.indexedTo} LIMIT ${limit}))
         + (SELECT count(*) FROM (SELECT 1 FROM search_pending LIMIT ${limit})) AS n`)!.n;
}

/**
 * Up to `pages` leaf pages of merge work on each FTS5 table, merging levels that hold `usermerge`
 * (4) segments or more. Returns whether any table did work (FTS5 counts one change for the command
 * itself; more means it merged). FTS5 merges a term's whole doclist at once, so a step on a common
 * trigram can take far longer than `pages` suggests — it runs on the worker's thread for that reason.
 */
export function mergeStep(db: WriteDb, pages: number): boolean {
  let worked = false;
  // FTS5 takes only INTEGER values here; better-sqlite3 binds a JS number as REAL, a bigint as INTEGER.
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

/** WAL TRUNCATE checkpoint; true when every frame was copied and the WAL emptied. */
export function checkpoint(db: WriteDb): boolean {
  const r = db.get<{ busy: number; log: number; checkpointed: number }>(sql`PRAGMA wal_checkpoint(TRUNCATE)`);
  return r !== undefined && r.busy === 0;
}

/**
 * A PASSIVE checkpoint (copies what it can, waits for nothing). The worker runs one every few
 * writes so that SQLite's automatic checkpoint (1000 pages at once) rarely lands inside a commit of
 * the engine's own writer.
 */
export function passiveCheckpoint(db: WriteDb): void {
  db.get(sql`PRAGMA wal_checkpoint(PASSIVE)`);
}

/** The lowest message id (progress is measured over ids: counting rows would itself take long). */
export function lowestMessageId(db: ReadDb): number | null {
  return db.get<{ id: number | null }>(sql`SELECT min(id) AS id FROM messages`)!.id;
}

/**
 * Indexes everything now, on the caller's connection (tests, tools): every catch-up and rebuild
 * batch until none is left. The engine never calls this (the worker does the same in slices).
 */
export function indexAllNow(db: WriteDb, batchSize = 500): void {
  while (db.transaction(() => catchUpBatch(db, batchSize)).more);
  while (db.transaction(() => rebuildBatch(db, batchSize)).indexedFrom !== 0);
}
