/**
 * Schema version 14: unfinished uploads whose message was deleted (issue 13, docs/adr/0021).
 *
 *  - abandoned_uploads: the tus upload id at the relay of an attachment row deleted while its
 *    upload was unfinished (delete for me, a deleted conversation or message request). A trigger
 *    fills it from every deletion path, foreign-key cascades included, in the deleting transaction;
 *    the engine terminates each upload at the relay (tus termination) and then forgets it, so a
 *    deletion made offline or just before a crash still reaches the relay.
 */
import type { Migration } from '../migrate.js';

export const migration0014: Migration = {
  version: 14,
  name: 'abandoned-uploads',
  up(db) {
    db.exec(`
      CREATE TABLE abandoned_uploads (
        upload_id BLOB PRIMARY KEY NOT NULL CHECK (length(upload_id) = 16)
      ) WITHOUT ROWID;
      CREATE TRIGGER attachments_abandon_upload AFTER DELETE ON attachments
      WHEN OLD.upload_id IS NOT NULL
      BEGIN
        INSERT OR IGNORE INTO abandoned_uploads (upload_id) VALUES (OLD.upload_id);
      END;
    `);
  },
};
