/**
 * Schema version 7: profiles and message requests (issue 12, docs/adr/0019-profiles-requests-blocking.md).
 *
 *  - own_profile: this account's profile (display name, about line) and its random profile key
 *    (docs/protocol.md §18), with the revision and key id the relay last accepted (NULL: never) —
 *    a mismatch means an upload is owed. Created by the engine (the key comes from its rng, never
 *    from SQL): at account creation, or at the first open of an older database.
 *  - contact_profiles: per contact, the profile key they shared (E2E, §16 ProfileKey), the
 *    username they claimed in it (until the relay confirms it), and the newest profile opened with
 *    that key; fetch_due = 1 while a fetch is owed. Goes with its contact.
 *  - contacts.shared_profile_key_id / shared_profile_revision: which of our profile keys (by key
 *    id) and which revision this contact was last sent, so a first message, an accept and a change
 *    each share exactly what is owed (NULL: never shared).
 */
import type { Migration } from '../migrate.js';

export const migration0007: Migration = {
  version: 7,
  name: 'profiles',
  up(db) {
    db.exec(`
      CREATE TABLE own_profile (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        profile_key BLOB NOT NULL CHECK (length(profile_key) = 32),
        revision INTEGER NOT NULL CHECK (revision >= 1),
        display_name TEXT NOT NULL,
        about TEXT NOT NULL,
        uploaded_revision INTEGER,
        uploaded_key_id BLOB CHECK (uploaded_key_id IS NULL OR length(uploaded_key_id) = 16),
        updated_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE contact_profiles (
        account_id BLOB PRIMARY KEY REFERENCES contacts (account_id) ON DELETE CASCADE,
        profile_key BLOB CHECK (profile_key IS NULL OR length(profile_key) = 32),
        key_received_at INTEGER,
        username_claim TEXT,
        revision INTEGER,
        display_name TEXT,
        about TEXT,
        fetched_at INTEGER,
        fetch_due INTEGER NOT NULL DEFAULT 0 CHECK (fetch_due IN (0, 1))
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX contact_profiles_due ON contact_profiles (fetch_due) WHERE fetch_due = 1;

      ALTER TABLE contacts ADD COLUMN shared_profile_key_id BLOB CHECK (shared_profile_key_id IS NULL OR length(shared_profile_key_id) = 16);
      ALTER TABLE contacts ADD COLUMN shared_profile_revision INTEGER;
    `);
  },
};
