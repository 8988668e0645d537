/**
 * The transactional outbox (DESIGN §4): a send — one envelope per recipient device, as the relay
 * takes them in one request — is enqueued in the transaction that advanced the ratchet states which
 * produced the envelopes, and deleted only after the relay acknowledged it. A crash between the two
 * resends the same envelopes, which the recipient de-duplicates. Each row also keeps the E2E
 * content (inside the encrypted database), so a device without an envelope yet — no session, newly
 * listed, or its session rebuilt after a decryption error — gets one later. Does not own delivery
 * (messaging/outbox.ts, with the relay client) or statuses (messages.ts).
 */
import type { ReadDb, WriteDb } from './database.js';
import { blob } from './rows.js';
import { sql } from './sql.js';

/**
 * message: a text message to a peer account (its status follows the send); sync: the copy of a sent
 * message for this account's other devices; receipt, typing: control content; decryption-error:
 * the signed, unencrypted report (the same bytes for every device).
 */
export type OutboxKind = 'message' | 'sync' | 'receipt' | 'typing' | 'decryption-error' | 'profile-key';

export type OutboxEnvelope = { readonly deviceId: number; readonly envelope: Uint8Array };

export type OutboxSend = {
  readonly id: number;
  readonly kind: OutboxKind;
  readonly messageRowId: number | null;
  readonly recipientAccountId: Uint8Array;
  readonly createdAt: number;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  /** The E2E content to encrypt for devices without an envelope (the report itself for decryption errors). */
  readonly content: Uint8Array;
  readonly envelopes: readonly OutboxEnvelope[];
};

export function enqueueSend(
  db: WriteDb,
  send: {
    kind: OutboxKind;
    messageRowId: number | null;
    recipientAccountId: Uint8Array;
    envelopes: readonly OutboxEnvelope[];
    now: number;
    content?: Uint8Array | null;
  },
): number {
  // A new send is due at once whatever the clock says later (next_attempt_at 0): a clock set back
  // must not hold it. Only a deferral (deferSend) puts a time on it. Due sends go oldest first.
  const { lastInsertRowid: id } = db.run(sql`
    INSERT INTO outbox (kind, message_row_id, recipient_account_id, created_at, next_attempt_at, content)
    VALUES (${send.kind}, ${send.messageRowId}, ${send.recipientAccountId}, ${send.now}, 0, ${send.content ?? null})`);
  addEnvelopes(db, id, send.envelopes);
  return id;
}

export function addEnvelopes(db: WriteDb, outboxId: number, envelopes: readonly OutboxEnvelope[]): void {
  for (const e of envelopes) {
    db.run(sql`
      INSERT INTO outbox_envelopes (outbox_id, device_id, envelope) VALUES (${outboxId}, ${e.deviceId}, ${e.envelope})
      ON CONFLICT (outbox_id, device_id) DO UPDATE SET envelope = excluded.envelope`);
  }
}

/** Removes the envelopes of devices that left the recipient's list. */
export function removeEnvelopes(db: WriteDb, outboxId: number, deviceIds: readonly number[]): void {
  for (const d of deviceIds) db.run(sql`DELETE FROM outbox_envelopes WHERE outbox_id = ${outboxId} AND device_id = ${d}`);
}

/**
 * Drops every queued envelope for one peer device that was encrypted on a session (its session was
 * rebuilt after a decryption error): the sender encrypts the stored content again on the new one.
 * Decryption errors are not session-bound and keep theirs.
 */
export function dropSessionEnvelopes(db: WriteDb, recipientAccountId: Uint8Array, deviceId: number): number {
  return db.run(sql`
    DELETE FROM outbox_envelopes WHERE device_id = ${deviceId} AND outbox_id IN (
      SELECT id FROM outbox WHERE recipient_account_id = ${recipientAccountId} AND kind <> 'decryption-error')`).changes;
}

type OutboxRow = {
  id: number;
  kind: OutboxKind;
  message_row_id: number | null;
  recipient_account_id: Uint8Array;
  created_at: number;
  attempts: number;
  next_attempt_at: number;
  content: Uint8Array | null;
};

function toSend(db: ReadDb, r: OutboxRow): OutboxSend {
  return {
    id: r.id,
    kind: r.kind,
    messageRowId: r.message_row_id,
    recipientAccountId: blob(r.recipient_account_id),
    createdAt: r.created_at,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    content: r.content === null ? new Uint8Array(0) : blob(r.content),
    envelopes: db
      .all<{ device_id: number; envelope: Uint8Array }>(sql`
        SELECT device_id, envelope FROM outbox_envelopes WHERE outbox_id = ${r.id} ORDER BY device_id`)
      .map((e) => ({ deviceId: e.device_id, envelope: blob(e.envelope) })),
  };
}

/** Sends due at `now`, oldest first. */
export function dueSends(db: ReadDb, now: number, limit: number): OutboxSend[] {
  const rows = db.all<OutboxRow>(sql`
    SELECT * FROM outbox WHERE next_attempt_at <= ${now} ORDER BY next_attempt_at, id LIMIT ${limit}`);
  return rows.map((r) => toSend(db, r));
}

export function getSend(db: ReadDb, id: number): OutboxSend | undefined {
  const r = db.get<OutboxRow>(sql`SELECT * FROM outbox WHERE id = ${id}`);
  return r && toSend(db, r);
}

/**
 * Deferrals further ahead than `maxDelayMs` can only come from a clock that was set back since:
 * they are due now.
 */
export function dueAfterClockChange(db: WriteDb, now: number, maxDelayMs: number): number {
  return db.run(sql`UPDATE outbox SET next_attempt_at = ${now} WHERE next_attempt_at > ${now + maxDelayMs}`).changes;
}

/** When the next deferred send is due (null: the outbox is empty). */
export function nextDueAt(db: ReadDb): number | null {
  return db.get<{ at: number | null }>(sql`SELECT min(next_attempt_at) AS at FROM outbox`)!.at;
}

/** Queued sends of a message (its peer send and its copy for this account's other devices). */
export function sendsOfMessage(db: ReadDb, messageRowId: number): number[] {
  return db.all<{ id: number }>(sql`SELECT id FROM outbox WHERE message_row_id = ${messageRowId}`).map((r) => r.id);
}

/** Queued sends to one account, oldest first (ids and kinds only). */
export function sendsTo(db: ReadDb, recipientAccountId: Uint8Array): { id: number; kind: OutboxKind; messageRowId: number | null }[] {
  return db
    .all<{ id: number; kind: OutboxKind; message_row_id: number | null }>(sql`
      SELECT id, kind, message_row_id FROM outbox WHERE recipient_account_id = ${recipientAccountId} ORDER BY id`)
    .map((r) => ({ id: r.id, kind: r.kind, messageRowId: r.message_row_id }));
}

/** The relay acknowledged the send. */
export function completeSend(db: WriteDb, id: number): void {
  db.run(sql`DELETE FROM outbox WHERE id = ${id}`);
}

export function deferSend(db: WriteDb, id: number, nextAttemptAt: number, errorCode: string): void {
  db.run(sql`
    UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ${nextAttemptAt}, last_error = ${errorCode}
    WHERE id = ${id}`);
}

export function countOutbox(db: ReadDb): number {
  return db.get<{ n: number }>(sql`SELECT count(*) AS n FROM outbox`)!.n;
}
