/**
 * rekeyDatabase on the real SQLCipher store: the file ends up under the new key with every row, and
 * progress ends at done = total; a wrong old key or a connection still open is a typed StorageError
 * that leaves the file under its old key. Kills during a re-key: test/integration/faults/rekey-crash.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { systemRng } from '../../../shared/crypto/random.js';
import { openTestDatabase, temporaryDatabase, type TemporaryDatabase } from '../../../test/support/database.js';
import { StorageError } from './errors.js';
import { rekeyDatabase, type RekeyProgress } from './rekey.js';
import { sql } from './sql.js';

const temps: TemporaryDatabase[] = [];
afterEach(() => {
  for (const t of temps.splice(0)) t.dispose();
});

/** A closed database with `rows` rows of 1,000 random bytes. */
function filled(rows: number): TemporaryDatabase {
  const t = temporaryDatabase('parley-rekey-');
  temps.push(t);
  t.db.writer.run(sql`CREATE TABLE filler (n INTEGER PRIMARY KEY, b BLOB NOT NULL)`);
  t.db.writer.transaction(() => {
    for (let i = 0; i < rows; i++) t.db.writer.run(sql`INSERT INTO filler (b) VALUES (${randomBytes(1000)})`);
  });
  t.db.close();
  return t;
}

function rowsUnder(path: string, key: Uint8Array): number | 'wrong key' {
  try {
    const db = openTestDatabase({ path, key: key.slice() });
    try {
      return db.reader.get<{ n: number }>(sql`SELECT count(*) AS n FROM filler`)!.n;
    } finally {
      db.close();
    }
  } catch (e) {
    if (e instanceof StorageError && e.code === 'WRONG_KEY') return 'wrong key';
    throw e;
  }
}

async function storageError(p: Promise<unknown>): Promise<StorageError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StorageError) return e;
    throw e;
  }
  throw new Error('expected a StorageError');
}

describe('rekeyDatabase', () => {
  it('moves the file to the new key with every row; progress ends at done = total', async () => {
    const t = filled(2_000);
    const newKey = systemRng(32);
    const progress: RekeyProgress[] = [];
    await rekeyDatabase({ path: t.path, oldKey: t.key, newKey, onProgress: (p) => progress.push(p), progressIntervalMs: 5 });
    expect(rowsUnder(t.path, t.key)).toBe('wrong key');
    expect(rowsUnder(t.path, newKey)).toBe(2_000);
    expect(progress.at(-1)).toEqual({ done: progress.at(-1)!.total, total: expect.any(Number) });
    expect(progress.at(-1)!.total).toBeGreaterThan(400);
    expect(progress.map((p) => p.done)).toEqual([...progress.map((p) => p.done)].sort((a, b) => a - b));
  });

  it('with a wrong old key: WRONG_KEY, and the file keeps its key', async () => {
    const t = filled(10);
    const e = await storageError(rekeyDatabase({ path: t.path, oldKey: systemRng(32), newKey: systemRng(32) }));
    expect(e.code).toBe('WRONG_KEY');
    expect(rowsUnder(t.path, t.key)).toBe(10);
  });

  it('while another connection has the file open: a typed error, and the file keeps its key', async () => {
    const t = filled(10);
    const other = openTestDatabase({ path: t.path, key: t.key.slice() });
    const newKey = systemRng(32);
    try {
      const e = await storageError(rekeyDatabase({ path: t.path, oldKey: t.key, newKey }));
      expect(e.code).toBe('IO');
    } finally {
      other.close();
    }
    expect(rowsUnder(t.path, newKey)).toBe('wrong key');
    expect(rowsUnder(t.path, t.key)).toBe(10);
  });
});
