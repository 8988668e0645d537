/**
 * The rows of a history archive (docs/protocol.md §22, ADR 0028): what an export reads — the texts
 * and uploaded attachments of each conversation from a display time on, in display order, in
 * keyset pages — and what an import writes: conversations by peer and messages in chunks, skipping
 * any message already held under the same (sender account, sender device, message id), so a message
 * that reached the new device directly and an archive imported twice change nothing. Search entries
 * follow by the messages' index triggers. Does not own the archive's bytes (shared/protocol/
 * history-archive.ts) or the transfer (linking/history.ts).
 */
import type { ArchivedMessage, HistoryStatus } from '../../../shared/protocol/history-archive.js';
import type { ReadDb, WriteDb } from './database.js';
import { blob, blobOrNull, flag } from './rows.js';
import { sql } from './sql.js';

/** Every conversation's peer (the own account for the note to self), by conversation id. */
export function conversationPeers(db: ReadDb, ownAccountId: Uint8Array): Map<number, Uint8Array> {
  const peers = new Map<number, Uint8Array>();
  for (const r of db.all<{ id: number; peer: Uint8Array | null }>(sql`SELECT id, peer_account_id AS peer FROM conversations`)) {
    peers.set(r.id, r.peer === null ? ownAccountId : blob(r.peer));
  }
  return peers;
}

/** What an export may take: texts, and attachments the relay holds (a relay id and a key). */
const EXPORTABLE = sql`m.message_id IS NOT NULL AND (m.kind = 'text' AND m.body IS NOT NULL AND m.body <> ''
  OR m.kind = 'attachment' AND a.attachment_id IS NOT NULL AND a.file_key IS NOT NULL AND a.ciphertext_digest IS NOT NULL AND a.plaintext_sha256 IS NOT NULL)`;

type Row = {
  id: number;
  conversation_id: number;
  kind: 'text' | 'attachment';
  direction: 'incoming' | 'outgoing';
  sender_device_id: number | null;
  message_id: Uint8Array;
  sent_at: number;
  received_at: number;
  body: string | null;
  status: HistoryStatus | null;
  read_at: number | null;
  attachment_id: Uint8Array | null;
  file_key: Uint8Array | null;
  length: number | null;
  padded_length: number | null;
  ciphertext_digest: Uint8Array | null;
  plaintext_sha256: Uint8Array | null;
  media_type: string | null;
  file_name: string | null;
  width: number | null;
  height: number | null;
  thumbnail: Uint8Array | null;
  original: number | null;
};

/**
 * One page of exportable messages after row `afterId` (up to `maxRowId`), in row order — the
 * order they arrived on this device, which is also how their display ties break (DESIGN §4). Row
 * order reads the table front to back, each page of it once; reading conversation by conversation
 * in display order would read (and decrypt, SQLCipher) every table page once per conversation.
 */
export function exportPage(
  db: ReadDb,
  since: number,
  afterId: number,
  limit: number,
  ownDeviceId: number,
  maxRowId: number,
  /** Backups (ADR 0033): never a timed (disappearing) message. */
  untimedOnly = false,
): { rows: { conversationId: number; message: ArchivedMessage }[]; lastId: number; full: boolean } {
  const rows = db.all<Row>(sql`
    SELECT m.id, m.conversation_id, m.kind, m.direction, m.sender_device_id, m.message_id, m.sent_at, m.received_at, m.body, m.status, m.read_at,
      a.attachment_id, a.file_key, a.length, a.padded_length, a.ciphertext_digest, a.plaintext_sha256, a.media_type, a.file_name,
      a.width, a.height, a.thumbnail, a.original
    FROM messages m LEFT JOIN attachments a ON a.message_row_id = m.id
    WHERE m.id > ${afterId} AND m.id <= ${maxRowId} AND m.display_at >= ${since} AND ${EXPORTABLE}
      AND (${untimedOnly ? 1 : 0} = 0 OR (m.expire_timer_seconds IS NULL AND m.expires_at IS NULL))
    ORDER BY m.id LIMIT ${limit}`);
  const out = rows.map((r) => {
    const incoming = r.direction === 'incoming';
    const message: ArchivedMessage = {
      kind: r.kind,
      direction: r.direction,
      status: incoming ? null : (r.status ?? 'sent'),
      readAt: incoming ? r.read_at : null,
      senderDeviceId: r.sender_device_id ?? ownDeviceId,
      messageId: blob(r.message_id),
      sentAt: r.sent_at,
      receivedAt: r.received_at,
      body: r.body ?? '',
      pointer:
        r.kind === 'attachment'
          ? {
              attachmentId: blob(r.attachment_id!),
              descriptor: { key: blob(r.file_key!), length: r.length!, paddedLength: r.padded_length!, ciphertextDigest: blob(r.ciphertext_digest!), plaintextSha256: blob(r.plaintext_sha256!) },
              mediaType: r.media_type ?? '',
              fileName: r.file_name ?? '',
              dimensions: r.width !== null && r.height !== null ? { width: r.width, height: r.height } : null,
              thumbnail: blobOrNull(r.thumbnail),
              original: r.original !== null && flag(r.original),
            }
          : null,
    };
    return { conversationId: r.conversation_id, message };
  });
  return { rows: out, lastId: rows[rows.length - 1]?.id ?? afterId, full: rows.length === limit };
}

/**
 * The conversation an import puts a peer's messages in: the note to self for the own account, the
 * direct conversation for a contact; null for a peer this device does not hold as a contact.
 */
export function importConversation(db: WriteDb, peerAccountId: Uint8Array, ownAccountId: Uint8Array, now: number): number | null {
  const own = peerAccountId.length === ownAccountId.length && peerAccountId.every((b, i) => b === ownAccountId[i]);
  if (own) {
    const existing = db.get<{ id: number }>(sql`SELECT id FROM conversations WHERE kind = 'note-to-self' ORDER BY id LIMIT 1`);
    if (existing) return existing.id;
    return db.run(sql`INSERT INTO conversations (kind, peer_account_id, created_at, last_activity_at) VALUES ('note-to-self', NULL, ${now}, ${now})`).lastInsertRowid;
  }
  if (!db.get<{ one: number }>(sql`SELECT 1 AS one FROM contacts WHERE account_id = ${peerAccountId}`)) return null;
  db.run(sql`INSERT INTO conversations (kind, peer_account_id, created_at, last_activity_at) VALUES ('direct', ${peerAccountId}, ${now}, ${now})
    ON CONFLICT (peer_account_id) DO NOTHING`);
  return db.get<{ id: number }>(sql`SELECT id FROM conversations WHERE kind = 'direct' AND peer_account_id = ${peerAccountId}`)!.id;
}

/**
 * Inserts archived messages into a conversation (in the caller's transaction); returns how many
 * were new. `senderOf` gives the sender account of a message (the peer, or this account).
 */
export function importMessages(
  db: WriteDb,
  conversationId: number,
  messages: readonly ArchivedMessage[],
  senderOf: (m: ArchivedMessage) => Uint8Array,
  fileNameOf: (name: string) => string,
): number {
  let added = 0;
  let latest = 0;
  for (const m of messages) {
    const displayAt = Math.min(m.sentAt, m.receivedAt);
    const r = db.run(sql`
      INSERT INTO messages (conversation_id, kind, direction, sender_account_id, sender_device_id, message_id,
        sent_at, received_at, display_at, body, status, read_at)
      VALUES (${conversationId}, ${m.kind}, ${m.direction}, ${senderOf(m)}, ${m.senderDeviceId}, ${m.messageId},
        ${m.sentAt}, ${m.receivedAt}, ${displayAt}, ${m.kind === 'attachment' && m.body === '' ? null : m.body}, ${m.status}, ${m.readAt})
      ON CONFLICT (sender_account_id, sender_device_id, message_id) WHERE message_id IS NOT NULL DO NOTHING`);
    if (r.changes !== 1) continue;
    added++;
    if (displayAt > latest) latest = displayAt;
    const p = m.pointer;
    if (p) {
      const d = p.descriptor;
      db.run(sql`
        INSERT INTO attachments (message_row_id, state, attachment_id, file_key, length, padded_length, ciphertext_digest,
          plaintext_sha256, media_type, file_name, width, height, thumbnail, original)
        VALUES (${r.lastInsertRowid}, 'available', ${p.attachmentId}, ${d.key}, ${d.length}, ${d.paddedLength}, ${d.ciphertextDigest},
          ${d.plaintextSha256}, ${p.mediaType}, ${fileNameOf(p.fileName)}, ${p.dimensions?.width ?? null}, ${p.dimensions?.height ?? null},
          ${p.thumbnail}, ${p.original ? 1 : 0})`);
    }
  }
  if (added > 0) db.run(sql`UPDATE conversations SET last_activity_at = max(last_activity_at, ${latest}) WHERE id = ${conversationId}`);
  return added;
}
