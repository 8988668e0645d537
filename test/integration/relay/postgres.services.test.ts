/**
 * The relay bin on PostgreSQL (`--store postgres --database-url …`, the built dist/server/main.js as
 * a child process): registrations, sends and acks land in PostgreSQL, survive a restart of the relay,
 * and nothing goes to a SQLite file in the data dir (which keeps only the relay's identity). Runs in
 * the `services` project on the server scripts/with-services.sh starts, one fresh database per test.
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { sha256 } from '../../../shared/crypto/sha256.js';
import { newProfileKey } from '../../../shared/protocol/profile.js';
import { deliveryToken, encodeSealedMultiRecipient, openSealedEnvelope, sealMessage } from '../../../shared/protocol/sealed-sender.js';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '../../support/postgres.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { Inbox, text } from './helpers/inbox.js';
import { spawnRelay, tempDir, type RelayProcess } from './helpers/relay.js';

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

describeWithPostgres('the relay on PostgreSQL', (serverUrl) => {
  it('stores accounts and mailboxes in PostgreSQL: a message sent before a restart is delivered after it', async () => {
    const database = await createTestDatabase(serverUrl);
    databases.push(database);
    const dataDir = tempDir();
    dirs.push(dataDir);
    const start = async (flags: boolean) => {
      const relay = await spawnRelay({
        dataDir,
        ...(flags
          ? { args: ['--host', '127.0.0.1', '--port', '0', '--data', dataDir, '--log-level', 'warn', '--store', 'postgres', '--database-url', database.url] }
          : { args: ['--host', '127.0.0.1', '--port', '0', '--data', dataDir, '--log-level', 'warn'], env: { PARLEY_RELAY_STORE: 'postgres', PARLEY_RELAY_DATABASE_URL: database.url } }),
      });
      relays.push(relay);
      return relay;
    };

    let relay = await start(true);
    const alice = new TestAccount();
    const bob = new TestAccount();
    const a = (await registerAccount(relay.url, alice)).get(1)!;
    await registerAccount(relay.url, bob);
    clients.push(a);
    await a.send(bob.accountId, [{ deviceId: 1, content: text('kept in postgres') }]);
    a.close();
    expect((await relay.stop()).code).toBe(0);

    // Configured through the environment this time; the same database, so the same state.
    relay = await start(false);
    const b = bob.client(relay.url);
    clients.push(b);
    const inbox = new Inbox(b);
    await b.connect();
    await inbox.backlogEnd();
    expect(inbox.texts()).toEqual(['kept in postgres']);
    expect(inbox.envelopes[0]!.source).toEqual({ accountId: alice.accountId, deviceId: 1 });
    await b.ack([inbox.envelopes[0]!.seq]);
    b.close();
    expect((await relay.stop()).code).toBe(0);

    expect(existsSync(path.join(dataDir, 'relay.sqlite'))).toBe(false);
  });

  it('sealed sender on PostgreSQL: the token hash is stored (never the token), a sealed envelope is stored without a source and delivered to the recipient', async () => {
    const database = await createTestDatabase(serverUrl);
    databases.push(database);
    const dataDir = tempDir();
    dirs.push(dataDir);
    const relay = await spawnRelay({ dataDir, args: ['--host', '127.0.0.1', '--port', '0', '--data', dataDir, '--log-level', 'warn', '--store', 'postgres', '--database-url', database.url] });
    relays.push(relay);
    const alice = new TestAccount();
    const bob = new TestAccount();
    const a = (await registerAccount(relay.url, alice)).get(1)!;
    const b = (await registerAccount(relay.url, bob)).get(1)!;
    clients.push(a, b);
    const token = deliveryToken(newProfileKey({ rng: systemRng }));
    await b.putDeliveryTokenHash(sha256(token));
    const { certificate } = await a.senderCertificate();
    const sealed = sealMessage(
      { certificate, senderIdentityPrivate: alice.devices[0]!.dh.privateKey, recipients: [{ accountId: bob.accountId, deviceId: 1, identityKey: bob.devices[0]!.dh.publicKey }], messages: [text('sealed in postgres')] },
      { rng: systemRng },
    );
    await RelayClient.sealedSend(relay.url, { to: bob.accountId, token, upload: encodeSealedMultiRecipient(sealed) });
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const rows = (await db.query<{ source_account: Buffer | null; source_device: number | null }>('select source_account, source_device from mailbox')).rows;
      expect(rows).toEqual([{ source_account: null, source_device: null }]);
      const tokens = (await db.query<{ account_id: Buffer; token_hash: Buffer }>('select account_id, token_hash from delivery_tokens')).rows;
      expect(tokens.map((t) => [new Uint8Array(t.account_id), new Uint8Array(t.token_hash)])).toEqual([[bob.accountId, sha256(token)]]);
    } finally {
      await db.end();
    }
    const inbox = new Inbox(b);
    await b.connect();
    await inbox.backlogEnd();
    expect(inbox.envelopes.map((e) => e.source)).toEqual([null]);
    const trust = new Map([[1, (await RelayClient.wellKnown(relay.url)).certificateKey]]);
    const opened = openSealedEnvelope(inbox.envelopes[0]!.content, { identityPrivate: bob.devices[0]!.dh.privateKey }, trust, inbox.envelopes[0]!.serverTimestamp);
    expect(opened.message).toEqual(text('sealed in postgres'));
    expect(opened.certificate.accountId).toEqual(alice.accountId);
  });

  it('refuses to start, with a clear error, when the database cannot be reached', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const unreachable = new URL(serverUrl);
    unreachable.pathname = '/parley_no_such_database';
    await expect(
      spawnRelay({ dataDir, args: ['--host', '127.0.0.1', '--port', '0', '--data', dataDir, '--store', 'postgres', '--database-url', unreachable.toString()] }),
    ).rejects.toThrow(/relay exited \(1\) before listening: .*parley_no_such_database.* does not exist/);
  });
});
