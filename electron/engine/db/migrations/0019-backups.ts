/**
 * Schema version 19 (issue 18, docs/adr/0033-backups.md): this device's backup settings — one row
 * while backups are on. The recovery key is kept (the encrypted database is the only place besides
 * the person's written words) so the primary can back up without asking; so is the passphrase's
 * Argon2id output under `backup_salt` (never the passphrase), for the same reason. The last
 * backup's time and size, or its error, are what Settings → Backups shows.
 *
 * Version note: written after groups' 0018; on a branch without it this file is version 18, and the
 * lead renumbers at merge so the versions stay contiguous.
 */
import type { Migration } from '../migrate.js';

export const migration0019: Migration = {
  version: 18,
  name: 'backups',
  up(db) {
    db.exec(`
      CREATE TABLE backup_settings (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        recovery_key BLOB NOT NULL CHECK (length(recovery_key) = 32),
        confirmed INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
        backup_salt BLOB NOT NULL CHECK (length(backup_salt) = 32),
        argon2_memory_kib INTEGER,
        argon2_iterations INTEGER,
        argon2_parallelism INTEGER,
        stretched BLOB CHECK (stretched IS NULL OR length(stretched) = 32),
        automatic INTEGER NOT NULL DEFAULT 1 CHECK (automatic IN (0, 1)),
        include_attachments INTEGER NOT NULL DEFAULT 0 CHECK (include_attachments IN (0, 1)),
        last_backup_at INTEGER,
        last_backup_bytes INTEGER,
        last_error TEXT,
        changes_since INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
      ) STRICT;`);
  },
};
