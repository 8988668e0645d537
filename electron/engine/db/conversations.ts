/**
 * Conversations (direct ones in this version; groups arrive with their own migration) and the
 * conversation-list query: per conversation its contact, unread count and last message, newest
 * activity first. Each subquery is an index seek (messages_unread, messages_by_order).
 */
import type { MessageKind, MessageStatus } from '../../../shared/api/view-models.js';
import type { ReadDb, WriteDb } from './database.js';
import type { Direction } from './messages.js';
import { blob, flag } from './rows.js';
import { sql, type SqlQuery } from './sql.js';

export type ConversationRecord = {
  readonly id: number;
  readonly kind: 'direct';
  readonly peerAccountId: Uint8Array;
  readonly createdAt: number;
  readonly lastActivityAt: number;
};

type ConversationRow = { id: number; kind: string; peer_account_id: Uint8Array; created_at: number; last_activity_at: number };

function toRecord(r: ConversationRow): ConversationRecord {
  if (r.kind !== 'direct') throw new Error('unknown conversation kind');
  return { id: r.id, kind: 'direct', peerAccountId: blob(r.peer_account_id), createdAt: r.created_at, lastActivityAt: r.last_activity_at };
}

/** The direct conversation with a contact, created on first use. */
export function getOrCreateDirectConversation(db: WriteDb, peerAccountId: Uint8Array, now: number): ConversationRecord {
  // Nearly always there already (every incoming message asks): a read, no write.
  const existing = findDirectConversation(db, peerAccountId);
  if (existing) return existing;
  db.run(sql`
    INSERT INTO conversations (kind, peer_account_id, created_at, last_activity_at)
    VALUES ('direct', ${peerAccountId}, ${now}, ${now})
    ON CONFLICT (peer_account_id) DO NOTHING`);
  return findDirectConversation(db, peerAccountId)!;
}

export function findDirectConversation(db: ReadDb, peerAccountId: Uint8Array): ConversationRecord | undefined {
  const r = db.get<ConversationRow>(sql`SELECT * FROM conversations WHERE kind = 'direct' AND peer_account_id = ${peerAccountId}`);
  return r && toRecord(r);
}

export function getConversation(db: ReadDb, id: number): ConversationRecord | undefined {
  const r = db.get<ConversationRow>(sql`SELECT * FROM conversations WHERE id = ${id}`);
  return r && toRecord(r);
}

export type ConversationListRow = {
  readonly conversation: ConversationRecord;
  readonly username: string;
  readonly verified: boolean;
  readonly keyChangePending: boolean;
  readonly deviceList: Uint8Array;
  readonly unreadCount: number;
  readonly lastMessage: {
    readonly id: number;
    readonly kind: MessageKind;
    readonly direction: Direction;
    readonly preview: string | null;
    readonly displayAt: number;
    readonly status: MessageStatus | null;
  } | null;
};

type ListRow = ConversationRow & {
  username: string;
  verified: number;
  key_change_pending: number;
  device_list: Uint8Array;
  unread: number;
  lm_id: number | null;
  lm_kind: MessageKind | null;
  lm_direction: Direction | null;
  lm_preview: string | null;
  lm_display_at: number | null;
  lm_status: MessageStatus | null;
};

function toListRow(r: ListRow): ConversationListRow {
  return {
    conversation: toRecord(r),
    username: r.username,
    verified: flag(r.verified),
    keyChangePending: flag(r.key_change_pending),
    deviceList: blob(r.device_list),
    unreadCount: r.unread,
    lastMessage:
      r.lm_id === null
        ? null
        : {
            id: r.lm_id,
            kind: r.lm_kind!,
            direction: r.lm_direction!,
            preview: r.lm_preview,
            displayAt: r.lm_display_at!,
            status: r.lm_status,
          },
  };
}

function listQuery(previewLength: number, where: SqlQuery) {
  return sql`
    SELECT c.*, ct.username, ct.verified, ct.key_change_pending, ct.device_list,
      (SELECT count(*) FROM messages u
        WHERE u.conversation_id = c.id AND u.direction = 'incoming' AND u.read_at IS NULL) AS unread,
      lm.id AS lm_id, lm.kind AS lm_kind, lm.direction AS lm_direction,
      substr(lm.body, 1, ${previewLength}) AS lm_preview, lm.display_at AS lm_display_at, lm.status AS lm_status
    FROM conversations c
    JOIN contacts ct ON ct.account_id = c.peer_account_id
    LEFT JOIN messages lm ON lm.id = (
      SELECT m.id FROM messages m WHERE m.conversation_id = c.id ORDER BY m.display_at DESC, m.id DESC LIMIT 1)
    ${where}
    ORDER BY c.last_activity_at DESC, c.id DESC`;
}

/** Every conversation with its list data, newest activity first. */
export function listConversations(db: ReadDb, previewLength: number): ConversationListRow[] {
  return db.all<ListRow>(listQuery(previewLength, sql``)).map(toListRow);
}

export function conversationListRow(db: ReadDb, id: number, previewLength: number): ConversationListRow | undefined {
  const r = db.get<ListRow>(listQuery(previewLength, sql`WHERE c.id = ${id}`));
  return r && toListRow(r);
}
