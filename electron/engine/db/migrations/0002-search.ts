/**
 * Schema version 2: the search index (issue 6) — FTS5 word and trigram indexes over messages, the
 * rebuild state and the id-span display bounds, with the triggers that keep them in step. The
 * definition lives with the search module (electron/engine/search/schema.ts, SEARCH_INDEX_V1, frozen)
 * because turning search back on creates the same objects. Messages that exist already are indexed
 * by the engine's background rebuild, not here: a migration runs inside one transaction at open.
 */
import { SEARCH_INDEX_V1 } from '../../search/schema.js';
import type { Migration } from '../migrate.js';

export const migration0002: Migration = {
  version: 2,
  name: 'search',
  up(db) {
    for (const statement of SEARCH_INDEX_V1) db.exec(statement.text);
  },
};
