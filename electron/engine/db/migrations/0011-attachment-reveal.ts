/**
 * Schema version 11: images held back in message requests (issue 13, docs/adr/0021).
 *
 *  - attachments.revealed: the person asked to see this image (attachments:reveal) while its
 *    conversation was still a message request. Until then, or until they accept the person, the
 *    engine does not hand the image's thumbnail to the renderer.
 */
import type { Migration } from '../migrate.js';

export const migration0011: Migration = {
  version: 11,
  name: 'attachment-reveal',
  up(db) {
    db.exec(`ALTER TABLE attachments ADD COLUMN revealed INTEGER NOT NULL DEFAULT 0 CHECK (revealed IN (0, 1));`);
  },
};
