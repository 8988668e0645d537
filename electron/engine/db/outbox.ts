/**
 * The transactional outbox (DESIGN §4): a send — one envelope per recipient device, as the relay
 * takes them in one request — is enqueued in the transaction that advanced the ratchet states which
 * produced the envelopes, and deleted only after the relay acknowledged it. A crash between the two
 * resends the same envelopes, which the recipient de-duplicates. Does not own delivery (the engine's
 * sender loop, with the relay client) or statuses (messages.ts).
 */
import type { ReadDb, WriteDb } from './database.js';
import { blob } from './rows.js';
import { sql } from './sql.js';

export type OutboxKind = 'message' | 'receipt' | 'decryption-error';

export type OutboxEnvelope = { readonly deviceId: number; readonly envelope: Uint8Array };

export type OutboxSend = {
  readonly id: number;
  readonly kind: OutboxKind;
  readonly messageRowId: number | null;
  readonly recipientAccountId: Uint8Array;
  readonly createdAt: number;
  readonly attempts: number;
  readonly nextAttemptAt: number;
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
  },
): number {
  const { lastInsertRowid: id } = db.run(sql`
    INSERT INTO outbox (kind, message_row_id, recipient_account_id, created_at, next_attempt_at)
    VALUES (${send.kind}, ${send.messageRowId}, ${send.recipientAccountId}, ${send.now}, ${send.now})`);
  for (const e of send.envelopes) {
    db.run(sql`INSERT INTO outbox_envelopes (outbox_id, device_id, envelope) VALUES (${id}, ${e.deviceId}, ${e.envelope})`);
  }
  return id;
}

type OutboxRow = {
  id: number;
  kind: OutboxKind;
  message_row_id: number | null;
  recipient_account_id: Uint8Array;
  created_at: number;
  attempts: number;
  next_attempt_at: number;
};

/** Sends due at `now`, oldest first. */
export function dueSends(db: ReadDb, now: number, limit: number): OutboxSend[] {
  const rows = db.all<OutboxRow>(sql`
    SELECT * FROM outbox WHERE next_attempt_at <= ${now} ORDER BY next_attempt_at, id LIMIT ${limit}`);
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    messageRowId: r.message_row_id,
    recipientAccountId: blob(r.recipient_account_id),
    createdAt: r.created_at,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    envelopes: db
      .all<{ device_id: number; envelope: Uint8Array }>(sql`
        SELECT device_id, envelope FROM outbox_envelopes WHERE outbox_id = ${r.id} ORDER BY device_id`)
      .map((e) => ({ deviceId: e.device_id, envelope: blob(e.envelope) })),
  }));
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
