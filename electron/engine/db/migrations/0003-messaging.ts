/**
 * Schema version 3: messaging against the relay (issue 4 phase 2, docs/adr/0006-engine-messaging.md).
 *
 *  - contacts.accepted: 0 for an account that wrote first and that the user has neither added nor
 *    answered (a message request). Only accepted contacts are on the relay's contact list, so
 *    typing and presence never reach a stranger. Existing rows were added by the user: 1.
 *  - contacts.list_checked_at: when the relay's copy of the contact's signed device list was last
 *    fetched and verified (refresh before sending once it is a day old).
 *  - conversations.expire_timer_ms: the disappearing-message timer (NULL = off). Nothing sets it
 *    yet (a later issue does); the skipped-key TTL already honours it (min(30 days, timer)).
 *  - messages.relay_at: outgoing only, the relay's timestamp of the accepted send. A decryption
 *    error names the failed envelope's relay timestamp; the messages sent at or after it are resent.
 *  - outbox.content: the E2E content (plaintext, inside this encrypted file) of a send, so devices
 *    that still need an envelope — no session yet, a device added to the list, a session rebuilt
 *    after a decryption error — get one later. NULL never: a decryption error stores its bytes.
 *  - inbound_envelopes: SHA-256 of every envelope already processed, so a relay redelivery is
 *    recognised before any decryption; pruned after the mailbox retention.
 *  - resend_requests: a verified decryption error from a peer device, durable until the outbox has
 *    rebuilt the session and re-queued the messages sent after its timestamp.
 */
import type { Migration } from '../migrate.js';

export const migration0003: Migration = {
  version: 3,
  name: 'messaging',
  up(db) {
    db.exec(`
      ALTER TABLE contacts ADD COLUMN accepted INTEGER NOT NULL DEFAULT 1 CHECK (accepted IN (0, 1));
      ALTER TABLE contacts ADD COLUMN list_checked_at INTEGER;
      ALTER TABLE conversations ADD COLUMN expire_timer_ms INTEGER CHECK (expire_timer_ms IS NULL OR expire_timer_ms > 0);
      ALTER TABLE messages ADD COLUMN relay_at INTEGER;
      CREATE INDEX messages_outgoing_by_relay_at ON messages (conversation_id, relay_at) WHERE direction = 'outgoing';
      ALTER TABLE outbox ADD COLUMN content BLOB;

      CREATE TABLE inbound_envelopes (
        hash BLOB PRIMARY KEY CHECK (length(hash) = 32),
        received_at INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX inbound_envelopes_by_age ON inbound_envelopes (received_at);

      CREATE TABLE resend_requests (
        peer_account_id BLOB NOT NULL CHECK (length(peer_account_id) = 16),
        peer_device_id INTEGER NOT NULL,
        after INTEGER NOT NULL,
        rebuild INTEGER NOT NULL CHECK (rebuild IN (0, 1)),
        created_at INTEGER NOT NULL,
        PRIMARY KEY (peer_account_id, peer_device_id)
      ) STRICT, WITHOUT ROWID;
    `);
  },
};
