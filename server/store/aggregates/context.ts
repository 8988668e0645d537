/**
 * What every aggregate of the Kysely store stands on: the database handle, the backend, the
 * durability barrier, the compiled-query cache, and the small conversions between driver rows and
 * RelayStore records. Owns no table and no query; the aggregates next to it do.
 *
 * Sharp edges:
 *  - Drivers may return 64-bit integers as strings or bigints; every integer read goes through
 *    `num()`.
 *  - Hot-path queries are built with Kysely once per shape and their SQL reused with fresh
 *    parameters (`QueryShapes`): building and compiling a query costs several times what SQLite
 *    spends executing it. Parameters are passed in the order the built query binds them, which the
 *    store suite pins down.
 */
import { CompiledQuery, sql, type Compilable, type Kysely, type QueryResult, type Transaction } from 'kysely';
import type { Database } from '../schema.js';
import type { RelayStore } from '../store.js';

export type Db = Kysely<Database> | Transaction<Database>;

/** Rows per multi-row INSERT; keeps bound parameters far below SQLite's and PostgreSQL's caps. */
export const INSERT_CHUNK_ROWS = 500;
/** Distinct query shapes whose compiled SQL is kept (IN lists and multi-row inserts vary in size). */
const MAX_SHAPES = 4_096;

export type StoreContext = {
  readonly db: Kysely<Database>;
  readonly backend: RelayStore['backend'];
  /**
   * A barrier: resolves once every transaction committed before the call survives a power loss
   * (SQLite: an fdatasync of the WAL; a backend whose commits are durable: resolved).
   */
  readonly durable: () => Promise<void>;
  /**
   * Whether transactions run concurrently and must lock the rows they read before writing
   * (PostgreSQL under READ COMMITTED, with `SELECT … FOR UPDATE`). SQLite has one writer at a time,
   * which makes every transaction serial, and rejects the lock clauses.
   */
  readonly rowLocks: boolean;
  readonly shapes: QueryShapes;
};

/** Compiled SQL of queries built once per shape, shared by every aggregate of one store. */
export class QueryShapes {
  private readonly texts = new Map<string, string>();

  /** Runs a query compiled once per `shape` (built by `build` with placeholder values) with `parameters`. */
  run<R>(db: Db, shape: string, build: () => Compilable<R>, parameters: readonly unknown[]): Promise<QueryResult<R>> {
    let text = this.texts.get(shape);
    if (text === undefined) {
      text = build().compile().sql;
      if (this.texts.size >= MAX_SHAPES) this.texts.clear();
      this.texts.set(shape, text);
    }
    return db.executeQuery(CompiledQuery.raw(text, [...parameters]) as CompiledQuery<R>);
  }
}

export const num = (value: unknown): number => Number(value);
/** A Map key for a public byte string (one allocation, unlike hex by hand). */
export const mapKey = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
/** A plain Uint8Array view of a driver Buffer (public data; no copy needed). */
export const bytes = (value: Uint8Array): Uint8Array => new Uint8Array(value.buffer, value.byteOffset, value.byteLength);

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Whether `e` is a unique or primary-key violation: under concurrent transactions (PostgreSQL) a
 * check-then-insert can lose the race to another transaction's insert.
 */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Bytewise order of byte strings (PostgreSQL's order of BYTEA, SQLite's of BLOB). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** `(CAST(? AS BIGINT), CAST(? AS BIGINT)), …` for a VALUES list of integer pairs. */
export function pairValues(pairs: readonly (readonly [number, number])[]) {
  return sql.join(pairs.map(([a, b]) => sql`(cast(${a} as bigint), cast(${b} as bigint))`));
}

/** A raw SQL builder as something `QueryShapes.run` can compile. */
export function compilable(db: Db, query: ReturnType<typeof sql>): Compilable {
  return { compile: () => query.compile(db) };
}
