/**
 * Moving a relay from SQLite to PostgreSQL (ADR 0035, README "Relay"): the built
 * `migrate-to-postgres` CLI copies a stopped relay's database into an empty PostgreSQL database;
 * the relay started on PostgreSQL with the same data dir (identity, attachments) is the same relay
 * to its clients — same /.well-known, undelivered messages still waiting, acked ones gone, sessions
 * and contacts kept, attachments downloadable, new devices get new keys (none reused). A running
 * relay's database, a non-empty target and an unreachable one are refused with nothing written.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { attachmentLayout } from '../../../shared/protocol/attachment-cipher.js';
import { parseTreeHead } from '../../../shared/protocol/transparency.js';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '../../support/postgres.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { http } from './helpers/http.js';
import { Inbox, text } from './helpers/inbox.js';
import { REPO_ROOT, spawnRelay, tempDir, type RelayProcess } from './helpers/relay.js';

const run = promisify(execFile);
const CLI = path.join(REPO_ROOT, 'dist/server/migrate-to-postgres.js');

const relays: RelayProcess[] = [];
const clients: RelayClient[] = [];
const databases: TestDatabase[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const r of relays.splice(0)) await r.kill();
  for (const d of databases.splice(0)) await d.drop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function migrate(dataDir: string, url: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, '--data', dataDir, '--database-url', url], { cwd: REPO_ROOT });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describeWithPostgres('moving a relay from SQLite to PostgreSQL', (serverUrl) => {
  it('the relay on PostgreSQL is the same relay: identity, waiting messages, sessions, contacts, attachments; new device keys are fresh', async () => {
    const database = await createTestDatabase(serverUrl);
    databases.push(database);
    const dataDir = tempDir();
    dirs.push(dataDir);
    let relay = await spawnRelay({ dataDir });
    relays.push(relay);
    const known = (await http(relay.url, 'GET', '/.well-known/parley')).body;
    const alice = new TestAccount();
    const bob = new TestAccount();
    const a = (await registerAccount(relay.url, alice)).get(1)!;
    const b = (await registerAccount(relay.url, bob)).get(1)!;
    clients.push(a, b);
    // A device that comes and goes: its key must never be handed out again.
    const gone = new TestAccount();
    const g = (await registerAccount(relay.url, gone)).get(1)!;
    await g.unregisterDevice();
    g.close();
    await a.setContacts([bob.accountId]);
    await a.send(bob.accountId, [{ deviceId: 1, content: text('acked before the move') }]);
    await a.send(bob.accountId, [{ deviceId: 1, content: text('waiting across the move') }]);
    const inbox = new Inbox(b);
    await b.connect();
    await inbox.count(2);
    await b.ack([inbox.envelopes[0]!.seq]);
    b.close();
    const token = await a.sessionToken();
    const bytes = new Uint8Array(attachmentLayout(4_000).ciphertextLength).fill(7);
    const created = await fetch(`${relay.url}/v1/attachments`, { method: 'POST', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}`, 'upload-length': String(bytes.length) } });
    const attachmentUrl = new URL(created.headers.get('location')!, relay.url).pathname;
    const patched = await fetch(`${relay.url}${attachmentUrl}`, {
      method: 'PATCH',
      headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}`, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: bytes,
    });
    expect([created.status, patched.status]).toEqual([201, 204]);

    // The key-transparency log as clients know it (it must move whole: a relay whose log restarted
    // would look to every client like a rollback, §26.5).
    const logBefore = await RelayClient.ktHead(relay.url, 0);
    const headBefore = parseTreeHead(logBefore.head);
    expect(headBefore.treeSize).toBeGreaterThanOrEqual(3);

    // Still running: refused, nothing written.
    const busy = await migrate(dataDir, database.url);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain('stop the relay first');
    expect((await relay.stop()).code).toBe(0);

    const moved = await migrate(dataDir, database.url);
    expect(moved.stderr).toBe('');
    expect(moved.code).toBe(0);
    const done = JSON.parse(moved.stdout.trim().split('\n').at(-1)!) as { event: string; rows: number };
    expect(done.event).toBe('done');
    expect(done.rows).toBeGreaterThan(0);
    // Twice: the target is no longer empty.
    const again = await migrate(dataDir, database.url);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already holds relay data');
    expect(again.stderr).not.toContain(database.url);

    relay = await spawnRelay({
      dataDir,
      args: ['--host', '127.0.0.1', '--port', '0', '--data', dataDir, '--log-level', 'warn', '--store', 'postgres', '--database-url', database.url],
    });
    relays.push(relay);
    expect((await http(relay.url, 'GET', '/.well-known/parley')).body).toEqual(known);
    // The same log: same size and root, consistent with the head clients held before the move.
    const headAfter = parseTreeHead((await RelayClient.ktHead(relay.url, headBefore.treeSize)).head);
    expect([headAfter.treeSize, Buffer.from(headAfter.rootHash).toString('hex')]).toEqual([headBefore.treeSize, Buffer.from(headBefore.rootHash).toString('hex')]);
    // Alice's session token from before the move still works, and so does her contact list.
    const contacts = await http(relay.url, 'GET', '/v1/contacts', { token });
    expect(contacts.status).toBe(200);
    const b2 = bob.client(relay.url);
    clients.push(b2);
    const after = new Inbox(b2);
    await b2.connect();
    await after.backlogEnd();
    expect(after.texts()).toEqual(['waiting across the move']);
    expect((await fetch(`${relay.url}${attachmentUrl}`).then(async (r) => Buffer.from(await r.arrayBuffer()))).equals(Buffer.from(bytes))).toBe(true);
    // New registrations get fresh device keys (a reused key would collide or inherit a mailbox).
    const carol = new TestAccount();
    const c = (await registerAccount(relay.url, carol)).get(1)!;
    clients.push(c);
    await c.send(bob.accountId, [{ deviceId: 1, content: text('after the move') }]);
    await after.count(2);
    expect(after.texts()).toEqual(['waiting across the move', 'after the move']);
  });

  it('refuses an unreachable database and a missing SQLite file, writing nothing', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const missing = await migrate(dataDir, serverUrl);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no relay database');
    const relay = await spawnRelay({ dataDir });
    expect((await relay.stop()).code).toBe(0);
    const unreachable = new URL(serverUrl);
    unreachable.pathname = '/parley_no_such_database';
    const refused = await migrate(dataDir, unreachable.toString());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('does not exist');
  });
});
