/**
 * The sender loop over the transactional outbox (DESIGN §4; db/outbox.ts holds the rows). A send —
 * one recipient account, one envelope per device, as the relay takes them — was committed with the
 * ratchet steps that made its envelopes (core.queueSend). This loop delivers sends oldest first,
 * one at a time, while the relay is connected:
 *
 *  1. the target devices come from the stored, verified list (a contact's devices, or this
 *     account's other devices); envelopes of devices that left are removed, devices without one
 *     get one — after a bundle fetch and a new session when there is none (the session and the
 *     envelope commit together);
 *  2. the relay answers: accepted → the row goes and a message becomes `sent` (with the relay's
 *     timestamp, for resends after a decryption error); MISMATCHED_DEVICES → the list is fetched
 *     again and verified (contacts.ts), devices the relay calls stale are left out of this send
 *     (the relay can only ever make us send to fewer devices, never to one the account key did not
 *     sign), and the send is tried again, up to MAX_MISMATCH_ROUNDS; a transient failure defers
 *     the row with a jittered, doubling delay and stops the loop until the next connection or due
 *     time; a permanent one drops the row and marks its message `failed` (messages:retry queues it
 *     again).
 *
 * Also: resend requests (a peer device's verified decryption error: the messages the relay
 * accepted at or after its timestamp are queued again; receivers drop what they already have by
 * message id), pending receipts turned into receipt content, and messages:retry.
 * Does not own what is queued (messaging.ts, inbound.ts, typing.ts).
 */
import type { PeerDevice } from '../../../shared/protocol/session.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import type { PrekeyBundle } from '../../../shared/protocol/prekeys.js';
import type { Bundle } from '../../../shared/wire/rest.js';
import { getContact } from '../db/contacts.js';
import { findDirectConversation } from '../db/conversations.js';
import { markFailed, markSent, outgoingSince, type MessageRecord } from '../db/messages.js';
import { completeSend, deferSend, dueAfterClockChange, dueSends, getSend, nextDueAt, removeEnvelopes, type OutboxSend } from '../db/outbox.js';
import { pendingReceipts, removeReceipts } from '../db/receipts.js';
import { completeResend, resendRequests } from '../db/resends.js';
import { recordDeviceSent } from '../db/device-statuses.js';
import { sql } from '../db/sql.js';
import type { ReadDb, WriteDb } from '../db/database.js';
import { getAttachment } from '../db/attachments.js';
import { pointerOf } from '../files/attachments.js';
import { EngineError } from '../errors.js';
import { RelayClientError } from '../relay/errors.js';
import { encodeContent, MAX_RECEIPT_MESSAGE_IDS, MESSAGE_ID_LENGTH } from './content.js';
import type { Contacts } from './contacts.js';
import type { SealedSender } from './sealed.js';
import { MessagingStopped, type MessagingCore } from './fan-out.js';
import {
  CONTACT_LIST_MAX_AGE_MS,
  MAX_BUNDLE_ATTEMPTS,
  MAX_MISMATCH_ROUNDS,
  MAX_SENDS_IN_FLIGHT,
  SEND_RETRY_INITIAL_MS,
  SEND_RETRY_MAX_MS,
} from './limits.js';

type Outcome = 'done' | 'transient';

/** A failure that ends a send (its message becomes `failed`); `code` is stored, never a message. */
class PermanentFailure extends Error {
  override readonly name = 'PermanentFailure';
  constructor(readonly code: string) {
    super(code);
  }
}

/** The text content of a stored outgoing message, for a resend or a retry (same id and time). */
export function textContentOf(m: MessageRecord): Uint8Array {
  if (m.kind !== 'text' || m.body === null || m.messageId?.length !== MESSAGE_ID_LENGTH) throw new Error('not a text message');
  // A retry or resend keeps the message's own disappearing timer (docs/protocol.md §23.1).
  return encodeContent({ type: 'text', messageId: m.messageId, sentAt: m.sentAt, text: m.body, expireTimerSeconds: m.expireTimerSeconds });
}

/**
 * The content of a stored outgoing text or file, for a resend after a decryption error (same id
 * and time; a file's pointer names the upload that finished, its caption is the message body).
 */
export function resendContentOf(db: ReadDb, m: MessageRecord): Uint8Array {
  if (m.kind !== 'attachment') return textContentOf(m);
  const a = getAttachment(db, m.id);
  if (!a || m.messageId?.length !== MESSAGE_ID_LENGTH) throw new Error('not a sent file');
  return encodeContent({ type: 'attachment', messageId: m.messageId, sentAt: m.sentAt, pointer: pointerOf(a), caption: m.body ?? '', expireTimerSeconds: m.expireTimerSeconds });
}

function toPrekeyBundle(accountId: Uint8Array, b: Bundle): PrekeyBundle {
  return {
    accountId,
    deviceId: b.deviceId,
    identityDhKey: b.identityDhKey,
    identitySigningKey: b.identitySigningKey,
    signedPrekey: b.signedPrekey,
    oneTimePrekey: b.oneTimePrekey,
    kemPrekey: b.kemPrekey,
  };
}

/** Per-device detail of an accepted message send (Message info): the devices its envelopes went to. */
function recordSentTo(db: WriteDb, send: OutboxSend, serverTimestamp: number): void {
  recordDeviceSent(db, send.messageRowId!, send.recipientAccountId, send.envelopes.map((e) => e.deviceId), serverTimestamp);
}

function isTransient(e: unknown): boolean {
  if (e instanceof RelayClientError) {
    return ['NETWORK', 'TIMEOUT', 'DISCONNECTED', 'CLOSED', 'UNAVAILABLE', 'INTERNAL', 'BAD_RESPONSE', 'RATE_LIMITED', 'UNAUTHORIZED', 'TOO_MANY_CONNECTIONS', 'RELAY_ID_MISMATCH'].includes(e.code);
  }
  return false;
}

export class OutboxSender {
  #running = false;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;

  constructor(
    private readonly core: MessagingCore,
    private readonly contacts: Contacts,
    private readonly sealed: SealedSender,
  ) {}

  /** One send to the relay: sealed when it can go sealed (sealed.ts), else on the authenticated channel. */
  async #post(send: OutboxSend): Promise<{ serverTimestamp: number }> {
    const sealed = await this.sealed.trySend(send);
    if (sealed) return sealed;
    this.core.check();
    return this.core.relay.send(send.recipientAccountId, send.envelopes.map((e) => ({ deviceId: e.deviceId, content: e.envelope })));
  }

  stop(): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#soon);
  }

  /** Runs the loop now (or again right after the current round). */
  kick(): void {
    if (this.core.stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    void this.#run();
  }

  /** Runs the loop after `ms` (receipts wait a moment for more messages to cover). */
  kickSoon(ms: number): void {
    if (this.#soon || this.core.stopped) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      this.kick();
    }, ms);
    this.#soon.unref?.();
  }

  /**
   * After a (re)connection: everything deferred is due now — as due as a new send (0), so the
   * outbox goes out in the order it was written (id), whatever each deferral's jitter was.
   */
  makeAllDue(): void {
    this.core.db.writer.transaction(() => this.core.db.writer.run(sql`UPDATE outbox SET next_attempt_at = 0 WHERE next_attempt_at <> 0`));
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      do {
        this.#again = false;
        if (this.core.relay.state !== 'open') break;
        const now = this.core.clock();
        this.core.db.writer.transaction(() => dueAfterClockChange(this.core.db.writer, now, SEND_RETRY_MAX_MS));
        this.#processResendRequests();
        this.#flushReceipts();
        for (;;) {
          if (this.core.stopped || this.core.relay.state !== 'open') break;
          const due = dueSends(this.core.db.writer, this.core.clock(), MAX_SENDS_IN_FLIGHT);
          if (due.length === 0) break;
          // The oldest sends whose envelopes are complete go out together; the first one that needs
          // work (a session, a list refresh, a device change) goes through #deliver alone.
          const ready: OutboxSend[] = [];
          for (const send of due) {
            if (!this.#ready(send)) break;
            ready.push(send);
          }
          const outcome = ready.length > 0 ? await this.#deliverReady(ready) : await this.#deliver(due[0]!);
          if (outcome === 'transient') break;
        }
      } while (this.#again && !this.core.stopped);
    } catch (e) {
      // Never an unhandled rejection in the host process: a storage failure leaves the rows in
      // place and the loop runs again at its next kick or due time.
      if (!(e instanceof MessagingStopped)) this.#again = false;
    } finally {
      this.#running = false;
      this.#arm();
    }
  }

  /** Wakes the loop when the next deferred send is due. */
  #arm(): void {
    clearTimeout(this.#timer);
    if (this.core.stopped) return;
    let due: number | null;
    try {
      due = nextDueAt(this.core.db.writer); // the writer: its pages are current (fan-out.ts emitConversation)
    } catch {
      return;
    }
    if (due === null) return;
    this.#timer = setTimeout(() => this.kick(), Math.max(0, due - this.core.clock()));
    this.#timer.unref?.();
  }

  /**
   * A send that can go out as it is: its recipient is trusted as stored (no pending key change, a
   * text's list not due for a refresh) and it has an envelope for exactly the recipient's listed
   * devices. Synchronous and read-only.
   */
  #ready(send: OutboxSend): boolean {
    const { core } = this;
    const recipient = send.recipientAccountId;
    if (!core.isSelf(recipient)) {
      const contact = getContact(core.db.writer, recipient);
      if (!contact || contact.keyChangePending) return false;
      if (send.kind === 'message' && this.contacts.isStale(contact, CONTACT_LIST_MAX_AGE_MS)) return false;
    }
    const targets = core.targetDevices(core.db.writer, recipient);
    if (targets.length === 0 || targets.length !== send.envelopes.length) return false;
    return targets.every((t) => send.envelopes.some((e) => e.deviceId === t.entry.deviceId));
  }

  /**
   * Ready sends, pipelined: all written to the live channel at once (the relay commits them in
   * order, in one group commit when it can), the accepted ones completed in one transaction. A
   * failure is handled as #deliver would: MISMATCHED_DEVICES through #deliver itself (refresh,
   * fix, resend), a transient one defers the send and stops the round, a permanent one fails it.
   */
  async #deliverReady(ready: readonly OutboxSend[]): Promise<Outcome> {
    const { core } = this;
    const results = await Promise.allSettled(ready.map((send) => this.#post(send)));
    core.check();
    this.#completeAll(results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ send: ready[i]!, serverTimestamp: r.value.serverTimestamp }] : [])));
    let outcome: Outcome = 'done';
    let deferredTo: number | undefined;
    for (let i = 0; i < ready.length; i++) {
      const r = results[i]!;
      if (r.status === 'fulfilled') continue;
      const e: unknown = r.reason;
      const id = ready[i]!.id;
      if (isTransient(e) || outcome === 'transient') {
        deferredTo = this.#defer(id, e instanceof RelayClientError ? e.code : 'TRANSIENT', e instanceof RelayClientError ? e.details.retryAfterMs : undefined, deferredTo);
        outcome = 'transient';
      } else if (e instanceof RelayClientError && e.code === 'MISMATCHED_DEVICES') {
        const current = getSend(core.db.writer, id);
        if (current && (await this.#deliver(current, e)) === 'transient') outcome = 'transient';
      } else {
        this.#fail(id, e instanceof RelayClientError ? e.code : 'INTERNAL');
      }
    }
    return outcome;
  }

  /**
   * One send on its own: prepare, send, handle the answer. `mismatch`: the relay already answered
   * this send with MISMATCHED_DEVICES (in #deliverReady); its list is refreshed before anything else.
   */
  async #deliver(initial: OutboxSend, mismatch?: RelayClientError): Promise<Outcome> {
    const { core } = this;
    const excluded = new Set<number>();
    let pending = mismatch;
    for (let round = 0; round < MAX_MISMATCH_ROUNDS; round++) {
      try {
        if (pending) {
          const e = pending;
          pending = undefined;
          await this.#afterMismatch(initial.recipientAccountId, e, excluded);
        }
        await this.#prepare(initial.id, excluded);
        core.check();
        const send = getSend(core.db.writer, initial.id);
        if (!send) return 'done';
        if (send.envelopes.length === 0) {
          // Nobody to send to (this account has no other device): nothing is owed.
          this.#complete(send, null);
          return 'done';
        }
        let serverTimestamp: number;
        try {
          ({ serverTimestamp } = await this.#post(send));
        } catch (e) {
          if (e instanceof RelayClientError && e.code === 'MISMATCHED_DEVICES') {
            pending = e;
            continue;
          }
          throw e;
        }
        core.check();
        this.#complete(send, serverTimestamp);
        return 'done';
      } catch (e) {
        if (e instanceof MessagingStopped || core.stopped) throw new MessagingStopped();
        if (isTransient(e)) {
          this.#defer(initial.id, e instanceof RelayClientError ? e.code : 'TRANSIENT', e instanceof RelayClientError ? e.details.retryAfterMs : undefined);
          return 'transient';
        }
        this.#fail(initial.id, e instanceof PermanentFailure ? e.code : e instanceof EngineError ? e.code : isProtocolError(e) ? e.code : 'INTERNAL');
        return 'done';
      }
    }
    this.#fail(initial.id, 'MISMATCHED_DEVICES');
    return 'done';
  }

  /**
   * MISMATCHED_DEVICES: devices the relay calls stale are left out of this send; the list is
   * fetched again and verified (a refusal throws); missing devices count only if now listed.
   */
  async #afterMismatch(recipient: Uint8Array, e: RelayClientError, excluded: Set<number>): Promise<void> {
    this.core.check();
    for (const d of e.details.stale ?? []) excluded.add(d);
    await this.#refreshRecipient(recipient, true);
    for (const d of e.details.missing ?? []) excluded.delete(d);
  }

  /**
   * Brings a send's envelopes in line with the recipient's list: devices that left (or that the
   * relay called stale) lose theirs, devices without one get one (bundle → session first).
   */
  async #prepare(id: number, excluded: ReadonlySet<number>): Promise<void> {
    const { core } = this;
    const send = getSend(core.db.writer, id);
    if (!send) return;
    const recipient = send.recipientAccountId;
    if (!core.isSelf(recipient)) {
      const contact = getContact(core.db.writer, recipient);
      if (!contact) throw new PermanentFailure('NOT_FOUND');
      if (contact.keyChangePending) throw new PermanentFailure('KEY_CHANGE_PENDING');
      if (send.kind === 'message' && this.contacts.isStale(contact, CONTACT_LIST_MAX_AGE_MS)) {
        await this.#refreshRecipient(recipient, false);
      }
    }
    let targets = core.targetDevices(core.db.writer, recipient).filter((t) => !excluded.has(t.entry.deviceId));
    const have = new Set(send.envelopes.map((e) => e.deviceId));
    const gone = [...have].filter((d) => !targets.some((t) => t.entry.deviceId === d));
    let missing = targets.filter((t) => !have.has(t.entry.deviceId));
    if (send.kind !== 'decryption-error') {
      const noSession = missing.filter((t) => !core.sessions.hasSession(t));
      for (const peer of noSession) await this.#startSession(peer, send.attempts);
    }
    core.check();
    core.db.writer.transaction(() => {
      removeEnvelopes(core.db.writer, id, gone);
      targets = core.targetDevices(core.db.writer, recipient).filter((t) => !excluded.has(t.entry.deviceId));
      const current = getSend(core.db.writer, id);
      if (!current) return;
      missing = core.encryptMissing(core.db.writer, id, send.kind, current.content, targets, new Set(current.envelopes.map((e) => e.deviceId)));
    });
    if (missing.length > 0) throw new PermanentFailure('NO_SESSION');
  }

  /** Fetches one device's bundle (verified inside initiateSession) and commits a new session. */
  async #startSession(peer: PeerDevice, attempts: number): Promise<void> {
    const { core } = this;
    let bundles: Bundle[];
    try {
      bundles = await core.relay.fetchBundles(peer.accountId, peer.entry.deviceId);
    } catch (e) {
      // A device just added may not have uploaded its prekeys yet: wait a little, then give up.
      if (e instanceof RelayClientError && e.code === 'NOT_FOUND' && attempts + 1 < MAX_BUNDLE_ATTEMPTS) {
        throw new RelayClientError('UNAVAILABLE', 'no bundle yet');
      }
      throw e;
    }
    core.check();
    const bundle = bundles.find((b) => b.deviceId === peer.entry.deviceId);
    if (!bundle) throw new PermanentFailure('NO_BUNDLE');
    // UNTRUSTED_IDENTITY, BAD_SIGNATURE, DEVICE_INACTIVE, MISSING_KEM_PREKEY: a typed ProtocolError, nothing stored.
    core.sessions.initiate(peer, toPrekeyBundle(peer.accountId, bundle));
  }

  async #refreshRecipient(recipient: Uint8Array, mismatch: boolean): Promise<void> {
    const { core } = this;
    if (core.isSelf(recipient)) {
      await this.contacts.syncOwnList();
      return;
    }
    const outcome = await this.contacts.refresh(recipient);
    if (outcome?.keyChanged) throw new PermanentFailure('KEY_CHANGE_PENDING');
    if (!outcome && mismatch) throw new PermanentFailure('NOT_FOUND');
  }

  /** Completes accepted sends in one transaction; statuses and conversation updates after it. */
  #completeAll(accepted: readonly { readonly send: OutboxSend; readonly serverTimestamp: number }[]): void {
    if (accepted.length === 0) return;
    const { core } = this;
    const changed: MessageRecord[] = [];
    core.db.writer.transaction(() => {
      for (const { send, serverTimestamp } of accepted) {
        completeSend(core.db.writer, send.id);
        if (send.kind === 'message' && send.messageRowId !== null) {
          const m = markSent(core.db.writer, send.messageRowId, serverTimestamp);
          if (m) changed.push(m);
          recordSentTo(core.db.writer, send, serverTimestamp);
        }
      }
    });
    for (const m of changed) core.emit('message:status', { conversationId: String(m.conversationId), messageId: String(m.id), status: m.status! });
    for (const id of new Set(changed.map((m) => m.conversationId))) core.emitConversation(id);
  }

  #complete(send: OutboxSend, serverTimestamp: number | null): void {
    const { core } = this;
    let changed: MessageRecord | undefined;
    core.db.writer.transaction(() => {
      completeSend(core.db.writer, send.id);
      if (send.kind === 'message' && send.messageRowId !== null && serverTimestamp !== null) {
        changed = markSent(core.db.writer, send.messageRowId, serverTimestamp);
        recordSentTo(core.db.writer, send, serverTimestamp);
      }
    });
    if (changed) this.#statusChanged(changed);
  }

  /**
   * Defers a send after a transient failure; returns when it is due. `at`: the time an earlier
   * send of the same round was deferred to — sends that failed together stay due together, so
   * they go out again in their original order (due time, then id).
   */
  #defer(id: number, code: string, retryAfterMs: number | undefined, at?: number): number | undefined {
    const { core } = this;
    const send = getSend(core.db.writer, id);
    if (!send) return at;
    let due = at;
    if (due === undefined) {
      const ceiling = Math.min(SEND_RETRY_MAX_MS, SEND_RETRY_INITIAL_MS * 2 ** Math.min(send.attempts, 20));
      const jitter = new DataView(core.rng(4).buffer).getUint32(0) / 2 ** 32;
      due = core.clock() + Math.max(retryAfterMs ?? 0, Math.round(ceiling / 2 + (jitter * ceiling) / 2));
    }
    const until = due;
    core.db.writer.transaction(() => deferSend(core.db.writer, id, until, code));
    return due;
  }

  /** Drops the send; its message becomes `failed`. (`code` names why, for a debugger; never shown.) */
  #fail(id: number, _code: string): void {
    const { core } = this;
    const send = getSend(core.db.writer, id);
    if (!send) return;
    let changed: MessageRecord | undefined;
    core.db.writer.transaction(() => {
      completeSend(core.db.writer, id);
      if (send.kind === 'message' && send.messageRowId !== null) changed = markFailed(core.db.writer, send.messageRowId);
    });
    if (changed) this.#statusChanged(changed);
  }

  #statusChanged(m: MessageRecord): void {
    this.core.emit('message:status', { conversationId: String(m.conversationId), messageId: String(m.id), status: m.status! });
    this.core.emitConversation(m.conversationId);
  }

  /**
   * Verified decryption errors: queue again what the relay accepted at or after each error's
   * timestamp (to the whole account, as the relay requires; devices that have a message drop the
   * copy by its id). The session itself is rebuilt by #prepare when the device has none.
   */
  #processResendRequests(): void {
    const { core } = this;
    const requests = resendRequests(core.db.writer);
    if (requests.length === 0) return;
    core.db.writer.transaction(() => {
      for (const r of requests) {
        if (!core.isSelf(r.peerAccountId)) {
          const conversation = findDirectConversation(core.db.writer, r.peerAccountId);
          const contact = getContact(core.db.writer, r.peerAccountId);
          if (conversation && contact && !contact.keyChangePending) {
            for (const m of outgoingSince(core.db.writer, conversation.id, r.after)) {
              core.queueSend(core.db.writer, { kind: 'message', recipient: r.peerAccountId, content: resendContentOf(core.db.writer, m), messageRowId: m.id });
            }
          }
        }
        completeResend(core.db.writer, r);
      }
    });
  }

  /**
   * Pending receipts (the ids queued per peer and kind) become padded, encrypted receipt content
   * in the outbox, one per MAX_RECEIPT_MESSAGE_IDS ids. Read receipts are dropped while the setting
   * is off, and receipts to a message request or a blocked person (none is queued for them; this is
   * the last line); receipts to a contact with a pending key change wait.
   */
  #flushReceipts(): void {
    const { core } = this;
    const pending = pendingReceipts(core.db.writer);
    if (pending.length === 0) return;
    const { readReceipts } = core.settings();
    const now = core.clock();
    core.db.writer.transaction(() => {
      for (const r of pending) {
        const contact = getContact(core.db.writer, r.peerAccountId);
        // A message request or a blocked person gets no receipt (accepting queues fresh ones).
        if (!contact || !contact.accepted || contact.blocked || (r.kind === 'read' && !readReceipts)) {
          removeReceipts(core.db.writer, r);
          continue;
        }
        if (contact.keyChangePending) continue;
        for (let i = 0; i < r.messageIds.length; i += MAX_RECEIPT_MESSAGE_IDS) {
          const messageIds = r.messageIds.slice(i, i + MAX_RECEIPT_MESSAGE_IDS);
          const content = encodeContent({ type: 'receipt', messageId: core.rng(MESSAGE_ID_LENGTH), sentAt: now, receipt: r.kind, messageIds });
          core.queueSend(core.db.writer, { kind: 'receipt', recipient: r.peerAccountId, content, messageRowId: null });
        }
        removeReceipts(core.db.writer, r);
      }
    });
  }
}
