/**
 * Schema version 6: attachments (issue 13, docs/protocol.md §17). One row per message of kind
 * 'attachment', deleted with its message (so deleting the message erases the file's key; the
 * engine deletes the ciphertext file named by `file_name`'s row id with it).
 *
 *  - The pointer's fields (§17.9): the relay's attachment id (NULL until an outgoing upload
 *    completes), the descriptor (key, lengths, ciphertext digest, plaintext SHA-256), media type,
 *    file name (sanitised on arrival), dimensions, thumbnail, the "sent as a file" flag.
 *  - state: outgoing preparing → uploading → sent, failed, cancelled; incoming available →
 *    downloading → downloaded, failed. `error` names why a transfer failed (for the UI).
 *  - The ciphertext lives in the engine's attachments folder as `<message row id>.spool`: the
 *    outgoing spool (encrypted once; every upload and resume reads it) or the downloaded copy
 *    (kept encrypted at rest: the key is only here, in the encrypted database).
 *  - upload_id / upload_offset: the tus upload in progress (its attachment id at the relay and the
 *    last offset the relay confirmed), so an upload resumes after an app restart instead of
 *    starting again.
 */
import type { Migration } from '../migrate.js';

export const migration0006: Migration = {
  version: 6,
  name: 'attachments',
  up(db) {
    db.exec(`
      CREATE TABLE attachments (
        message_row_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
        state TEXT NOT NULL CHECK (state IN ('preparing', 'uploading', 'sent', 'failed', 'cancelled', 'available', 'downloading', 'downloaded')),
        error TEXT,
        attachment_id BLOB CHECK (attachment_id IS NULL OR length(attachment_id) = 16),
        file_key BLOB CHECK (file_key IS NULL OR length(file_key) = 32),
        length INTEGER NOT NULL CHECK (length >= 0),
        padded_length INTEGER NOT NULL CHECK (padded_length >= length),
        ciphertext_digest BLOB CHECK (ciphertext_digest IS NULL OR length(ciphertext_digest) = 32),
        plaintext_sha256 BLOB CHECK (plaintext_sha256 IS NULL OR length(plaintext_sha256) = 32),
        media_type TEXT NOT NULL,
        file_name TEXT NOT NULL,
        width INTEGER,
        height INTEGER,
        thumbnail BLOB,
        original INTEGER NOT NULL CHECK (original IN (0, 1)),
        transferred INTEGER NOT NULL DEFAULT 0,
        upload_id BLOB CHECK (upload_id IS NULL OR length(upload_id) = 16),
        upload_offset INTEGER
      ) STRICT;
      CREATE INDEX attachments_in_transfer ON attachments (state) WHERE state IN ('preparing', 'uploading', 'downloading');
    `);
  },
};
