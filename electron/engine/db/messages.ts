/**
 * Messages and local notices, and their keyset pagination (DESIGN §4): display order is the pair
 * (display_at, id) — the sender's timestamp clamped to the receive time, ties broken by arrival —
 * and every page seeks on that pair through the messages_by_order index. No OFFSET anywhere, so a
 * page costs the same at the start and the end of a long history, and rows inserted while the user
 * scrolls (late arrivals slot in by display_at) never shift a page. Also owns read state.
 */
import type { MessageKind, MessageStatus } from '../../../shared/api/view-models.js';
import type { ReadDb, WriteDb } from './database.js';
import { blob, blobOrNull } from './rows.js';
import { sql, type SqlQuery } from './sql.js';

export type Direction = 'incoming' | 'outgoing';

export type MessageRecord = {
  readonly id: number;
  readonly conversationId: number;
  readonly kind: MessageKind;
  readonly direction: Direction;
  readonly senderAccountId: Uint8Array;
  readonly senderDeviceId: number | null;
  readonly messageId: Uint8Array | null;
  readonly sentAt: number;
  readonly receivedAt: number;
  readonly displayAt: number;
  readonly body: string | null;
  readonly status: MessageStatus | null;
  readonly readAt: number | null;
  /** Its own disappearing timer (null: none); a `timer-changed` notice: the value set (0 = off). */
  readonly expireTimerSeconds: number | null;
  /** When its timer started (null: not yet, or untimed). */
  readonly expireStartedAt: number | null;
  /** When it is deleted (null: untimed). */
  readonly expiresAt: number | null;
};

type MessageRow = {
  id: number;
  conversation_id: number;
  kind: MessageKind;
  direction: Direction;
  sender_account_id: Uint8Array;
  sender_device_id: number | null;
  message_id: Uint8Array | null;
  sent_at: number;
  received_at: number;
  display_at: number;
  body: string | null;
  status: MessageStatus | null;
  read_at: number | null;
  expire_timer_seconds: number | null;
  expire_started_at: number | null;
  expires_at: number | null;
};

function toRecord(r: MessageRow): MessageRecord {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    kind: r.kind,
    direction: r.direction,
    senderAccountId: blob(r.sender_account_id),
    senderDeviceId: r.sender_device_id,
    messageId: blobOrNull(r.message_id),
    sentAt: r.sent_at,
    receivedAt: r.received_at,
    displayAt: r.display_at,
    body: r.body,
    status: r.status,
    readAt: r.read_at,
    expireTimerSeconds: r.expire_timer_seconds,
    expireStartedAt: r.expire_started_at,
    expiresAt: r.expires_at,
  };
}

export type NewMessage = {
  readonly conversationId: number;
  readonly kind: MessageKind;
  readonly direction: Direction;
  readonly senderAccountId: Uint8Array;
  readonly senderDeviceId: number | null;
  readonly messageId: Uint8Array | null;
  readonly sentAt: number;
  readonly receivedAt: number;
  readonly body: string | null;
  readonly status: MessageStatus | null;
  readonly readAt: number | null;
  /** Disappearing messages (disappearing/timers.ts): all three null or absent for an untimed row. */
  readonly expireTimerSeconds?: number | null;
  readonly expireStartedAt?: number | null;
  readonly expiresAt?: number | null;
};

/** The display time: the sender's clock, but never later than the moment the message arrived. */
export function displayTime(sentAt: number, receivedAt: number): number {
  return Math.min(sentAt, receivedAt);
}

/** Inserts a message and moves its conversation's last activity forward; returns the row id. */
export function insertMessage(db: WriteDb, m: NewMessage): number {
  const displayAt = displayTime(m.sentAt, m.receivedAt);
  // The timer columns only when there is a timer (the statement stays the one every schema since
  // 0001 accepts, which the migration tests insert with).
  const timed = (m.expireTimerSeconds ?? null) !== null || (m.expiresAt ?? null) !== null;
  const { lastInsertRowid } = timed
    ? db.run(sql`
    INSERT INTO messages (conversation_id, kind, direction, sender_account_id, sender_device_id, message_id,
      sent_at, received_at, display_at, body, status, read_at, expire_timer_seconds, expire_started_at, expires_at)
    VALUES (${m.conversationId}, ${m.kind}, ${m.direction}, ${m.senderAccountId}, ${m.senderDeviceId}, ${m.messageId},
      ${m.sentAt}, ${m.receivedAt}, ${displayAt}, ${m.body}, ${m.status}, ${m.readAt},
      ${m.expireTimerSeconds ?? null}, ${m.expireStartedAt ?? null}, ${m.expiresAt ?? null})`)
    : db.run(sql`
    INSERT INTO messages (conversation_id, kind, direction, sender_account_id, sender_device_id, message_id,
      sent_at, received_at, display_at, body, status, read_at)
    VALUES (${m.conversationId}, ${m.kind}, ${m.direction}, ${m.senderAccountId}, ${m.senderDeviceId}, ${m.messageId},
      ${m.sentAt}, ${m.receivedAt}, ${displayAt}, ${m.body}, ${m.status}, ${m.readAt})`);
  db.run(sql`UPDATE conversations SET last_activity_at = max(last_activity_at, ${displayAt}) WHERE id = ${m.conversationId}`);
  return lastInsertRowid;
}

/** The record insertMessage stored as row `id` (what getMessage would read back, without the read). */
export function insertedRecord(id: number, m: NewMessage): MessageRecord {
  return {
    id,
    ...m,
    displayAt: displayTime(m.sentAt, m.receivedAt),
    expireTimerSeconds: m.expireTimerSeconds ?? null,
    expireStartedAt: m.expireStartedAt ?? null,
    expiresAt: m.expiresAt ?? null,
  };
}

export function getMessage(db: ReadDb, id: number): MessageRecord | undefined {
  const r = db.get<MessageRow>(sql`SELECT * FROM messages WHERE id = ${id}`);
  return r && toRecord(r);
}

/** When the relay first accepted an outgoing message (its clock), or null (not yet, or incoming). */
export function relayTimeOf(db: ReadDb, id: number): number | null {
  return db.get<{ relay_at: number | null }>(sql`SELECT relay_at FROM messages WHERE id = ${id}`)?.relay_at ?? null;
}

/**
 * Deletes one message row (Delete for me). Everything keyed on the row goes with it: the search
 * index entries (the index's triggers, FTS5 secure-delete), its attachment row, its per-device
 * statuses and any send still queued for it (ON DELETE CASCADE). Returns whether it existed.
 */
export function deleteMessage(db: WriteDb, id: number): boolean {
  return db.run(sql`DELETE FROM messages WHERE id = ${id}`).changes === 1;
}

/**
 * Deletes a conversation's messages shown at or before `upTo` (display time) — a conversation
 * deleted on another own device at that time — with everything keyed on them (deleteMessage).
 * Returns the rows deleted and how many messages the conversation still has.
 */
export function deleteMessagesUpTo(db: WriteDb, conversationId: number, upTo: number): { deleted: { id: number; kind: MessageKind }[]; remaining: number } {
  const deleted = db.all<{ id: number; kind: MessageKind }>(sql`
    DELETE FROM messages WHERE conversation_id = ${conversationId} AND display_at <= ${upTo} RETURNING id, kind`);
  const remaining = db.get<{ n: number }>(sql`SELECT count(*) AS n FROM messages WHERE conversation_id = ${conversationId}`)!.n;
  return { deleted, remaining };
}

export function findMessageBySenderId(
  db: ReadDb,
  senderAccountId: Uint8Array,
  senderDeviceId: number,
  messageId: Uint8Array,
): MessageRecord | undefined {
  const r = db.get<MessageRow>(sql`
    SELECT * FROM messages
    WHERE sender_account_id = ${senderAccountId} AND sender_device_id = ${senderDeviceId} AND message_id = ${messageId}`);
  return r && toRecord(r);
}

/**
 * A message `senderAccountId` sent, by its sender-chosen id, from any device of theirs (a delete
 * request may come from another device of the author than the one that sent the message).
 */
export function findIncomingByMessageId(db: ReadDb, senderAccountId: Uint8Array, messageId: Uint8Array): MessageRecord | undefined {
  const r = db.get<MessageRow>(sql`
    SELECT * FROM messages WHERE sender_account_id = ${senderAccountId} AND message_id = ${messageId} AND direction = 'incoming'`);
  return r && toRecord(r);
}

export function updateMessageStatus(db: WriteDb, id: number, status: MessageStatus): boolean {
  return db.run(sql`UPDATE messages SET status = ${status} WHERE id = ${id} AND direction = 'outgoing'`).changes === 1;
}

// ── Keyset pagination ───────────────────────────────────────────────────────

export type PageAnchor =
  | { readonly kind: 'latest' }
  | { readonly kind: 'before' | 'after' | 'around'; readonly message: { readonly id: number; readonly displayAt: number } };

export type Page = { readonly messages: MessageRecord[]; readonly hasOlder: boolean; readonly hasNewer: boolean };

/** Up to `limit` rows strictly older than `key` (or the newest, without a key), newest first. */
function older(db: ReadDb, conversationId: number, key: { id: number; displayAt: number } | null, limit: number): MessageRecord[] {
  const seek: SqlQuery = key ? sql`AND (display_at, id) < (${key.displayAt}, ${key.id})` : sql``;
  return db
    .all<MessageRow>(sql`
      SELECT * FROM messages WHERE conversation_id = ${conversationId} ${seek}
      ORDER BY display_at DESC, id DESC LIMIT ${limit}`)
    .map(toRecord);
}

/** Up to `limit` rows strictly newer than `key`, oldest first. */
function newer(db: ReadDb, conversationId: number, key: { id: number; displayAt: number }, limit: number): MessageRecord[] {
  return db
    .all<MessageRow>(sql`
      SELECT * FROM messages WHERE conversation_id = ${conversationId} AND (display_at, id) > (${key.displayAt}, ${key.id})
      ORDER BY display_at ASC, id ASC LIMIT ${limit}`)
    .map(toRecord);
}

/**
 * One page, oldest first. The anchor message of before/after/around must belong to the
 * conversation (the caller checks). Each side fetches one row more than it returns to learn
 * whether more exist.
 */
export function readPage(db: ReadDb, conversationId: number, anchor: PageAnchor, limit: number): Page {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
  switch (anchor.kind) {
    case 'latest': {
      const rows = older(db, conversationId, null, limit + 1);
      return { messages: rows.slice(0, limit).reverse(), hasOlder: rows.length > limit, hasNewer: false };
    }
    case 'before': {
      const rows = older(db, conversationId, anchor.message, limit + 1);
      return { messages: rows.slice(0, limit).reverse(), hasOlder: rows.length > limit, hasNewer: true };
    }
    case 'after': {
      const rows = newer(db, conversationId, anchor.message, limit + 1);
      return { messages: rows.slice(0, limit), hasOlder: true, hasNewer: rows.length > limit };
    }
    case 'around': {
      const self = db.get<MessageRow>(sql`SELECT * FROM messages WHERE id = ${anchor.message.id} AND conversation_id = ${conversationId}`);
      if (!self) return readPage(db, conversationId, { kind: 'latest' }, limit);
      const room = limit - 1;
      const before = older(db, conversationId, anchor.message, room + 1);
      const after = newer(db, conversationId, anchor.message, room + 1);
      // Half each side; a side with fewer rows leaves its room to the other.
      let takeOlder = Math.min(before.length, Math.floor(room / 2));
      const takeNewer = Math.min(after.length, room - takeOlder);
      takeOlder = Math.min(before.length, room - takeNewer);
      return {
        messages: [...before.slice(0, takeOlder).reverse(), toRecord(self), ...after.slice(0, takeNewer)],
        hasOlder: before.length > takeOlder,
        hasNewer: after.length > takeNewer,
      };
    }
  }
}

// ── Read state ──────────────────────────────────────────────────────────────

export function unreadCount(db: ReadDb, conversationId: number): number {
  return db.get<{ n: number }>(sql`
    SELECT count(*) AS n FROM messages
    WHERE conversation_id = ${conversationId} AND direction = 'incoming' AND read_at IS NULL`)!.n;
}

/**
 * Marks every unread incoming message up to and including `upTo` (in display order) as read.
 * Returns the rows it changed, in display order. Marking read is what a visible, focused window
 * does when it shows messages (the renderer asks only then), so the disappearing timer of each
 * timed text or file starts here too (DESIGN §3.8: incoming timers start when first shown): its
 * deletion time becomes the earlier of now + its timer and its maximum lifetime (already stored).
 */
export function markReadUpTo(
  db: WriteDb,
  conversationId: number,
  upTo: { readonly id: number; readonly displayAt: number },
  now: number,
): MessageRecord[] {
  return db
    .all<MessageRow>(sql`
      UPDATE messages SET read_at = ${now},
        expires_at = CASE WHEN expire_timer_seconds IS NOT NULL AND expire_started_at IS NULL AND kind IN ('text', 'attachment')
          THEN min(coalesce(expires_at, ${now} + expire_timer_seconds * 1000), ${now} + expire_timer_seconds * 1000) ELSE expires_at END,
        expire_started_at = CASE WHEN expire_timer_seconds IS NOT NULL AND kind IN ('text', 'attachment')
          THEN coalesce(expire_started_at, ${now}) ELSE expire_started_at END
      WHERE conversation_id = ${conversationId} AND direction = 'incoming' AND read_at IS NULL
        AND (display_at, id) <= (${upTo.displayAt}, ${upTo.id})
      RETURNING *`)
    .map(toRecord)
    .sort((a, b) => a.displayAt - b.displayAt || a.id - b.id);
}

// ── Delivery status (outgoing) ──────────────────────────────────────────────

/**
 * Statuses a delivery or read receipt may move forward: a receipt never moves a message back, and
 * it also settles `failed` (the send got through after all, e.g. its answer was lost).
 */
const UPGRADABLE: Readonly<Record<'delivered' | 'read', SqlQuery>> = {
  delivered: sql`status IN ('failed', 'sending', 'sent')`,
  read: sql`status IN ('failed', 'sending', 'sent', 'delivered')`,
};

/**
 * The relay accepted a send of this message: `sending` (or `failed`, when a resend got through)
 * becomes `sent`, and the first relay timestamp is kept. Returns the row when its status changed.
 */
export function markSent(db: WriteDb, id: number, relayAt: number): MessageRecord | undefined {
  db.run(sql`UPDATE messages SET relay_at = coalesce(relay_at, ${relayAt}) WHERE id = ${id} AND direction = 'outgoing'`);
  const r = db.get<MessageRow>(sql`
    UPDATE messages SET status = 'sent'
    WHERE id = ${id} AND direction = 'outgoing' AND status IN ('sending', 'failed')
    RETURNING *`);
  return r && toRecord(r);
}

/** A send failed for good: `sending` becomes `failed`. Returns the row when it changed. */
export function markFailed(db: WriteDb, id: number): MessageRecord | undefined {
  const r = db.get<MessageRow>(sql`
    UPDATE messages SET status = 'failed' WHERE id = ${id} AND direction = 'outgoing' AND status = 'sending' RETURNING *`);
  return r && toRecord(r);
}

/** A retry: `failed` becomes `sending`. */
export function markSending(db: WriteDb, id: number): MessageRecord | undefined {
  const r = db.get<MessageRow>(sql`
    UPDATE messages SET status = 'sending' WHERE id = ${id} AND direction = 'outgoing' AND status = 'failed' RETURNING *`);
  return r && toRecord(r);
}

/**
 * A receipt from the peer: the outgoing messages of the conversation it names by their
 * sender-chosen ids (ids it does not know are ignored) move forward to `status`. Returns the rows
 * that changed, in display order.
 */
export function upgradeStatusOf(
  db: WriteDb,
  conversationId: number,
  messageIds: readonly Uint8Array[],
  status: 'delivered' | 'read',
): MessageRecord[] {
  const changed: MessageRecord[] = [];
  for (const messageId of messageIds) {
    const r = db.get<MessageRow>(sql`
      UPDATE messages SET status = ${status}
      WHERE conversation_id = ${conversationId} AND direction = 'outgoing' AND message_id = ${messageId}
        AND ${UPGRADABLE[status]}
      RETURNING *`);
    if (r) changed.push(toRecord(r));
  }
  return changed.sort((x, y) => x.displayAt - y.displayAt || x.id - y.id);
}

/**
 * Outgoing texts and files (those whose upload finished: a pointer exists) the relay accepted at
 * or after `after` (its clock), or not yet at all: what a peer device that reported a decryption
 * error at `after` may have missed.
 */
export function outgoingSince(db: ReadDb, conversationId: number, after: number): MessageRecord[] {
  return db
    .all<MessageRow>(sql`
      SELECT * FROM messages
      WHERE conversation_id = ${conversationId} AND direction = 'outgoing'
        AND (kind = 'text' OR (kind = 'attachment'
          AND EXISTS (SELECT 1 FROM attachments a WHERE a.message_row_id = messages.id AND a.attachment_id IS NOT NULL)))
        AND (relay_at >= ${after} OR relay_at IS NULL) AND status <> 'failed'
      ORDER BY sent_at, id`)
    .map(toRecord);
}

/** The ids of a conversation's incoming texts and files, and of those already read (receipts at accept). */
export function incomingMessageIds(db: ReadDb, conversationId: number): { all: Uint8Array[]; read: Uint8Array[] } {
  const rows = db.all<{ message_id: Uint8Array; read_at: number | null }>(sql`
    SELECT message_id, read_at FROM messages
    WHERE conversation_id = ${conversationId} AND direction = 'incoming' AND kind IN ('text', 'attachment') AND message_id IS NOT NULL
    ORDER BY display_at, id`);
  return { all: rows.map((r) => blob(r.message_id)), read: rows.filter((r) => r.read_at !== null).map((r) => blob(r.message_id)) };
}
