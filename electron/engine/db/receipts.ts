/**
 * The receipts queue (DESIGN §4): delivery and read receipts waiting to be sent, one row per
 * (peer, kind, message id) — a receipt names exactly the messages it confirms, never "everything
 * up to" one (docs/protocol.md §16). Kept while offline; the sender loop turns a peer's queued ids
 * into one encrypted, padded control message per kind (split past MAX_RECEIPT_MESSAGE_IDS) and
 * deletes them in the same transaction.
 */
import { toHex } from '../../../shared/crypto/bytes.js';
import type { ReadDb, WriteDb } from './database.js';
import { blob } from './rows.js';
import { sql } from './sql.js';

export type ReceiptKind = 'delivered' | 'read';

/** The queued ids of one peer and kind, oldest first. */
export type PendingReceipt = {
  readonly peerAccountId: Uint8Array;
  readonly kind: ReceiptKind;
  readonly messageIds: readonly Uint8Array[];
};

/** Queues a receipt for one message of `peerAccountId` (again: no-op). */
export function queueReceipt(db: WriteDb, r: { readonly peerAccountId: Uint8Array; readonly kind: ReceiptKind; readonly messageId: Uint8Array }, now: number): void {
  db.run(sql`
    INSERT INTO receipt_queue (peer_account_id, kind, message_id, created_at)
    VALUES (${r.peerAccountId}, ${r.kind}, ${r.messageId}, ${now})
    ON CONFLICT DO NOTHING`);
}

/** Every queued receipt, grouped by (peer, kind), groups in the order their first id was queued. */
export function pendingReceipts(db: ReadDb): PendingReceipt[] {
  const rows = db.all<{ peer_account_id: Uint8Array; kind: ReceiptKind; message_id: Uint8Array }>(
    sql`SELECT peer_account_id, kind, message_id FROM receipt_queue ORDER BY created_at, peer_account_id, kind, message_id`,
  );
  const groups = new Map<string, { peerAccountId: Uint8Array; kind: ReceiptKind; messageIds: Uint8Array[] }>();
  for (const r of rows) {
    const peer = blob(r.peer_account_id);
    const key = `${toHex(peer)}:${r.kind}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { peerAccountId: peer, kind: r.kind, messageIds: [] }));
    group.messageIds.push(blob(r.message_id));
  }
  return [...groups.values()];
}

/** Removes receipts once they are in the outbox. */
export function removeReceipts(db: WriteDb, sent: { readonly peerAccountId: Uint8Array; readonly kind: ReceiptKind; readonly messageIds: readonly Uint8Array[] }): void {
  for (const id of sent.messageIds) {
    db.run(sql`DELETE FROM receipt_queue WHERE peer_account_id = ${sent.peerAccountId} AND kind = ${sent.kind} AND message_id = ${id}`);
  }
}

/** Every receipt waiting for one peer goes (a deleted request, a blocked person). */
export function dropReceiptsFor(db: WriteDb, peerAccountId: Uint8Array): void {
  db.run(sql`DELETE FROM receipt_queue WHERE peer_account_id = ${peerAccountId}`);
}
