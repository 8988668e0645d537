/**
 * The receipts queue (DESIGN §4): delivery and read receipts waiting to be sent, one per (peer,
 * kind). A receipt covers every message from that peer up to the one it names, so queueing a newer
 * one replaces the older (never the reverse). Kept while offline; the sender loop turns each into
 * an encrypted, padded control message in the outbox and deletes it in the same transaction.
 */
import type { ReadDb, WriteDb } from './database.js';
import { blob } from './rows.js';
import { sql } from './sql.js';

export type ReceiptKind = 'delivered' | 'read';

export type PendingReceipt = {
  readonly peerAccountId: Uint8Array;
  readonly kind: ReceiptKind;
  readonly upToMessageId: Uint8Array;
  readonly upToSentAt: number;
  readonly createdAt: number;
};

export function queueReceipt(db: WriteDb, r: Omit<PendingReceipt, 'createdAt'>, now: number): void {
  db.run(sql`
    INSERT INTO pending_receipts (peer_account_id, kind, up_to_message_id, up_to_sent_at, created_at)
    VALUES (${r.peerAccountId}, ${r.kind}, ${r.upToMessageId}, ${r.upToSentAt}, ${now})
    ON CONFLICT (peer_account_id, kind) DO UPDATE SET
      up_to_message_id = excluded.up_to_message_id, up_to_sent_at = excluded.up_to_sent_at, created_at = excluded.created_at
    WHERE excluded.up_to_sent_at >= pending_receipts.up_to_sent_at`);
}

export function pendingReceipts(db: ReadDb): PendingReceipt[] {
  return db
    .all<{ peer_account_id: Uint8Array; kind: ReceiptKind; up_to_message_id: Uint8Array; up_to_sent_at: number; created_at: number }>(
      sql`SELECT * FROM pending_receipts ORDER BY created_at`,
    )
    .map((r) => ({
      peerAccountId: blob(r.peer_account_id),
      kind: r.kind,
      upToMessageId: blob(r.up_to_message_id),
      upToSentAt: r.up_to_sent_at,
      createdAt: r.created_at,
    }));
}

/** Removes a receipt once it is in the outbox — unless a newer one replaced it meanwhile. */
export function removeReceipt(db: WriteDb, sent: Pick<PendingReceipt, 'peerAccountId' | 'kind' | 'upToMessageId'>): void {
  db.run(sql`
    DELETE FROM pending_receipts
    WHERE peer_account_id = ${sent.peerAccountId} AND kind = ${sent.kind} AND up_to_message_id = ${sent.upToMessageId}`);
}
