/**
 * Numbered migrations, run in order on every start (Kysely's Migrator records what ran). A migration
 * gets the dialect's type map (dialect-types.ts) so one file serves SQLite and PostgreSQL. Add
 * `0002-….ts` for the next schema change; never edit a migration that has shipped.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import * as m0001 from './0001-initial.js';
import type { DialectTypes } from './dialect-types.js';

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
