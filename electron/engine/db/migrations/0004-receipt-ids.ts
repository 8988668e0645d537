/**
 * Schema version 4: receipts name exactly the messages they confirm (issue 10 item 15,
 * docs/protocol.md §16).
 *
 * `pending_receipts` held one row per (peer, kind) that confirmed "everything up to a message" by
 * sender time; a message rejected by the relay and retried after newer ones was confirmed before
 * it arrived. `receipt_queue` holds one row per (peer, kind, message id) of a message this device
 * holds. A receipt pending at the upgrade is expanded into the incoming messages from that peer it
 * covered (for `read`, those read), newest first and at most 2,000 per receipt: every one of them
 * is in this database, so the expansion confirms nothing this device does not hold.
 */
import type { Migration } from '../migrate.js';

export const migration0004: Migration = {
  version: 4,
  name: 'receipt-ids',
  up(db) {
    db.exec(`
      CREATE TABLE receipt_queue (
        peer_account_id BLOB NOT NULL CHECK (length(peer_account_id) = 16),
        kind TEXT NOT NULL CHECK (kind IN ('delivered', 'read')),
        message_id BLOB NOT NULL CHECK (length(message_id) = 16),
        created_at INTEGER NOT NULL,
        PRIMARY KEY (peer_account_id, kind, message_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX receipt_queue_by_age ON receipt_queue (created_at);

      INSERT OR IGNORE INTO receipt_queue (peer_account_id, kind, message_id, created_at)
        SELECT p.peer_account_id, p.kind, m.message_id, p.created_at
        FROM pending_receipts p JOIN messages m ON m.id IN (
          SELECT id FROM messages
          WHERE sender_account_id = p.peer_account_id AND direction = 'incoming' AND kind = 'text'
            AND message_id IS NOT NULL AND sent_at <= p.up_to_sent_at
            AND (p.kind = 'delivered' OR read_at IS NOT NULL)
          ORDER BY sent_at DESC, id DESC LIMIT 2000);
      DROP TABLE pending_receipts;
    `);
  },
};
