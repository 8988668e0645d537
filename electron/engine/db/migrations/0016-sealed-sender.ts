/**
 * Schema version 16: sealed sender (issue 15, docs/protocol.md §21, ADR 0029).
 *
 *  - relay_certificate_keys: the relay's sender-certificate keys this device pinned, by key id
 *    (first seen at /.well-known/parley; a different key under a pinned id is refused).
 *  - own_profile.token_key_id: the key id of the profile key whose delivery-token hash the relay
 *    holds (null: not registered yet), so a rotation (on block) re-registers it.
 *  - contact_profiles.token_refused_key_id: the key id of the contact's profile key whose token the
 *    relay refused (they rotated it): sends to them go unsealed until a newer key arrives.
 */
import type { Migration } from '../migrate.js';

export const migration0016: Migration = {
  version: 16,
  name: 'sealed-sender',
  up(db) {
    db.exec(`CREATE TABLE relay_certificate_keys (
      key_id INTEGER PRIMARY KEY CHECK (key_id >= 0),
      public_key BLOB NOT NULL CHECK (length(public_key) = 32),
      pinned_at INTEGER NOT NULL
    ) STRICT;
    ALTER TABLE own_profile ADD COLUMN token_key_id BLOB;
    ALTER TABLE contact_profiles ADD COLUMN token_refused_key_id BLOB;`);
  },
};
