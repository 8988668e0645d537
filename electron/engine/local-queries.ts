/**
 * The engine's local queries (DESIGN §4, issue 4): the contact, conversation and message views over
 * the open database, and the small edits made from them — marking a contact verified, accepting its
 * key change, marking messages read (with one queued read receipt per sender when read receipts
 * are on). Each change is pushed as an event. Everything here runs on the open database only; the
 * lifecycle (engine.ts) decides whether one is open, and the messaging layer owns the relay.
 */
import { attachmentsOf } from './db/attachments.js';
import { isRequestConversation, withAttachment } from './files/attachments.js';
import type { EventName, EventPayload, RequestOf } from '../../shared/api/types.js';
import type { ContactAvatar, ContactView, ConversationView, DeviceDelivery, MessageInfo, MessagePage, SafetyNumberView } from '../../shared/api/view-models.js';
import { bytesEqual } from '../../shared/crypto/bytes.js';
import { parsedDeviceList } from './account/device-list-cache.js';
import { deviceStatusesOf } from './db/device-statuses.js';
import type { Clock } from '../../shared/crypto/random.js';
import type { LocalAccount } from './db/account.js';
import { acceptAccountKeyChange, getContact, listContacts, setContactVerified } from './db/contacts.js';
import { conversationListRow, findDirectConversation, getConversation, listConversations } from './db/conversations.js';
import type { EngineDatabase } from './db/database.js';
import { getContactProfile } from './db/profiles.js';
import { getMessage, markReadUpTo, readPage, relayTimeOf, unreadCount, type MessageRecord } from './db/messages.js';
import { queueReceipt } from './db/receipts.js';
import { readSettings } from './db/settings.js';
import { ktAccount } from './db/transparency.js';
import { EngineError } from './errors.js';
import type { Messaging } from './messaging/messaging.js';
import { accountIdOf, contactIdOf, contactView, conversationView, MAX_PREVIEW_LENGTH, messageView, rowIdOf, safetyNumberView, UNKNOWN_PRESENCE } from './views.js';

/** The open database and the account it holds. */
export type OpenProfile = { readonly db: EngineDatabase; readonly account: LocalAccount };

export type QueryContext = {
  /** The open profile; throws NEEDS_ACCOUNT or LOCKED when there is none. */
  readonly open: () => OpenProfile;
  readonly clock: Clock;
  readonly emit: <E extends EventName>(event: E, payload: EventPayload<E>) => void;
  /** The messaging layer while it runs (presence, queued receipts), else null. */
  readonly messaging: () => Messaging | null;
};

export class LocalQueries {
  readonly #ctx: QueryContext;

  constructor(ctx: QueryContext) {
    this.#ctx = ctx;
  }

  // ── Contacts ───────────────────────────────────────────────────────────────

  #contact(contactId: string) {
    const { db } = this.#ctx.open();
    const contact = getContact(db.reader, accountIdOf(contactId));
    if (!contact) throw new EngineError('NOT_FOUND', 'no such contact');
    return contact;
  }

  listContacts(): ContactView[] {
    const now = this.#ctx.clock();
    return listContacts(this.#ctx.open().db.reader).map((c) => contactView(c, now));
  }

  /** A contact's avatar bytes (none for a blocked person: nothing of theirs is shown). */
  getAvatar(req: RequestOf<'contacts:getAvatar'>): ContactAvatar {
    const contact = this.#contact(req.contactId);
    const held = contact.blocked ? undefined : getContactProfile(this.#ctx.open().db.reader, contact.accountId);
    if (!held?.avatar || held.revision === null) return { avatarId: null, avatar: null };
    return { avatarId: String(held.revision), avatar: Buffer.from(held.avatar).toString('base64') };
  }

  getSafetyNumber(req: RequestOf<'contacts:getSafetyNumber'>): SafetyNumberView {
    const contact = this.#contact(req.contactId);
    return safetyNumberView(this.#ctx.open().account, contact, ktAccount(this.#ctx.open().db.reader, contact.accountId));
  }

  /**
   * Verifying compares the current safety number, so it also settles a pending key change. The
   * account's other devices are told.
   */
  markVerified(req: RequestOf<'contacts:markVerified'>): ContactView {
    const { db } = this.#ctx.open();
    const contact = this.#contact(req.contactId);
    const now = this.#ctx.clock();
    const synced = db.writer.transaction(() => {
      setContactVerified(db.writer, contact.accountId, req.verified, now);
      if (req.verified) acceptAccountKeyChange(db.writer, contact.accountId, now);
      // The account's other devices follow (for the same account key; messaging/sync.ts).
      return this.#ctx.messaging()?.sync.contactChanged(db.writer, contact.accountId, { verified: req.verified }) ?? false;
    });
    if (synced) this.#ctx.messaging()?.syncQueued();
    this.#conversationChanged(contact.accountId);
    return contactView(getContact(db.reader, contact.accountId)!, now);
  }

  acceptKeyChange(req: RequestOf<'contacts:acceptKeyChange'>): ContactView {
    const { db } = this.#ctx.open();
    const contact = this.#contact(req.contactId);
    const now = this.#ctx.clock();
    db.writer.transaction(() => acceptAccountKeyChange(db.writer, contact.accountId, now));
    this.#ctx.messaging()?.receiptsQueued();
    this.#conversationChanged(contact.accountId);
    return contactView(getContact(db.reader, contact.accountId)!, now);
  }

  // ── Conversations and messages ─────────────────────────────────────────────

  listConversations(): ConversationView[] {
    const now = this.#ctx.clock();
    return listConversations(this.#ctx.open().db.reader, MAX_PREVIEW_LENGTH).map((r) => conversationView(r, this.#presenceOf(r.conversation.peerAccountId), now));
  }

  #conversationChanged(peerAccountId: Uint8Array): void {
    const { db } = this.#ctx.open();
    const conversation = findDirectConversation(db.reader, peerAccountId);
    const row = conversation && conversationListRow(db.reader, conversation.id, MAX_PREVIEW_LENGTH);
    if (row) this.#ctx.emit('conversation:updated', { conversation: conversationView(row, this.#presenceOf(peerAccountId), this.#ctx.clock()) });
  }

  #presenceOf(accountId: Uint8Array) {
    return this.#ctx.messaging()?.presenceOf(accountId) ?? UNKNOWN_PRESENCE;
  }

  #anchorMessage(conversationId: number, messageId: string): MessageRecord {
    const m = getMessage(this.#ctx.open().db.reader, rowIdOf(messageId));
    if (!m || m.conversationId !== conversationId) throw new EngineError('NOT_FOUND', 'no such message in this conversation');
    return m;
  }

  openPage(req: RequestOf<'messages:openPage'>): MessagePage {
    const { db, account } = this.#ctx.open();
    const conversationId = rowIdOf(req.conversationId);
    if (!getConversation(db.reader, conversationId)) throw new EngineError('NOT_FOUND', 'no such conversation');
    const anchor =
      req.anchor.kind === 'latest'
        ? ({ kind: 'latest' } as const)
        : { kind: req.anchor.kind, message: this.#anchorMessage(conversationId, req.anchor.messageId) };
    const page = readPage(db.reader, conversationId, anchor, req.limit);
    const attachments = attachmentsOf(db.reader, page.messages.filter((m) => m.kind === 'attachment').map((m) => m.id));
    const request = isRequestConversation(db.reader, conversationId);
    return {
      messages: page.messages.map((m) => withAttachment(messageView(m, account.accountId), attachments.get(m.id), request)),
      hasOlder: page.hasOlder,
      hasNewer: page.hasNewer,
    };
  }

  /**
   * Message info: the exact times, and per recipient device of an outgoing message its status —
   * every device on the recipient's current list (still `sending` until the relay accepted its
   * copy) and every device that has a row (also one that has left the list since).
   */
  messageInfo(req: RequestOf<'messages:info'>): MessageInfo {
    const { db, account } = this.#ctx.open();
    const m = getMessage(db.reader, rowIdOf(req.messageId));
    if (!m || (m.kind !== 'text' && m.kind !== 'attachment')) throw new EngineError('NOT_FOUND', 'no such message');
    const base = { messageId: String(m.id), conversationId: String(m.conversationId), direction: m.direction, sentAt: m.sentAt };
    if (m.direction === 'incoming') {
      return { ...base, receivedAt: m.receivedAt, acceptedAt: null, senderDeviceId: m.senderDeviceId, status: null, devices: [] };
    }
    const rows = deviceStatusesOf(db.reader, m.id);
    const conversation = getConversation(db.reader, m.conversationId);
    const peer = conversation?.peerAccountId ?? null;
    const contact = peer ? getContact(db.reader, peer) : undefined;
    const listed = contact ? parsedDeviceList(contact.deviceList.signed).list.devices.map((d) => d.deviceId) : [];
    const devices: DeviceDelivery[] = rows.map((r) => ({
      contactId: contactIdOf(r.accountId),
      deviceId: r.deviceId,
      status: r.readAt !== null ? 'read' : r.deliveredAt !== null ? 'delivered' : r.sentAt !== null ? 'sent' : 'sending',
      sentAt: r.sentAt,
      deliveredAt: r.deliveredAt,
      readAt: r.readAt,
    }));
    // Messages from before per-device statuses have no rows: only their one status is known.
    const tracked = rows.length > 0 || m.status === 'sending' || m.status === 'failed';
    if (peer && tracked) {
      for (const deviceId of listed) {
        if (!rows.some((r) => r.deviceId === deviceId && bytesEqual(r.accountId, peer))) {
          devices.push({ contactId: contactIdOf(peer), deviceId, status: 'sending', sentAt: null, deliveredAt: null, readAt: null });
        }
      }
    }
    devices.sort((a, b) => a.contactId.localeCompare(b.contactId) || a.deviceId - b.deviceId);
    return {
      ...base,
      receivedAt: null,
      acceptedAt: relayTimeOf(db.reader, m.id),
      senderDeviceId: m.senderDeviceId ?? account.deviceId,
      status: m.status,
      devices,
    };
  }

  /**
   * Marks incoming messages up to `upToMessageId` read and, when read receipts are on, queues a
   * read receipt naming each of them (sent by the receipts loop, one receipt per sender); the
   * account's other devices are told (a read sync, messaging/sync.ts).
   */
  markRead(req: RequestOf<'messages:markRead'>): { unreadCount: number } {
    const { db, account } = this.#ctx.open();
    const conversationId = rowIdOf(req.conversationId);
    const conversation = getConversation(db.reader, conversationId);
    if (!conversation) throw new EngineError('NOT_FOUND', 'no such conversation');
    const upTo = this.#anchorMessage(conversationId, req.upToMessageId);
    const now = this.#ctx.clock();
    const changed = db.writer.transaction(() => {
      const rows = markReadUpTo(db.writer, conversationId, upTo, now);
      if (readSettings(db.writer).readReceipts) {
        for (const m of rows) {
          if ((m.kind === 'text' || m.kind === 'attachment') && m.messageId) queueReceipt(db.writer, { peerAccountId: m.senderAccountId, kind: 'read', messageId: m.messageId }, now);
        }
      }
      // The account's other devices clear the same unread (docs/protocol.md §16.1).
      this.#ctx.messaging()?.sync.readHere(db.writer, rows);
      return rows;
    });
    const attachments = attachmentsOf(db.reader, changed.filter((m) => m.kind === 'attachment').map((m) => m.id));
    const request = isRequestConversation(db.reader, conversationId);
    for (const m of changed) this.#ctx.emit('message:updated', { message: withAttachment(messageView(m, account.accountId), attachments.get(m.id), request) });
    // A timed message shown now: its timer started (markReadUpTo); the expiry timer follows.
    if (changed.some((m) => m.expiresAt !== null)) this.#ctx.messaging()?.expiry.reschedule();
    if (changed.length > 0) {
      this.#ctx.messaging()?.receiptsQueued();
      const row = conversationListRow(db.reader, conversationId, MAX_PREVIEW_LENGTH);
      if (row) this.#ctx.emit('conversation:updated', { conversation: conversationView(row, this.#presenceOf(conversation.peerAccountId), now) });
    }
    return { unreadCount: unreadCount(db.reader, conversationId) };
  }
}
