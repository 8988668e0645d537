/**
 * Numbered schema migrations (one file per version under migrations/), applied at open in order,
 * each in its own transaction together with `PRAGMA user_version`. Running them again is a no-op;
 * a database from a newer build (user_version above the last known migration) is refused rather
 * than half-understood. Migrations contain only static DDL — never user data.
 */
import type Sqlite from 'better-sqlite3-multiple-ciphers';
import { StorageError } from './errors.js';

/** What a migration may do: run static DDL/DML text. */
export type MigrationDb = { exec(ddl: string): void };

export type Migration = {
  readonly version: number;
  readonly name: string;
  up(db: MigrationDb): void;
};

type Connection = InstanceType<typeof Sqlite>;

export function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name} has version ${m.version}, expected ${i + 1}`);
  });
}

export function schemaVersionOf(connection: Connection): number {
  return connection.pragma('user_version', { simple: true }) as number;
}

/** Applies every migration above the current user_version; returns the resulting version. */
export function runMigrations(connection: Connection, migrations: readonly Migration[]): number {
  checkMigrationList(migrations);
  const current = schemaVersionOf(connection);
  if (current > migrations.length) {
    throw new StorageError('TOO_NEW', `database schema ${current} is newer than this build (${migrations.length})`);
  }
  for (const m of migrations.slice(current)) {
    connection
      .transaction(() => {
        m.up({ exec: (ddl) => void connection.exec(ddl) });
        // The version is a validated integer from code, not data.
        connection.pragma(`user_version = ${Number(m.version)}`);
      })
      .immediate();
  }
  return schemaVersionOf(connection);
}
