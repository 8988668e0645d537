/**
 * Conversations — direct ones, and this account's "Note to self" (at most one, no contact: its
 * peer reads as this account's own id; groups arrive with their own migration) — and the
 * conversation-list query: per conversation its contact, unread count and last message, newest
 * activity first. Each subquery is an index seek (messages_unread, messages_by_order).
 */
import type { MessageKind, MessageStatus } from '../../../shared/api/view-models.js';
import type { ReadDb, WriteDb } from './database.js';
import type { Direction } from './messages.js';
import { blob, blobOrNull, flag } from './rows.js';
import { sql, type SqlQuery } from './sql.js';

/** 'group': a group conversation (migration 0018, db/groups.ts); its peer reads as this account's own id. */
export type ConversationKind = 'direct' | 'note-to-self' | 'group';

export type ConversationRecord = {
  readonly id: number;
  readonly kind: ConversationKind;
  /** The contact; this account's own id for the note to self. */
  readonly peerAccountId: Uint8Array;
  readonly createdAt: number;
  readonly lastActivityAt: number;
};

type ConversationRow = { id: number; kind: string; peer_account_id: Uint8Array; created_at: number; last_activity_at: number };

function toRecord(r: ConversationRow): ConversationRecord {
  if (r.kind !== 'direct' && r.kind !== 'note-to-self' && r.kind !== 'group') throw new Error('unknown conversation kind');
  return { id: r.id, kind: r.kind, peerAccountId: blob(r.peer_account_id), createdAt: r.created_at, lastActivityAt: r.last_activity_at };
}

/** A conversation's columns, the note to self's peer read as this account's own id. */
const COLUMNS = sql`c.id, c.kind, coalesce(c.peer_account_id, (SELECT account_id FROM account WHERE singleton = 1)) AS peer_account_id,
  c.created_at, c.last_activity_at`;

/** This account's "Note to self", created on first use (no contact row: it is this account). */
export function getOrCreateNoteToSelf(db: WriteDb, now: number): ConversationRecord {
  const existing = findNoteToSelf(db);
  if (existing) return existing;
  db.run(sql`INSERT INTO conversations (kind, peer_account_id, created_at, last_activity_at) VALUES ('note-to-self', NULL, ${now}, ${now})`);
  return findNoteToSelf(db)!;
}

export function findNoteToSelf(db: ReadDb): ConversationRecord | undefined {
  const r = db.get<ConversationRow>(sql`SELECT ${COLUMNS} FROM conversations c WHERE c.kind = 'note-to-self' ORDER BY c.id LIMIT 1`);
  return r && toRecord(r);
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
  const r = db.get<ConversationRow>(sql`SELECT ${COLUMNS} FROM conversations c WHERE c.id = ${id}`);
  return r && toRecord(r);
}

export type ConversationListRow = {
  readonly conversation: ConversationRecord;
  /** '' while unknown (and for the note to self). */
  readonly username: string;
  /** From the contact's profile, once opened; null before. */
  readonly displayName: string | null;
  /** The revision of the contact's profile that carried their avatar; null without one. */
  readonly avatarRevision: number | null;
  /** The user added, accepted or wrote to them; false for a message request. */
  readonly accepted: boolean;
  readonly verified: boolean;
  readonly keyChangePending: boolean;
  readonly deviceList: Uint8Array;
  /** Their profile key, and the key id of one whose token the relay refused (sealed sender). */
  readonly profileKey: Uint8Array | null;
  readonly tokenRefusedKeyId: Uint8Array | null;
  /** This account's own device list (capability checks cover own devices too); null before an account exists. */
  readonly ownDeviceList: Uint8Array | null;
  /** The conversation's disappearing-message timer (0 = off). */
  readonly expireTimerSeconds: number;
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
  username: string | null;
  display_name: string | null;
  avatar_revision: number | null;
  accepted: number;
  verified: number;
  key_change_pending: number;
  device_list: Uint8Array;
  profile_key: Uint8Array | null;
  token_refused_key_id: Uint8Array | null;
  own_device_list: Uint8Array | null;
  expire_timer: number;
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
    username: r.username ?? '',
    displayName: r.display_name,
    avatarRevision: r.avatar_revision,
    accepted: flag(r.accepted),
    verified: flag(r.verified),
    keyChangePending: flag(r.key_change_pending),
    deviceList: blob(r.device_list),
    profileKey: blobOrNull(r.profile_key),
    tokenRefusedKeyId: blobOrNull(r.token_refused_key_id),
    ownDeviceList: blobOrNull(r.own_device_list),
    expireTimerSeconds: r.expire_timer,
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
    SELECT ${COLUMNS}, ct.username, cp.display_name,
      CASE WHEN cp.avatar IS NULL THEN NULL ELSE cp.revision END AS avatar_revision, coalesce(ct.accepted, 1) AS accepted, coalesce(ct.verified, 1) AS verified,
      coalesce(ct.key_change_pending, 0) AS key_change_pending,
      coalesce(ct.device_list, (SELECT device_list FROM account WHERE singleton = 1)) AS device_list,
      cp.profile_key, cp.token_refused_key_id,
      (SELECT device_list FROM account WHERE singleton = 1) AS own_device_list,
      coalesce((SELECT t.seconds FROM conversation_timers t WHERE t.conversation_id = c.id), 0) AS expire_timer,
      (SELECT count(*) FROM messages u
        WHERE u.conversation_id = c.id AND u.direction = 'incoming' AND u.read_at IS NULL) AS unread,
      lm.id AS lm_id, lm.kind AS lm_kind, lm.direction AS lm_direction,
      substr(lm.body, 1, ${previewLength}) AS lm_preview, lm.display_at AS lm_display_at, lm.status AS lm_status
    FROM conversations c
    LEFT JOIN contacts ct ON ct.account_id = c.peer_account_id
    LEFT JOIN contact_profiles cp ON cp.account_id = c.peer_account_id
    LEFT JOIN messages lm ON lm.id = (
      SELECT m.id FROM messages m WHERE m.conversation_id = c.id ORDER BY m.display_at DESC, m.id DESC LIMIT 1)
    ${where}
    ORDER BY c.last_activity_at DESC, c.id DESC`;
}

/** Every conversation with its list data, newest activity first; blocked people's are not listed. */
export function listConversations(db: ReadDb, previewLength: number): ConversationListRow[] {
  return db.all<ListRow>(listQuery(previewLength, sql`WHERE coalesce(ct.blocked, 0) = 0 AND (ct.account_id IS NOT NULL OR c.kind = 'note-to-self')`)).map(toListRow);
}

/** One conversation's list data (none for a blocked person's). */
export function conversationListRow(db: ReadDb, id: number, previewLength: number): ConversationListRow | undefined {
  const r = db.get<ListRow>(listQuery(previewLength, sql`WHERE c.id = ${id} AND coalesce(ct.blocked, 0) = 0 AND (ct.account_id IS NOT NULL OR c.kind = 'note-to-self')`));
  return r && toListRow(r);
}

/** Deletes a conversation and its messages (their search entries go with them, by the index triggers). */
export function deleteConversation(db: WriteDb, id: number): boolean {
  db.run(sql`DELETE FROM messages WHERE conversation_id = ${id}`);
  return db.run(sql`DELETE FROM conversations WHERE id = ${id}`).changes === 1;
}
