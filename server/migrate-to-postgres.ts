#!/usr/bin/env node
/**
 * `npm run relay:to-postgres -- --data DIR --database-url postgres://…` (or PARLEY_RELAY_DATA /
 * PARLEY_RELAY_DATABASE_URL): copies a stopped relay's SQLite database (`<data>/relay.sqlite`) into
 * an empty PostgreSQL database (server/store/copy-to-postgres.ts), prints one JSON line per table
 * and a summary, and exits 0; on a refusal (relay still running, database not empty, unreachable)
 * it prints the reason on stderr and exits 1 with nothing written to PostgreSQL. The identity file
 * and the attachments stay where they are (README "Relay": point `--identity` and `--attachments`
 * at them, or copy them). Error messages never repeat the database URL.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DATA_DIR } from './config.js';
import { DATABASE_FILE } from './relay.js';
import { copySqliteToPostgres } from './store/copy-to-postgres.js';

const USAGE = 'usage: migrate-to-postgres [--data DIR] --database-url postgres://…';

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { data: { type: 'string' }, 'database-url': { type: 'string' } },
    strict: true,
  });
  const dataDir = values.data ?? process.env.PARLEY_RELAY_DATA ?? DEFAULT_DATA_DIR;
  const url = values['database-url'] ?? process.env.PARLEY_RELAY_DATABASE_URL;
  if (!url) throw new Error(`a PostgreSQL URL is required\n${USAGE}`);
  const report = await copySqliteToPostgres({ sqliteFile: path.join(dataDir, DATABASE_FILE), postgresUrl: url });
  for (const t of report.tables) process.stdout.write(`${JSON.stringify({ event: 'copied', table: t.name, rows: t.rows })}\n`);
  process.stdout.write(`${JSON.stringify({ event: 'done', tables: report.tables.length, rows: report.tables.reduce((n, t) => n + t.rows, 0) })}\n`);
}

main().catch((e: unknown) => {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`migrate-to-postgres: ${message.replace(/postgres(ql)?:\/\/\S*/g, 'postgres://…')}\n`);
  process.exit(1);
});
