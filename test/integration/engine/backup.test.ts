/**
 * Backup and restore end to end (issue 18, DESIGN §3.9, docs/protocol.md §25, ADR 0033), real
 * engines on real SQLCipher profiles against the real relay: Alice (a thousand messages, a verified
 * contact, a photo, a timed message) turns backups on, confirms three words and backs up to the
 * relay; a fresh profile restores from the words alone and has everything but the timed message,
 * as a new device of the same account; Bob's verified state of Alice holds (same account key) and
 * Bob reaches the restored device. Bad input — a word not in the list, a bad checksum, other words,
 * a wrong or missing passphrase, a tampered, truncated or newer-version file, Argon2id parameters
 * out of bounds — is a typed error and leaves the profile empty. The words reach neither the relay
 * nor any event.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../shared/crypto/bytes.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { pseudoRandomBytes } from '../../../shared/testing/deterministic-rng.js';
import { getAccount } from '../../../electron/engine/db/account.js';
import { insertMessage } from '../../../electron/engine/db/messages.js';
import { sql } from '../../../electron/engine/db/sql.js';
import { readAll, sendFile } from '../../support/attachments.js';
import { relayAndEngines, TestEngine, type TestEngine as Engine } from '../../support/engines.js';

const fixture = relayAndEngines();

/** The three confirmation answers for `words` (positions 2, 11, 24). */
function answers(words: readonly string[]) {
  return [2, 11, 24].map((position) => ({ position, word: words[position - 1]! }));
}

async function turnOn(alice: Engine, o: { includeAttachments?: boolean; passphrase?: string } = {}): Promise<string[]> {
  const { words } = await alice.call('backup:enable', {});
  expect(words).toHaveLength(24);
  await alice.call('backup:confirm', { answers: answers(words) });
  if (o.includeAttachments !== undefined) await alice.call('backup:configure', { includeAttachments: o.includeAttachments });
  if (o.passphrase !== undefined) await alice.call('backup:setPassphrase', { passphrase: o.passphrase });
  return words;
}

async function freshProfile(): Promise<Engine> {
  const t = await TestEngine.start({ relayUrl: fixture.relay.url });
  fixture.track(t);
  return t;
}

function profileFiles(t: Engine): string[] {
  const dir = t.engine.profile.dataDir;
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe('backup and restore', () => {
  it('Alice with a thousand messages, a verified contact and a photo restores onto a fresh profile from the words; Bob reaches the new device and still sees her verified', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const aToB = await alice.add(bob);
    await alice.send(aToB, 'hello Bob, from before the laptop was lost');
    await bob.receive(alice, 'hello Bob, from before the laptop was lost');
    const bToA = (await bob.conversationWith(alice))!;
    await bob.send(bToA, 'hi Alice');
    await alice.receive(bob, 'hi Alice');
    // Both verify each other's safety number.
    await alice.call('contacts:markVerified', { contactId: bob.accountId, verified: true });
    await bob.call('contacts:markVerified', { contactId: alice.accountId, verified: true });
    // A photo, sent and uploaded (its ciphertext stays in Alice's attachments folder).
    const photo = pseudoRandomBytes('backup photo', 300_000);
    const sentPhoto = await sendFile(alice, aToB, 'notes.bin', photo, { asFile: true, caption: 'the notes' });
    await bob.receive(alice, 'the notes').catch(() => undefined);
    await alice.drained();
    // The rest of the thousand: older history, as stored rows of Alice's database.
    const core = alice.engine.messaging!.core;
    const own = core.account.accountId;
    const bobId = Buffer.from(bob.accountId, 'hex');
    const conversationId = Number(aToB);
    const t0 = Date.now() - 40 * 24 * 3600_000;
    core.db.writer.transaction(() => {
      for (let i = 0; i < 997; i++) {
        const incoming = i % 2 === 0;
        insertMessage(core.db.writer, {
          conversationId,
          kind: 'text',
          direction: incoming ? 'incoming' : 'outgoing',
          senderAccountId: incoming ? new Uint8Array(bobId) : own,
          senderDeviceId: 1,
          messageId: systemRng(16),
          sentAt: t0 + i * 60_000,
          receivedAt: t0 + i * 60_000 + 500,
          body: `old message ${i}`,
          status: incoming ? null : 'read',
          readAt: incoming ? t0 + i * 60_000 + 9_000 : null,
        });
      }
    });
    // A disappearing message: never in a backup.
    await alice.call('conversations:setTimer', { conversationId: aToB, seconds: 3600 });
    await alice.send(aToB, 'this one disappears');
    await alice.call('conversations:setTimer', { conversationId: aToB, seconds: 0 });
    await alice.drained();
    const before = (await alice.call('messages:openPage', { conversationId: aToB, anchor: { kind: 'latest' }, limit: 200 })).messages;

    const words = await turnOn(alice, { includeAttachments: true });
    const status = await alice.call('backup:run', {});
    expect(status).toMatchObject({ enabled: true, confirmed: true, secondFactor: false, includeAttachments: true, primary: true, lastError: null, running: null });
    expect(status.lastBackupBytes).toBeGreaterThan(300_000);
    expect(alice.payloads('backup:progress').map((p) => p.phase)).toEqual(expect.arrayContaining(['writing', 'uploading']));

    // The laptop is lost: a fresh profile, the words, the relay.
    const restored = await freshProfile();
    const info = await restored.call('restore:inspect', { words: words.join(' '), relayUrl: fixture.relay.url });
    expect(info).toMatchObject({ createdAt: status.lastBackupAt, needsSecondFactor: false });
    const account = await restored.call('restore:start', { words: words.join('  ').toUpperCase(), relayUrl: fixture.relay.url });
    expect(account.accountId).toBe(alice.accountId);
    expect(account.deviceId).not.toBe(1);
    expect(account.primaryDevice).toBe(true);
    restored.username = alice.username;
    await restored.online();
    expect(new Set(restored.payloads('restore:progress').map((p) => p.phase))).toEqual(new Set(['downloading', 'checking', 'importing', 'publishing']));

    // Everything is there: the contact, verified; the conversation with every message but the timed one.
    const contacts = await restored.call('contacts:list', {});
    expect(contacts.find((c) => c.id === bob.accountId)).toMatchObject({ verified: true });
    const conversation = (await restored.conversationWith(bob))!;
    const db = restored.engine.current!.db.reader;
    const count = db.get<{ n: number }>(sql`SELECT count(*) AS n FROM messages WHERE kind IN ('text', 'attachment')`)!.n;
    expect(count).toBe(1000);
    expect(db.get<{ n: number }>(sql`SELECT count(*) AS n FROM messages WHERE body = 'this one disappears'`)!.n).toBe(0);
    const after = (await restored.call('messages:openPage', { conversationId: conversation, anchor: { kind: 'latest' }, limit: 200 })).messages;
    // The newest texts and files, in order, with their directions (the timed one and notices aside).
    const texts = (ms: typeof before) => ms.filter((m) => m.body !== 'this one disappears' && (m.kind === 'text' || m.kind === 'attachment')).map((m) => [m.direction, m.body]);
    const expected = texts(before);
    expect(expected.length).toBeGreaterThan(150);
    expect(texts(after).slice(-expected.length)).toEqual(expected);
    // The photo came with the backup: it opens without the relay's copy, byte for byte.
    const restoredPhoto = after.find((m) => m.kind === 'attachment')!;
    expect(restoredPhoto.attachment).toMatchObject({ state: 'downloaded' });
    expect(toHex((await readAll(restored, restoredPhoto.id)).bytes)).toBe(toHex(photo));
    void sentPhoto;

    // The restored device is on the account's list (re-signed with the restored key), beside the lost one.
    const devices = await restored.call('devices:list', {});
    expect(devices.map((d) => d.deviceId).sort()).toEqual([1, account.deviceId]);

    // Bob writes; the restored device reads it. His verified state of Alice holds: the account key is the same.
    await bob.send(bToA, 'welcome back');
    await restored.receive(bob, 'welcome back', 20_000);
    expect((await bob.call('contacts:list', {})).find((c) => c.id === alice.accountId)).toMatchObject({ verified: true });
    expect(bob.payloads('contact:keyChanged')).toEqual([]);
    // And the restored device writes to Bob (fresh sessions).
    await restored.send(conversation, 'I am back on a new laptop');
    await bob.receive(alice, 'I am back on a new laptop', 20_000);

    // It offers to remove the device it replaces: the lost laptop goes from the list.
    await alice.close();
    const remaining = await restored.call('devices:remove', { deviceId: 1 });
    expect(remaining.map((d) => d.deviceId)).toEqual([account.deviceId]);

    // The words reached no event and are nowhere in the relay's database or backup files.
    const phrase = words.join(' ');
    for (const e of [...alice.events, ...restored.events]) expect(JSON.stringify(e.payload)).not.toContain(phrase);
    const relayDir = fixture.relay.dataDir;
    expect(getAccount(db)?.accountPrivateKey).not.toBeNull();
    const recoveryKeyHex = toHex(new Uint8Array(db.get<{ k: Uint8Array }>(sql`SELECT recovery_key AS k FROM backup_settings`)!.k));
    expect(recoveryKeyHex).toHaveLength(64);
    for (const f of readdirSync(relayDir, { recursive: true }) as string[]) {
      const path = join(relayDir, f);
      try {
        const bytes = readFileSync(path);
        expect(bytes.includes(Buffer.from(phrase)), f).toBe(false);
        expect(bytes.toString('hex').includes(recoveryKeyHex), f).toBe(false);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EISDIR') throw e;
      }
    }
  }, 120_000);

  it('a backup with a passphrase restores only with it; without it or with a wrong one the profile stays empty', async () => {
    const alice = await fixture.engine('alice');
    const words = await turnOn(alice, { passphrase: 'second factor, not the only one' });
    await alice.call('backup:run', {});
    const restored = await freshProfile();
    const info = await restored.call('restore:inspect', { words: words.join(' '), relayUrl: fixture.relay.url });
    expect(info.needsSecondFactor).toBe(true);
    expect(await restored.errorOf('restore:start', { words: words.join(' '), relayUrl: fixture.relay.url })).toBe('BACKUP_PASSPHRASE_REQUIRED');
    expect(await restored.errorOf('restore:start', { words: words.join(' '), relayUrl: fixture.relay.url, backupPassphrase: 'a wrong guess' })).toBe('BACKUP_WRONG_PASSPHRASE');
    expect(restored.engine.getState()).toMatchObject({ state: 'needs-account' });
    expect(profileFiles(restored)).toEqual([]);
    const account = await restored.call('restore:start', { words: words.join(' '), relayUrl: fixture.relay.url, backupPassphrase: 'second factor, not the only one' });
    expect(account.accountId).toBe(alice.accountId);
    // The restored device goes on backing up under the same words and passphrase.
    expect(await restored.call('backup:status', {})).toMatchObject({ enabled: true, confirmed: true, secondFactor: true });
    await restored.online();
    await restored.call('backup:run', {});
  }, 60_000);

  it('bad words are typed errors before anything is fetched; words with no backup are BACKUP_NOT_FOUND', async () => {
    const alice = await fixture.engine('alice');
    const words = await turnOn(alice);
    await alice.call('backup:run', {});
    const restored = await freshProfile();
    const typo = [...words];
    typo[6] = 'notaword';
    expect(await restored.errorOf('restore:start', { words: typo.join(' '), relayUrl: fixture.relay.url })).toBe('BACKUP_BAD_WORD');
    expect(await restored.errorOf('restore:inspect', { words: words.slice(0, 23).join(' '), relayUrl: fixture.relay.url })).toBe('BACKUP_BAD_WORD');
    const swapped = [...words];
    [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
    if (swapped[0] !== swapped[1]) expect(await restored.errorOf('restore:start', { words: swapped.join(' '), relayUrl: fixture.relay.url })).toBe('BACKUP_BAD_CHECKSUM');
    const other = (await alice.call('backup:enable', {})).words; // a new key: a backup id with nothing stored yet
    expect(await restored.errorOf('restore:start', { words: other.join(' '), relayUrl: fixture.relay.url })).toBe('BACKUP_NOT_FOUND');
    expect(restored.engine.getState()).toMatchObject({ state: 'needs-account' });
    expect(profileFiles(restored)).toEqual([]);
  }, 60_000);

  it('an exported file restores; a tampered, truncated, newer-version or out-of-bounds file is refused with its own code and leaves the profile empty', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const aToB = await alice.add(bob);
    await alice.send(aToB, 'exported');
    const words = await turnOn(alice);
    const dir = alice.options.base;
    const file = join(dir, 'alice.parleybackup');
    await alice.call('backup:export', { path: file });
    const blob = readFileSync(file);
    expect(blob.subarray(0, 8).toString()).toBe('PARLEYBK');
    const variant = (name: string, change: (b: Buffer) => Buffer): string => {
      const path = join(dir, name);
      writeFileSync(path, change(Buffer.from(blob)));
      return path;
    };
    const tampered = variant('tampered', (b) => {
      b[b.length - 100]! ^= 1;
      return b;
    });
    const truncated = variant('truncated', (b) => b.subarray(0, b.length - 50));
    const newer = variant('newer', (b) => {
      b[8] = 2;
      return b;
    });
    const notBackup = variant('not-a-backup', () => Buffer.from('%PDF-1.7 a document, not a backup'));
    const restored = await freshProfile();
    const phrase = words.join(' ');
    expect(await restored.errorOf('restore:start', { words: phrase, file: tampered })).toBe('BACKUP_TAMPERED');
    expect(await restored.errorOf('restore:start', { words: phrase, file: truncated })).toBe('BACKUP_TAMPERED');
    expect(await restored.errorOf('restore:start', { words: phrase, file: newer })).toBe('BACKUP_UNSUPPORTED_VERSION');
    expect(await restored.errorOf('restore:start', { words: phrase, file: notBackup })).toBe('BACKUP_NOT_A_BACKUP');
    expect(restored.engine.getState()).toMatchObject({ state: 'needs-account' });
    expect(profileFiles(restored)).toEqual([]);
    // Out-of-bounds Argon2id parameters (a passphrase export with m raised to 2 GiB): refused before running.
    await alice.call('backup:setPassphrase', { passphrase: 'second factor' });
    const passFile = join(dir, 'alice-pass.parleybackup');
    await alice.call('backup:export', { path: passFile });
    const huge = Buffer.from(readFileSync(passFile));
    huge.writeUInt32BE(2 * 1024 * 1024, 10);
    writeFileSync(passFile, huge);
    expect(await restored.errorOf('restore:start', { words: phrase, file: passFile, backupPassphrase: 'second factor' })).toBe('BACKUP_PARAMS_OUT_OF_BOUNDS');
    expect(profileFiles(restored)).toEqual([]);
    // The untouched export restores.
    const account = await restored.call('restore:start', { words: phrase, file });
    expect(account.accountId).toBe(alice.accountId);
  }, 60_000);

  it('only the primary device makes backups, and only after the words were confirmed', async () => {
    const alice = await fixture.engine('alice');
    const { words } = await alice.call('backup:enable', {});
    expect(await alice.errorOf('backup:run', {})).toBe('BACKUP_NOT_ENABLED');
    expect(await alice.errorOf('backup:confirm', { answers: [{ position: 1, word: words[1]! }, { position: 2, word: words[1]! }, { position: 3, word: words[2]! }] })).toBe('BACKUP_WORDS_MISMATCH');
    expect((await alice.call('backup:viewWords', {})).words).toEqual(words);
  }, 30_000);
});
