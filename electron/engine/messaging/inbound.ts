/**
 * Inbound processing (DESIGN §4, issue 4): envelopes from the relay (backlog, then live) are
 * processed in order, in batches — one writer transaction per batch, each batch at most
 * INBOUND_BATCH_BUDGET_MS of work, less when the last commit took long (INBOUND_BATCH_TARGET_MS) —
 * and acknowledged only after their batch committed. A crash
 * anywhere loses nothing (unacknowledged envelopes come again on the next connection) and shows
 * nothing twice:
 *
 *  - an envelope already processed is recognised by its hash before any decryption (relay
 *    redelivery), and every content by (sender account, sender device, message id) after it;
 *  - the sender must be a device on its account's verified list; unknown senders and devices are
 *    looked up (and verified, contacts.ts) before the batch starts, since a batch never awaits;
 *    an envelope from a device that is still not listed is dropped;
 *  - each envelope is a savepoint: a failed decrypt leaves the stores as they were, is
 *    acknowledged, shown as a "could not be decrypted" notice (`message:decryptFailed`) and
 *    answered with the signed decryption-error control message — both at most once per peer device
 *    per DECRYPTION_ERROR_INTERVAL_MS — and later messages still decrypt; DuplicatedMessage is
 *    never a failure;
 *  - a decryption error from a peer device (signature checked against its listed key) archives the
 *    broken session and records a resend request (outbox.ts) in the same batch.
 *
 * Events go out after the batch committed. Does not own sending (outbox.ts) or typing timers.
 */
import { Attachments, withAttachment } from '../files/attachments.js';
import { performance } from 'node:perf_hooks';
import { bytesEqual, toHex, u32be } from '../../../shared/crypto/bytes.js';
import { sha256 } from '../../../shared/crypto/sha256.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import { messageTypeOf, MessageType } from '../../../shared/protocol/messages.js';
import { createDecryptionError } from '../../../shared/protocol/decryption-error.js';
import type { PeerDevice } from '../../../shared/protocol/session.js';
import type { Settings } from '../../../shared/api/view-models.js';
import type { Envelope } from '../../../shared/wire/frames.js';
import { acceptContact, getContact } from '../db/contacts.js';
import { findDirectConversation, getOrCreateDirectConversation, getOrCreateNoteToSelf } from '../db/conversations.js';
import type { WriteDb } from '../db/database.js';
import { recordEnvelope, recordReceived } from '../db/inbound.js';
import { recordDeviceReceipt, recordDeviceSent } from '../db/device-statuses.js';
import { deleteMessage, findIncomingByMessageId, getMessage, insertedRecord, insertMessage, markSent, upgradeStatusOf } from '../db/messages.js';
import { applyTimerChange } from '../db/disappearing.js';
import { checkDeleteRequest, expiryTime, honouredTimer } from '../disappearing/timers.js';
import { insertTombstone } from './tombstone.js';
import { dropSessionEnvelopes } from '../db/outbox.js';
import { queueReceipt } from '../db/receipts.js';
import { receiveContactProfileKey, receiveOwnProfileKey } from '../db/profiles.js';
import { requestResend } from '../db/resends.js';
import { crashPoint } from '../crash-points.js';
import { messageView } from '../views.js';
import { ContentError, decodeContent, unsupportedContentOf, type Content } from './content.js';
import type { HistoryTransferMessage } from '../linking/history-content.js';
import { Contacts } from './contacts.js';
import { applyDeviceNames } from './own-devices.js';
import { MessagingStopped, type MessagingCore } from './fan-out.js';
import { insertNotice } from './notices.js';
import {
  DECRYPTION_ERROR_INTERVAL_MS,
  INBOUND_BATCH_BUDGET_MS,
  INBOUND_BATCH_MIN_BUDGET_MS,
  INBOUND_BATCH_TARGET_MS,
  INBOUND_QUEUE_HIGH_WATER,
  INBOUND_QUEUE_LOW_WATER,
  INBOUND_RESOLVE_AHEAD,
} from './limits.js';
import { SyncInvalid, SyncRefused, type OwnDeviceSync, type SyncEffects } from './sync.js';
import type { Typing } from './typing.js';
import { SealedSender } from './sealed.js';
import type { OpenedSealedEnvelope } from '../../../shared/protocol/sealed-sender.js';
import { Groups } from '../groups/groups.js';

export type InboundItem = {
  readonly envelope: Envelope;
  readonly live: boolean;
  /** An online-only sealed envelope (typing): never stored by the relay, so never acknowledged. */
  readonly ephemeral?: boolean;
};

/**
 * An item as the batch sees it. A sealed envelope was opened on arrival (§21.6 steps 1–6): `envelope`
 * then names the certified sender and carries the inner message, `sealed` holds what the acceptance
 * rule still needs, and `hash` is the hash of the sealed bytes as they arrived (redelivery). A sealed
 * envelope that did not open is `refused`: acknowledged and dropped, unanswered.
 */
type QueuedItem = InboundItem & {
  readonly hash: Uint8Array;
  readonly sealed?: OpenedSealedEnvelope;
  readonly refused?: boolean;
};

/** What a committed batch asks the rest of the layer to do. */
type Effects = SyncEffects & {
  events: (() => void)[];
  /** Conversations whose list data changed: one `conversation:updated` each, after the batch's events. */
  conversations: Set<number>;
  sendSoon: boolean;
  receiptsQueued: boolean;
  newSession: boolean;
  /** A contact shared a (new) profile key or revision: a fetch is due. */
  profilesDue: boolean;
  /** A timed message arrived: the expiry timer follows. */
  timersChanged: boolean;
  /** Rows deleted for everyone that had files: their transfers stop and their files go. */
  discardFiles: number[];
};

export type InboundHooks = {
  /** The outbox has work (a decryption error, a resend request). */
  readonly kick: () => void;
  /** Delivery receipts were queued (sent after a short delay, so one covers a whole burst). */
  readonly receiptsQueued: () => void;
  /** A prekey message consumed one-time keys: the relay's stock may need a refill. */
  readonly prekeysConsumed: () => void;
  /** Contact profiles are due for a fetch (profiles.ts). */
  readonly profilesDue: () => void;
  /**
   * Another device of this account accepted a message request (it replied, or synced the
   * acceptance): the relay's contact list follows and held-back images show (nothing is sent:
   * the accepting device sent the receipts and the profile key).
   */
  readonly accepted: (accountId: Uint8Array, conversationId: number) => void;
  /** Sync from an own device added, accepted or (un)blocked a contact: the relay's contact list follows. */
  readonly contactsChanged: () => void;
  /** Sync from an own device changed synced settings here (already stored). */
  readonly settingsSynced: (patch: Partial<Settings>) => void;
  /** Sync from an own device deleted these message rows here: their attachment files go. */
  readonly filesGone: (rowIds: readonly number[]) => void;
  /** A history-transfer message from another device of this account (linking/history.ts), after commit. */
  readonly history?: (fromDeviceId: number, transfer: HistoryTransferMessage) => void;
  /** Timed messages were added (disappearing/expiry.ts reschedules). */
  readonly timersChanged: () => void;
  /** Rows deleted for everyone had files: stop their transfers and delete the files (Attachments.discard). */
  readonly discardFiles: (rowIds: readonly number[]) => void;
};

/** An incoming message with `timer` (null: untimed): not started; the maximum lifetime applies until it is shown. */
function incomingTimedFields(timer: number | null, now: number): { expireTimerSeconds: number; expireStartedAt: null; expiresAt: number } | { expiresAt?: undefined } {
  return timer === null ? {} : { expireTimerSeconds: timer, expireStartedAt: null, expiresAt: expiryTime({ timerSeconds: timer, receivedAt: now, startedAt: null }) };
}

/** An own device's sent message with `timer`: started at its send. */
function sentTimedFields(timer: number | null, sentAt: number, now: number): { expireTimerSeconds: number; expireStartedAt: number; expiresAt: number } | { expiresAt?: undefined } {
  return timer === null ? {} : { expireTimerSeconds: timer, expireStartedAt: sentAt, expiresAt: expiryTime({ timerSeconds: timer, receivedAt: now, startedAt: Math.min(sentAt, now) }) };
}

/** Everything that makes an envelope the same envelope: its sender and its bytes. */
function envelopeHash(e: Envelope): Uint8Array {
  const source = e.source;
  return source ? sha256(source.accountId, u32be(source.deviceId), e.content) : sha256(e.content);
}

export class InboundProcessor {
  #queue: QueuedItem[] = [];
  #running = false;
  /** Last decryption error (and notice) per peer device: account hex ‖ device id → time. */
  readonly #lastFailure = new Map<string, number>();
  #retry: NodeJS.Timeout | undefined;
  /**
   * Lookups of the running batch (a batch never awaits, so nothing else changes them meanwhile):
   * the listed device behind each source, and the conversation id of each peer that already had one.
   */
  #batchPeers = new Map<string, PeerDevice | null>();
  #batchConversations = new Map<string, number>();
  /** Per sender account of the batch: accepted (not a message request) and blocked. */
  #batchStanding = new Map<string, { readonly accepted: boolean; readonly blocked: boolean }>();
  /** The last batch's commit (ms): the next batch leaves room for one as long (INBOUND_BATCH_TARGET_MS). */
  #lastCommitMs = 0;
  /** The live channel is paused because the queue reached INBOUND_QUEUE_HIGH_WATER. */
  #paused = false;
  /** Groups (issue 16): group messages, membership updates, distributions and requests go there. */
  groups: Groups | null = null;

  constructor(
    private readonly core: MessagingCore,
    private readonly contacts: Contacts,
    private readonly typing: Typing,
    private readonly sync: OwnDeviceSync,
    private readonly sealed: SealedSender,
    private readonly hooks: InboundHooks,
  ) {}

  enqueue(item: InboundItem): void {
    this.#queue.push({ ...item, hash: envelopeHash(item.envelope) });
    if (!this.#paused && this.#queue.length >= INBOUND_QUEUE_HIGH_WATER) {
      this.#paused = true;
      this.core.relay.pauseDelivery();
    }
    this.#schedule();
  }

  /**
   * Sealed envelopes (no source) ahead in the queue are opened — pure computation, nothing stored —
   * so the batch can look their certified senders up like any other; one that does not open is
   * refused. The relay's certificate key must be pinned first: a fresh device's first backlog can
   * hold sealed envelopes before its connection work pinned it, so it is pinned here then (false:
   * the relay did not answer; tried again shortly, nothing dropped).
   */
  async #unsealAhead(): Promise<boolean> {
    const ahead = this.#queue.slice(0, INBOUND_RESOLVE_AHEAD);
    if (!ahead.some((i) => i.envelope.source === null && !i.refused && !i.sealed)) return true;
    if (this.sealed.trust().size === 0) {
      try {
        await this.sealed.pin();
      } catch (e) {
        if (e instanceof MessagingStopped) throw e;
        clearTimeout(this.#retry);
        this.#retry = setTimeout(() => this.#schedule(), 1_000);
        this.#retry.unref?.();
        return false;
      }
      this.core.check();
    }
    // The queue may have been dropped meanwhile (a disconnect): open what is still there.
    const n = Math.min(this.#queue.length, INBOUND_RESOLVE_AHEAD);
    for (let i = 0; i < n; i++) {
      const item = this.#queue[i]!;
      if (item.envelope.source !== null || item.refused || item.sealed) continue;
      try {
        const opened = this.sealed.open(item.envelope.content, item.envelope.serverTimestamp);
        const source = { accountId: opened.certificate.accountId, deviceId: opened.certificate.deviceId };
        this.#queue[i] = { ...item, sealed: opened, envelope: { ...item.envelope, source, content: opened.message } };
      } catch (e) {
        if (!isProtocolError(e)) throw e;
        this.#queue[i] = { ...item, refused: true };
      }
    }
    return true;
  }

  /** Reads from the live channel again once the queue has drained to the low mark (or was dropped). */
  #resumeIfDrained(): void {
    if (this.#paused && this.#queue.length <= INBOUND_QUEUE_LOW_WATER) {
      this.#paused = false;
      this.core.relay.resumeDelivery();
    }
  }

  /**
   * The connection closed: what is still queued was not acknowledged, so the relay sends it again
   * on the next connection. Dropping it here keeps the order of the mailbox.
   */
  disconnected(): void {
    this.#queue = [];
    this.#paused = false; // the next connection starts unpaused
  }

  stop(): void {
    this.#queue = [];
    this.#paused = false;
    clearTimeout(this.#retry);
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** Resolves once everything queued so far was processed (transcript replay, tests). */
  async idle(): Promise<void> {
    while (this.#queue.length > 0 || this.#running) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  #schedule(): void {
    if (this.#running || this.core.stopped) return;
    this.#running = true;
    setImmediate(() => void this.#run());
  }

  async #run(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.core.stopped) {
        if (!(await this.#unsealAhead())) return;
        if (!(await this.#resolveSenders())) return;
        this.#batch();
        this.#resumeIfDrained();
        // Yield between batches: the event loop stays responsive during a long backlog.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch {
      // A storage failure (or a bug): stop here. Nothing of the failed batch was acknowledged, so
      // the relay delivers it again on the next connection; never an unhandled rejection.
      this.#queue = [];
      this.#resumeIfDrained();
    } finally {
      this.#running = false;
    }
  }

  /**
   * Makes sure the senders of the next envelopes are known: an unknown account becomes a contact
   * (a message request), an unlisted device triggers a fresh, verified copy of its account's list.
   * Returns false when the relay could not answer (tried again shortly).
   */
  async #resolveSenders(): Promise<boolean> {
    const { core } = this;
    const done = new Set<string>();
    // A backlog is mostly one or two senders: each sending device is looked up once per round.
    const listed = new Set<string>();
    for (const item of this.#queue.slice(0, INBOUND_RESOLVE_AHEAD)) {
      const source = item.envelope.source;
      if (!source) continue;
      const key = toHex(source.accountId);
      if (done.has(key)) continue;
      const device = `${key}:${source.deviceId}`;
      if (listed.has(device)) continue;
      if (core.peerDevice(core.db.writer, source.accountId, source.deviceId)) {
        listed.add(device);
        continue;
      }
      if (core.isSelf(source.accountId) && source.deviceId === core.account.deviceId) continue;
      done.add(key);
      try {
        if (core.isSelf(source.accountId)) await this.contacts.syncOwnList();
        else await this.contacts.refresh(source.accountId, { create: true });
      } catch (e) {
        if (e instanceof MessagingStopped) throw e;
        if (Contacts.isTransient(e)) {
          clearTimeout(this.#retry);
          this.#retry = setTimeout(() => this.#schedule(), 1_000);
          this.#retry.unref?.();
          return false;
        }
        // Not found, or an untrusted list (event sent): its envelopes are dropped in the batch.
      }
      core.check();
    }
    return true;
  }

  #batch(): void {
    const { core } = this;
    const started = performance.now();
    const seqs: number[] = [];
    const effects: Effects = {
      events: [],
      conversations: new Set(),
      sendSoon: false,
      receiptsQueued: false,
      newSession: false,
      profilesDue: false,
      contactsChanged: false,
      settings: null,
      filesGone: [],
      timersChanged: false,
      discardFiles: [],
    };
    const db = core.db.writer;
    // One transaction; session records read once and written once per batch (sessions.ts).
    this.#batchPeers.clear();
    this.#batchConversations.clear();
    this.#batchStanding.clear();
    const budget = Math.max(INBOUND_BATCH_MIN_BUDGET_MS, Math.min(INBOUND_BATCH_BUDGET_MS, INBOUND_BATCH_TARGET_MS - this.#lastCommitMs));
    let worked = started;
    core.sessions.batch(() => {
      let processed = 0;
      while (this.#queue.length > 0) {
        if (processed > 0 && performance.now() - started >= budget) break;
        const item = this.#queue[0]!;
        // A sealed envelope not opened yet (beyond the look-ahead): the next round opens it first.
        if (item.envelope.source === null && !item.refused && !item.sealed) break;
        this.#processOne(db, item, effects);
        this.#queue.shift();
        if (!item.ephemeral) seqs.push(item.envelope.seq);
        processed++;
        if (processed === 1) crashPoint('mid-batch');
      }
      worked = performance.now();
    });
    this.#lastCommitMs = performance.now() - worked;
    crashPoint('after-inbound-commit-before-ack');
    // Acknowledged only now; a lost ack means a redelivery, which the hashes recognise.
    if (seqs.length > 0 && core.relay.state === 'open') void core.relay.ack(seqs).catch(() => undefined);
    for (const e of effects.events) e();
    for (const id of effects.conversations) core.emitConversation(id);
    if (effects.sendSoon) this.hooks.kick();
    if (effects.receiptsQueued) this.hooks.receiptsQueued();
    if (effects.newSession) this.hooks.prekeysConsumed();
    if (effects.profilesDue) this.hooks.profilesDue();
    if (effects.contactsChanged) this.hooks.contactsChanged();
    if (effects.settings) this.hooks.settingsSynced(effects.settings);
    if (effects.filesGone.length > 0) this.hooks.filesGone(effects.filesGone);
    if (effects.discardFiles.length > 0) this.hooks.discardFiles(effects.discardFiles);
    if (effects.timersChanged) this.hooks.timersChanged();
  }

  /**
   * getOrCreateDirectConversation, remembered for the batch only when the conversation existed
   * before this step (a row created inside a step's savepoint could still be rolled back).
   */
  #directConversationId(db: WriteDb, peerAccountId: Uint8Array, now: number): number {
    const key = toHex(peerAccountId);
    const cached = this.#batchConversations.get(key);
    if (cached !== undefined) return cached;
    const existing = findDirectConversation(db, peerAccountId);
    if (existing) {
      this.#batchConversations.set(key, existing.id);
      return existing.id;
    }
    return getOrCreateDirectConversation(db, peerAccountId, now).id;
  }

  /** Whether the user accepted the sender (own devices: yes) and whether it is blocked. */
  #standing(db: WriteDb, accountId: Uint8Array): { readonly accepted: boolean; readonly blocked: boolean } {
    if (this.core.isSelf(accountId)) return { accepted: true, blocked: false };
    const key = toHex(accountId);
    let standing = this.#batchStanding.get(key);
    if (standing === undefined) {
      const contact = getContact(db, accountId);
      standing = { accepted: contact?.accepted ?? false, blocked: contact?.blocked ?? false };
      this.#batchStanding.set(key, standing);
    }
    return standing;
  }

  #processOne(db: WriteDb, item: QueuedItem, effects: Effects): void {
    const { core } = this;
    const { envelope } = item;
    const now = core.clock();
    if (!recordEnvelope(db, item.hash, now)) return;
    const source = envelope.source;
    if (!source || item.refused) return; // a sealed envelope that did not open: dropped, unanswered
    const peerKey = `${toHex(source.accountId)}:${source.deviceId}`;
    let peer = this.#batchPeers.get(peerKey);
    if (peer === undefined) {
      peer = core.peerDevice(db, source.accountId, source.deviceId);
      this.#batchPeers.set(peerKey, peer);
    }
    if (!peer) return; // not on the account's verified list: rejected (sealed: §21.6 step 7, UNKNOWN_DEVICE)
    const sealed = item.sealed;
    // §21.6 step 7: the listed device's key is the certificate's (and the envelope's static key).
    if (sealed && !bytesEqual(peer.entry.identityDhKey, sealed.certificate.identityKey)) return;
    // A blocked person's envelopes are dropped unread (acknowledged with the batch): nothing is
    // decrypted, stored, shown or answered.
    if (this.#standing(db, source.accountId).blocked) return;
    if (Groups.isGroupMessage(envelope.content)) {
      // A group message (§24): opened with the sender device's sender key, not a session; its
      // sender is the certificate's (sealed) or the relay's (authenticated) device, listed above.
      const groups = this.groups;
      if (groups) db.transaction(() => groups.receiveMessage(db, peer, envelope.content, envelope.serverTimestamp, effects));
      return;
    }
    let type: number;
    try {
      type = messageTypeOf(envelope.content);
    } catch {
      this.#undecryptable(db, peer, envelope, effects);
      return;
    }
    if (type === MessageType.DecryptionError) {
      this.#decryptionErrorFrom(peer, envelope.content, effects);
      return;
    }
    try {
      core.sessions.decrypt(peer, envelope.content, (tx, result) => {
        // §21.6 step 8, before anything commits: the session that decrypted it has the certificate's key.
        if (sealed) SealedSender.accept(sealed, peer, result.record.current!.remoteIdentityKey);
        if (result.newSession) effects.newSession = true;
        let content: Content;
        try {
          content = decodeContent(result.plaintext);
        } catch (e) {
          if (!(e instanceof ContentError)) throw e;
          // A newer client's content: the person is told (once per message id); a peer's bug
          // (MALFORMED) shows nothing.
          if (e.code === 'UNSUPPORTED') this.#unsupported(tx, peer, unsupportedContentOf(result.plaintext), effects);
          return;
        } finally {
          result.plaintext.fill(0);
        }
        if (!recordReceived(tx, { senderAccountId: peer.accountId, senderDeviceId: peer.entry.deviceId, messageId: content.messageId }, now)) return;
        this.#apply(tx, peer, content, item, effects);
      });
    } catch (e) {
      if (isProtocolError(e, 'DUPLICATED_MESSAGE')) return;
      // A sealed message whose sender does not check out: dropped, never answered.
      if (sealed && isProtocolError(e) && (e.code === 'SEALED_SENDER_MISMATCH' || e.code === 'UNKNOWN_DEVICE')) return;
      if (isProtocolError(e)) {
        this.#undecryptable(db, peer, envelope, effects);
        return;
      }
      throw e;
    }
  }

  #apply(db: WriteDb, peer: PeerDevice, content: Content, item: InboundItem, effects: Effects): void {
    const { core } = this;
    const now = core.clock();
    const own = core.isSelf(peer.accountId);
    switch (content.type) {
      case 'text':
      case 'attachment': {
        if (own) return;
        const row = {
          conversationId: this.#directConversationId(db, peer.accountId, now),
          kind: content.type,
          direction: 'incoming',
          senderAccountId: peer.accountId,
          senderDeviceId: peer.entry.deviceId,
          messageId: content.messageId,
          sentAt: content.sentAt,
          receivedAt: now,
          body: content.type === 'text' ? content.text : content.caption === '' ? null : content.caption,
          status: null,
          readAt: null,
          // Its own timer (§23.1): it starts when the message is first shown (markReadUpTo);
          // until then the maximum lifetime applies.
          ...incomingTimedFields(honouredTimer(content.expireTimerSeconds ?? null), now),
        } as const;
        const rowId = insertMessage(db, row);
        if (row.expiresAt !== undefined) effects.timersChanged = true;
        const attachment = content.type === 'attachment' ? Attachments.receive(db, rowId, content.pointer) : null;
        // A message request gets no delivery receipt until accepted (acceptRequest sends them then),
        // and its images are held back (attachmentView).
        const accepted = this.#standing(db, peer.accountId).accepted;
        if (accepted) {
          queueReceipt(db, { peerAccountId: peer.accountId, kind: 'delivered', messageId: content.messageId }, now);
          effects.receiptsQueued = true;
        }
        const inserted = messageView(insertedRecord(rowId, row), core.account.accountId);
        const view = attachment === null ? inserted : withAttachment(inserted, attachment, !accepted);
        effects.events.push(() => {
          this.typing.textFrom(peer.accountId);
          core.emit('message:added', { message: view });
        });
        effects.conversations.add(row.conversationId);
        return;
      }
      case 'receipt': {
        if (own) return;
        // Receipts for own group messages are counted per member (groups.ts).
        this.groups?.applyReceipt(db, peer, content.receipt, content.messageIds, effects);
        const conversation = findDirectConversation(db, peer.accountId);
        if (!conversation) return;
        // Per device for Message info (the receipt's device is the one whose session decrypted it).
        recordDeviceReceipt(db, { conversationId: conversation.id, accountId: peer.accountId, deviceId: peer.entry.deviceId, kind: content.receipt, messageIds: content.messageIds, at: now });
        const changed = upgradeStatusOf(db, conversation.id, content.messageIds, content.receipt);
        if (changed.length === 0) return;
        effects.events.push(() => {
          for (const m of changed) core.emit('message:status', { conversationId: String(m.conversationId), messageId: String(m.id), status: m.status! });
        });
        effects.conversations.add(conversation.id);
        return;
      }
      case 'typing': {
        if (own || !item.live) return;
        const conversation = findDirectConversation(db, peer.accountId);
        const contact = getContact(db, peer.accountId);
        if (!conversation || !contact?.accepted) return;
        effects.events.push(() => this.typing.received(peer.accountId, conversation.id, content.state));
        return;
      }
      case 'sent':
      case 'sent-attachment':
        // A message this account sent from another device (docs/protocol.md §16.1).
        if (own) this.#transcript(db, peer, content, item, effects);
        return;
      case 'read-sync':
      case 'contact-sync':
      case 'settings-sync':
      case 'conversation-deleted':
      case 'timer-sync':
      case 'messages-deleted':
        // Sync from another own device (§16.1); from anyone else refused, and a record that does
        // not hold up (a contact list that does not verify) changes nothing either.
        try {
          this.sync.apply(db, { own, deviceId: peer.entry.deviceId }, content, effects);
        } catch (e) {
          if (!(e instanceof SyncRefused) && !(e instanceof SyncInvalid)) throw e;
        }
        // Messages read on another own device start their disappearing timers (markReadUpTo).
        if (content.type === 'read-sync') effects.timersChanged = true;
        // Contacts, standings and conversations may have changed: the batch's lookups start over.
        this.#batchPeers.clear();
        this.#batchConversations.clear();
        this.#batchStanding.clear();
        return;
      case 'device-names': {
        // Names of this account's devices (own-devices.ts); a hint that the own list may have changed too.
        if (!own) return;
        const changed = applyDeviceNames(core, db, peer, content);
        effects.events.push(() => {
          if (changed) core.emit('devices:changed', {});
          void this.contacts.syncOwnList().catch(() => undefined);
        });
        return;
      }
      case 'timer-change': {
        // This account's own devices: own-device sync (helper `sync`, 0x08–0x0B) carries changes
        // between them; a 0x0E from an own device names no conversation and is ignored.
        if (own) return;
        const conversationId = this.#directConversationId(db, peer.accountId, now);
        // The latest change wins; a replayed or delayed older one changes nothing (§23.2).
        if (!applyTimerChange(db, conversationId, content.seconds, content.sentAt)) return;
        const rowId = insertMessage(db, {
          conversationId,
          kind: 'timer-changed',
          direction: 'incoming',
          senderAccountId: peer.accountId,
          senderDeviceId: peer.entry.deviceId,
          messageId: content.messageId,
          sentAt: content.sentAt,
          receivedAt: now,
          body: null,
          status: null,
          readAt: now,
          expireTimerSeconds: content.seconds,
        });
        const view = messageView(getMessage(db, rowId)!, core.account.accountId);
        effects.events.push(() => core.emit('message:added', { message: view }));
        effects.conversations.add(conversationId);
        return;
      }
      case 'delete': {
        if (own) return; // own devices: own-device sync (helper `sync`)
        const target = findIncomingByMessageId(db, peer.accountId, content.target);
        // Only the author, only its own text or file, only within the window (§23.3); otherwise
        // nothing changes (the refusal is typed, and stays local).
        if (!checkDeleteRequest(target, peer.accountId, content.sentAt).ok || !target) return;
        const hasFile = target.kind === 'attachment';
        deleteMessage(db, target.id);
        const tombstone = insertTombstone(db, target);
        if (hasFile) effects.discardFiles.push(target.id);
        const view = messageView(getMessage(db, tombstone)!, core.account.accountId);
        effects.events.push(() => {
          core.emit('message:removed', { conversationId: String(target.conversationId), messageId: String(target.id) });
          core.emit('message:added', { message: view });
        });
        effects.conversations.add(target.conversationId);
        return;
      }
      case 'profile-key': {
        // From an own device: it uploaded a newer own profile under this key (fetched, then
        // adopted: profiles.ts). From a contact: their key.
        if (own) {
          if (receiveOwnProfileKey(db, content.profileKey, content.revision)) effects.profilesDue = true;
          return;
        }
        receiveContactProfileKey(db, { accountId: peer.accountId, profileKey: content.profileKey, revision: content.revision, usernameClaim: content.username, now });
        effects.profilesDue = true;
        return;
      }
      case 'group-update':
        this.groups?.applyUpdate(db, peer, content, effects);
        return;
      case 'sender-key':
        this.groups?.applyDistribution(db, peer, content, effects);
        return;
      case 'sender-key-request':
        this.groups?.applyRequest(db, peer, content.request, effects);
        return;
      case 'history': {
        // Only between this account's own devices (docs/protocol.md §22.5); history.ts checks the rest.
        if (!own) return;
        const transfer = content.transfer;
        effects.events.push(() => this.hooks.history?.(peer.entry.deviceId, transfer));
        return;
      }
    }
  }

  /**
   * The copy of a message (text or file) this account sent from another of its devices: stored
   * as an outgoing message of the conversation with its destination (created if needed; a note to
   * self when addressed to the account itself), `sent`, with the relay's time of the copy as the
   * time each of the destination's listed devices was sent its envelope — the sending device
   * queues the copy before the message itself, so the relay took both at about that time, and
   * every receipt for the message reaches this device after the copy (docs/adr/0026). Receipts
   * then move it forward as on the sending device (the peer fans them out to every device of this
   * account). A reply accepts a message request, here as on the device that replied. A destination
   * this device does not know as a contact is dropped: contact sync (§16.1) comes first.
   */
  #transcript(db: WriteDb, peer: PeerDevice, content: Extract<Content, { type: 'sent' | 'sent-attachment' }>, item: InboundItem, effects: Effects): void {
    const { core } = this;
    const now = core.clock();
    const toSelf = core.isSelf(content.destination);
    const contact = toSelf ? undefined : getContact(db, content.destination);
    if (!toSelf && (!contact || contact.blocked)) return;
    const conversation = toSelf ? getOrCreateNoteToSelf(db, now) : getOrCreateDirectConversation(db, content.destination, now);
    const row = {
      conversationId: conversation.id,
      kind: content.type === 'sent' ? 'text' : 'attachment',
      direction: 'outgoing',
      senderAccountId: core.account.accountId,
      senderDeviceId: peer.entry.deviceId,
      messageId: content.messageId,
      sentAt: content.sentAt,
      receivedAt: now,
      body: content.type === 'sent' ? content.text : content.caption === '' ? null : content.caption,
      status: 'sent',
      readAt: null,
      // An own device's message: its timer (§23.1) started when that device sent it.
      ...sentTimedFields(honouredTimer((content.type === 'sent' ? content.expireTimerSeconds : content.pointer.expireTimerSeconds) ?? null), content.sentAt, now),
    } as const;
    if (row.expiresAt !== undefined) effects.timersChanged = true;
    const rowId = insertMessage(db, row);
    const attachment = content.type === 'sent-attachment' ? Attachments.receive(db, rowId, content.pointer) : null;
    if (contact) {
      markSent(db, rowId, item.envelope.serverTimestamp);
      recordDeviceSent(db, rowId, contact.accountId, core.targetDevices(db, contact.accountId).map((d) => d.entry.deviceId), item.envelope.serverTimestamp);
      if (!contact.accepted && acceptContact(db, contact.accountId, now)) {
        this.#batchStanding.delete(toHex(contact.accountId));
        effects.events.push(() => this.hooks.accepted(contact.accountId, conversation.id));
      }
    }
    const inserted = messageView(insertedRecord(rowId, row), core.account.accountId);
    const view = attachment === null ? inserted : withAttachment(inserted, attachment, false);
    effects.events.push(() => core.emit('message:added', { message: view }));
    effects.conversations.add(conversation.id);
  }

  /**
   * Content of a kind this version does not know, from a contact: a notice "This message needs a
   * newer version of Parley" in their conversation (none for this account's own devices, whose
   * new kinds are for their own history, nor for control content that is silent when unknown).
   */
  #unsupported(db: WriteDb, peer: PeerDevice, header: ReturnType<typeof unsupportedContentOf>, effects: Effects): void {
    const { core } = this;
    if (header === null || core.isSelf(peer.accountId)) return;
    const now = core.clock();
    if (header.messageId && !recordReceived(db, { senderAccountId: peer.accountId, senderDeviceId: peer.entry.deviceId, messageId: header.messageId }, now)) return;
    const notice = insertNotice(db, core.account.accountId, peer.accountId, 'unsupported', now);
    const view = messageView(getMessage(db, notice.rowId)!, core.account.accountId);
    effects.events.push(() => core.emit('message:added', { message: view }));
    effects.conversations.add(notice.conversationId);
  }

  /**
   * A message from `peer` that did not decrypt (anything but a duplicate): acknowledged with the
   * batch; once per peer device per interval a notice and the signed decryption error, which
   * travels outside any session (the same bytes to every device of the account, as the relay
   * requires a full fan-out; only the addressed device's signature check passes).
   */
  #undecryptable(db: WriteDb, peer: PeerDevice, envelope: Envelope, effects: Effects): void {
    const { core } = this;
    const now = core.clock();
    const key = `${toHex(peer.accountId)}:${peer.entry.deviceId}`;
    const last = this.#lastFailure.get(key);
    if (last !== undefined && now - last < DECRYPTION_ERROR_INTERVAL_MS && now >= last) return;
    this.#lastFailure.set(key, now);
    // A message request gets no decryption error either: answering would tell a stranger this
    // device is online and reading (issue 12). The notice is still shown.
    const accepted = this.#standing(db, peer.accountId).accepted;
    const account = core.account;
    const report = createDecryptionError(
      envelope.content,
      envelope.serverTimestamp,
      {
        reporter: { accountId: account.accountId, deviceId: account.deviceId },
        recipient: { accountId: peer.accountId, deviceId: peer.entry.deviceId },
      },
      account.identitySigning.privateKey,
    );
    if (accepted) {
      core.queueSend(db, { kind: 'decryption-error', recipient: peer.accountId, content: report, messageRowId: null });
      effects.sendSoon = true;
    }
    if (core.isSelf(peer.accountId) || !getContact(db, peer.accountId)) return;
    const notice = insertNotice(db, core.account.accountId, peer.accountId, 'decryption-failed', now);
    const view = messageView(getMessage(db, notice.rowId)!, account.accountId);
    effects.events.push(() => {
      core.emit('message:added', { message: view });
      core.emit('message:decryptFailed', {
        conversationId: String(notice.conversationId),
        contactId: toHex(peer.accountId),
        deviceId: peer.entry.deviceId,
        messageId: String(notice.rowId),
        at: now,
      });
    });
    effects.conversations.add(notice.conversationId);
  }

  /** A peer device could not decrypt something we sent: see Sessions.handleDecryptionError. */
  #decryptionErrorFrom(peer: PeerDevice, bytes: Uint8Array, effects: Effects): void {
    const { core } = this;
    try {
      core.sessions.handleDecryptionError(peer, bytes, (tx, result) => {
        requestResend(tx, { peerAccountId: peer.accountId, peerDeviceId: peer.entry.deviceId, after: result.resendAfter, rebuild: result.rebuild }, core.clock());
        // Queued envelopes for that device were made on the broken session: made again on the new one.
        if (result.rebuild) dropSessionEnvelopes(tx, peer.accountId, peer.entry.deviceId);
      });
      effects.sendSoon = true;
    } catch (e) {
      // BAD_SIGNATURE: forged, or addressed to another device of this account. MALFORMED: garbage.
      // Never answered with a decryption error of our own.
      if (!isProtocolError(e)) throw e;
    }
  }
}
