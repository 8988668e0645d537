/**
 * Schema version 8: blocking (issue 12, docs/adr/0019-profiles-requests-blocking.md).
 *
 *  - contacts.blocked (+ blocked_at): nothing from them is kept (their envelopes are dropped on
 *    arrival, unread), nothing is sent to them, they leave the relay's contact list (no typing or
 *    presence either way) and their conversation is not listed until unblocked.
 */
import type { Migration } from '../migrate.js';

export const migration0008: Migration = {
  version: 8,
  name: 'blocking',
  up(db) {
    db.exec(`
      ALTER TABLE contacts ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1));
      ALTER TABLE contacts ADD COLUMN blocked_at INTEGER;
    `);
  },
};
