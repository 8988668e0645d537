/**
 * Writing a backup (docs/protocol.md §25, ADR 0033) from this primary's database into a file:
 * header, the account section (account-json.ts), the messages as §22 archives of about 4 MiB each
 * (texts and uploaded attachments' pointers, never a timed message; read front to back in pages, as
 * the history export does), optionally the attachments this device holds (their §17 ciphertext as
 * kept in the attachments folder, so nothing is decrypted), End and padding — each sealed segment
 * written as it is made. Work runs in slices between turns of the event loop (AES-GCM per 1 MiB
 * segment is native and short); a cancel stops it between slices and removes the file.
 *
 * Does not own the settings row (db/backups.ts), the relay (relay-backup.ts) or scheduling
 * (service.ts).
 */
import { createReadStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { toHex } from '../../../shared/crypto/bytes.js';
import type { Rng } from '../../../shared/crypto/random.js';
import { BackupWriter, encodeBackupHeader, type BackupKdf } from '../../../shared/protocol/backup.js';
import { Writer } from '../../../shared/protocol/codec.js';
import { BACKUP_SALT_LENGTH } from '../../../shared/protocol/constants.js';
import { concatParts, encodeConversationStart, encodeHistoryHeader, writeArchivedMessage, type ArchivedMessage } from '../../../shared/protocol/history-archive.js';
import type { LocalAccount } from '../db/account.js';
import type { BackupSettings } from '../db/backups.js';
import type { ReadDb } from '../db/database.js';
import { conversationPeers, exportPage } from '../db/history.js';
import { sql } from '../db/sql.js';
import { exportBackupAccount } from './account-json.js';

/** A messages section is closed once its archive passes this size (the format allows 16 MiB). */
export const MESSAGES_SECTION_TARGET_BYTES = 4 * 1024 * 1024;
/** Work between two turns of the event loop. */
export const BACKUP_SLICE_MS = 12;
const EXPORT_PAGE_ROWS = 200;

export class BackupCancelled extends Error {
  override readonly name = 'BackupCancelled';
}

export type MakeBackupInput = {
  readonly db: ReadDb;
  readonly account: LocalAccount;
  readonly settings: Pick<BackupSettings, 'recoveryKey' | 'backupSalt' | 'passphrase' | 'includeAttachments'>;
  /** The engine's attachments folder (`<row id>.spool` ciphertexts). */
  readonly attachmentsDir: string;
  readonly rng: Rng;
  readonly now: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: { bytes: number; messages: number }) => void;
};

export type MadeBackup = { readonly createdAt: number; readonly bytes: number; readonly messages: number; readonly attachments: number };

const now = (): number => performance.now();
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The attachments an export holds that this device has the ciphertext of, with their spool sizes. */
export async function localAttachments(db: ReadDb, attachmentsDir: string): Promise<{ rowId: number; attachmentId: Uint8Array; path: string; size: number }[]> {
  const rows = db.all<{ id: number; attachment_id: Uint8Array }>(sql`
    SELECT m.id, a.attachment_id FROM messages m JOIN attachments a ON a.message_row_id = m.id
    WHERE a.state IN ('sent', 'downloaded') AND a.attachment_id IS NOT NULL AND a.file_key IS NOT NULL
      AND m.message_id IS NOT NULL AND m.expire_timer_seconds IS NULL AND m.expires_at IS NULL
    ORDER BY m.id`);
  const out: { rowId: number; attachmentId: Uint8Array; path: string; size: number }[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    const file = path.join(attachmentsDir, `${r.id}.spool`);
    const info = await stat(file).catch(() => null);
    const id = new Uint8Array(r.attachment_id);
    if (!info?.isFile() || seen.has(toHex(id))) continue;
    seen.add(toHex(id));
    out.push({ rowId: r.id, attachmentId: id, path: file, size: info.size });
  }
  return out;
}

/** Writes a whole backup to `file` (created new, mode 0600). On any failure or cancel the file is removed. */
export async function makeBackup(input: MakeBackupInput, file: string): Promise<MadeBackup> {
  const { db, account, settings } = input;
  const kdf: BackupKdf = settings.passphrase ? { kind: 'passphrase', params: settings.passphrase.params } : { kind: 'recovery-key' };
  const { header, contentKey } = encodeBackupHeader({
    recoveryKey: settings.recoveryKey,
    kdf,
    backupSalt: settings.backupSalt,
    contentSalt: input.rng(BACKUP_SALT_LENGTH),
    createdAt: input.now,
    stretched: settings.passphrase?.stretched ?? null,
  });
  const writer = new BackupWriter(header, contentKey);
  contentKey.fill(0);
  const handle = await open(file, 'wx', 0o600);
  let bytes = 0;
  let messages = 0;
  let attachments = 0;
  let sliceStart = now();
  const write = async (segments: readonly Uint8Array[]): Promise<void> => {
    for (const s of segments) {
      await handle.write(s);
      bytes += s.length;
    }
  };
  const turn = async (): Promise<void> => {
    if (now() - sliceStart < BACKUP_SLICE_MS) return;
    input.onProgress?.({ bytes, messages });
    await nextTurn();
    if (input.signal?.aborted) throw new BackupCancelled('cancelled');
    sliceStart = now();
  };
  try {
    await write([header.bytes]);
    await write(writer.account(exportBackupAccount(db, account)));

    // Messages: one archive per ~4 MiB, conversations continued in the next section in order.
    const own = account.accountId;
    const peers = conversationPeers(db, own);
    const maxRowId = db.get<{ id: number | null }>(sql`SELECT max(id) AS id FROM messages`)?.id ?? 0;
    let section = new Map<number, { chunks: Uint8Array[]; count: number }>();
    let sectionBytes = 0;
    const flush = async (): Promise<void> => {
      if (section.size === 0) return;
      const parts: Uint8Array[] = [encodeHistoryHeader({ scope: 'all', accountId: own, createdAt: input.now, since: 0, conversationCount: section.size })];
      for (const [conversationId, c] of [...section].sort((x, y) => x[0] - y[0])) parts.push(encodeConversationStart(peers.get(conversationId)!, c.count), ...c.chunks);
      await write(writer.messages(concatParts(parts)));
      section = new Map();
      sectionBytes = 0;
    };
    let afterId = 0;
    for (;;) {
      const page = exportPage(db, 0, afterId, EXPORT_PAGE_ROWS, account.deviceId, maxRowId, true);
      const writers = new Map<number, { w: Writer; count: number }>();
      for (const { conversationId, message } of page.rows) {
        if (!peers.has(conversationId)) continue;
        let entry = writers.get(conversationId);
        if (!entry) writers.set(conversationId, (entry = { w: new Writer(), count: 0 }));
        writeArchivedMessage(entry.w, clampReceived(message, input.now));
        entry.count++;
        messages++;
      }
      for (const [conversationId, { w, count }] of writers) {
        const chunk = w.finish();
        let c = section.get(conversationId);
        if (!c) section.set(conversationId, (c = { chunks: [], count: 0 }));
        c.chunks.push(chunk);
        c.count += count;
        sectionBytes += chunk.length;
      }
      if (sectionBytes >= MESSAGES_SECTION_TARGET_BYTES) await flush();
      afterId = page.lastId;
      await turn();
      if (!page.full) break;
    }
    await flush();

    if (settings.includeAttachments) {
      for (const a of await localAttachments(db, input.attachmentsDir)) {
        await write(writer.attachmentStart(a.attachmentId, a.size));
        let read = 0;
        for await (const chunk of createReadStream(a.path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
          const part = chunk.subarray(0, Math.min(chunk.length, a.size - read));
          read += part.length;
          await write(writer.attachmentData(part));
          await turn();
          if (read === a.size) break;
        }
        if (read !== a.size) throw new Error('an attachment file changed while it was backed up');
        attachments++;
      }
    }
    await write(writer.finish());
    await handle.sync();
    input.onProgress?.({ bytes, messages });
    return { createdAt: input.now, bytes, messages, attachments };
  } catch (e) {
    await handle.close().catch(() => undefined);
    await rm(file, { force: true });
    throw e;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** A clock that went backwards must not make a row unexportable (§22.2: received ≤ createdAt). */
function clampReceived(m: ArchivedMessage, createdAt: number): ArchivedMessage {
  return m.receivedAt <= createdAt ? m : { ...m, receivedAt: createdAt };
}
