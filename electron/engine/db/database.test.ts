import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3-multiple-ciphers';
import { afterEach, describe, expect, it } from 'vitest';
import { StorageError } from './errors.js';
import { openTestDatabase } from '../../../test/support/database.js';
import { databaseFiles, type EngineDatabase } from './database.js';
import { runMigrations, type Migration } from './migrate.js';
import { MIGRATIONS } from './migrations/index.js';
import { getOrCreateDirectConversation } from './conversations.js';
import { insertContact } from './contacts.js';
import { insertMessage } from './messages.js';
import { sql, type SqlQuery } from './sql.js';

const dirs: string[] = [];
const open: EngineDatabase[] = [];
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-db-'));
  dirs.push(dir);
  return join(dir, 'parley.db');
}
function openDb(path: string, key: Uint8Array, migrations?: readonly Migration[]): EngineDatabase {
  const db = openTestDatabase({ path, key, ...(migrations ? { migrations } : {}) });
  open.push(db);
  return db;
}
afterEach(() => {
  for (const db of open.splice(0)) db.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const PEER = new Uint8Array(16).fill(7);
const SELF = new Uint8Array(16).fill(9);
/** Long enough that random ciphertext cannot contain it by chance (a 3-byte name did, about 1 run in 200). */
const PEER_USERNAME = 'bob_username_marker';

/** A conversation with a contact whose device list bytes are opaque here (views parse them elsewhere). */
function seedConversation(db: EngineDatabase): number {
  return db.writer.transaction(() => {
    insertContact(db.writer, {
      accountId: PEER,
      username: PEER_USERNAME,
      accountKey: new Uint8Array(32).fill(1),
      deviceList: { signed: Uint8Array.of(1, 2, 3), version: 1, issuedAt: 0 },
      now: 0,
    });
    return getOrCreateDirectConversation(db.writer, PEER, 0).id;
  });
}

function dump(db: EngineDatabase): string {
  const tables = db.reader.all<{ name: string }>(sql`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`);
  return tables.map((t) => `${t.name}:${JSON.stringify(db.reader.all(sql`SELECT sql FROM sqlite_schema WHERE tbl_name = ${t.name} ORDER BY name`))}`).join('\n');
}

describe('encrypted database', () => {
  it('runs SQLCipher 4 with WAL, secure_delete, foreign keys and durable commits', () => {
    const db = openDb(tempPath(), randomBytes(32));
    const pragma = (q: SqlQuery) => Object.values(db.writer.get<Record<string, unknown>>(q)!)[0];
    expect(pragma(sql`PRAGMA journal_mode`)).toBe('wal');
    expect(pragma(sql`PRAGMA secure_delete`)).toBe(1);
    expect(pragma(sql`PRAGMA foreign_keys`)).toBe(1);
    expect(pragma(sql`PRAGMA synchronous`)).toBe(2);
    expect(pragma(sql`PRAGMA temp_store`)).toBe(2);
    expect(String(pragma(sql`PRAGMA cipher`))).toBe('sqlcipher');
    expect(db.schemaVersion).toBe(MIGRATIONS.length);
  });

  it('is keyed in SQLCipher\'s raw-key form: PRAGMA key = "x\'<hex>\'" on a plain connection opens it', () => {
    const path = tempPath();
    const key = randomBytes(32);
    const db = openDb(path, key);
    db.writer.transaction(() => db.writer.run(sql`INSERT INTO settings (name, value) VALUES ('probe', '1')`));
    db.close();
    const raw = new Sqlite(path);
    raw.pragma(`cipher = 'sqlcipher'`);
    raw.pragma('legacy = 4');
    raw.pragma(`key = "x'${key.toString('hex')}'"`);
    expect(raw.prepare(`SELECT value FROM settings WHERE name = 'probe'`).get()).toEqual({ value: '1' });
    raw.close();
  });

  it('writes no SQLite header: the file is ciphertext from the first byte', () => {
    const path = tempPath();
    openDb(path, randomBytes(32)).close();
    const head = readFileSync(path).subarray(0, 16).toString('latin1');
    expect(head).not.toContain('SQLite format 3');
  });

  it('a wrong key fails with SQLITE_NOTADB (StorageError WRONG_KEY)', () => {
    const path = tempPath();
    openDb(path, randomBytes(32)).close();
    try {
      openTestDatabase({ path, key: randomBytes(32) });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(StorageError);
      expect((e as StorageError).code).toBe('WRONG_KEY');
      expect((e as StorageError).sqliteCode).toBe('SQLITE_NOTADB');
    }
  });

  it('the database file and its WAL contain none of a stored message\'s plaintext', () => {
    const path = tempPath();
    const key = randomBytes(32);
    const db = openDb(path, key);
    const conversationId = seedConversation(db);
    const marker = `plaintext-marker-${randomBytes(8).toString('hex')}`;
    db.writer.transaction(() =>
      insertMessage(db.writer, {
        conversationId,
        kind: 'text',
        direction: 'outgoing',
        senderAccountId: SELF,
        senderDeviceId: 1,
        messageId: randomBytes(16),
        sentAt: 1,
        receivedAt: 1,
        body: marker,
        status: 'sending',
        readAt: null,
      }),
    );
    const scan = () => {
      for (const f of databaseFiles(path)) {
        if (!existsSync(f)) continue;
        const bytes = readFileSync(f);
        expect(bytes.includes(Buffer.from(marker)), f).toBe(false);
        expect(bytes.includes(Buffer.from(PEER_USERNAME)), f).toBe(false);
      }
    };
    expect(existsSync(`${path}-wal`)).toBe(true);
    scan(); // while the WAL holds the pages
    db.close();
    scan(); // after the checkpoint
    const reopened = openDb(path, key);
    expect(reopened.reader.get<{ body: string }>(sql`SELECT body FROM messages`)!.body).toBe(marker);
  });

  it('binds interpolated values: SQL in data stays data', () => {
    const db = openDb(tempPath(), randomBytes(32));
    const conversationId = seedConversation(db);
    const evil = "x'); DROP TABLE messages; --";
    db.writer.transaction(() =>
      insertMessage(db.writer, {
        conversationId,
        kind: 'text',
        direction: 'incoming',
        senderAccountId: PEER,
        senderDeviceId: 1,
        messageId: randomBytes(16),
        sentAt: 5,
        receivedAt: 5,
        body: evil,
        status: null,
        readAt: null,
      }),
    );
    expect(db.reader.all<{ body: string }>(sql`SELECT body FROM messages WHERE body = ${evil}`)).toHaveLength(1);
  });

  it('the reader connection cannot write', () => {
    const db = openDb(tempPath(), randomBytes(32));
    expect('run' in db.reader).toBe(false);
    expect(() => (db.reader as unknown as { get: (q: unknown) => unknown }).get(sql`INSERT INTO settings (name, value) VALUES ('a', '1') RETURNING name`)).toThrow();
  });

  it('a failing transaction leaves nothing behind', () => {
    const db = openDb(tempPath(), randomBytes(32));
    expect(() =>
      db.writer.transaction(() => {
        db.writer.run(sql`INSERT INTO settings (name, value) VALUES ('a', '1')`);
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(db.reader.all(sql`SELECT * FROM settings`)).toEqual([]);
  });
});

describe('migrations', () => {
  it('are idempotent: reopening runs nothing and leaves the schema identical', () => {
    const path = tempPath();
    const key = randomBytes(32);
    const first = openDb(path, key);
    const schema = dump(first);
    first.close();
    const second = openDb(path, key);
    expect(second.schemaVersion).toBe(MIGRATIONS.length);
    expect(dump(second)).toBe(schema);
  });

  it('apply each numbered migration exactly once, in order', () => {
    const path = tempPath();
    const key = randomBytes(32);
    const log: number[] = [];
    const v1: Migration = { version: 1, name: 'one', up: (db) => (log.push(1), db.exec('CREATE TABLE t (x INTEGER) STRICT')) };
    const v2: Migration = { version: 2, name: 'two', up: (db) => (log.push(2), db.exec('INSERT INTO t VALUES (42)')) };
    openDb(path, key, [v1]).close();
    openDb(path, key, [v1, v2]).close();
    const db = openDb(path, key, [v1, v2]);
    expect(log).toEqual([1, 2]);
    expect(db.schemaVersion).toBe(2);
    expect(db.reader.all(sql`SELECT x FROM t`)).toEqual([{ x: 42 }]);
  });

  it('a failed migration rolls back completely and is retried at the next open', () => {
    const path = tempPath();
    const key = randomBytes(32);
    const v1: Migration = { version: 1, name: 'one', up: (db) => db.exec('CREATE TABLE t (x INTEGER) STRICT') };
    const broken: Migration = { version: 2, name: 'two', up: (db) => (db.exec('CREATE TABLE u (y INTEGER)'), db.exec('BROKEN SQL')) };
    openDb(path, key, [v1]).close();
    expect(() => openTestDatabase({ path, key, migrations: [v1, broken] })).toThrow();
    const fixed: Migration = { version: 2, name: 'two', up: (db) => db.exec('CREATE TABLE u (y INTEGER)') };
    expect(openDb(path, key, [v1, fixed]).schemaVersion).toBe(2);
  });

  it('refuses a database written by a newer build', () => {
    const path = tempPath();
    const key = randomBytes(32);
    openDb(path, key).close();
    const raw = new Sqlite(path);
    raw.pragma(`cipher = 'sqlcipher'`);
    raw.pragma('legacy = 4');
    raw.pragma(`key = "x'${Buffer.from(key).toString('hex')}'"`);
    raw.pragma('user_version = 999');
    raw.close();
    expect(() => openTestDatabase({ path, key })).toThrow(expect.objectContaining({ code: 'TOO_NEW' }));
  });

  it("0004 turns a first-release 'up to' receipt into the ids of the messages it covered, all held here", () => {
    const path = tempPath();
    const key = randomBytes(32);
    const v3 = openDb(path, key, MIGRATIONS.slice(0, 3));
    const conversationId = seedConversation(v3);
    const incoming = (sentAt: number, readAt: number | null) => {
      const messageId = randomBytes(16);
      v3.writer.transaction(() =>
        insertMessage(v3.writer, {
          conversationId,
          kind: 'text',
          direction: 'incoming',
          senderAccountId: PEER,
          senderDeviceId: 1,
          messageId,
          sentAt,
          receivedAt: sentAt,
          body: 'x',
          status: null,
          readAt,
        }),
      );
      return messageId.toString('hex');
    };
    const [a, b] = [incoming(10, 50), incoming(20, null)];
    incoming(30, null); // sent after the receipt's message: not covered
    v3.writer.transaction(() => {
      v3.writer.run(sql`INSERT INTO pending_receipts VALUES (${PEER}, 'delivered', ${Buffer.from(b, 'hex')}, 20, 100)`);
      v3.writer.run(sql`INSERT INTO pending_receipts VALUES (${PEER}, 'read', ${Buffer.from(a, 'hex')}, 10, 100)`);
    });
    v3.close();
    const v4 = openDb(path, key);
    const queued = v4.reader.all<{ kind: string; message_id: Uint8Array }>(sql`SELECT kind, message_id FROM receipt_queue ORDER BY kind, message_id`);
    const byKind = (k: string) => queued.filter((r) => r.kind === k).map((r) => Buffer.from(r.message_id).toString('hex')).sort();
    expect(byKind('delivered')).toEqual([a, b].sort());
    expect(byKind('read')).toEqual([a]);
    expect(v4.reader.get(sql`SELECT name FROM sqlite_schema WHERE name = 'pending_receipts'`)).toBeUndefined();
  });

  it('rejects a migration list with gaps', () => {
    const raw = new Sqlite(':memory:');
    expect(() => runMigrations(raw, [{ version: 2, name: 'x', up: () => {} }])).toThrow();
    raw.close();
  });
});
