/**
 * Delivery state per recipient device of outgoing messages (issue 12 "Message info"; migration
 * 0009): when the relay accepted each device's envelope, and when each device's delivery and read
 * receipts arrived. The conversation-level status stays in `messages.status` (messages.ts); this
 * table only adds the detail behind it, for the Info dialog. A receipt names exact message ids
 * (docs/protocol.md §16), and its sending device is authenticated by the session that decrypted
 * it, so every row names a device on the recipient's verified list.
 *
 * Times never move: the first accept, the first delivery and the first read are kept (a receipt
 * sent again after a resend changes nothing). A read receipt also settles delivery (a device that
 * read a message holds it). Does not own the receipts queue (receipts.ts) or statuses (messages.ts).
 */
import type { ReadDb, WriteDb } from './database.js';
import { blob } from './rows.js';
import { sql } from './sql.js';

export type DeviceStatusRecord = {
  readonly accountId: Uint8Array;
  readonly deviceId: number;
  /** The relay's clock when it accepted this device's envelope; null while not yet sent. */
  readonly sentAt: number | null;
  readonly deliveredAt: number | null;
  readonly readAt: number | null;
};

/**
 * The relay accepted a send of message row `messageRowId` for these devices of `accountId`. A
 * message deleted while its send was in flight (Delete for me) gets no row.
 */
export function recordDeviceSent(db: WriteDb, messageRowId: number, accountId: Uint8Array, deviceIds: readonly number[], at: number): void {
  for (const deviceId of deviceIds) {
    db.run(sql`
      INSERT INTO message_device_statuses (message_row_id, account_id, device_id, sent_at)
      SELECT id, ${accountId}, ${deviceId}, ${at} FROM messages WHERE id = ${messageRowId}
      ON CONFLICT DO UPDATE SET sent_at = coalesce(sent_at, excluded.sent_at)`);
  }
}

/**
 * A receipt of `kind` from one device of `accountId`, naming messages by their sender-chosen ids:
 * the outgoing messages of `conversationId` it names get that device's time (ids it does not know
 * are ignored). Returns how many messages it named that this device holds.
 */
export function recordDeviceReceipt(
  db: WriteDb,
  r: {
    readonly conversationId: number;
    readonly accountId: Uint8Array;
    readonly deviceId: number;
    readonly kind: 'delivered' | 'read';
    readonly messageIds: readonly Uint8Array[];
    readonly at: number;
  },
): number {
  let known = 0;
  for (const messageId of r.messageIds) {
    const row = db.get<{ id: number }>(sql`
      SELECT id FROM messages WHERE conversation_id = ${r.conversationId} AND direction = 'outgoing' AND message_id = ${messageId}`);
    if (!row) continue;
    known++;
    const readAt = r.kind === 'read' ? r.at : null;
    db.run(sql`
      INSERT INTO message_device_statuses (message_row_id, account_id, device_id, delivered_at, read_at)
      VALUES (${row.id}, ${r.accountId}, ${r.deviceId}, ${r.at}, ${readAt})
      ON CONFLICT DO UPDATE SET
        delivered_at = coalesce(delivered_at, excluded.delivered_at),
        read_at = coalesce(read_at, excluded.read_at)`);
  }
  return known;
}

/** Every device row of one message, by account then device id. */
export function deviceStatusesOf(db: ReadDb, messageRowId: number): DeviceStatusRecord[] {
  return db
    .all<{ account_id: Uint8Array; device_id: number; sent_at: number | null; delivered_at: number | null; read_at: number | null }>(sql`
      SELECT account_id, device_id, sent_at, delivered_at, read_at FROM message_device_statuses
      WHERE message_row_id = ${messageRowId} ORDER BY account_id, device_id`)
    .map((r) => ({ accountId: blob(r.account_id), deviceId: r.device_id, sentAt: r.sent_at, deliveredAt: r.delivered_at, readAt: r.read_at }));
}
