/**
 * The PostgreSQL backend: a `pg` pool under Kysely's PostgresDialect, the same migrations (with the
 * PostgreSQL type map) and the same aggregates as SQLite (kysely-store.ts). Owns connection setup
 * only. Used by the relay with `--store postgres --database-url …`; running several relays on one
 * database (the bus, presence and limits shared between instances) is the scale-out issue's.
 *
 * Differences from SQLite that matter here (docs/adr/0010-relay-store-layout-and-backends.md):
 *  - 64-bit integers (BIGINT, and `count(*)`) come back from `pg` as strings; this pool parses them
 *    as numbers, refusing any beyond 2^53 rather than rounding it, so ids and seqs are numbers as
 *    RelayStore says. BYTEA comes back as Buffer, like SQLite's BLOB.
 *  - Commits are durable when they return (`synchronous_commit` on, PostgreSQL's default), so the
 *    durability barrier is a no-op.
 *  - Transactions run concurrently under READ COMMITTED: the aggregates take row locks where SQLite's
 *    single writer made them unnecessary (StoreContext.rowLocks).
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { kyselyRelayStore } from './kysely-store.js';
import { POSTGRES_TYPES } from './migrations/dialect-types.js';
import { migrateToLatest } from './migrations/index.js';
import type { Database as Schema } from './schema.js';
import type { RelayStore } from './store.js';

/** Connections per relay; a group-commit batch holds one, bundle claims and reads the others. */
const DEFAULT_POOL_SIZE = 10;
/**
 * A server that does not answer (down, unreachable) fails a request after this, as UNAVAILABLE
 * (core/storage-health.ts), instead of holding it for ever (pg's default is no timeout).
 */
const CONNECT_TIMEOUT_MS = 5_000;

/** A BIGINT as a JS number: exact up to 2^53, an error beyond (never a silently rounded id). */
export function parseInt64(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`a 64-bit integer from PostgreSQL is beyond 2^53: ${text}`);
  return value;
}

const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 && format !== 'binary' ? parseInt64 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export async function openPostgresStore(url: string, options: { readonly poolSize?: number } = {}): Promise<RelayStore> {
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? DEFAULT_POOL_SIZE, types: TYPES, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An idle connection that fails (a server restart) must not crash the relay; the next query reconnects.
  pool.on('error', () => undefined);
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  try {
    // Fail at start, not at the first request, when the database cannot be reached.
    await pool.query('select 1');
  } catch (e) {
    await db.destroy();
    throw e;
  }
  const migrate = (): Promise<void> => migrateToLatest(db, POSTGRES_TYPES);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await db.destroy();
  };
  return kyselyRelayStore({ db, backend: 'postgres', migrate, close, durable: () => Promise.resolve() });
}
