/**
 * The engine's encrypted SQLite store (DESIGN §4): better-sqlite3-multiple-ciphers in SQLCipher 4
 * mode (`cipher='sqlcipher'`, `legacy=4`) keyed with a raw 32-byte key (SQLCipher's raw-key form
 * `x'…'`, as `PRAGMA key = "x'…'"` takes it; no passphrase KDF: the key is uniformly random), WAL, `secure_delete`, foreign keys,
 * `synchronous=FULL` (an acknowledged message must survive a power cut) and in-memory temp storage
 * (no unencrypted temp files). Numbered migrations run at open.
 *
 * Two connections: a writer (every transaction, and every read that must see the transaction's own
 * writes) and a read-only reader for view queries. Both are typed: `ReadDb` cannot write. All SQL
 * comes from the `sql` tag (values always bound). Does not own where the key comes from
 * (keys/), what the tables mean (queries/), the schema (migrations/), or the SQL functions its
 * triggers call (the caller passes them: the search index's, electron/engine/search/text.ts).
 */
import Sqlite from 'better-sqlite3-multiple-ciphers';
import { StorageError, toStorageError } from './errors.js';
import { runMigrations, type Migration } from './migrate.js';
import { MIGRATIONS } from './migrations/index.js';
import { bindable, type SqlQuery } from './sql.js';

export const DATABASE_KEY_LENGTH = 32;

/**
 * A deterministic scalar SQL function every connection registers before any statement runs (the
 * search index's triggers call theirs on every write of `messages`).
 */
export type SqlFunction = {
  readonly name: string;
  readonly call: (value: unknown) => string | null;
};

export type RunResult = { readonly changes: number; readonly lastInsertRowid: number };

/** Read access: a read-only connection, or the writer inside a transaction. */
export type ReadDb = {
  get<T extends object>(query: SqlQuery): T | undefined;
  all<T extends object>(query: SqlQuery): T[];
};

/** Write access: the single writer connection. Nested transactions become savepoints. */
export type WriteDb = ReadDb & {
  run(query: SqlQuery): RunResult;
  /** Runs `fn` in a transaction (BEGIN IMMEDIATE, or a savepoint when nested); a throw rolls it back. */
  transaction<T>(fn: () => T): T;
};

type Connection = InstanceType<typeof Sqlite>;
type Statement = Sqlite.Statement<unknown[], unknown>;

const STATEMENT_CACHE_LIMIT = 500;

class TypedConnection implements WriteDb {
  readonly #statements = new Map<string, Statement>();
  constructor(readonly connection: Connection) {}

  #prepare(text: string): Statement {
    let s = this.#statements.get(text);
    if (!s) {
      if (this.#statements.size >= STATEMENT_CACHE_LIMIT) this.#statements.delete(this.#statements.keys().next().value!);
      s = this.connection.prepare<unknown[], unknown>(text);
      this.#statements.set(text, s);
    }
    return s;
  }
  get<T extends object>(query: SqlQuery): T | undefined {
    return this.#prepare(query.text).get(...bindable(query.params)) as T | undefined;
  }
  all<T extends object>(query: SqlQuery): T[] {
    return this.#prepare(query.text).all(...bindable(query.params)) as T[];
  }
  run(query: SqlQuery): RunResult {
    const r = this.#prepare(query.text).run(...bindable(query.params));
    return { changes: r.changes, lastInsertRowid: Number(r.lastInsertRowid) };
  }
  transaction<T>(fn: () => T): T {
    return this.connection.transaction(fn).immediate();
  }
}

export type OpenOptions = {
  readonly path: string;
  /** The raw 32-byte database key. The caller owns (and wipes) it. */
  readonly key: Uint8Array;
  /** The SQL functions the schema's triggers call, registered on both connections. */
  readonly functions: readonly SqlFunction[];
  /** Only for tests of the migration runner; production always runs MIGRATIONS. */
  readonly migrations?: readonly Migration[];
  /** Electron's build of the native module (DESIGN §4); Node uses the default. */
  readonly nativeBinding?: string;
  /**
   * TESTS ONLY — never set by product code: open the file without SQLCipher (the key is
   * ignored), so a test can scan the raw bytes of the database, its WAL and shared-memory files
   * for plaintext that should be gone (the disappearing-messages purge test). SQLCipher encrypts
   * the WAL and free pages, so scanning an encrypted database proves nothing.
   */
  readonly unencryptedForTests?: boolean | undefined;
};

export type EngineDatabase = {
  readonly path: string;
  /** Opened with OpenOptions.unencryptedForTests (tests only). */
  readonly unencryptedForTests: boolean;
  readonly reader: ReadDb;
  readonly writer: WriteDb;
  readonly schemaVersion: number;
  /** Checkpoints the WAL into the main file (TRUNCATE) and closes both connections. */
  close(): void;
};

const HEX_DIGITS = '0123456789abcdef';

/**
 * SQLCipher's raw-key syntax `x'<64 hex digits>'` — the text `PRAGMA key = "x'…'"` takes — built as
 * bytes and handed to sqlite3_key, so the key never becomes a JS string; wiped by the caller.
 * (Raw key: no PBKDF2, the key is already uniformly random.)
 */
export function rawKeyText(key: Uint8Array): Buffer {
  if (!(key instanceof Uint8Array) || key.length !== DATABASE_KEY_LENGTH) {
    throw new StorageError('WRONG_KEY', 'a database key is 32 bytes');
  }
  const text = Buffer.alloc(3 + 2 * DATABASE_KEY_LENGTH);
  text[0] = 0x78; // x
  text[1] = 0x27; // '
  key.forEach((b, i) => {
    text[2 + 2 * i] = HEX_DIGITS.charCodeAt(b >>> 4);
    text[3 + 2 * i] = HEX_DIGITS.charCodeAt(b & 15);
  });
  text[text.length - 1] = 0x27;
  return text;
}

type ConnectionOptions = {
  readonly readonly: boolean;
  readonly unencryptedForTests?: boolean | undefined;
  readonly mustExist?: boolean;
  readonly nativeBinding?: string | undefined;
  readonly functions: readonly SqlFunction[];
};

function openConnection(path: string, key: Uint8Array, opts: ConnectionOptions): Connection {
  let connection: Connection;
  try {
    connection = new Sqlite(path, {
      readonly: opts.readonly,
      fileMustExist: opts.readonly || opts.mustExist === true,
      ...(opts.nativeBinding ? { nativeBinding: opts.nativeBinding } : {}),
    });
  } catch (e) {
    throw toStorageError(e);
  }
  try {
    if (opts.unencryptedForTests !== true) {
      connection.pragma(`cipher = 'sqlcipher'`);
      connection.pragma('legacy = 4');
      const keyText = rawKeyText(key);
      try {
        if (connection.key(keyText) !== 0) throw new StorageError('WRONG_KEY', 'the database key was not accepted');
      } finally {
        keyText.fill(0);
      }
    }
    // The first read decides: under a wrong key this is SQLITE_NOTADB.
    connection.prepare('SELECT count(*) AS n FROM sqlite_schema').get();
    connection.pragma('foreign_keys = ON');
    connection.pragma('secure_delete = ON');
    connection.pragma('temp_store = MEMORY');
    connection.pragma('busy_timeout = 5000');
    for (const f of opts.functions) connection.function(f.name, { deterministic: true, varargs: false }, f.call);
    if (opts.readonly) {
      connection.pragma('query_only = ON');
    } else {
      connection.pragma('journal_mode = WAL');
      connection.pragma('synchronous = FULL');
    }
    return connection;
  } catch (e) {
    connection.close();
    throw toStorageError(e);
  }
}

/** Opens (creating if absent) the encrypted database and brings its schema up to date. */
export function openDatabase(opts: OpenOptions): EngineDatabase {
  const writerConnection = openConnection(opts.path, opts.key, { readonly: false, nativeBinding: opts.nativeBinding, functions: opts.functions, unencryptedForTests: opts.unencryptedForTests });
  let schemaVersion: number;
  try {
    schemaVersion = runMigrations(writerConnection, opts.migrations ?? MIGRATIONS);
  } catch (e) {
    writerConnection.close();
    throw toStorageError(e);
  }
  let readerConnection: Connection;
  try {
    readerConnection = openConnection(opts.path, opts.key, { readonly: true, nativeBinding: opts.nativeBinding, functions: opts.functions, unencryptedForTests: opts.unencryptedForTests });
  } catch (e) {
    writerConnection.close();
    throw e;
  }
  const writer = new TypedConnection(writerConnection);
  const reader = new TypedConnection(readerConnection);
  let closed = false;
  return {
    path: opts.path,
    unencryptedForTests: opts.unencryptedForTests === true,
    writer,
    reader: { get: (q) => reader.get(q), all: (q) => reader.all(q) },
    schemaVersion,
    close() {
      if (closed) return;
      closed = true;
      readerConnection.close();
      try {
        writerConnection.pragma('wal_checkpoint(TRUNCATE)');
      } finally {
        writerConnection.close();
      }
    },
  };
}

/**
 * A second writer connection on an open database, for the search index's maintenance worker
 * (electron/engine/search/maintenance-worker.ts): same keying and PRAGMAs as the engine's writer,
 * no migrations (the engine ran them). The caller owns (and wipes) the key.
 */
export type SideConnection = WriteDb & {
  close(): void;
  /**
   * Runs `fn` with SQLite's defensive mode off, so FTS5 shadow tables can be written: only for
   * purging a retired search index page by page (a DROP would zero every page in one statement).
   */
  withShadowTablesWritable<T>(fn: () => T): T;
};

export function openSideConnection(opts: {
  readonly path: string;
  readonly key: Uint8Array;
  readonly functions: readonly SqlFunction[];
  readonly nativeBinding?: string | undefined;
  /** Tests only (OpenOptions.unencryptedForTests). */
  readonly unencryptedForTests?: boolean | undefined;
}): SideConnection {
  const connection = openConnection(opts.path, opts.key, { readonly: false, mustExist: true, nativeBinding: opts.nativeBinding, functions: opts.functions, unencryptedForTests: opts.unencryptedForTests });
  const typed = new TypedConnection(connection);
  return {
    get: (q) => typed.get(q),
    all: (q) => typed.all(q),
    run: (q) => typed.run(q),
    transaction: (fn) => typed.transaction(fn),
    close: () => connection.close(),
    withShadowTablesWritable<T>(fn: () => T): T {
      connection.unsafeMode(true);
      try {
        return fn();
      } finally {
        connection.unsafeMode(false);
      }
    },
  };
}

/** Files that make up a database at `path` (the main file, its WAL and shared-memory index). */
export function databaseFiles(path: string): string[] {
  return [path, `${path}-wal`, `${path}-shm`, `${path}-journal`];
}
