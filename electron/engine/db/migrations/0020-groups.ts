/**
 * Schema version 20: groups with sender keys (issue 16, DESIGN §3.5, docs/protocol.md §24,
 * docs/adr/0032-groups.md). A group is a conversation of kind 'group' plus:
 *
 *  - groups: the membership (every signed record held, serialized; the head and the member list
 *    are derived from it), and this account's standing in it (member, removed, left).
 *  - group_own_chains: this device's sender-key chain for the group (serialized, signing key
 *    included) and whether it must rotate before the next send (a member or member device went).
 *  - group_chain_devices: the devices given the own chain, with the iteration each got — a chain
 *    key at an earlier point is re-sent only to a device that already had it.
 *  - group_sender_keys: the sender-key record (≤ 5 states) of every other sender device.
 *  - group_pending_messages: group messages that arrived before their distribution or their head
 *    record (capped per group), opened once it is here.
 *  - group_pending_records: membership records that build on a record not held yet (capped).
 *  - group_outbox: group messages (already encrypted under the own chain) not yet accepted by the
 *    relay; one sealed multi-account upload each.
 *  - group_receipts: per member account of an own group message, when a device of theirs
 *    confirmed delivery and reading ("read by 3 of 5").
 */
import type { Migration } from '../migrate.js';

export const migration0020: Migration = {
  version: 20,
  name: 'groups',
  up(db) {
    db.exec(`
      CREATE TABLE groups (
        group_id BLOB PRIMARY KEY CHECK (length(group_id) = 16),
        conversation_id INTEGER NOT NULL UNIQUE REFERENCES conversations (id) ON DELETE CASCADE,
        membership BLOB NOT NULL,
        standing TEXT NOT NULL CHECK (standing IN ('member', 'removed', 'left')),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE group_own_chains (
        group_id BLOB PRIMARY KEY REFERENCES groups (group_id) ON DELETE CASCADE,
        state BLOB NOT NULL,
        rotate INTEGER NOT NULL DEFAULT 0 CHECK (rotate IN (0, 1))
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE group_chain_devices (
        group_id BLOB NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
        distribution_id BLOB NOT NULL CHECK (length(distribution_id) = 16),
        account_id BLOB NOT NULL CHECK (length(account_id) = 16),
        device_id INTEGER NOT NULL,
        iteration INTEGER NOT NULL,
        PRIMARY KEY (group_id, distribution_id, account_id, device_id)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE group_sender_keys (
        group_id BLOB NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
        sender_account_id BLOB NOT NULL CHECK (length(sender_account_id) = 16),
        sender_device_id INTEGER NOT NULL,
        record BLOB NOT NULL,
        PRIMARY KEY (group_id, sender_account_id, sender_device_id)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE group_pending_messages (
        id INTEGER PRIMARY KEY,
        group_id BLOB NOT NULL CHECK (length(group_id) = 16),
        sender_account_id BLOB NOT NULL CHECK (length(sender_account_id) = 16),
        sender_device_id INTEGER NOT NULL,
        distribution_id BLOB NOT NULL CHECK (length(distribution_id) = 16),
        iteration INTEGER NOT NULL,
        message BLOB NOT NULL,
        server_timestamp INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        requested_at INTEGER
      ) STRICT;
      CREATE INDEX group_pending_by_group ON group_pending_messages (group_id, id);

      CREATE TABLE group_pending_records (
        group_id BLOB NOT NULL CHECK (length(group_id) = 16),
        hash BLOB NOT NULL CHECK (length(hash) = 32),
        record BLOB NOT NULL,
        from_account_id BLOB NOT NULL CHECK (length(from_account_id) = 16),
        received_at INTEGER NOT NULL,
        PRIMARY KEY (group_id, hash)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE group_outbox (
        id INTEGER PRIMARY KEY,
        group_id BLOB NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
        message_row_id INTEGER REFERENCES messages (id) ON DELETE CASCADE,
        message BLOB NOT NULL,
        online INTEGER NOT NULL DEFAULT 0 CHECK (online IN (0, 1)),
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0
      ) STRICT;

      CREATE TABLE group_receipts (
        message_row_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        account_id BLOB NOT NULL CHECK (length(account_id) = 16),
        delivered_at INTEGER,
        read_at INTEGER,
        PRIMARY KEY (message_row_id, account_id)
      ) STRICT, WITHOUT ROWID;
    `);
  },
};
