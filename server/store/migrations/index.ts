/**
 * Numbered migrations, run in order on every start (Kysely's Migrator records what ran). A migration
 * gets the dialect's type map (dialect-types.ts) so one file serves SQLite and PostgreSQL. Add
 * the next number (`0005-….ts`) for the next schema change; never edit a migration that has shipped.
 */
import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import * as m0001 from './0001-initial.js';
import * as m0002 from './0002-profiles.js';
import * as m0003 from './0003-attachments.js';
import * as m0004 from './0004-provisioning.js';
import * as m0005 from './0005-device-management.js';
import * as m0006 from './0006-delivery-tokens.js';
import * as m0007 from './0007-backups.js';
import type { DialectTypes } from './dialect-types.js';

type MigrationModule = { up(db: Kysely<unknown>, t: DialectTypes): Promise<void> };

const MIGRATIONS: Readonly<Record<string, MigrationModule>> = {
  '0001-initial': m0001 as unknown as MigrationModule,
  '0002-profiles': m0002 as unknown as MigrationModule,
  '0003-attachments': m0003 as unknown as MigrationModule,
  '0004-provisioning': m0004 as unknown as MigrationModule,
  '0005-device-management': m0005 as unknown as MigrationModule,
  '0006-delivery-tokens': m0006 as unknown as MigrationModule,
  '0007-backups': m0007 as unknown as MigrationModule,
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

/** Runs the migrations that have not run yet on `db` (any backend, given its type map). */
export async function migrateToLatest<DB>(db: Kysely<DB>, types: DialectTypes): Promise<void> {
  const migrator = new Migrator({ db, provider: new RelayMigrationProvider(types) });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`migration ${failed?.migrationName ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
