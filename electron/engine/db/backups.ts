/**
 * The `backup_settings` row (migration 0019, docs/adr/0033-backups.md): the recovery key, the
 * backup salt and the passphrase's Argon2id output (never the passphrase), the person's choices
 * (automatic, attachments included), whether the words were confirmed, and the last backup's time,
 * size or error. Does not own what a backup holds or how it is made (electron/engine/backup/).
 */
import type { BackupArgon2Params } from '../../../shared/protocol/backup.js';
import type { ReadDb, WriteDb } from './database.js';
import { blob, blobOrNull, flag } from './rows.js';
import { sql } from './sql.js';

export type BackupSettings = {
  readonly recoveryKey: Uint8Array;
  readonly confirmed: boolean;
  readonly backupSalt: Uint8Array;
  /** Argon2id parameters and output of the passphrase, or null without one. */
  readonly passphrase: { readonly params: BackupArgon2Params; readonly stretched: Uint8Array } | null;
  readonly automatic: boolean;
  readonly includeAttachments: boolean;
  readonly lastBackupAt: number | null;
  readonly lastBackupBytes: number | null;
  readonly lastError: string | null;
  /** Messages stored since the last backup ("after big changes"). */
  readonly changesSince: number;
  readonly createdAt: number;
};

type Row = {
  recovery_key: Uint8Array;
  confirmed: number;
  backup_salt: Uint8Array;
  argon2_memory_kib: number | null;
  argon2_iterations: number | null;
  argon2_parallelism: number | null;
  stretched: Uint8Array | null;
  automatic: number;
  include_attachments: number;
  last_backup_at: number | null;
  last_backup_bytes: number | null;
  last_error: string | null;
  changes_since: number;
  created_at: number;
};

export function getBackupSettings(db: ReadDb): BackupSettings | undefined {
  const r = db.get<Row>(sql`SELECT * FROM backup_settings WHERE singleton = 1`);
  if (!r) return undefined;
  const stretched = blobOrNull(r.stretched);
  return {
    recoveryKey: blob(r.recovery_key),
    confirmed: flag(r.confirmed),
    backupSalt: blob(r.backup_salt),
    passphrase:
      stretched && r.argon2_memory_kib !== null && r.argon2_iterations !== null && r.argon2_parallelism !== null
        ? { params: { memoryKiB: r.argon2_memory_kib, iterations: r.argon2_iterations, parallelism: r.argon2_parallelism }, stretched }
        : null,
    automatic: flag(r.automatic),
    includeAttachments: flag(r.include_attachments),
    lastBackupAt: r.last_backup_at,
    lastBackupBytes: r.last_backup_bytes,
    lastError: r.last_error,
    changesSince: r.changes_since,
    createdAt: r.created_at,
  };
}

/** Turns backups on with a new recovery key (replacing any earlier row: a new key is a new backup id). */
export function createBackupSettings(
  db: WriteDb,
  s: { recoveryKey: Uint8Array; backupSalt: Uint8Array; confirmed: boolean; passphrase: BackupSettings['passphrase']; now: number },
): void {
  db.run(sql`DELETE FROM backup_settings`);
  db.run(sql`
    INSERT INTO backup_settings (singleton, recovery_key, confirmed, backup_salt, argon2_memory_kib, argon2_iterations, argon2_parallelism, stretched, created_at)
    VALUES (1, ${s.recoveryKey}, ${s.confirmed ? 1 : 0}, ${s.backupSalt}, ${s.passphrase?.params.memoryKiB ?? null}, ${s.passphrase?.params.iterations ?? null},
      ${s.passphrase?.params.parallelism ?? null}, ${s.passphrase?.stretched ?? null}, ${s.now})`);
}

export function setBackupConfirmed(db: WriteDb): void {
  db.run(sql`UPDATE backup_settings SET confirmed = 1`);
}

/** A new passphrase (or none) comes with a new backup salt: the old stretched value is gone. */
export function setBackupPassphrase(db: WriteDb, backupSalt: Uint8Array, passphrase: BackupSettings['passphrase']): void {
  db.run(sql`UPDATE backup_settings SET backup_salt = ${backupSalt}, argon2_memory_kib = ${passphrase?.params.memoryKiB ?? null},
    argon2_iterations = ${passphrase?.params.iterations ?? null}, argon2_parallelism = ${passphrase?.params.parallelism ?? null},
    stretched = ${passphrase?.stretched ?? null}`);
}

export function setBackupOptions(db: WriteDb, o: { automatic?: boolean | undefined; includeAttachments?: boolean | undefined }): void {
  if (o.automatic !== undefined) db.run(sql`UPDATE backup_settings SET automatic = ${o.automatic ? 1 : 0}`);
  if (o.includeAttachments !== undefined) db.run(sql`UPDATE backup_settings SET include_attachments = ${o.includeAttachments ? 1 : 0}`);
}

export function recordBackup(db: WriteDb, r: { at: number; bytes: number } | { error: string }): void {
  if ('error' in r) db.run(sql`UPDATE backup_settings SET last_error = ${r.error}`);
  else db.run(sql`UPDATE backup_settings SET last_backup_at = ${r.at}, last_backup_bytes = ${r.bytes}, last_error = NULL, changes_since = 0`);
}

export function countBackupChange(db: WriteDb, n = 1): void {
  db.run(sql`UPDATE backup_settings SET changes_since = changes_since + ${n}`);
}

export function deleteBackupSettings(db: WriteDb): void {
  db.run(sql`DELETE FROM backup_settings`);
}
