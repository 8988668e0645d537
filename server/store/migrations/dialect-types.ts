/**
 * The per-dialect type map a migration is written against, so that one migration file creates the
 * same schema on SQLite and PostgreSQL: byte columns (BLOB / BYTEA), 64-bit integers, auto-increment
 * keys, and SQLite's `WITHOUT ROWID`. Owns column types only; the migrations own the tables.
 */
import { sql, type CreateTableBuilder } from 'kysely';

export type DialectTypes = {
  readonly binary: 'blob' | 'bytea';
  readonly int64: 'integer' | 'bigint';
  /** Adds an auto-incrementing 64-bit primary-key column. */
  autoIncrementKey<T extends string>(builder: CreateTableBuilder<T, never>, column: string): CreateTableBuilder<T, string>;
  /**
   * Stores a table as one B-tree on its primary key where the dialect can (SQLite `WITHOUT ROWID`);
   * PostgreSQL heap tables are unaffected.
   */
  clustered<T extends string, C extends string>(builder: CreateTableBuilder<T, C>): CreateTableBuilder<T, C>;
};

export const SQLITE_TYPES: DialectTypes = {
  binary: 'blob',
  int64: 'integer',
  // INTEGER PRIMARY KEY is the rowid; AUTOINCREMENT forbids reusing the key of a deleted device.
  autoIncrementKey: (builder, column) => builder.addColumn(column, 'integer', (c) => c.primaryKey().autoIncrement()),
  clustered: (builder) => builder.modifyEnd(sql`without rowid`),
};

export const POSTGRES_TYPES: DialectTypes = {
  binary: 'bytea',
  int64: 'bigint',
  autoIncrementKey: (builder, column) =>
    builder.addColumn(column, 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity()),
  clustered: (builder) => builder,
};
