/**
 * The search index's tables and triggers (DESIGN §3.8, §4; docs/adr/0005-search.md), created by
 * migration 0002 and again whenever search is turned back on, dropped when it is turned off.
 *
 *  - `search_words`: FTS5, unicode61 with diacritics removed, prefix indexes for 1 and 2
 *    characters; fed `parley_search_words(body)` (folded, CJK letters as single tokens).
 *  - `search_trigrams`: FTS5, trigram with diacritics removed; fed `parley_search_trigrams(body)`.
 *    Both are contentless (`content=''`: the text lives only in `messages`), rowid = messages.id,
 *    no per-row size table (we never rank), and FTS5 `secure-delete` on, so a delete removes the
 *    entries from the index pages themselves instead of leaving a tombstone next to the text.
 *  - `search_state`: one row; messages with `id >= indexed_from` are indexed (a rebuild walks
 *    down from the top and lowers it batch by batch; 0 = complete) and the index text format.
 *  - `search_spans`: for each block of 2^SPAN_BITS message ids, bounds of their display times. The
 *    query walks the index newest-first by id block and stops once no lower block can hold a
 *    newer message (search.ts).
 *
 * Triggers keep all of it in step with every insert, edit and delete of `messages`, whichever code
 * path (or cascade) makes it; each change touches the index only for ids the index covers. Text
 * messages (`kind = 'text'`) with a body are indexed; notices are not.
 *
 * `SEARCH_INDEX_V1` is frozen: migration 0002 runs it. A different index is a new constant and a
 * new migration (and a bump of INDEX_TEXT_FORMAT if the text changes).
 */
import { sql, type SqlQuery } from '../db/sql.js';

/** Ids per span: 4096. */
export const SPAN_BITS = 12;

/** Statements that create the index over the current messages (all unindexed: a rebuild follows). */
export const SEARCH_INDEX_V1: readonly SqlQuery[] = [
  sql`CREATE VIRTUAL TABLE search_words USING fts5(
    body, content = '', columnsize = 0, tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2')`,
  sql`INSERT INTO search_words (search_words, rank) VALUES ('secure-delete', 1)`,
  sql`CREATE VIRTUAL TABLE search_trigrams USING fts5(
    body, content = '', columnsize = 0, tokenize = 'trigram remove_diacritics 1')`,
  sql`INSERT INTO search_trigrams (search_trigrams, rank) VALUES ('secure-delete', 1)`,
  sql`CREATE TABLE search_state (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    indexed_from INTEGER NOT NULL CHECK (indexed_from >= 0),
    text_format TEXT NOT NULL
  ) STRICT`,
  // Messages that exist already wait for the rebuild (indexed_from above them; 0 when there are
  // none). '' = format not yet known: the engine recreates the index under its own format.
  sql`INSERT INTO search_state (singleton, indexed_from, text_format)
    SELECT 1, CASE WHEN max(id) IS NULL THEN 0 ELSE max(id) + 1 END, '' FROM messages`,
  sql`CREATE TABLE search_spans (
    span INTEGER PRIMARY KEY,
    min_display_at INTEGER NOT NULL,
    max_display_at INTEGER NOT NULL
  ) STRICT`,
  sql`CREATE TRIGGER search_messages_insert AFTER INSERT ON messages BEGIN
    -- 12 = SPAN_BITS
    INSERT INTO search_spans (span, min_display_at, max_display_at) VALUES (new.id >> 12, new.display_at, new.display_at)
      ON CONFLICT (span) DO UPDATE SET
        min_display_at = min(min_display_at, excluded.min_display_at),
        max_display_at = max(max_display_at, excluded.max_display_at)
      WHERE excluded.min_display_at < min_display_at OR excluded.max_display_at > max_display_at;
    INSERT INTO search_words (rowid, body) SELECT new.id, parley_search_words(new.body)
      WHERE new.kind = 'text' AND new.body IS NOT NULL AND new.id >= (SELECT indexed_from FROM search_state);
    INSERT INTO search_trigrams (rowid, body) SELECT new.id, parley_search_trigrams(new.body)
      WHERE new.kind = 'text' AND new.body IS NOT NULL AND new.id >= (SELECT indexed_from FROM search_state);
  END`,
  sql`CREATE TRIGGER search_messages_delete AFTER DELETE ON messages
    WHEN old.kind = 'text' AND old.body IS NOT NULL AND old.id >= (SELECT indexed_from FROM search_state) BEGIN
    INSERT INTO search_words (search_words, rowid, body) VALUES ('delete', old.id, parley_search_words(old.body));
    INSERT INTO search_trigrams (search_trigrams, rowid, body) VALUES ('delete', old.id, parley_search_trigrams(old.body));
  END`,
  sql`CREATE TRIGGER search_messages_update_text AFTER UPDATE OF id, kind, body ON messages
    WHEN old.id IS NOT new.id OR old.kind IS NOT new.kind OR old.body IS NOT new.body BEGIN
    INSERT INTO search_words (search_words, rowid, body) SELECT 'delete', old.id, parley_search_words(old.body)
      WHERE old.kind = 'text' AND old.body IS NOT NULL AND old.id >= (SELECT indexed_from FROM search_state);
    INSERT INTO search_trigrams (search_trigrams, rowid, body) SELECT 'delete', old.id, parley_search_trigrams(old.body)
      WHERE old.kind = 'text' AND old.body IS NOT NULL AND old.id >= (SELECT indexed_from FROM search_state);
    INSERT INTO search_words (rowid, body) SELECT new.id, parley_search_words(new.body)
      WHERE new.kind = 'text' AND new.body IS NOT NULL AND new.id >= (SELECT indexed_from FROM search_state);
    INSERT INTO search_trigrams (rowid, body) SELECT new.id, parley_search_trigrams(new.body)
      WHERE new.kind = 'text' AND new.body IS NOT NULL AND new.id >= (SELECT indexed_from FROM search_state);
  END`,
  sql`CREATE TRIGGER search_messages_update_order AFTER UPDATE OF id, display_at ON messages BEGIN
    INSERT INTO search_spans (span, min_display_at, max_display_at) VALUES (new.id >> 12, new.display_at, new.display_at)
      ON CONFLICT (span) DO UPDATE SET
        min_display_at = min(min_display_at, excluded.min_display_at),
        max_display_at = max(max_display_at, excluded.max_display_at)
      WHERE excluded.min_display_at < min_display_at OR excluded.max_display_at > max_display_at;
  END`,
];

/** Everything SEARCH_INDEX_V1 creates, in drop order (triggers first: they reference the tables). */
export const DROP_SEARCH_INDEX: readonly SqlQuery[] = [
  sql`DROP TRIGGER IF EXISTS search_messages_insert`,
  sql`DROP TRIGGER IF EXISTS search_messages_delete`,
  sql`DROP TRIGGER IF EXISTS search_messages_update_text`,
  sql`DROP TRIGGER IF EXISTS search_messages_update_order`,
  sql`DROP TABLE IF EXISTS search_words`,
  sql`DROP TABLE IF EXISTS search_trigrams`,
  sql`DROP TABLE IF EXISTS search_state`,
  sql`DROP TABLE IF EXISTS search_spans`,
];
