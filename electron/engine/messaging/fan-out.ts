/**
 * Fan-out (DESIGN §3.3, §4): a send goes to every device on the recipient's verified list (or to
 * this account's other devices), each with its own envelope — `targetDevices` names them,
 * `queueSend` commits the outbox row and an envelope for every device that has a session in the
 * caller's transaction, `encryptMissing` adds the rest once their sessions exist. MessagingCore
 * carries what every part of the messaging layer shares for one open profile to do that: the
 * database, this device and its account, the relay client, the sessions over the SQLite stores, the
 * clock and rng, event emission (view models only, built by views.ts) and the "stopped" guard every
 * await must pass.
 *
 * Does not own any policy (contacts.ts, outbox.ts, inbound.ts, …), local notices (notices.ts) or
 * the engine's lifecycle.
 */
import type { EngineEvent, EventName, EventPayload } from '../../../shared/api/types.js';
import type { Presence, Settings } from '../../../shared/api/view-models.js';
import { bytesEqual } from '../../../shared/crypto/bytes.js';
import type { Clock, Rng } from '../../../shared/crypto/random.js';
import { FailureBudgets, type PeerDevice } from '../../../shared/protocol/session.js';
import { localDeviceOf, type LocalAccount } from '../db/account.js';
import { parsedDeviceList } from '../account/device-list-cache.js';
import { getContact } from '../db/contacts.js';
import { conversationListRow } from '../db/conversations.js';
import type { EngineDatabase, WriteDb } from '../db/database.js';
import { getMessage } from '../db/messages.js';
import { addEnvelopes, enqueueSend, type OutboxKind } from '../db/outbox.js';
import { readSettings } from '../db/settings.js';
import { EngineError } from '../errors.js';
import type { RelayClient } from '../relay/client.js';
import { Sessions } from './sessions.js';
import { conversationView, MAX_PREVIEW_LENGTH, messageView } from '../views.js';

/** Thrown after an await when the engine locked or closed meanwhile: the work is abandoned. */
export class MessagingStopped extends Error {
  override readonly name = 'MessagingStopped';
  constructor() {
    super('the messaging layer stopped');
  }
}

export type CoreOptions = {
  readonly db: EngineDatabase;
  readonly account: LocalAccount;
  readonly relay: RelayClient;
  readonly rng: Rng;
  readonly clock: Clock;
  readonly emit: (event: EngineEvent) => void;
  readonly presenceOf: (accountId: Uint8Array) => Presence;
  readonly onAccountChanged: (account: LocalAccount) => void;
  /** A verified, newer list of this account no longer names this device (ADR 0027): the engine wipes. */
  readonly onRemoved?: () => void;
};

export class MessagingCore {
  readonly db: EngineDatabase;
  readonly relay: RelayClient;
  readonly rng: Rng;
  readonly clock: Clock;
  readonly budgets = new FailureBudgets();
  #account: LocalAccount;
  #sessions: Sessions;
  #stopped = false;

  constructor(private readonly o: CoreOptions) {
    this.db = o.db;
    this.relay = o.relay;
    this.rng = o.rng;
    this.clock = o.clock;
    this.#account = o.account;
    this.#sessions = this.#makeSessions();
  }

  #makeSessions(): Sessions {
    return new Sessions(this.db.writer, localDeviceOf(this.#account), { rng: this.rng, now: this.clock, budgets: this.budgets });
  }

  get account(): LocalAccount {
    return this.#account;
  }

  set account(a: LocalAccount) {
    this.#account = a;
    this.#sessions = this.#makeSessions();
    this.o.onAccountChanged(a);
  }

  get sessions(): Sessions {
    return this.#sessions;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  stop(): void {
    this.#stopped = true;
  }

  /** This device was proven removed from its account (messaging/own-devices.ts isRemovalProof). */
  removed(): void {
    if (this.#stopped) return;
    this.o.onRemoved?.();
  }

  /** Call after every await: throws MessagingStopped when the database is gone. */
  check(): void {
    if (this.#stopped) throw new MessagingStopped();
  }

  /** For API calls: a stopped layer means the engine locked meanwhile. */
  checkApi(): void {
    if (this.#stopped) throw new EngineError('LOCKED', 'unlock first');
  }

  isSelf(accountId: Uint8Array): boolean {
    return bytesEqual(accountId, this.#account.accountId);
  }

  settings(): Settings {
    return readSettings(this.db.writer);
  }

  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    this.o.emit({ event, payload } as EngineEvent);
  }

  presenceOf(accountId: Uint8Array): Presence {
    return this.o.presenceOf(accountId);
  }

  /**
   * `conversation:updated` with the current list data of one conversation. Read through the writer,
   * which has just written these pages: the reader connection would first have to decrypt every page
   * the write changed again (SQLCipher), the biggest cost of a send in the engine benchmark.
   */
  emitConversation(conversationId: number): void {
    const row = conversationListRow(this.db.writer, conversationId, MAX_PREVIEW_LENGTH);
    if (row) this.emit('conversation:updated', { conversation: conversationView(row, this.presenceOf(row.conversation.peerAccountId), this.clock()) });
  }

  emitMessageAdded(rowId: number): void {
    const m = getMessage(this.db.writer, rowId); // the writer: see emitConversation
    if (m) this.emit('message:added', { message: messageView(m, this.#account.accountId) });
  }

  /**
   * The devices a send to `recipient` goes to, from the stored verified list: every device of a
   * contact, or this account's other devices. Empty for an unknown account.
   */
  targetDevices(db: WriteDb, recipient: Uint8Array): PeerDevice[] {
    if (this.isSelf(recipient)) {
      const own = parsedDeviceList(this.#account.deviceList.signed).list;
      return own.devices.filter((d) => d.deviceId !== this.#account.deviceId).map((entry) => ({ accountId: recipient, entry }));
    }
    const contact = getContact(db, recipient);
    if (!contact) return [];
    return parsedDeviceList(contact.deviceList.signed).list.devices.map((entry) => ({ accountId: recipient, entry }));
  }

  /** The listed device that sent an envelope, or null when it is not on the verified list. */
  peerDevice(db: WriteDb, accountId: Uint8Array, deviceId: number): PeerDevice | null {
    if (this.isSelf(accountId) && deviceId === this.#account.deviceId) return null;
    return this.targetDevices(db, accountId).find((d) => d.entry.deviceId === deviceId) ?? null;
  }

  /**
   * Queues a send in the caller's transaction: the outbox row with its content, and an envelope
   * for every target device that has a session — each ratchet step commits with its envelope.
   * Devices without a session get theirs from the sender loop (after fetching a bundle).
   */
  queueSend(
    db: WriteDb,
    send: { readonly kind: OutboxKind; readonly recipient: Uint8Array; readonly content: Uint8Array; readonly messageRowId: number | null },
  ): number {
    const now = this.clock();
    const id = enqueueSend(db, { kind: send.kind, messageRowId: send.messageRowId, recipientAccountId: send.recipient, envelopes: [], now, content: send.content });
    this.encryptMissing(db, id, send.kind, send.content, this.targetDevices(db, send.recipient), new Set());
    return id;
  }

  /**
   * Adds envelopes for `targets` not in `have` that have a session (a decryption error needs none:
   * the same signed bytes go to every device). Returns the devices still without an envelope.
   */
  encryptMissing(
    db: WriteDb,
    outboxId: number,
    kind: OutboxKind,
    content: Uint8Array,
    targets: readonly PeerDevice[],
    have: ReadonlySet<number>,
  ): PeerDevice[] {
    const missing = targets.filter((t) => !have.has(t.entry.deviceId));
    if (kind === 'decryption-error') {
      addEnvelopes(db, outboxId, missing.map((t) => ({ deviceId: t.entry.deviceId, envelope: content })));
      return [];
    }
    const ready = missing.filter((t) => this.#sessions.hasSession(t));
    if (ready.length > 0) {
      this.#sessions.encryptForDevices(ready, content, (tx, messages) =>
        addEnvelopes(tx, outboxId, messages.map((m) => ({ deviceId: m.peer.entry.deviceId, envelope: m.message.bytes }))),
      );
    }
    return missing.filter((t) => !ready.includes(t));
  }
}
