/**
 * Schema version 9: delivery state per recipient device (issue 12 "Message info",
 * docs/adr/0023-message-info-and-device-capabilities.md).
 *
 * `messages.status` keeps the conversation's one status (the first recipient device to confirm,
 * DESIGN §4). `message_device_statuses` holds, per outgoing message and recipient device, when the
 * relay accepted the envelope for that device (`sent_at`, the relay's clock) and when that device's
 * delivery and read receipts arrived (this device's clock). Receipts already name exact message
 * ids (content type 0x05), and the sending device of a receipt is authenticated by its session,
 * so a row is only ever written for a device on the recipient's verified list. The rows go with
 * their message (ON DELETE CASCADE: "Delete for me", a deleted conversation). Messages sent before
 * this version have no rows: their info shows the one status only.
 */
import type { Migration } from '../migrate.js';

export const migration0009: Migration = {
  version: 9,
  name: 'device-statuses',
  up(db) {
    db.exec(`
      CREATE TABLE message_device_statuses (
        message_row_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        account_id BLOB NOT NULL CHECK (length(account_id) = 16),
        device_id INTEGER NOT NULL CHECK (device_id >= 1),
        sent_at INTEGER,
        delivered_at INTEGER,
        read_at INTEGER,
        PRIMARY KEY (message_row_id, account_id, device_id)
      ) STRICT, WITHOUT ROWID;
    `);
  },
};
