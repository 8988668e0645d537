/**
 * Schema version 15: the own profile from another own device (issue 14, docs/adr/0026, docs/protocol.md
 * §16 ProfileKey).
 *
 *  - own_profile.pending_key / pending_revision: a profile key another own device uploaded a newer
 *    profile under (a profile key content from an own device), until this device has fetched and
 *    opened that profile and adopted it (key, revision, name, about, avatar).
 */
import type { Migration } from '../migrate.js';

export const migration0015: Migration = {
  version: 15,
  name: 'own-profile-pending',
  up(db) {
    db.exec(`
      ALTER TABLE own_profile ADD COLUMN pending_key BLOB CHECK (pending_key IS NULL OR length(pending_key) = 32);
      ALTER TABLE own_profile ADD COLUMN pending_revision INTEGER;`);
  },
};
