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
 * Owns: read state (0x09), contacts (0x0A: added, accepted, verified, blocked) and the account
 * sync (0x0B: synced settings, conversations deleted, conversation timers, messages deleted for me
 * or for everyone — issue 17), with their last-writer-wins clock
 * (db/sync-clock.ts): a contact's verified and blocked flags and each synced setting keep the
 * (time, device) of the change that set them, so devices agree whatever order changes arrive in.
 * Does not own the copies of sent messages (inbound.ts, which already holds the conversation and
 * standing caches they use) or sending (outbox.ts).
 */
import type { Settings } from '../../../shared/api/view-models.js';
import { bytesEqual, toHex } from '../../../shared/crypto/bytes.js';
import { verifyDeviceList } from '../../../shared/protocol/device-list.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import { attachmentsOf, attachmentsOfConversation } from '../db/attachments.js';
import { acceptAccountKeyChange, acceptContact, deleteContact, dropQueuedFor, getContact, insertContact, setContactBlocked, setContactVerified } from '../db/contacts.js';
import { findDirectConversation, findNoteToSelf, getOrCreateDirectConversation, getOrCreateNoteToSelf, deleteConversation, type ConversationRecord } from '../db/conversations.js';
import type { WriteDb } from '../db/database.js';
import { applyTimerChange } from '../db/disappearing.js';
import { deleteMessage, deleteMessagesUpTo, findMessageBySenderId, getMessage, insertMessage, markReadUpTo, type MessageRecord } from '../db/messages.js';
import { DELETE_FOR_EVERYONE_WINDOW_MS } from '../disappearing/timers.js';
import { writeSettings } from '../db/settings.js';
import { advanceSyncClock, dropContactClock, NO_KEY, stampLocalChange } from '../db/sync-clock.js';
import { isRequestConversation, withAttachment } from '../files/attachments.js';
import { messageView } from '../views.js';
import { encodeContent, MAX_READ_SYNC_ENTRIES, MESSAGE_ID_LENGTH, type Content, type ReadSyncEntry, type SyncedSettings } from './content.js';
import type { MessagingCore } from './fan-out.js';
import { insertTombstone } from './tombstone.js';

/** Sync content decrypted from a session that is not one of this account's listed devices. */
export class SyncRefused extends Error {
  override readonly name = 'SyncRefused';
  readonly code = 'NOT_OWN_DEVICE';
  constructor() {
    super('sync content from a device that is not on this account\'s list');
  }
}

/**
 * Sync content from an own device that cannot be applied as it stands: a contact record whose
 * device list does not verify under the account key it carries (or names this account itself).
 * Nothing changes.
 */
export class SyncInvalid extends Error {
  override readonly name = 'SyncInvalid';
  constructor(
    readonly code: 'UNTRUSTED_CONTACT',
    message: string,
  ) {
    super(message);
  }
}

/** What applying sync content asks of the batch that decrypted it (inbound.ts's effects). */
export type SyncEffects = {
  readonly events: (() => void)[];
  readonly conversations: Set<number>;
  /** The relay's contact list (and presence) should follow: a contact was added, accepted or (un)blocked. */
  contactsChanged: boolean;
  /** Synced settings that changed here (after the batch: presence, typing, the renderer). */
  settings: Partial<Settings> | null;
  /** Message rows deleted here whose attachment files go after the batch (transfers stopped first). */
  readonly filesGone: number[];
};

/** The sync kinds of §16.1 that this module applies. */
export type SyncContent = Extract<Content, { type: 'read-sync' | 'contact-sync' | 'settings-sync' | 'conversation-deleted' | 'timer-sync' | 'messages-deleted' }>;

/** A contact change made here, for the other own devices (only the fields named change there). */
export type ContactChange = { readonly accepted?: true; readonly verified?: boolean; readonly blocked?: boolean };

const SYNCED_SETTINGS = ['readReceipts', 'typingIndicators', 'presenceVisible', 'notifications'] as const;

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
  apply(db: WriteDb, from: { readonly own: boolean; readonly deviceId: number }, content: SyncContent, effects: SyncEffects): void {
    if (!from.own) throw new SyncRefused();
    switch (content.type) {
      case 'read-sync':
        this.#read(db, content.entries, effects);
        return;
      case 'contact-sync':
        this.#contact(db, from.deviceId, content, effects);
        return;
      case 'settings-sync':
        this.#settings(db, from.deviceId, content.sentAt, content.settings, effects);
        return;
      case 'conversation-deleted':
        this.#conversationDeleted(db, content, effects);
        return;
      case 'timer-sync':
        this.#timer(db, from.deviceId, content, effects);
        return;
      case 'messages-deleted':
        this.#messagesDeleted(db, content, effects);
        return;
    }
  }

  // ── Changes made here ──────────────────────────────────────────────────────

  /**
   * A contact was added or accepted, verified or blocked here (in the caller's transaction, after
   * the change): its clock moves to now for the flags named, and the other own devices are told,
   * with the contact's account key, signed list and username (a device that does not know the
   * contact adds it from them).
   */
  contactChanged(db: WriteDb, accountId: Uint8Array, change: ContactChange): boolean {
    const { core } = this;
    const contact = getContact(db, accountId);
    if (!contact) return false;
    const fields = (['verified', 'blocked'] as const).filter((f) => change[f] !== undefined);
    const at = stampLocalChange(db, 'contact', accountId, fields, core.clock(), core.account.deviceId);
    return this.queue(db, {
      type: 'contact-sync',
      messageId: core.rng(MESSAGE_ID_LENGTH),
      sentAt: at,
      accountId,
      ...(contact.accepted && { accepted: true as const }),
      ...(change.verified !== undefined && { verified: change.verified }),
      ...(change.blocked !== undefined && { blocked: change.blocked }),
      accountKey: contact.accountKey,
      deviceList: contact.deviceList.signed,
      username: contact.username,
    });
  }

  /** Settings changed here: the synced ones (read receipts, typing, presence, notification content) follow. */
  settingsChanged(db: WriteDb, patch: Partial<Settings>): boolean {
    const { core } = this;
    const settings: SyncedSettings = {};
    for (const name of SYNCED_SETTINGS) {
      if (patch[name] !== undefined) (settings as Record<string, unknown>)[name] = patch[name];
    }
    const names = Object.keys(settings);
    if (names.length === 0) return false;
    const at = stampLocalChange(db, 'setting', NO_KEY, names, core.clock(), core.account.deviceId);
    return this.queue(db, { type: 'settings-sync', messageId: core.rng(MESSAGE_ID_LENGTH), sentAt: at, settings });
  }

  /**
   * A conversation was deleted here (`request`: a message request, deleted with the person): the
   * other devices delete what they show of it up to now.
   */
  conversationDeleted(db: WriteDb, conversation: ConversationRecord, request: boolean): boolean {
    const { core } = this;
    const peer = conversation.kind === 'note-to-self' ? core.account.accountId : conversation.peerAccountId;
    const now = core.clock();
    return this.queue(db, { type: 'conversation-deleted', messageId: core.rng(MESSAGE_ID_LENGTH), sentAt: now, peer, deletedAt: now, request });
  }

  /**
   * The timer of the conversation with `peer` (the own account: the note to self) changed here
   * (in the caller's transaction, with the same message id and time as its system line and the
   * 0x0E the peer got): the other devices show the same line and send with the new timer.
   */
  timerChanged(db: WriteDb, peer: Uint8Array, seconds: number, messageId: Uint8Array, changedAt: number): boolean {
    return this.queue(db, { type: 'timer-sync', messageId, sentAt: changedAt, peer, seconds });
  }

  /**
   * Messages deleted here, for me (their rows go on the other devices too) or for everyone (one own
   * text or file: a tombstone there as here). A row that cannot be named (a local notice: no id or
   * device) stays here only. Returns whether anything was queued.
   */
  messagesDeleted(db: WriteDb, rows: readonly MessageRecord[], forEveryone: boolean): boolean {
    const entries: ReadSyncEntry[] = [];
    for (const m of rows) {
      if (m.messageId?.length !== MESSAGE_ID_LENGTH || m.senderDeviceId === null) continue;
      entries.push({ senderAccountId: m.senderAccountId, senderDeviceId: m.senderDeviceId, messageId: m.messageId });
    }
    if (entries.length === 0) return false;
    const { core } = this;
    return this.queue(db, { type: 'messages-deleted', messageId: core.rng(MESSAGE_ID_LENGTH), sentAt: core.clock(), forEveryone, entries: entries.slice(0, MAX_READ_SYNC_ENTRIES) });
  }

  // ── Changes from another own device ────────────────────────────────────────

  /**
   * A conversation timer changed on another own device: applied when newer than this device's
   * (the latest change wins, a replayed or late older one changes nothing, §23.2), with the same
   * system line there and here. A peer who is not a contact here changes nothing.
   */
  #timer(db: WriteDb, deviceId: number, c: Extract<SyncContent, { type: 'timer-sync' }>, effects: SyncEffects): void {
    const { core } = this;
    const now = core.clock();
    let conversation: ConversationRecord | undefined;
    if (core.isSelf(c.peer)) {
      conversation = getOrCreateNoteToSelf(db, now);
    } else {
      const contact = getContact(db, c.peer);
      if (!contact) return;
      conversation = contact.accepted ? getOrCreateDirectConversation(db, c.peer, now) : findDirectConversation(db, c.peer);
    }
    if (!conversation || !applyTimerChange(db, conversation.id, c.seconds, c.sentAt)) return;
    const rowId = insertMessage(db, {
      conversationId: conversation.id,
      kind: 'timer-changed',
      direction: 'outgoing',
      senderAccountId: core.account.accountId,
      senderDeviceId: deviceId,
      messageId: c.messageId,
      sentAt: c.sentAt,
      receivedAt: now,
      body: null,
      status: null,
      readAt: now,
      expireTimerSeconds: c.seconds,
    });
    const view = messageView(getMessage(db, rowId)!, core.account.accountId);
    effects.events.push(() => core.emit('message:added', { message: view }));
    effects.conversations.add(conversation.id);
  }

  /**
   * Messages deleted on another own device. For me: each named row this device holds goes, with
   * everything keyed on it (deleteMessage) and, after the batch, its files. For everyone: the one
   * message named must be this account's own text or file, within the 24-hour window of its own
   * time as the request's time says (as a recipient checks, §23.3) — then it goes and "This message
   * was deleted" stays, as on the device that deleted it; anything else changes nothing.
   */
  #messagesDeleted(db: WriteDb, c: Extract<SyncContent, { type: 'messages-deleted' }>, effects: SyncEffects): void {
    const { core } = this;
    for (const e of c.entries) {
      const m = findMessageBySenderId(db, e.senderAccountId, e.senderDeviceId, e.messageId);
      if (!m) continue;
      let tombstone: number | null = null;
      if (c.forEveryone) {
        const age = c.sentAt - m.sentAt;
        const own = m.direction === 'outgoing' && core.isSelf(m.senderAccountId);
        if (!own || (m.kind !== 'text' && m.kind !== 'attachment') || age < 0 || age > DELETE_FOR_EVERYONE_WINDOW_MS) continue;
      }
      if (!deleteMessage(db, m.id)) continue;
      if (c.forEveryone) tombstone = insertTombstone(db, m);
      if (m.kind === 'attachment') effects.filesGone.push(m.id);
      const view = tombstone === null ? null : messageView(getMessage(db, tombstone)!, core.account.accountId);
      effects.events.push(() => {
        core.emit('message:removed', { conversationId: String(m.conversationId), messageId: String(m.id) });
        if (view) core.emit('message:added', { message: view });
      });
      effects.conversations.add(m.conversationId);
    }
  }

  /**
   * A contact as another own device holds it. Unknown here: added from the record, after its
   * device list verified under the account key it carries (SyncInvalid otherwise) — as a contact
   * with a conversation when accepted there, else as a message request. Accepted there: accepted
   * here (never the reverse). Verified: applied only when both devices hold the same account key
   * (a verification is of a key, and this device may have seen a key change the other has not),
   * and only if newer than the flag's clock; blocked likewise by its clock. Nothing is sent.
   */
  #contact(db: WriteDb, deviceId: number, c: Extract<SyncContent, { type: 'contact-sync' }>, effects: SyncEffects): void {
    const { core } = this;
    const now = core.clock();
    if (core.isSelf(c.accountId)) throw new SyncInvalid('UNTRUSTED_CONTACT', 'a contact record names this account');
    let contact = getContact(db, c.accountId);
    if (!contact) {
      let list;
      try {
        list = verifyDeviceList(c.deviceList, c.accountKey, c.accountId);
      } catch (e) {
        if (isProtocolError(e)) throw new SyncInvalid('UNTRUSTED_CONTACT', `the contact's device list does not verify (${e.code})`);
        throw e;
      }
      insertContact(db, {
        accountId: c.accountId,
        username: c.username,
        accountKey: c.accountKey,
        deviceList: { signed: c.deviceList, version: list.version, issuedAt: list.issuedAt },
        now,
        accepted: c.accepted === true,
      });
      contact = getContact(db, c.accountId)!;
      effects.contactsChanged = true;
      if (contact.accepted) effects.conversations.add(getOrCreateDirectConversation(db, c.accountId, now).id);
    } else if (c.accepted && !contact.accepted) {
      acceptContact(db, c.accountId, now);
      effects.contactsChanged = true;
      const conversation = findDirectConversation(db, c.accountId);
      if (conversation) effects.conversations.add(conversation.id);
    }
    const sameKey = bytesEqual(contact.accountKey, c.accountKey);
    if (c.verified !== undefined && sameKey && advanceSyncClock(db, 'contact', c.accountId, 'verified', c.sentAt, deviceId)) {
      setContactVerified(db, c.accountId, c.verified, now);
      if (c.verified) acceptAccountKeyChange(db, c.accountId, now);
      const conversation = findDirectConversation(db, c.accountId);
      if (conversation) effects.conversations.add(conversation.id);
    }
    if (c.blocked !== undefined && advanceSyncClock(db, 'contact', c.accountId, 'blocked', c.sentAt, deviceId) && setContactBlocked(db, c.accountId, c.blocked, now)) {
      effects.contactsChanged = true;
      const conversation = findDirectConversation(db, c.accountId);
      if (c.blocked) dropQueuedFor(db, c.accountId);
      if (conversation && c.blocked) {
        effects.conversations.delete(conversation.id);
        const id = String(conversation.id);
        effects.events.push(() => core.emit('conversation:removed', { conversationId: id }));
      } else if (conversation) {
        effects.conversations.add(conversation.id);
      }
    }
  }

  /** Synced settings from another own device, each applied if newer than its clock. */
  #settings(db: WriteDb, deviceId: number, at: number, settings: SyncedSettings, effects: SyncEffects): void {
    const patch: Record<string, unknown> = {};
    for (const name of SYNCED_SETTINGS) {
      if (settings[name] === undefined) continue;
      if (advanceSyncClock(db, 'setting', NO_KEY, name, at, deviceId)) patch[name] = settings[name];
    }
    if (Object.keys(patch).length === 0) return;
    writeSettings(db, patch as Partial<Settings>);
    effects.settings = { ...effects.settings, ...(patch as Partial<Settings>) };
  }

  /**
   * A conversation deleted on another own device: what it showed up to then goes here too (its
   * messages, their search entries and, after the batch, their files); the conversation leaves
   * the list unless something newer arrived here meanwhile. A message request deleted there
   * (the person with it) goes whole, if it is still a request here. The person otherwise stays a
   * contact, as with conversations:delete.
   */
  #conversationDeleted(db: WriteDb, c: Extract<SyncContent, { type: 'conversation-deleted' }>, effects: SyncEffects): void {
    const { core } = this;
    const self = core.isSelf(c.peer);
    const conversation = self ? findNoteToSelf(db) : findDirectConversation(db, c.peer);
    if (c.request && !self) {
      const contact = getContact(db, c.peer);
      if (contact && !contact.accepted) {
        if (conversation) effects.filesGone.push(...attachmentsOfConversation(db, conversation.id).map((a) => a.messageRowId));
        deleteContact(db, c.peer);
        dropContactClock(db, c.peer);
        effects.contactsChanged = true;
        if (conversation) this.#removed(conversation.id, effects);
        return;
      }
    }
    if (!conversation) return;
    const { deleted, remaining } = deleteMessagesUpTo(db, conversation.id, c.deletedAt);
    effects.filesGone.push(...deleted.filter((m) => m.kind === 'attachment').map((m) => m.id));
    if (remaining === 0) {
      deleteConversation(db, conversation.id);
      this.#removed(conversation.id, effects);
      return;
    }
    const conversationId = String(conversation.id);
    effects.events.push(() => {
      for (const m of deleted) core.emit('message:removed', { conversationId, messageId: String(m.id) });
    });
    if (deleted.length > 0) effects.conversations.add(conversation.id);
  }

  #removed(conversationId: number, effects: SyncEffects): void {
    effects.conversations.delete(conversationId);
    const id = String(conversationId);
    effects.events.push(() => this.core.emit('conversation:removed', { conversationId: id }));
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
