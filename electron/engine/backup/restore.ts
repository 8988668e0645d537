/**
 * Restoring a backup (docs/protocol.md §25, ADR 0033) onto an empty profile, in two stages:
 *  1. `stageBackup` opens the blob with every check of §25.4-§25.7 — the words' backup id, the header
 *     MAC, the passphrase's key commitment, each segment, the content's framing — and keeps what it
 *     read (the account section and the message archives in memory, attachment ciphertexts as files
 *     in a staging folder). Only when the final segment opened and `finish` passed does it return;
 *     every archive is parsed once more (§22.3) and the account section checked (account-json.ts)
 *     before anything is written to a database.
 *  2. `importStagedBackup` fills the new database (in the engine's #createProfile, which removes
 *     every file again on failure): the account with this device's new identity and device id, the
 *     account's list re-signed with one more entry, the account state (contacts, verification,
 *     profile, settings), the messages, the attachments' ciphertext (as downloaded files), the
 *     backup settings (so this device goes on backing up under the same words), fresh prekeys; then
 *     publishes the list (signed by the account key; the relay needs no session for it) and uploads
 *     the prekeys as the new device. Sessions start fresh with every contact on first use.
 *
 * Does not own the marker of an interrupted restore or the profile's files (engine.ts).
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { toHex } from '../../../shared/crypto/bytes.js';
import { ed25519GenerateKeyPair } from '../../../shared/crypto/ed25519.js';
import type { Clock, Rng } from '../../../shared/crypto/random.js';
import { x25519GenerateKeyPair } from '../../../shared/crypto/x25519.js';
import { attachmentLayout } from '../../../shared/protocol/attachment-cipher.js';
import { BackupReader, openBackupContentKey, type BackupHeader } from '../../../shared/protocol/backup.js';
import { BACKUP_HEADER_LENGTH, MAX_DEVICES_PER_ACCOUNT } from '../../../shared/protocol/constants.js';
import { signDeviceList, type DeviceList } from '../../../shared/protocol/device-list.js';
import { HistoryArchiveParser } from '../../../shared/protocol/history-archive.js';
import { BUILD_CAPABILITIES } from '../account/device-list.js';
import { maintainPrekeys } from '../account/prekey-lifecycle.js';
import { insertAccount, type LocalAccount } from '../db/account.js';
import { setAttachmentState, setAttachmentTransferred } from '../db/attachments.js';
import { createBackupSettings } from '../db/backups.js';
import type { EngineDatabase } from '../db/database.js';
import { sql } from '../db/sql.js';
import { EngineError } from '../errors.js';
import { importAccountState } from '../linking/account-state.js';
import { importHistory } from '../linking/history.js';
import { createOwnProfile } from '../messaging/profiles.js';
import { parseBackupAccount, type BackupAccount } from './account-json.js';

export type StagedBackup = {
  readonly header: BackupHeader;
  readonly account: BackupAccount;
  readonly archives: readonly Uint8Array[];
  /** Attachment ciphertexts by attachment id (hex): staged file paths. */
  readonly attachments: ReadonlyMap<string, string>;
  readonly messages: number;
};

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Stage 1: reads `file` (the whole blob) under the recovery key and the passphrase's Argon2id
 * output, checking everything. Throws ProtocolErrors (§25 codes) or EngineErrors; on failure the
 * staging folder is removed.
 */
export async function stageBackup(
  file: string,
  header: BackupHeader,
  recoveryKey: Uint8Array,
  stretched: Uint8Array | null,
  stagingDir: string,
  o: { readonly onProgress?: (bytes: number, total: number) => void } = {},
): Promise<StagedBackup> {
  const size = (await stat(file)).size;
  const contentKey = openBackupContentKey(header, recoveryKey, stretched);
  const reader = new BackupReader(header, contentKey, size);
  contentKey.fill(0);
  await rm(stagingDir, { recursive: true, force: true });
  await mkdir(stagingDir, { recursive: true, mode: 0o700 });
  let account: Uint8Array | null = null;
  const archives: Uint8Array[] = [];
  const attachments = new Map<string, string>();
  let current: WriteStream | null = null;
  let read = 0;
  try {
    for await (const chunk of createReadStream(file, { start: BACKUP_HEADER_LENGTH, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      read += chunk.length;
      for (const e of reader.push(chunk)) {
        if (e.kind === 'account') account = e.json;
        else if (e.kind === 'messages') archives.push(e.archive);
        else if (e.kind === 'attachment') {
          const staged = path.join(stagingDir, toHex(e.attachmentId));
          attachments.set(toHex(e.attachmentId), staged);
          current = createWriteStream(staged, { mode: 0o600 });
        } else if (e.kind === 'attachment-data') {
          if (!current!.write(e.bytes)) await new Promise<void>((resolve) => current!.once('drain', () => resolve()));
        } else {
          await new Promise<void>((resolve, reject) => current!.end((err?: Error | null) => (err ? reject(err) : resolve())));
          current = null;
        }
      }
      o.onProgress?.(BACKUP_HEADER_LENGTH + read, size);
      await nextTurn();
    }
    reader.finish();
    const parsed = parseBackupAccount(account!);
    // Every archive parses (§22.3) for this account before anything is imported.
    let messages = 0;
    for (const archive of archives) {
      const check = new HistoryArchiveParser(archive, parsed.accountId, { keep: false });
      if (check.header.scope !== 'all' || check.header.createdAt > header.createdAt) throw new EngineError('BACKUP_TAMPERED', 'a message section of the backup is not valid; nothing was restored');
      while (!check.step(1000)) await nextTurn();
      messages += check.messages;
    }
    return { header, account: parsed, archives, attachments, messages };
  } catch (e) {
    (current as WriteStream | null)?.destroy();
    await rm(stagingDir, { recursive: true, force: true });
    throw e;
  }
}

export type ImportDeps = { readonly rng: Rng; readonly clock: Clock; readonly attachmentsDir: string; readonly relayUrl: string; readonly relayId: Uint8Array };

/** The account's list with one more device: this one (a new device id and identity), signed by the account key. */
export function nextDeviceList(staged: StagedBackup, identity: { dh: Uint8Array; signing: Uint8Array }, now: number): { deviceId: number; list: DeviceList; signed: Uint8Array } {
  const { list } = staged.account.deviceList;
  if (list.devices.length >= MAX_DEVICES_PER_ACCOUNT) {
    throw new EngineError('TOO_MANY_DEVICES', `the account already has ${MAX_DEVICES_PER_ACCOUNT} devices: remove one from another device, then restore`);
  }
  const deviceId = Math.max(...list.devices.map((d) => d.deviceId)) + 1;
  const next: DeviceList = {
    ...list,
    version: list.version + 1,
    issuedAt: now,
    devices: [...list.devices, { deviceId, identityDhKey: identity.dh, identitySigningKey: identity.signing, capabilities: BUILD_CAPABILITIES, addedAt: now }],
  };
  return { deviceId, list: next, signed: signDeviceList(next, staged.account.accountPrivateKey) };
}

/**
 * Stage 2, local part: writes everything into the new, empty database and the attachments folder.
 * Returns the account (not yet published: the caller publishes the list and uploads prekeys).
 */
export async function importStagedBackup(db: EngineDatabase, staged: StagedBackup, recoveryKey: Uint8Array, stretched: Uint8Array | null, deps: ImportDeps): Promise<LocalAccount> {
  const now = deps.clock();
  const identityDh = x25519GenerateKeyPair(deps.rng);
  const identitySigning = ed25519GenerateKeyPair(deps.rng);
  const next = nextDeviceList(staged, { dh: identityDh.publicKey, signing: identitySigning.publicKey }, now);
  const a = staged.account;
  const account: LocalAccount = {
    accountId: a.accountId,
    username: a.state.username,
    relayUrl: deps.relayUrl,
    relayId: deps.relayId,
    accountPublicKey: a.accountPublicKey,
    accountPrivateKey: a.accountPrivateKey,
    deviceId: next.deviceId,
    identityDh,
    identitySigning,
    pq: true,
    deviceList: { signed: next.signed, version: next.list.version, issuedAt: now },
    registeredAt: now,
    createdAt: now,
  };
  const h = staged.header;
  db.writer.transaction(() => {
    insertAccount(db.writer, account);
    importAccountState(db.writer, a.state, now);
    createOwnProfile(db.writer, { displayName: a.state.username, rng: deps.rng, now });
    // This device goes on backing up under the same words (and passphrase); they were just typed.
    createBackupSettings(db.writer, {
      recoveryKey,
      backupSalt: h.backupSalt,
      confirmed: true,
      passphrase: h.kdf.kind === 'passphrase' && stretched ? { params: h.kdf.params, stretched } : null,
      now,
    });
  });
  const core = { db, account, clock: deps.clock };
  for (const archive of staged.archives) await importHistory(core, archive);
  // Attachment ciphertexts become this device's downloaded files (each named by its new row id).
  await mkdir(deps.attachmentsDir, { recursive: true, mode: 0o700 });
  for (const [idHex, file] of staged.attachments) {
    const row = db.reader.get<{ message_row_id: number; length: number; padded_length: number }>(
      sql`SELECT message_row_id, length, padded_length FROM attachments WHERE attachment_id = ${Buffer.from(idHex, 'hex')} ORDER BY message_row_id LIMIT 1`,
    );
    if (!row) continue; // a file no restored message names (its conversation was not a contact)
    const size = (await stat(file)).size;
    if (size !== attachmentLayout(row.length).ciphertextLength) continue; // not this file's ciphertext: left to download
    await rename(file, path.join(deps.attachmentsDir, `${row.message_row_id}.spool`));
    db.writer.transaction(() => {
      setAttachmentState(db.writer, row.message_row_id, 'downloaded');
      setAttachmentTransferred(db.writer, row.message_row_id, size);
    });
  }
  await maintainPrekeys(db.writer, account, { rng: deps.rng, now: deps.clock });
  return account;
}
