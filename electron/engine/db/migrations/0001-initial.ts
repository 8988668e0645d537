/**
 * Schema version 1: the account and this device's identity, prekeys, sessions and skipped keys,
 * contacts, conversations, messages, outbox, inbound de-duplication, receipts queue, settings.
 *
 * Extension points for later migrations (each a new file, never an edit here):
 *  - search: an external-content FTS5 table over messages(body) keyed by messages.id (INTEGER
 *    PRIMARY KEY, stable), kept in step by triggers;
 *  - groups: a groups table and a conversations.group_id column; conversations.kind is free text
 *    checked by the query layer, and only 'direct' rows must name a peer;
 *  - files: an attachments table referencing messages(id) ON DELETE CASCADE, a new message kind;
 *  - disappearing messages: messages.expires_at / timer columns and an index on expiry;
 *    skipped_keys.peer_account_id lets expiry delete a conversation's skipped keys.
 * Private keys live only in this (encrypted) file; every BLOB holding one is named *_private / seed.
 */
import type { Migration } from '../migrate.js';

export const migration0001: Migration = {
  version: 1,
  name: 'initial',
  up(db) {
    db.exec(`
      -- This device and its account (one row). The account private key exists only on the primary
      -- device (DESIGN §3.2); a linked device stores NULL.
      CREATE TABLE account (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        account_id BLOB NOT NULL CHECK (length(account_id) = 16),
        username TEXT NOT NULL,
        relay_url TEXT NOT NULL,
        account_public_key BLOB NOT NULL CHECK (length(account_public_key) = 32),
        account_private_key BLOB CHECK (account_private_key IS NULL OR length(account_private_key) = 32),
        device_id INTEGER NOT NULL CHECK (device_id BETWEEN 1 AND 4294967295),
        identity_dh_public BLOB NOT NULL CHECK (length(identity_dh_public) = 32),
        identity_dh_private BLOB NOT NULL CHECK (length(identity_dh_private) = 32),
        identity_signing_public BLOB NOT NULL CHECK (length(identity_signing_public) = 32),
        identity_signing_private BLOB NOT NULL CHECK (length(identity_signing_private) = 32),
        pq INTEGER NOT NULL CHECK (pq IN (0, 1)),
        -- The account's signed device list (body ‖ signature) with its parsed version and issued-at.
        device_list BLOB NOT NULL,
        device_list_version INTEGER NOT NULL,
        device_list_issued_at INTEGER NOT NULL,
        -- Set when the relay accepted the registration.
        registered_at INTEGER,
        created_at INTEGER NOT NULL
      ) STRICT;

      -- Next key id per prekey kind: ids are never reused, so a late prekey message can only name
      -- a key that exists or INVALID_PREKEY_ID.
      CREATE TABLE prekey_ids (
        kind TEXT PRIMARY KEY CHECK (kind IN ('signed', 'one-time', 'kem')),
        next_id INTEGER NOT NULL CHECK (next_id BETWEEN 1 AND 4294967295)
      ) STRICT, WITHOUT ROWID;

      -- Signed X25519 prekeys. superseded_at: when a newer one replaced it; the row (private key
      -- and base-key seen set) is erased OLD_PREKEY_RETENTION_MS later.
      CREATE TABLE signed_prekeys (
        key_id INTEGER PRIMARY KEY CHECK (key_id BETWEEN 0 AND 4294967295),
        public_key BLOB NOT NULL CHECK (length(public_key) = 32),
        private_key BLOB NOT NULL CHECK (length(private_key) = 32),
        signature BLOB NOT NULL CHECK (length(signature) = 64),
        created_at INTEGER NOT NULL,
        superseded_at INTEGER,
        uploaded_at INTEGER
      ) STRICT;

      -- One-time X25519 prekeys: erased in the transaction that commits the session using one.
      CREATE TABLE one_time_prekeys (
        key_id INTEGER PRIMARY KEY CHECK (key_id BETWEEN 0 AND 4294967295),
        public_key BLOB NOT NULL CHECK (length(public_key) = 32),
        private_key BLOB NOT NULL CHECK (length(private_key) = 32),
        created_at INTEGER NOT NULL,
        uploaded_at INTEGER
      ) STRICT;

      -- ML-KEM-768 prekeys, one-time and last-resort (one key-id space, as on the wire). The secret
      -- key is stored as its 64-byte seed.
      CREATE TABLE kem_prekeys (
        key_id INTEGER PRIMARY KEY CHECK (key_id BETWEEN 0 AND 4294967295),
        public_key BLOB NOT NULL CHECK (length(public_key) = 1184),
        seed BLOB NOT NULL CHECK (length(seed) = 64),
        signature BLOB NOT NULL CHECK (length(signature) = 64),
        created_at INTEGER NOT NULL,
        last_resort INTEGER NOT NULL CHECK (last_resort IN (0, 1)),
        superseded_at INTEGER CHECK (superseded_at IS NULL OR last_resort = 1),
        uploaded_at INTEGER
      ) STRICT;
      CREATE INDEX kem_prekeys_last_resort ON kem_prekeys (last_resort, created_at);

      -- Base keys accepted without a one-time prekey, per signed prekey; dropped with it (§3.3).
      CREATE TABLE base_keys_seen (
        signed_prekey_id INTEGER NOT NULL REFERENCES signed_prekeys (key_id) ON DELETE CASCADE,
        hash BLOB NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (signed_prekey_id, hash)
      ) STRICT, WITHOUT ROWID;

      -- One serialized session record (current + archived sessions) per peer device, keyed by
      -- (account id, device id, device identity key): a new identity key is a new device.
      CREATE TABLE sessions (
        peer_account_id BLOB NOT NULL CHECK (length(peer_account_id) = 16),
        peer_device_id INTEGER NOT NULL,
        peer_identity_key BLOB NOT NULL CHECK (length(peer_identity_key) = 32),
        record BLOB NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (peer_account_id, peer_device_id, peer_identity_key)
      ) STRICT, WITHOUT ROWID;

      -- Skipped message keys, per session id. rowid order is insertion order: the oldest beyond
      -- MAX_SKIPPED_KEYS_PER_SESSION are evicted first; created_at drives the TTL.
      CREATE TABLE skipped_keys (
        id INTEGER PRIMARY KEY,
        session_id BLOB NOT NULL CHECK (length(session_id) = 16),
        peer_account_id BLOB NOT NULL CHECK (length(peer_account_id) = 16),
        ratchet_key BLOB NOT NULL CHECK (length(ratchet_key) = 32),
        counter INTEGER NOT NULL CHECK (counter >= 0),
        seed BLOB NOT NULL CHECK (length(seed) = 32),
        created_at INTEGER NOT NULL,
        UNIQUE (session_id, ratchet_key, counter)
      ) STRICT;
      CREATE INDEX skipped_keys_by_session ON skipped_keys (session_id, id);
      CREATE INDEX skipped_keys_by_age ON skipped_keys (created_at);
      CREATE INDEX skipped_keys_by_peer ON skipped_keys (peer_account_id);

      -- Contacts: the account key and the newest verified signed device list.
      -- previous_account_key: the key before an unaccepted change (evidence, shown with the new one).
      CREATE TABLE contacts (
        account_id BLOB PRIMARY KEY CHECK (length(account_id) = 16),
        username TEXT NOT NULL,
        account_key BLOB NOT NULL CHECK (length(account_key) = 32),
        verified INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
        key_change_pending INTEGER NOT NULL DEFAULT 0 CHECK (key_change_pending IN (0, 1)),
        previous_account_key BLOB CHECK (previous_account_key IS NULL OR length(previous_account_key) = 32),
        device_list BLOB NOT NULL,
        device_list_version INTEGER NOT NULL,
        device_list_issued_at INTEGER NOT NULL,
        added_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX contacts_by_username ON contacts (username);

      CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        peer_account_id BLOB UNIQUE REFERENCES contacts (account_id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        last_activity_at INTEGER NOT NULL,
        CHECK (kind <> 'direct' OR peer_account_id IS NOT NULL)
      ) STRICT;
      CREATE INDEX conversations_by_activity ON conversations (last_activity_at, id);

      -- Messages and local notices. Display order is (display_at, id): the sender's timestamp
      -- clamped to the receive time, ties broken by arrival (id). Pages seek on that pair.
      -- message_id: the sender-chosen 16-byte id receipts and de-duplication name (NULL for notices).
      -- status: outgoing only. read_at: NULL = unread (incoming).
      CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
        sender_account_id BLOB NOT NULL CHECK (length(sender_account_id) = 16),
        sender_device_id INTEGER,
        message_id BLOB CHECK (message_id IS NULL OR length(message_id) = 16),
        sent_at INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        display_at INTEGER NOT NULL CHECK (display_at <= received_at),
        body TEXT,
        status TEXT CHECK (status IS NULL OR (direction = 'outgoing' AND status IN ('sending', 'sent', 'delivered', 'read', 'failed'))),
        read_at INTEGER
      ) STRICT;
      CREATE INDEX messages_by_order ON messages (conversation_id, display_at, id);
      CREATE UNIQUE INDEX messages_by_sender_id ON messages (sender_account_id, sender_device_id, message_id)
        WHERE message_id IS NOT NULL;
      CREATE INDEX messages_unread ON messages (conversation_id, display_at, id)
        WHERE direction = 'incoming' AND read_at IS NULL;

      -- Every inbound message or control message accepted, by (sender account, device, message id),
      -- kept after the message itself is gone, so a redelivery is never shown twice.
      CREATE TABLE inbound_dedup (
        sender_account_id BLOB NOT NULL CHECK (length(sender_account_id) = 16),
        sender_device_id INTEGER NOT NULL,
        message_id BLOB NOT NULL CHECK (length(message_id) = 16),
        received_at INTEGER NOT NULL,
        PRIMARY KEY (sender_account_id, sender_device_id, message_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX inbound_dedup_by_age ON inbound_dedup (received_at);

      -- Transactional outbox (DESIGN §4): a send to one account (all its devices at once, as the
      -- relay requires) committed with the ratchet states that produced its envelopes.
      -- message_row_id: the message it carries; NULL for control messages (receipts, decryption errors).
      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        message_row_id INTEGER REFERENCES messages (id) ON DELETE CASCADE,
        recipient_account_id BLOB NOT NULL CHECK (length(recipient_account_id) = 16),
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        -- A code (API or wire error code), never a stringified error.
        last_error TEXT
      ) STRICT;
      CREATE INDEX outbox_by_due ON outbox (next_attempt_at, id);
      CREATE INDEX outbox_by_message ON outbox (message_row_id);

      CREATE TABLE outbox_envelopes (
        outbox_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
        device_id INTEGER NOT NULL,
        envelope BLOB NOT NULL,
        PRIMARY KEY (outbox_id, device_id)
      ) STRICT, WITHOUT ROWID;

      -- Receipts waiting to be sent, one per (peer, kind): each covers every message from that
      -- peer up to the named one, so a newer receipt replaces an older one.
      CREATE TABLE pending_receipts (
        peer_account_id BLOB NOT NULL CHECK (length(peer_account_id) = 16),
        kind TEXT NOT NULL CHECK (kind IN ('delivered', 'read')),
        up_to_message_id BLOB NOT NULL CHECK (length(up_to_message_id) = 16),
        up_to_sent_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (peer_account_id, kind)
      ) STRICT, WITHOUT ROWID;

      -- Settings as JSON values, validated by the engine's schema on every read.
      CREATE TABLE settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;
    `);
  },
};
