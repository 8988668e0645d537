/**
 * Numbered migrations, run in order on every start (Kysely's Migrator records what ran). A migration
 * gets the dialect's type map so one file serves SQLite and PostgreSQL. Add `0002-….ts` for the next
 * schema change; never edit a migration that has shipped.
 */
import { sql, type CreateTableBuilder, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import * as m0001 from './0001-initial.js';

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

type MigrationModule = { up(db: Kysely<unknown>, t: DialectTypes): Promise<void> };

const MIGRATIONS: Readonly<Record<string, MigrationModule>> = {
  '0001-initial': m0001 as unknown as MigrationModule,
};

export class RelayMigrationProvider implements MigrationProvider {
  constructor(private readonly types: DialectTypes) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    const out: Record<string, Migration> = {};
    for (const [name, module] of Object.entries(MIGRATIONS)) {
      out[name] = { up: (db) => module.up(db, this.types) };
    }
    return out;
  }
}
