/**
 * Schema version 2: the search index (issue 6) — FTS5 word and trigram indexes over messages, the
 * rebuild state and the id-span display bounds, with the triggers that keep them in step. Frozen:
 * this is the index as issue 6 first shipped it; the engine replaces it at attach with the current
 * layout (electron/engine/search/schema.ts, SEARCH_INDEX_V2). Its triggers call the search SQL
 * functions, which every connection registers (database.ts `functions`). Messages that exist already
 * are indexed by the engine's background rebuild, not here: a migration runs inside one transaction
 * at open.
 */
import type { Migration } from '../migrate.js';
import { sql, type SqlQuery } from '../sql.js';

/** Statements that create the index over the current messages (all unindexed: a rebuild follows). */
const SEARCH_INDEX_V1: readonly SqlQuery[] = [
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
    -- 12 = SPAN_BITS (electron/engine/search/schema.ts)
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

export const migration0002: Migration = {
  version: 2,
  name: 'search',
  up(db) {
    for (const statement of SEARCH_INDEX_V1) db.exec(statement.text);
  },
};
