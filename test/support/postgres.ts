/**
 * PostgreSQL for tests: the server that scripts/with-services.sh starts (DATABASE_URL), and one fresh
 * database per test, dropped afterwards. Without DATABASE_URL a suite skips with the reason printed
 * — except under CI=true, where a missing PostgreSQL fails the run instead of passing it quietly.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, it } from 'vitest';

/**
 * `describe(name, …)` with the server's URL, or (no DATABASE_URL) a skipped suite outside CI and a
 * failing test under CI.
 */
export function describeWithPostgres(name: string, body: (serverUrl: string) => void): void {
  const url = process.env.DATABASE_URL;
  if (url) {
    describe(name, () => body(url));
    return;
  }
  const reason = 'DATABASE_URL is not set (run the suite under scripts/with-services.sh, as `npm test` does)';
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('PostgreSQL is available: under CI this suite must run, not skip', () => {
        throw new Error(reason);
      });
    });
    return;
  }
  console.warn(`skipping "${name}": ${reason}`);
  describe.skip(`${name} — skipped: ${reason}`, () => body(''));
}

export type TestDatabase = { readonly url: string; drop(): Promise<void> };

/** A new, empty database on the server at `serverUrl` (its own name, so tests never share state). */
export async function createTestDatabase(serverUrl: string): Promise<TestDatabase> {
  const name = `parley_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}
