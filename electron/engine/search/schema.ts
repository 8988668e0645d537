/**
 * The search index's tables and triggers (DESIGN §3.8, §4; docs/adr/0005-search.md).
 *
 * The first layout is frozen in migration 0002 (db/migrations/0002-search.ts; its triggers indexed
 * every insert synchronously). The engine replaces it at attach with the current layout,
 * `SEARCH_INDEX_V2` (`SEARCH_INDEX_LAYOUT`), whenever `search_state.layout` or the text format
 * differ (service.ts):
 *
 *  - `search_words`: FTS5, unicode61 with diacritics removed, prefix indexes for 1 and 2
 *    characters; fed `parley_search_words(body)` (folded, only letters/digits, CJK letters as
 *    single tokens).
 *  - `search_trigrams`: FTS5, trigram with diacritics removed; fed `parley_search_trigrams(body)`.
 *    Both contentless (`content=''`: the text lives only in `messages`), rowid = messages.id,
 *    no per-row size table (we never rank), FTS5 `secure-delete` on, `automerge` off (the
 *    maintenance worker merges: maintenance.ts).
 *  - `search_vocab` + `search_vocab_trigrams`: every distinct word-index token with three ASCII
 *    letters/digits in a row, with the number of indexed messages holding it, and a trigram index
 *    over those tokens. A rare whole word is answered through it (query-plan.ts "vocabulary"): the
 *    tokens containing the term, then the word index. Reference-counted, so a token leaves the
 *    moment its last message does (secure delete, like the index itself).
 *  - `search_state`: one row. Messages with `indexed_from <= id < indexed_to` are covered; a covered
 *    text message is indexed unless its id is in `search_pending`. The rebuild lowers indexed_from
 *    towards 0 (newest first), the catch-up raises indexed_to past new messages — both in the
 *    maintenance worker, shortly after commit, never inside the writer's transaction.
 *  - `search_pending`: covered messages whose current text is not indexed yet (edited, or inserted
 *    below indexed_to): the worker indexes them.
 *  - `search_spans`: for each block of 2^SPAN_BITS message ids, bounds of the display times of its
 *    indexed messages (a superset after deletes). The query walks the index newest-first by id
 *    block and stops once no lower block can hold a newer message (query-plan.ts).
 *
 * The triggers keep the index exact under every edit and delete of `messages`, whichever code path
 * (or cascade) makes it: the entries of an indexed message are removed in the same transaction
 * (FTS5 secure-delete; deleted or edited-away text is never findable), its new text waits in
 * search_pending. An insert costs one lookup of search_state (and nothing else unless its id is
 * covered). Text messages (`kind = 'text'`) with a body are indexed; notices are not.
 */
import { sql, type SqlQuery } from '../db/sql.js';

/** Ids per span: 4096. */
export const SPAN_BITS = 12;

/** The current index layout (search_state.layout); V1 databases have no such column. */
export const SEARCH_INDEX_LAYOUT = 2;

/** Covered ids: `indexed_from <= id < indexed_to` (used inside the trigger texts below). */
const COVERED_OLD = `old.id >= (SELECT indexed_from FROM search_state) AND old.id < (SELECT indexed_to FROM search_state)`;
const COVERED_NEW = `new.id >= (SELECT indexed_from FROM search_state) AND new.id < (SELECT indexed_to FROM search_state)`;
const NOT_PENDING_OLD = `NOT EXISTS (SELECT 1 FROM search_pending WHERE id = old.id)`;
/** Removes an indexed message's entries and vocabulary references (the caller's WHEN says it is indexed). */
const UNINDEX_OLD = (when: string) => `
    INSERT INTO search_words (search_words, rowid, body) SELECT 'delete', old.id, parley_search_words(old.body) WHERE ${when};
    INSERT INTO search_trigrams (search_trigrams, rowid, body) SELECT 'delete', old.id, parley_search_trigrams(old.body) WHERE ${when};
    UPDATE search_vocab SET docs = docs - 1
      WHERE term IN (SELECT value FROM json_each(parley_search_vocab(old.body))) AND ${when};
    INSERT INTO search_vocab_trigrams (search_vocab_trigrams, rowid, term)
      SELECT 'delete', id, term FROM search_vocab WHERE docs <= 0 AND term IN (SELECT value FROM json_each(parley_search_vocab(old.body)));
    DELETE FROM search_vocab WHERE docs <= 0 AND term IN (SELECT value FROM json_each(parley_search_vocab(old.body)));`;

/**
 * A statement whose text is spliced together from this module's constants only (the trigger bodies
 * share their conditions); no value ever reaches it.
 */
const staticDdl = (text: string): SqlQuery => sql(Object.freeze(Object.assign([text], { raw: [text] })));

/**
 * The current layout: the statements that create the index over no message (nothing covered:
 * the worker's rebuild and catch-up index what exists). text_format is set by the caller.
 */
export const SEARCH_INDEX_V2: readonly SqlQuery[] = [
  sql`CREATE VIRTUAL TABLE search_words USING fts5(
    body, content = '', columnsize = 0, tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2')`,
  sql`INSERT INTO search_words (search_words, rank) VALUES ('secure-delete', 1)`,
  sql`INSERT INTO search_words (search_words, rank) VALUES ('automerge', 0)`,
  sql`CREATE VIRTUAL TABLE search_trigrams USING fts5(
    body, content = '', columnsize = 0, tokenize = 'trigram remove_diacritics 1')`,
  sql`INSERT INTO search_trigrams (search_trigrams, rank) VALUES ('secure-delete', 1)`,
  sql`INSERT INTO search_trigrams (search_trigrams, rank) VALUES ('automerge', 0)`,
  sql`CREATE TABLE search_vocab (
    id INTEGER PRIMARY KEY,
    term TEXT NOT NULL UNIQUE,
    docs INTEGER NOT NULL
  ) STRICT`,
  sql`CREATE VIRTUAL TABLE search_vocab_trigrams USING fts5(
    term, content = '', columnsize = 0, tokenize = 'trigram remove_diacritics 1')`,
  sql`INSERT INTO search_vocab_trigrams (search_vocab_trigrams, rank) VALUES ('secure-delete', 1)`,
  sql`CREATE TABLE search_state (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    indexed_from INTEGER NOT NULL CHECK (indexed_from >= 0),
    indexed_to INTEGER NOT NULL CHECK (indexed_to >= indexed_from),
    text_format TEXT NOT NULL,
    layout INTEGER NOT NULL
  ) STRICT`,
  // Nothing covered: both bounds above every id (indexed_from 0 at once when there is no message).
  sql`INSERT INTO search_state (singleton, indexed_from, indexed_to, text_format, layout)
    SELECT 1, CASE WHEN max(id) IS NULL THEN 0 ELSE max(id) + 1 END, coalesce(max(id) + 1, 1), '', ${SEARCH_INDEX_LAYOUT} FROM messages`,
  sql`CREATE TABLE search_pending (id INTEGER PRIMARY KEY) STRICT`,
  sql`CREATE TABLE search_spans (
    span INTEGER PRIMARY KEY,
    min_display_at INTEGER NOT NULL,
    max_display_at INTEGER NOT NULL
  ) STRICT`,
  // An insert is indexed by the worker after commit; only an id that is covered already (an id
  // reused below indexed_to) needs marking.
  staticDdl(`CREATE TRIGGER search_messages_insert AFTER INSERT ON messages
    WHEN new.kind = 'text' AND new.body IS NOT NULL AND ${COVERED_NEW} BEGIN
    INSERT OR IGNORE INTO search_pending (id) VALUES (new.id);
  END`),
  staticDdl(`CREATE TRIGGER search_messages_delete AFTER DELETE ON messages
    WHEN old.kind = 'text' AND old.body IS NOT NULL AND ${COVERED_OLD} BEGIN
    ${UNINDEX_OLD(NOT_PENDING_OLD)}
    DELETE FROM search_pending WHERE id = old.id;
  END`),
  staticDdl(`CREATE TRIGGER search_messages_update_text AFTER UPDATE OF id, kind, body ON messages
    WHEN old.id IS NOT new.id OR old.kind IS NOT new.kind OR old.body IS NOT new.body BEGIN
    ${UNINDEX_OLD(`old.kind = 'text' AND old.body IS NOT NULL AND ${COVERED_OLD} AND ${NOT_PENDING_OLD}`)}
    DELETE FROM search_pending WHERE id = old.id;
    INSERT OR IGNORE INTO search_pending (id) SELECT new.id WHERE new.kind = 'text' AND new.body IS NOT NULL AND ${COVERED_NEW};
  END`),
  sql`CREATE TRIGGER search_messages_update_order AFTER UPDATE OF id, display_at ON messages BEGIN
    -- 12 = SPAN_BITS
    INSERT INTO search_spans (span, min_display_at, max_display_at) VALUES (new.id >> 12, new.display_at, new.display_at)
      ON CONFLICT (span) DO UPDATE SET
        min_display_at = min(min_display_at, excluded.min_display_at),
        max_display_at = max(max_display_at, excluded.max_display_at)
      WHERE excluded.min_display_at < min_display_at OR excluded.max_display_at > max_display_at;
  END`,
];

/** The triggers and bookkeeping tables of any layout (no text in them), in drop order. */
export const DROP_SEARCH_BOOKKEEPING: readonly SqlQuery[] = [
  sql`DROP TRIGGER IF EXISTS search_messages_insert`,
  sql`DROP TRIGGER IF EXISTS search_messages_delete`,
  sql`DROP TRIGGER IF EXISTS search_messages_update_text`,
  sql`DROP TRIGGER IF EXISTS search_messages_update_order`,
  sql`DROP TABLE IF EXISTS search_state`,
  sql`DROP TABLE IF EXISTS search_spans`,
  sql`DROP TABLE IF EXISTS search_pending`,
];

/**
 * The tables that hold index text, by kind. A retired index keeps them under
 * `search_trash_<n>_<kind>` until the worker has purged them (indexer.ts).
 */
export const INDEX_TEXT_TABLES = [
  { kind: 'words', name: 'search_words', fts5: true },
  { kind: 'trigrams', name: 'search_trigrams', fts5: true },
  { kind: 'vocab', name: 'search_vocab', fts5: false },
  { kind: 'vocab_trigrams', name: 'search_vocab_trigrams', fts5: true },
] as const;
