/**
 * Temporary engine databases for tests: the real SQLCipher store (never a mock: it is cheap) in a
 * fresh directory under the OS temp dir, keyed with a random key and opened with the SQL functions
 * the engine registers (the search index's triggers call them on every write of `messages`).
 *
 *   const temp = temporaryDatabase();   // temp.db, temp.path, temp.key
 *   …
 *   temp.dispose();                     // closes the database and removes its directory
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { systemRng } from '../../shared/crypto/random.js';
import { openDatabase, type EngineDatabase, type OpenOptions } from '../../electron/engine/db/database.js';
import { SEARCH_SQL_FUNCTIONS } from '../../electron/engine/search/text.js';

/** openDatabase with the engine's SQL functions. */
export function openTestDatabase(options: Omit<OpenOptions, 'functions'>): EngineDatabase {
  return openDatabase({ ...options, functions: SEARCH_SQL_FUNCTIONS });
}

export type TemporaryDatabase = {
  readonly db: EngineDatabase;
  readonly dir: string;
  readonly path: string;
  readonly key: Uint8Array;
  /** Closes the database (if still open) and removes its directory. */
  dispose(): void;
};

export function temporaryDatabase(prefix = 'parley-db-'): TemporaryDatabase {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const file = path.join(dir, 'parley.db');
  const key = systemRng(32);
  let db: EngineDatabase;
  try {
    db = openTestDatabase({ path: file, key });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    db,
    dir,
    path: file,
    key,
    dispose() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
