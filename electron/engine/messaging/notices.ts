/**
 * Local notices (issue 4): a row in the conversation with a peer that says something happened to
 * the conversation itself — "the safety number changed" (contacts.ts, on an account key change),
 * "a message could not be decrypted", "this message needs a newer version of Parley" (inbound.ts), "their
 * device on an older version cannot show files" (capabilities.ts, when a file is sent). A notice has no body and no sender (it shows as
 * the app's own), is never sent, and is born read. Not indexed for search (only text messages are).
 */
import { getOrCreateDirectConversation } from '../db/conversations.js';
import type { WriteDb } from '../db/database.js';
import { insertMessage } from '../db/messages.js';

export type NoticeKind = 'key-changed' | 'decryption-failed' | 'unsupported' | 'files-unsupported';

/** Inserts a notice in the caller's transaction; `self` is this account (the row's sender). */
export function insertNotice(db: WriteDb, self: Uint8Array, peer: Uint8Array, kind: NoticeKind, now: number): { conversationId: number; rowId: number } {
  const conversation = getOrCreateDirectConversation(db, peer, now);
  const rowId = insertMessage(db, {
    conversationId: conversation.id,
    kind,
    direction: 'incoming',
    senderAccountId: self,
    senderDeviceId: null,
    messageId: null,
    sentAt: now,
    receivedAt: now,
    body: null,
    status: null,
    readAt: now,
  });
  return { conversationId: conversation.id, rowId };
}
