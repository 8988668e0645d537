/**
 * StorageError: the closed set of failures of the local database, mapped from SQLite result codes
 * at the db/ edge. Messages name the failure, never a row's content.
 */
export type StorageErrorCode =
  /** The file is not a database under this key (SQLITE_NOTADB): wrong key, or not a Parley file. */
  | 'WRONG_KEY'
  /** The schema version is newer than this build knows. */
  | 'TOO_NEW'
  /** The file is damaged. */
  | 'CORRUPT'
  /** Disk full, permissions, a missing file, a busy lock. */
  | 'IO';

export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    /** The SQLite result code behind it, e.g. SQLITE_NOTADB. */
    readonly sqliteCode?: string,
  ) {
    super(message);
  }
}

function sqliteCodeOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string'
    ? (e as { code: string }).code
    : undefined;
}

/** Maps a SQLite failure to a StorageError; anything else is returned unchanged (rethrow it). */
export function toStorageError(e: unknown): unknown {
  if (e instanceof StorageError) return e;
  const code = sqliteCodeOf(e);
  if (code === undefined || !code.startsWith('SQLITE_')) return e;
  if (code === 'SQLITE_NOTADB') return new StorageError('WRONG_KEY', 'the database cannot be opened with this key', code);
  if (code.startsWith('SQLITE_CORRUPT')) return new StorageError('CORRUPT', 'the database file is damaged', code);
  return new StorageError('IO', 'the database could not be read or written', code);
}
