/**
 * Local notices (issue 4): a row in the conversation with a peer that says something happened to
 * the conversation itself — "the safety number changed" (contacts.ts, on an account key change),
 * "a message could not be decrypted", "this message needs a newer version of Parley" (inbound.ts), "their
 * device on an older version cannot show files" (capabilities.ts, when a file is sent), "their
 * devices changed" (own-devices.ts, a contact's list gained or lost a device); and in the note to
 * self, "a device was linked to / removed from your account" when this device did not make that
 * change (own-devices.ts, ADR 0027; the body is the device's name when known); and "the public key
 * log does not confirm these keys" (transparency/key-transparency.ts, ADR 0034; the body names what
 * failed: `proof-failed`, `split-view`, or in the note to self `unannounced`). A notice has no
 * sender (it shows as the app's own), is never sent, and is born read. Not indexed for search (only
 * text messages are).
 */
import { getOrCreateDirectConversation, getOrCreateNoteToSelf } from '../db/conversations.js';
import { bytesEqual } from '../../../shared/crypto/bytes.js';
import type { WriteDb } from '../db/database.js';
import { insertMessage } from '../db/messages.js';

export type NoticeKind = 'key-changed' | 'decryption-failed' | 'unsupported' | 'files-unsupported' | 'contact-devices-changed' | 'device-linked' | 'device-removed' | 'transparency-alert';

/**
 * Inserts a notice in the caller's transaction; `self` is this account (the row's sender). `peer`
 * equal to `self` puts it in the note to self.
 */
export function insertNotice(db: WriteDb, self: Uint8Array, peer: Uint8Array, kind: NoticeKind, now: number, body: string | null = null): { conversationId: number; rowId: number } {
  const conversation = bytesEqual(self, peer) ? getOrCreateNoteToSelf(db, now) : getOrCreateDirectConversation(db, peer, now);
  const rowId = insertMessage(db, {
    conversationId: conversation.id,
    kind,
    direction: 'incoming',
    senderAccountId: self,
    senderDeviceId: null,
    messageId: null,
    sentAt: now,
    receivedAt: now,
    body,
    status: null,
    readAt: now,
  });
  return { conversationId: conversation.id, rowId };
}
