/**
 * The SQLite backend: opens the relay database with better-sqlite3-multiple-ciphers (no key: the
 * relay stores only public keys and ciphertext), sets the durability pragmas, caches prepared
 * statements under Kysely, runs migrations. Owns connection setup only; queries live in
 * aggregates/ (composed by kysely-store.ts).
 *
 * Durability (docs/adr/0002-relay-storage-and-delivery.md): WAL with `synchronous = NORMAL` plus
 * an explicit barrier — an fdatasync of the WAL file on the libuv threadpool — that the store awaits
 * before any mutation is reported done (and that the group committer awaits before acknowledging a
 * batch). A WAL that has been fdatasync'ed after a commit holds that commit through a power loss,
 * which is what `synchronous = FULL` buys; the difference is that FULL fsyncs inside the commit,
 * on the event loop, where a slow disk stalls every socket of the relay. Syncs are coalesced: every
 * caller that arrives while one runs shares the next one.
 * `locking_mode = EXCLUSIVE` holds the file lock for the process lifetime: a second relay on the same
 * data dir fails at start instead of splitting the live state.
 */
import Database from 'better-sqlite3-multiple-ciphers';
import { existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Kysely, SqliteDialect } from 'kysely';
import { kyselyRelayStore } from './kysely-store.js';
import { SQLITE_TYPES } from './migrations/dialect-types.js';
import { migrateToLatest } from './migrations/index.js';
import type { Database as Schema } from './schema.js';
import type { RelayStore } from './store.js';

/** Distinct SQL texts kept prepared; multi-row inserts of every batch size fit comfortably. */
const STATEMENT_CACHE_SIZE = 512;
/** The WAL is truncated back to this size after checkpoints. */
const JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
/** Page cache (negative = KiB). */
const CACHE_SIZE_KIB = 64 * 1024;

/**
 * `NORMAL` (production): commits without fsync, then the WAL barrier. `FULL`: SQLite fsyncs in every
 * commit and the barrier is a no-op (kept for comparison in benchmarks).
 */
export type SqliteSynchronous = 'FULL' | 'NORMAL';

export class StoreLockedError extends Error {
  override readonly name = 'StoreLockedError';
}

type Statement = ReturnType<Database.Database['prepare']>;

/**
 * The durability barrier of WAL with `synchronous = NORMAL`: fdatasync of the `-wal` file, off the
 * event loop. A sync covers what was written before it started, so a caller arriving while one runs
 * waits for the next, which all such callers share.
 */
export class WalBarrier {
  private file: FileHandle | undefined;
  private inFlight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly walPath: string) {}

  sync(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.inFlight) return this.start();
    this.queued = this.inFlight
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.start();
      });
    return this.queued;
  }

  private start(): Promise<void> {
    const sync: Promise<void> = this.flush().finally(() => {
      if (this.inFlight === sync) this.inFlight = undefined;
    });
    this.inFlight = sync;
    return sync;
  }

  private async flush(): Promise<void> {
    if (!this.file) {
      // Nothing was ever written if there is no WAL yet.
      if (!existsSync(this.walPath)) return;
      this.file = await open(this.walPath, 'r');
      // Once: make the WAL's directory entry durable too, or a power loss could lose the file itself.
      const dir = await open(path.dirname(this.walPath), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    }
    await this.file.datasync();
  }

  async close(): Promise<void> {
    await (this.queued ?? this.inFlight)?.catch(() => undefined);
    await this.file?.close();
    this.file = undefined;
  }
}

/**
 * SQLite rolls a transaction back by itself on some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM,
 * SQLITE_BUSY). Kysely then issues its own ROLLBACK, which fails with "cannot rollback - no
 * transaction is active" and replaces the real error; with no transaction open, ROLLBACK does nothing.
 */
const NO_TRANSACTION_ROLLBACK = { reader: false, run: () => ({ changes: 0, lastInsertRowid: 0 }) } as unknown as Statement;

/** Kysely's SQLite driver prepares each query anew; this keeps recently used statements. */
function cachingDatabase(raw: Database.Database) {
  const cache = new Map<string, Statement>();
  return {
    prepare(sql: string): Statement {
      if (!raw.inTransaction && /^rollback$/i.test(sql)) return NO_TRANSACTION_ROLLBACK;
      let statement = cache.get(sql);
      if (statement) {
        cache.delete(sql);
        cache.set(sql, statement);
        return statement;
      }
      statement = raw.prepare(sql);
      cache.set(sql, statement);
      if (cache.size > STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
      return statement;
    },
    close(): void {
      cache.clear();
      raw.close();
    },
  };
}

export async function openSqliteStore(
  file: string,
  options: { readonly synchronous?: SqliteSynchronous } = {},
): Promise<RelayStore> {
  // No busy wait: the only other holder of the file can be a second relay, which must fail fast.
  const raw = new Database(file, { timeout: 0 });
  try {
    // Exclusive locking first, so that WAL keeps its index in process memory (no -shm file).
    raw.pragma('locking_mode = EXCLUSIVE');
    const mode = raw.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') throw new Error(`could not enable WAL (journal_mode=${String(mode)})`);
    raw.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    raw.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
    raw.pragma(`cache_size = -${CACHE_SIZE_KIB}`);
    raw.pragma('temp_store = MEMORY');
    // Acked envelopes are zeroed in place where that costs no extra I/O.
    raw.pragma('secure_delete = FAST');
    raw.exec('BEGIN EXCLUSIVE; COMMIT;');
  } catch (e) {
    raw.close();
    const code = (e as { code?: unknown }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
      throw new StoreLockedError(`the relay database ${file} is in use by another process`);
    }
    throw e;
  }

  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: cachingDatabase(raw) }) });
  const migrate = (): Promise<void> => migrateToLatest(db, SQLITE_TYPES);
  const barrier = new WalBarrier(`${file}-wal`);
  const durable = (options.synchronous ?? 'NORMAL') === 'NORMAL' ? () => barrier.sync() : () => Promise.resolve();
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await barrier.close();
    try {
      raw.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      await db.destroy();
    }
  };
  return kyselyRelayStore({ db, backend: 'sqlite', migrate, close, durable });
}
