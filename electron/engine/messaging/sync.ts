/**
 * Sync between one's own devices (issue 14, docs/protocol.md §16.1, docs/adr/0026): what the
 * person does on this device, queued as sync content for the account's other devices, and what
 * sync content from one of those devices does here.
 *
 * Sync content goes only to the own account (the relay fans it out to every listed device but this
 * one) and is applied only when the session that decrypted it belongs to a device on the own
 * signed list — inbound.ts drops envelopes of unlisted devices before decrypting and hands this
 * module only content from own devices (`SyncRefused` otherwise, never applied). Applying never
 * sends anything back: the device where the person acted already sent what the peer needed
 * (receipts, profile keys), so two devices never echo each other.
 *
 * Owns: read state (0x09). Does not own the copies of sent messages (inbound.ts, which already
 * holds the conversation and standing caches they use) or sending (outbox.ts).
 */
import { toHex } from '../../../shared/crypto/bytes.js';
import { attachmentsOf } from '../db/attachments.js';
import type { WriteDb } from '../db/database.js';
import { findMessageBySenderId, markReadUpTo, type MessageRecord } from '../db/messages.js';
import { isRequestConversation, withAttachment } from '../files/attachments.js';
import { messageView } from '../views.js';
import { encodeContent, MAX_READ_SYNC_ENTRIES, MESSAGE_ID_LENGTH, type Content, type ReadSyncEntry } from './content.js';
import type { MessagingCore } from './fan-out.js';

/** Sync content decrypted from a session that is not one of this account's listed devices. */
export class SyncRefused extends Error {
  override readonly name = 'SyncRefused';
  readonly code = 'NOT_OWN_DEVICE';
  constructor() {
    super('sync content from a device that is not on this account\'s list');
  }
}

/** What applying sync content asks of the batch that decrypted it (inbound.ts's effects). */
export type SyncEffects = {
  readonly events: (() => void)[];
  readonly conversations: Set<number>;
};

/** The sync kinds of §16.1 that this module applies. */
export type SyncContent = Extract<Content, { type: 'read-sync' }>;

export class OwnDeviceSync {
  constructor(private readonly core: MessagingCore) {}

  /**
   * Queues `content` for this account's other devices in the caller's transaction. Returns false
   * (nothing queued) when this account has no other device.
   */
  queue(db: WriteDb, content: Content): boolean {
    const { core } = this;
    const self = core.account.accountId;
    if (core.targetDevices(db, self).length === 0) return false;
    core.queueSend(db, { kind: 'sync', recipient: self, content: encodeContent(content), messageRowId: null });
    return true;
  }

  // ── Read state ─────────────────────────────────────────────────────────────

  /**
   * messages:markRead changed `changed` here (one conversation, display order): the other devices
   * mark that conversation read up to the newest of them that they can name (an incoming text or
   * file; a local notice has no id). Returns whether anything was queued.
   */
  readHere(db: WriteDb, changed: readonly MessageRecord[]): boolean {
    const named = changed.filter((m) => (m.kind === 'text' || m.kind === 'attachment') && m.messageId?.length === MESSAGE_ID_LENGTH && m.senderDeviceId !== null);
    const newest = named.at(-1);
    if (!newest) return false;
    const entries: ReadSyncEntry[] = [{ senderAccountId: newest.senderAccountId, senderDeviceId: newest.senderDeviceId!, messageId: newest.messageId! }];
    return this.queue(db, { type: 'read-sync', messageId: this.core.rng(MESSAGE_ID_LENGTH), sentAt: this.core.clock(), entries });
  }

  /**
   * Sync content from `fromOwnDevice` (whether the session that decrypted it is one of this
   * account's listed devices), in the inbound batch's transaction. Content from anyone else is
   * refused (SyncRefused) and changes nothing.
   */
  apply(db: WriteDb, fromOwnDevice: boolean, content: SyncContent, effects: SyncEffects): void {
    if (!fromOwnDevice) throw new SyncRefused();
    switch (content.type) {
      case 'read-sync':
        this.#read(db, content.entries, effects);
        return;
    }
  }

  /**
   * Read on another own device: each entry's conversation is marked read here up to and including
   * the message it names (as markRead there), notices before it included. No read receipt goes
   * from here — the reading device sent them. An entry naming a message this device does not hold
   * (deleted here) changes nothing.
   */
  #read(db: WriteDb, entries: readonly ReadSyncEntry[], effects: SyncEffects): void {
    const { core } = this;
    const now = core.clock();
    const changed: MessageRecord[] = [];
    const seen = new Set<string>();
    for (const e of entries.slice(0, MAX_READ_SYNC_ENTRIES)) {
      const m = findMessageBySenderId(db, e.senderAccountId, e.senderDeviceId, e.messageId);
      if (!m || m.direction !== 'incoming') continue;
      const key = `${toHex(e.senderAccountId)}:${e.senderDeviceId}:${toHex(e.messageId)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      changed.push(...markReadUpTo(db, m.conversationId, m, now));
    }
    if (changed.length === 0) return;
    const attachments = attachmentsOf(db, changed.filter((m) => m.kind === 'attachment').map((m) => m.id));
    const views = changed.map((m) => withAttachment(messageView(m, core.account.accountId), attachments.get(m.id), isRequestConversation(db, m.conversationId)));
    effects.events.push(() => {
      for (const message of views) core.emit('message:updated', { message });
    });
    for (const m of changed) effects.conversations.add(m.conversationId);
  }
}
