/**
 * Schema version 5: the relay id is pinned (issue 10 item 7, electron/engine/relay/auth.ts).
 * `account.relay_id` holds the id of the relay this device registered at; the relay client refuses
 * challenges and deletion statements naming another. NULL before registration, and for accounts
 * registered before this version: their relay client pins the id of its first challenge.
 */
import type { Migration } from '../migrate.js';

export const migration0005: Migration = {
  version: 5,
  name: 'relay-id',
  up(db) {
    db.exec(`ALTER TABLE account ADD COLUMN relay_id BLOB CHECK (relay_id IS NULL OR length(relay_id) = 16);`);
  },
};
