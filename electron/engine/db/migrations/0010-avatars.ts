/**
 * Schema version 10: avatars (issue 12, docs/adr/0022-avatars-and-unblock.md).
 *
 *  - own_profile.avatar: this account's avatar as the image process made it (a square WebP of at
 *    most 65,536 bytes, docs/protocol.md §18.2), NULL without one. It travels inside the encrypted
 *    profile, so a change raises the revision like a new name.
 *  - contact_profiles.avatar: a contact's avatar from the newest profile opened with their key,
 *    NULL without one. Never decoded by the engine: the renderer shows it.
 */
import type { Migration } from '../migrate.js';

export const migration0010: Migration = {
  version: 10,
  name: 'avatars',
  up(db) {
    db.exec(`
      ALTER TABLE own_profile ADD COLUMN avatar BLOB CHECK (avatar IS NULL OR length(avatar) BETWEEN 12 AND 65536);
      ALTER TABLE contact_profiles ADD COLUMN avatar BLOB CHECK (avatar IS NULL OR length(avatar) BETWEEN 12 AND 65536);
    `);
  },
};
