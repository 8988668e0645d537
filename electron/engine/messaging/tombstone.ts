/**
 * "This message was deleted" (docs/protocol.md §23.3): the row left where a message deleted for
 * everyone was, on the author's device (messaging.ts) and on every recipient device (inbound.ts).
 * Owns only that row; the removal itself is expiry's (disappearing/expiry.ts).
 */
import type { WriteDb } from '../db/database.js';
import { insertMessage, type MessageRecord } from '../db/messages.js';

/**
 * "This message was deleted" where a message deleted for everyone was: same conversation, author
 * and times (so it keeps its place), no body, no message id, no timer.
 */
export function insertTombstone(db: WriteDb, m: MessageRecord): number {
  return insertMessage(db, {
    conversationId: m.conversationId,
    kind: 'deleted',
    direction: m.direction,
    senderAccountId: m.senderAccountId,
    senderDeviceId: m.senderDeviceId,
    messageId: null,
    sentAt: m.sentAt,
    receivedAt: m.receivedAt,
    body: null,
    status: null,
    readAt: m.readAt ?? m.receivedAt,
  });
}

