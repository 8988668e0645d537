/**
 * Moves a relay's SQLite database into PostgreSQL (docs/adr/0035-scale-out.md; README "Relay"),
 * for an operator going from one instance to several. Both databases are migrated to the latest
 * schema first, so they have the same tables; then every table the migrations created is copied
 * row for row, parents before children (PostgreSQL's foreign keys, read from its catalogue), in one
 * PostgreSQL transaction: the copy is all or nothing. Auto-increment keys keep their values, and the
 * identity sequences continue after the highest key SQLite ever handed out (sqlite_sequence), so a
 * deleted device's key is never reused.
 * Refuses (CopyError, nothing written) when the SQLite database is in use (stop the relay first),
 * or when the PostgreSQL database already holds relay data. Generic over tables: one added by a
 * later migration is copied without a change here. Owns the copy only; connection setup is
 * sqlite.ts's and postgres.ts's, the CLI is server/migrate-to-postgres.ts.
 */
import Database from 'better-sqlite3-multiple-ciphers';
import { existsSync } from 'node:fs';
import { Kysely, SqliteDialect } from 'kysely';
import pg from 'pg';
import { SQLITE_TYPES } from './migrations/dialect-types.js';
import { migrateToLatest } from './migrations/index.js';
import { openPostgresStore } from './postgres.js';

/** Rows per INSERT. */
const BATCH_ROWS = 500;

export class CopyError extends Error {
  override readonly name = 'CopyError';
}

export type CopyReport = { readonly tables: readonly { readonly name: string; readonly rows: number }[] };

const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`;

export async function copySqliteToPostgres(options: { readonly sqliteFile: string; readonly postgresUrl: string }): Promise<CopyReport> {
  if (!existsSync(options.sqliteFile)) throw new CopyError(`no relay database at ${options.sqliteFile}`);
  let raw: Database.Database;
  try {
    raw = new Database(options.sqliteFile, { timeout: 0 });
    // The running relay holds an exclusive lock: taking one fails at once if it is still running.
    raw.pragma('locking_mode = EXCLUSIVE');
    raw.exec('BEGIN EXCLUSIVE; COMMIT;');
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new CopyError('the relay database is in use: stop the relay first');
    throw e;
  }
  const sqlite = new Kysely<unknown>({ dialect: new SqliteDialect({ database: raw }) });
  try {
    await migrateToLatest(sqlite, SQLITE_TYPES);
    // Migrates the PostgreSQL database (and checks it can be reached) through the relay's own opener.
    const store = await openPostgresStore(options.postgresUrl);
    try {
      await store.migrate();
    } finally {
      await store.close();
    }
    const client = new pg.Client({ connectionString: options.postgresUrl });
    await client.connect();
    try {
      return await copyTables(raw, client);
    } finally {
      await client.end();
    }
  } finally {
    await sqlite.destroy();
  }
}

/**
 * Tables the migrations fill on an empty database (`relayData`: the rows that would be a relay's
 * own data rather than the seed). The key-transparency sequencer row (relay migration 0008) starts
 * at tree size 0; a relay's log is moved whole, so its row replaces the seed.
 */
const SEEDED_BY_MIGRATIONS: Readonly<Record<string, { readonly relayData: string }>> = {
  kt_log: { relayData: 'tree_size <> 0' },
};

async function copyTables(raw: Database.Database, client: pg.Client): Promise<CopyReport> {
  const tables = (
    raw.prepare(`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'kysely_%' order by name`).all() as { name: string }[]
  ).map((t) => t.name);
  const pgTables = new Set(
    (await client.query<{ table_name: string }>(`select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`)).rows.map(
      (r) => r.table_name,
    ),
  );
  const missing = tables.filter((t) => !pgTables.has(t));
  if (missing.length > 0) throw new CopyError(`PostgreSQL lacks tables the SQLite database has: ${missing.join(', ')}`);
  for (const table of tables) {
    const seeded = SEEDED_BY_MIGRATIONS[table];
    const { rows } = await client.query<{ any: boolean }>(`select exists (select 1 from ${quote(table)}${seeded ? ` where ${seeded.relayData}` : ''}) as any`);
    if (rows[0]!.any) throw new CopyError(`the PostgreSQL database already holds relay data (table ${table} is not empty): copy into an empty database`);
  }
  const order = await parentsFirst(client, tables);
  const identity = (
    await client.query<{ table_name: string; column_name: string }>(
      `select table_name, column_name from information_schema.columns where table_schema = current_schema() and is_identity = 'YES'`,
    )
  ).rows;
  const report: { name: string; rows: number }[] = [];
  await client.query('begin');
  try {
    // What the migrations seeded on the empty database gives way to the relay's own rows.
    for (const table of Object.keys(SEEDED_BY_MIGRATIONS)) if (tables.includes(table)) await client.query(`delete from ${quote(table)}`);
    for (const table of order) {
      const columns = (raw.prepare(`select name from pragma_table_info(?) order by cid`).all(table) as { name: string }[]).map((c) => c.name);
      const overriding = identity.some((i) => i.table_name === table) ? ' overriding system value' : '';
      let copied = 0;
      let batch: unknown[][] = [];
      const flush = async (): Promise<void> => {
        if (batch.length === 0) return;
        const values: unknown[] = [];
        const tuples = batch.map((row) => `(${row.map((v) => `$${values.push(v)}`).join(', ')})`);
        await client.query(`insert into ${quote(table)} (${columns.map(quote).join(', ')})${overriding} values ${tuples.join(', ')}`, values);
        copied += batch.length;
        batch = [];
      };
      for (const row of raw.prepare(`select ${columns.map(quote).join(', ')} from ${quote(table)}`).raw().iterate() as IterableIterator<unknown[]>) {
        batch.push(row);
        if (batch.length >= BATCH_ROWS) await flush();
      }
      await flush();
      report.push({ name: table, rows: copied });
    }
    const sequences = new Map(
      (
        (raw.prepare(`select name from sqlite_master where name = 'sqlite_sequence'`).get() ? raw.prepare('select name, seq from sqlite_sequence').all() : []) as {
          name: string;
          seq: number;
        }[]
      ).map((s) => [s.name, s.seq]),
    );
    for (const { table_name: table, column_name: column } of identity) {
      if (!tables.includes(table)) continue;
      const { rows } = await client.query<{ max: string | null }>(`select max(${quote(column)})::text as max from ${quote(table)}`);
      const next = Math.max(Number(rows[0]!.max ?? 0), sequences.get(table) ?? 0);
      if (next > 0) await client.query(`select setval(pg_get_serial_sequence($1, $2), $3)`, [quote(table), column, next]);
    }
    await client.query('commit');
  } catch (e) {
    await client.query('rollback').catch(() => undefined);
    throw e;
  }
  return { tables: report };
}

/** The tables in an order where every table comes after those its foreign keys point to. */
async function parentsFirst(client: pg.Client, tables: readonly string[]): Promise<string[]> {
  const edges = (
    await client.query<{ child: string; parent: string }>(
      `select c.relname as child, p.relname as parent from pg_constraint k
         join pg_class c on c.oid = k.conrelid join pg_class p on p.oid = k.confrelid
         join pg_namespace n on n.oid = c.relnamespace
        where k.contype = 'f' and n.nspname = current_schema()`,
    )
  ).rows;
  const out: string[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (t: string): void => {
    if (done.has(t)) return;
    if (visiting.has(t)) throw new CopyError(`foreign keys form a cycle through ${t}`);
    visiting.add(t);
    for (const e of edges) if (e.child === t && e.parent !== t && tables.includes(e.parent)) visit(e.parent);
    visiting.delete(t);
    done.add(t);
    out.push(t);
  };
  for (const t of tables) visit(t);
  return out;
}
