/**
 * Schema version 19: key transparency (issue 19, docs/protocol.md §26, ADR 0034).
 *
 *  - kt_head_keys: the relay's tree-head keys this device pinned, by key id (first seen at
 *    /.well-known/parley; a different key under a pinned id is refused).
 *  - kt_state: the newest signed tree head this device verified (its bytes, size and root), and
 *    how far this device has monitored the log for its own account (size and compact range).
 *  - kt_accounts: per account (contacts and this one), the highest sequence (list version) accepted
 *    with a proof, and the outcome of the last check ('match' or 'failed' with its code).
 *  - kt_announced: hashes of this account's own signed lists this device made or its primary
 *    announced (content 0x14): a logged leaf of this account whose list hash is not here is alerted.
 *  - kt_evidence: what a failed check or an inconsistent pair of heads leaves behind (both heads'
 *    bytes where there are two), kept and shown.
 */
import type { Migration } from '../migrate.js';

export const migration0019: Migration = {
  version: 19,
  name: 'transparency',
  up(db) {
    db.exec(`CREATE TABLE kt_head_keys (
      key_id INTEGER PRIMARY KEY CHECK (key_id >= 0),
      public_key BLOB NOT NULL CHECK (length(public_key) = 32),
      pinned_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE kt_state (
      singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
      head BLOB NOT NULL CHECK (length(head) = 133),
      tree_size INTEGER NOT NULL CHECK (tree_size >= 0),
      root_hash BLOB NOT NULL CHECK (length(root_hash) = 32),
      monitor_size INTEGER CHECK (monitor_size >= 0),
      monitor_range BLOB
    ) STRICT;
    CREATE TABLE kt_accounts (
      account_id BLOB PRIMARY KEY CHECK (length(account_id) = 16),
      sequence INTEGER NOT NULL CHECK (sequence >= 0),
      status TEXT NOT NULL CHECK (status IN ('match', 'failed')),
      problem TEXT,
      checked_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE kt_announced (
      list_hash BLOB PRIMARY KEY CHECK (length(list_hash) = 32),
      version INTEGER NOT NULL,
      announced_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE kt_evidence (
      id INTEGER PRIMARY KEY,
      kind TEXT NOT NULL,
      account_id BLOB,
      head_a BLOB,
      head_b BLOB,
      detail TEXT NOT NULL,
      created_at INTEGER NOT NULL
    ) STRICT;`);
  },
};
