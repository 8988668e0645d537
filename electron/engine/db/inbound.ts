/**
 * Inbound de-duplication (DESIGN §3.4, §4): every accepted message or control message is recorded
 * by (sender account, sender device, message id) in the transaction that stores it, and the record
 * outlives the message, so an at-least-once redelivery is never shown twice. Entries older than the
 * relay's mailbox retention can no longer be redelivered and are pruned.
 */
import type { ReadDb, WriteDb } from './database.js';
import { sql } from './sql.js';

export type InboundKey = { readonly senderAccountId: Uint8Array; readonly senderDeviceId: number; readonly messageId: Uint8Array };

export function wasReceived(db: ReadDb, k: InboundKey): boolean {
  return (
    db.get(sql`
      SELECT 1 AS seen FROM inbound_dedup
      WHERE sender_account_id = ${k.senderAccountId} AND sender_device_id = ${k.senderDeviceId} AND message_id = ${k.messageId}`) !==
    undefined
  );
}

/** Records a receipt of `k`; false when it was recorded before (a duplicate). */
export function recordReceived(db: WriteDb, k: InboundKey, now: number): boolean {
  return (
    db.run(sql`
      INSERT INTO inbound_dedup (sender_account_id, sender_device_id, message_id, received_at)
      VALUES (${k.senderAccountId}, ${k.senderDeviceId}, ${k.messageId}, ${now})
      ON CONFLICT DO NOTHING`).changes === 1
  );
}

export function pruneReceived(db: WriteDb, olderThan: number): number {
  return db.run(sql`DELETE FROM inbound_dedup WHERE received_at < ${olderThan}`).changes;
}

// ── Envelope hashes: redeliveries recognised before decryption ──────────────

/** SHA-256 of an envelope's content; the caller hashes. */
export function wasEnvelopeProcessed(db: ReadDb, hash: Uint8Array): boolean {
  return db.get(sql`SELECT 1 AS seen FROM inbound_envelopes WHERE hash = ${hash}`) !== undefined;
}

/**
 * Records a processed envelope (in the batch transaction that processed it); false when it was
 * recorded before — a redelivery, recognised by the same statement that records it.
 */
export function recordEnvelope(db: WriteDb, hash: Uint8Array, now: number): boolean {
  return db.run(sql`INSERT INTO inbound_envelopes (hash, received_at) VALUES (${hash}, ${now}) ON CONFLICT DO NOTHING`).changes === 1;
}

export function pruneEnvelopes(db: WriteDb, olderThan: number): number {
  return db.run(sql`DELETE FROM inbound_envelopes WHERE received_at < ${olderThan}`).changes;
}
