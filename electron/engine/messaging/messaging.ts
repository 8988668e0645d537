/**
 * The messaging half of the engine (issue 4 phase 2; docs/adr/0006-engine-messaging.md): one
 * instance per open profile, started when the engine becomes ready and stopped (synchronously)
 * before its database closes. It owns the relay connection and wires the parts together:
 *
 *   connection — RelayClient (jittered backoff reconnects) → `connection` events; at every
 *                connection: own device list, prekeys, contact list, presence, outbox;
 *   contacts.ts — contacts by username, device-list trust, key changes;
 *   outbox.ts  — the sender loop (statuses, MISMATCHED_DEVICES, resends, receipts);
 *   inbound.ts — batched, transactional processing of envelopes; acks after commit;
 *   typing.ts, presence.ts — indicators and presence;
 *   registration.ts — registration, prekey uploads, re-signing the device list.
 *
 * API calls it serves: contacts:add, messages:send, messages:retry, conversations:setTyping; the
 * engine calls the rest (presence for views, settings changes, receipts queued by markRead,
 * unregister at logout). Every await is followed by a check that the layer was not stopped.
 */
import type { RequestOf } from '../../../shared/api/types.js';
import type { ContactView, ConversationView, MessageView, Presence, Settings } from '../../../shared/api/view-models.js';
import { MAX_MESSAGE_BODY_BYTES } from '../../../shared/api/primitives.js';
import type { EngineEvent } from '../../../shared/api/types.js';
import { toHex, utf8 } from '../../../shared/crypto/bytes.js';
import { groupByConversation } from '../db/groups.js';
import { normalizeUsername } from '../../../shared/wire/username.js';
import { systemClock, type Clock, type Rng } from '../../../shared/crypto/random.js';
import { systemTimers, type Timers } from '../app-lock.js';
import { setRelayId, type LocalAccount } from '../db/account.js';
import { acceptContact, deleteContact, dropQueuedFor, getContact, listBlockedContacts, setContactBlocked } from '../db/contacts.js';
import {
  conversationListRow,
  deleteConversation,
  findDirectConversation,
  getConversation,
  getOrCreateDirectConversation,
  getOrCreateNoteToSelf,
} from '../db/conversations.js';
import type { EngineDatabase, WriteDb } from '../db/database.js';
import { pruneEnvelopes, pruneReceived } from '../db/inbound.js';
import { deleteMessage, getMessage, insertedRecord, insertMessage, markSending, incomingMessageIds, type MessageRecord } from '../db/messages.js';
import { queueReceipt } from '../db/receipts.js';
import { sweepExpiredSkippedKeys } from '../db/skipped-keys.js';
import { EngineError } from '../errors.js';
import { crashPoint } from '../crash-points.js';
import { RelayClient } from '../relay/client.js';
import type { BackoffOptions, ConnectionState as RelayState } from '../relay/socket.js';
import { accountIdOf, contactView, conversationView, MAX_PREVIEW_LENGTH, messageView, rowIdOf } from '../views.js';
import { encodeContent, MESSAGE_ID_LENGTH } from './content.js';
import { Contacts } from './contacts.js';
import { KeyTransparency } from '../transparency/key-transparency.js';
import { isRemovalProof } from './own-devices.js';
import { MessagingCore, MessagingStopped } from './fan-out.js';
import { InboundProcessor } from './inbound.js';
import { INBOUND_DEDUP_RETENTION_MS, MAINTENANCE_INTERVAL_MS, RECEIPT_FLUSH_DELAY_MS, REVIVE_DELAY_MS, UNREGISTER_TIMEOUT_MS } from './limits.js';
import { OutboxSender, textContentOf } from './outbox.js';
import { PresenceTracker } from './presence.js';
import { Profiles, uploadOwnProfileIfOwed } from './profiles.js';
import { maintainAtRelay, registerAccount, uploadPending } from './registration.js';
import { OwnDeviceSync, type ContactChange } from './sync.js';
import { SealedSender } from './sealed.js';
import { dropContactClock } from '../db/sync-clock.js';
import { Typing } from './typing.js';
import { Attachments } from '../files/attachments.js';
import { HistoryTransfers } from '../linking/history.js';
import type { RetryOptions } from '../files/transfer.js';
import { applyTimerChange, conversationTimer } from '../db/disappearing.js';
import { Expiry, type RemovedRow } from '../disappearing/expiry.js';
import { DELETE_FOR_EVERYONE_WINDOW_MS, isTimerValue } from '../disappearing/timers.js';
import { devicesLacking } from './capabilities.js';
import { insertTombstone } from './tombstone.js';
import { Groups } from '../groups/groups.js';

export type MessagingOptions = {
  readonly db: EngineDatabase;
  readonly account: LocalAccount;
  readonly rng: Rng;
  readonly clock: Clock;
  readonly emit: (event: EngineEvent) => void;
  /** The account row changed (own device list re-signed or adopted). */
  readonly onAccountChanged: (account: LocalAccount) => void;
  /** The account's primary removed this device, proven by a signed list (ADR 0027): the engine wipes. */
  readonly onRemoved?: () => void;
  /** The profile's attachments folder (electron/engine/files/attachments.ts). */
  readonly attachmentsDir: string;
  readonly tuning?: MessagingTuning;
};

/** Injectable details (tests): the relay client's clock and backoff, typing timers. */
export type MessagingTuning = {
  /**
   * Unit tests of the engine's local parts only: never talk to a relay (no registration at
   * createAccount — it happens at the next start without this flag — and no connection).
   */
  readonly localOnly?: boolean;
  /** Signs relay challenges (the relay allows ±60 s): the system clock unless a test needs another. */
  readonly relayClock?: Clock;
  readonly backoff?: Partial<BackoffOptions>;
  readonly requestTimeoutMs?: number;
  /** Typing timers (3 s idle, 5 s display). */
  readonly typingTimers?: Timers;
  /** Retries inside one attachment transfer before it pauses until the relay is back. */
  readonly transferRetry?: Partial<RetryOptions>;
  /** How often a device link polls its provisioning channel (electron/engine/linking; default 300 ms). */
  readonly linkPollMs?: number;
  /**
   * Never connect to the relay (the forge tool's verifier, electron/engine/deniability): the
   * local parts run, envelopes are handed to the inbound path by the caller.
   */
  readonly offline?: boolean;
};

/** The timer fields of a message sent now with `timer` (null: untimed): outgoing timers start at send. */
function timedFields(timer: number | null, now: number): { expireTimerSeconds: number; expireStartedAt: number; expiresAt: number } | Record<string, never> {
  return timer === null ? {} : { expireTimerSeconds: timer, expireStartedAt: now, expiresAt: now + timer * 1000 };
}

export function relayClientFor(account: LocalAccount, rng: Rng, tuning: MessagingTuning = {}, onRelayId?: (relayId: Uint8Array) => void): RelayClient {
  return new RelayClient({
    url: account.relayUrl,
    accountId: account.accountId,
    deviceId: account.deviceId,
    identitySigningKey: account.identitySigning.privateKey,
    relayId: account.relayId,
    ...(onRelayId && { onRelayId }),
    clock: tuning.relayClock ?? systemClock,
    rng,
    ...(tuning.backoff && { backoff: tuning.backoff }),
    ...(tuning.requestTimeoutMs !== undefined && { requestTimeoutMs: tuning.requestTimeoutMs }),
  });
}

/**
 * Registers a freshly created account at its relay (engine createAccount) and uploads its first
 * profile (a failed upload is repeated at the next connection).
 */
export async function registerNewAccount(db: EngineDatabase, account: LocalAccount, deps: { rng: Rng; clock: Clock; tuning?: MessagingTuning }): Promise<void> {
  const client = relayClientFor(account, deps.rng, deps.tuning);
  try {
    await registerAccount(db.writer, account, { clock: deps.clock, rng: deps.rng, client, ...(deps.tuning?.requestTimeoutMs !== undefined && { timeoutMs: deps.tuning.requestTimeoutMs }) });
    await uploadOwnProfileIfOwed(db.writer, account, client, deps.rng).catch(() => undefined);
  } finally {
    client.close();
  }
}

/**
 * A newly linked device (electron/engine/linking): the account exists at the relay and lists this
 * device; its prekeys go up before the device counts as ready, so a peer's first send finds a bundle.
 */
export async function uploadLinkedDevicePrekeys(db: EngineDatabase, account: LocalAccount, deps: { rng: Rng; clock: Clock; tuning?: MessagingTuning }): Promise<void> {
  const client = relayClientFor(account, deps.rng, deps.tuning);
  try {
    await uploadPending(db.writer, client, deps.clock);
  } finally {
    client.close();
  }
}

export class Messaging {
  readonly core: MessagingCore;
  readonly contacts: Contacts;
  /** Key transparency: proofs of every lookup, and this account's monitor (ADR 0034). */
  readonly transparency: KeyTransparency;
  readonly outbox: OutboxSender;
  readonly inbound: InboundProcessor;
  readonly typing: Typing;
  readonly attachments: Attachments;
  /** History transfers to and from a newly linked device (linking/history.ts). */
  readonly history: HistoryTransfers;
  readonly profiles: Profiles;
  /** Sync between this account's own devices (sync.ts). */
  readonly sync: OwnDeviceSync;
  readonly sealed: SealedSender;
  /** Groups with sender keys (issue 16, groups/groups.ts). */
  readonly groups: Groups;
  /** Disappearing messages: deletes timed messages when their time runs out (disappearing/expiry.ts). */
  readonly expiry: Expiry;
  readonly presence = new PresenceTracker();
  readonly #unsubscribe: (() => void)[] = [];
  #maintenance: NodeJS.Timeout | undefined;
  #maintaining: Promise<void> | null = null;
  #connected: Promise<void> | null = null;
  #removalCheck: Promise<void> | null = null;
  #live = false;
  readonly #offline: boolean;
  #lastConnection = '';
  /** messages:send requests waiting for their group commit (see send). */
  #pendingSends: { readonly req: RequestOf<'messages:send'>; readonly resolve: (v: MessageView) => void; readonly reject: (e: unknown) => void }[] = [];

  constructor(o: MessagingOptions) {
    this.#offline = o.tuning?.offline === true;
    // An account from before the relay id was pinned pins the id of its first challenge.
    const relay = relayClientFor(o.account, o.rng, o.tuning, (relayId) => {
      if (this.core.stopped) return;
      this.core.db.writer.transaction(() => setRelayId(this.core.db.writer, relayId));
      this.core.account = { ...this.core.account, relayId };
    });
    this.core = new MessagingCore({
      db: o.db,
      account: o.account,
      relay,
      rng: o.rng,
      clock: o.clock,
      emit: o.emit,
      presenceOf: (id) => this.presence.get(id),
      onAccountChanged: o.onAccountChanged,
      ...(o.onRemoved && { onRemoved: o.onRemoved }),
    });
    this.presence.attach(this.core);
    this.transparency = new KeyTransparency(this.core);
    this.contacts = new Contacts(this.core, this.transparency);
    this.sealed = new SealedSender(this.core);
    this.outbox = new OutboxSender(this.core, this.contacts, this.sealed);
    this.typing = new Typing(this.core, o.tuning?.typingTimers ?? systemTimers, () => this.outbox.kick());
    this.attachments = new Attachments({
      core: this.core,
      dir: o.attachmentsDir,
      kick: () => this.outbox.kick(),
      retry: o.tuning?.transferRetry,
      beforeSend: (db, recipient) => void this.profiles.shareIfOwed(db, recipient),
      timerFor: (db, conversationId, recipient) => this.#timerForSend(db, conversationId, recipient),
      timed: () => this.expiry.reschedule(),
    });
    this.profiles = new Profiles(this.core, { kick: () => this.outbox.kick(), beforeShare: () => this.sealed.registerToken() });
    this.sync = new OwnDeviceSync(this.core);
    this.history = new HistoryTransfers({ core: this.core, dir: o.attachmentsDir, kick: () => this.outbox.kick(), retry: o.tuning?.transferRetry });
    this.expiry = new Expiry({
      db: o.db,
      clock: o.clock,
      discard: (rowIds, remove) => this.attachments.discard(rowIds, remove),
      removed: (rows) => this.#removed(rows),
      stopped: () => this.core.stopped,
    });
    this.inbound = new InboundProcessor(this.core, this.contacts, this.typing, this.sync, this.sealed, {
      timersChanged: () => this.expiry.reschedule(),
      discardFiles: (rowIds) => void this.attachments.discard(rowIds, () => {}).catch(() => undefined),
      kick: () => this.outbox.kick(),
      receiptsQueued: () => this.outbox.kickSoon(RECEIPT_FLUSH_DELAY_MS),
      prekeysConsumed: () => void this.#maintain(),
      profilesDue: () => void this.profiles.fetchDue().catch(() => undefined),
      accepted: (_accountId, conversationId) => {
        this.attachments.showAccepted(conversationId);
        this.#contactsChanged();
      },
      contactsChanged: () => this.#contactsChanged(),
      settingsSynced: (patch) => {
        const settings = this.core.settings();
        this.settingsChanged(patch, settings);
        this.core.emit('settings:changed', { settings });
      },
      filesGone: (rowIds) => void this.attachments.discard(rowIds, () => undefined).catch(() => undefined),
      history: (from, transfer) => this.history.received(from, transfer),
    });
    this.groups = new Groups(this.core, this.contacts, this.sealed, {
      kick: () => this.outbox.kick(),
      typing: (accountId, conversationId, state) => this.typing.received(accountId, conversationId, state),
    });
    this.inbound.groups = this.groups;
  }

  get relay(): RelayClient {
    return this.core.relay;
  }

  /** Connects (and keeps reconnecting) and starts the periodic maintenance. */
  start(): void {
    const { relay } = this.core;
    this.#unsubscribe.push(
      relay.on('state', (s) => this.#onState(s)),
      relay.on('envelope', (envelope) => this.inbound.enqueue({ envelope, live: this.#live })),
      // Online-only sealed envelopes (typing): live by definition, never acknowledged (seq 0).
      relay.on('ephemeral', (e) => this.inbound.enqueue({ envelope: { seq: 0, source: null, serverTimestamp: e.serverTimestamp, content: e.content }, live: true, ephemeral: true })),
      relay.on('backlogEnd', () => {
        this.#live = true;
      }),
      relay.on('presence', (p) => this.presence.live(p.accountId, p.online, p.shared)),
      relay.on('gone', () => {
        this.#emitConnection();
        this.#removalCheck = this.#confirmRemoval();
      }),
    );
    this.#sweep();
    this.#maintenance = setInterval(() => {
      this.#sweep();
      void this.#maintain();
      if (this.core.relay.state === 'open') void this.profiles.fetchDue().catch(() => undefined);
    }, MAINTENANCE_INTERVAL_MS);
    this.#maintenance.unref?.();
    this.#emitConnection();
    this.expiry.start();
    void this.attachments.start().catch(() => undefined);
    if (this.#offline) return;
    void this.#ensureRegistered()
      .then(() => relay.connect())
      .catch(() => undefined);
  }

  /**
   * The relay closed this device's channel as removed, or refused its session: it must prove that.
   * A fresh session request answers DEVICE_REMOVED with the account's signed list; only a list that
   * verifies under the account key, is newer, and lacks this device makes the engine wipe. A relay
   * that says so without that proof gets nothing but an offline device (ADR 0027).
   */
  async #confirmRemoval(): Promise<void> {
    const { core } = this;
    let proof: Uint8Array | null;
    try {
      proof = await core.relay.removalProof();
    } catch {
      return;
    }
    if (core.stopped) return;
    if (proof === null) {
      // The relay said "removed" but still lets this device in: not removed. Connect again, after a pause.
      await new Promise((resolve) => setTimeout(resolve, REVIVE_DELAY_MS).unref());
      if (!core.stopped) await core.relay.revive().catch(() => undefined);
      return;
    }
    if (isRemovalProof(core.account, proof)) core.removed();
  }

  /**
   * An account whose registration never got its answer (the process died, the relay was gone) is
   * registered now; until then there is nothing to connect to.
   */
  async #ensureRegistered(): Promise<void> {
    const { core } = this;
    if (core.account.registeredAt !== null) return;
    for (let attempt = 0; ; attempt++) {
      try {
        const relayId = await registerAccount(core.db.writer, core.account, { clock: core.clock, rng: core.rng, client: core.relay });
        core.check();
        core.account = { ...core.account, registeredAt: core.clock(), relayId };
        return;
      } catch (e) {
        if (core.stopped) throw new MessagingStopped();
        if (!Contacts.isTransient(e)) throw e;
        await new Promise((resolve) => setTimeout(resolve, Math.min(60_000, 1_000 * 2 ** attempt)).unref());
      }
    }
  }

  /** Stops everything at once (the database closes right after); in-flight work is abandoned. */
  stop(): void {
    this.core.stop();
    this.expiry.stop();
    this.attachments.stop();
    this.history.stop();
    clearInterval(this.#maintenance);
    for (const u of this.#unsubscribe.splice(0)) u();
    this.typing.stop();
    this.inbound.stop();
    this.outbox.stop();
    this.groups.stop();
    this.core.relay.close();
  }

  /** Unregisters this device at the relay (logout); failures are the caller's to ignore. */
  async unregister(): Promise<void> {
    const { relay } = this.core;
    await Promise.race([
      relay.unregisterDevice(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new EngineError('RELAY_UNAVAILABLE', 'the relay did not answer')), UNREGISTER_TIMEOUT_MS).unref()),
    ]);
  }

  /**
   * Deletes the account at the relay (the caller signs with the account key); RELAY_UNAVAILABLE
   * when the relay does not confirm in time.
   */
  async deleteAccount(signWithAccountKey: (input: Uint8Array) => Uint8Array): Promise<void> {
    const { relay } = this.core;
    await Promise.race([
      relay.deleteAccount(signWithAccountKey),
      new Promise<never>((_, reject) => setTimeout(() => reject(new EngineError('RELAY_UNAVAILABLE', 'the relay did not answer')), UNREGISTER_TIMEOUT_MS).unref()),
    ]);
  }

  presenceOf(accountId: Uint8Array): Presence {
    return this.presence.get(accountId);
  }

  // ── Connection ─────────────────────────────────────────────────────────────

  #emitConnection(): void {
    const { relay } = this.core;
    const state = relay.state;
    // `idle`: started, about to connect (after a pending registration).
    const payload =
      state === 'open'
        ? { state: 'online' as const, nextAttemptAt: null }
        : state === 'connecting' || state === 'idle'
          ? { state: 'connecting' as const, nextAttemptAt: null }
          : { state: 'offline' as const, nextAttemptAt: state === 'reconnecting' ? relay.nextAttemptAt : null };
    const key = JSON.stringify(payload);
    if (key === this.#lastConnection) return;
    this.#lastConnection = key;
    this.core.emit('connection', payload);
  }

  #onState(state: RelayState): void {
    if (this.core.stopped) return;
    this.#emitConnection();
    if (state === 'open') this.attachments.connection(true);
    else if (state === 'reconnecting' || state === 'gone') this.attachments.connection(false);
    if (state === 'open') {
      this.#connected = this.#onConnected().catch(() => undefined);
    } else {
      this.#live = false;
      this.inbound.disconnected();
      if (state === 'reconnecting' || state === 'gone' || state === 'closed') this.presence.disconnected();
    }
  }

  /** Resolves when the check of the latest "device removed" claim is done (tests). */
  async removalChecked(): Promise<void> {
    await this.#removalCheck;
  }

  /** Resolves when the work after the latest connection is done (tests). */
  async settled(): Promise<void> {
    await this.#connected;
  }

  /** At every connection: own list, prekeys, contact list and visibility, presence, outbox. */
  async #onConnected(): Promise<void> {
    const { core } = this;
    this.outbox.makeAllDue();
    this.outbox.kick();
    this.groups.kick();
    const steps: (() => Promise<void>)[] = [
      () => this.contacts.syncOwnList(),
      () => this.transparency.monitor(),
      () => this.#maintain(),
      () => this.contacts.syncRelayContacts(),
      () => this.presence.publishVisibility(core.settings().presenceVisible),
      () => this.presence.snapshot(),
      () => this.profiles.uploadAndShare(),
      () => this.sealed.connected(),
      () => this.profiles.fetchDue(),
    ];
    for (const step of steps) {
      if (core.stopped || core.relay.state !== 'open') return;
      try {
        await step();
      } catch (e) {
        if (e instanceof MessagingStopped) return;
        // Each step is retried at the next connection (or maintenance round).
      }
    }
    this.outbox.kick();
  }

  /** One maintenance round at a time. */
  #maintain(): Promise<void> {
    if (this.#maintaining) return this.#maintaining;
    if (this.core.stopped || this.core.relay.state !== 'open') return Promise.resolve();
    this.#maintaining = maintainAtRelay(this.core)
      .catch(() => undefined)
      .finally(() => {
        this.#maintaining = null;
      });
    return this.#maintaining;
  }

  /** Expired skipped keys (each peer's TTL), old de-duplication records. */
  #sweep(): void {
    const { core } = this;
    if (core.stopped) return;
    const now = core.clock();
    const db = core.db.writer;
    try {
      db.transaction(() => {
        sweepExpiredSkippedKeys(db, now);
        pruneReceived(db, now - INBOUND_DEDUP_RETENTION_MS);
        pruneEnvelopes(db, now - INBOUND_DEDUP_RETENTION_MS);
      });
    } catch {
      // Runs from a timer: tried again at the next round (lookups ignore expired keys meanwhile).
    }
  }

  /** Runs the periodic work now (tests with a moved clock). */
  async runMaintenance(): Promise<void> {
    this.#sweep();
    await this.#maintain();
  }

  // ── API ────────────────────────────────────────────────────────────────────

  async addContact(req: RequestOf<'contacts:add'>): Promise<ContactView> {
    const { contact, acceptedRequest } = await this.contacts.add(req.username);
    this.core.checkApi();
    // Adding someone whose message request was waiting accepts it (receipts, profile key).
    if (acceptedRequest) this.#afterAccept(contact.accountId);
    // The account's other devices add (or accept) them too.
    this.#syncContact(contact.accountId, { accepted: true });
    await this.presence.snapshot().catch(() => undefined);
    this.core.checkApi();
    return contactView(getContact(this.core.db.reader, contact.accountId) ?? contact, this.core.clock());
  }

  /**
   * conversations:start — the conversation with a username: this account's own gives "Note to
   * self" (kept here, copied to this account's other devices); anyone else is added as a contact
   * (contacts:add) and their conversation returned.
   */
  async startConversation(req: RequestOf<'conversations:start'>): Promise<ConversationView> {
    const { core } = this;
    core.checkApi();
    const db = core.db.writer;
    let conversationId: number;
    if (normalizeUsername(req.username) === core.account.username) {
      conversationId = db.transaction(() => getOrCreateNoteToSelf(db, core.clock())).id;
    } else {
      const contact = await this.addContact({ username: req.username });
      core.checkApi();
      // A contact whose conversation was deleted (conversations:delete) gets a new, empty one.
      conversationId = db.transaction(() => getOrCreateDirectConversation(db, accountIdOf(contact.id), core.clock())).id;
    }
    const row = conversationListRow(db, conversationId, MAX_PREVIEW_LENGTH);
    if (!row) throw new EngineError('CONTACT_BLOCKED', 'this person is blocked: unblock them first');
    return conversationView(row, this.presenceOf(row.conversation.peerAccountId), core.clock());
  }

  /**
   * messages:send — the message row, its outbox row (content) and the envelopes of every device
   * with a session commit in one transaction; a device without a session gets its envelope from
   * the sender loop (new session and envelope commit together). A reply accepts a message request.
   *
   * Group commit: requests that arrive together (in one turn of the event loop) are committed in
   * one transaction, each send in its own savepoint — the durable commit (an fsync) dominates a
   * send's cost, and one covers them all. A request is answered after its commit, as before.
   */
  send(req: RequestOf<'messages:send'>): Promise<MessageView> {
    const { core } = this;
    core.checkApi();
    // A group conversation's composer sends to the group (groups.ts).
    const group = groupByConversation(core.db.writer, rowIdOf(req.conversationId));
    if (group) return this.groups.send({ groupId: toHex(group.groupId), body: req.body });
    if (utf8(req.body).length > MAX_MESSAGE_BODY_BYTES) {
      throw new EngineError('MESSAGE_TOO_LARGE', `a message is at most ${MAX_MESSAGE_BODY_BYTES} bytes`);
    }
    // Typing stops at once ("stopped" is queued before the message).
    this.typing.onSend(rowIdOf(req.conversationId));
    return new Promise((resolve, reject) => {
      this.#pendingSends.push({ req, resolve, reject });
      if (this.#pendingSends.length === 1) setImmediate(() => this.#commitSends());
    });
  }

  #commitSends(): void {
    const { core } = this;
    const batch = this.#pendingSends;
    this.#pendingSends = [];
    const committed: { readonly resolve: (v: MessageView) => void; readonly record: MessageRecord }[] = [];
    const refused: { readonly reject: (e: unknown) => void; readonly error: unknown }[] = [];
    let accepted = false;
    try {
      core.checkApi();
      const db = core.db.writer;
      // One transaction for the group; each session record read and written once (sessions.ts).
      core.sessions.batch(() => {
        for (const p of batch) {
          try {
            const one = db.transaction(() => this.#queueText(db, p.req));
            accepted ||= one.accepted;
            committed.push({ resolve: p.resolve, record: one.record });
          } catch (e) {
            refused.push({ reject: p.reject, error: e });
          }
        }
      });
    } catch (e) {
      for (const p of batch) p.reject(e);
      return;
    }
    for (const r of refused) r.reject(r.error);
    if (committed.length === 0) return;
    crashPoint('after-outbox-commit');
    for (const c of committed) {
      const view = messageView(c.record, core.account.accountId);
      core.emit('message:added', { message: view });
      c.resolve(view);
    }
    for (const id of new Set(committed.map((c) => c.record.conversationId))) core.emitConversation(id);
    if (accepted) this.#contactsChanged();
    if (committed.some((c) => c.record.expiresAt !== null)) this.expiry.reschedule();
    this.outbox.kick();
  }

  /**
   * The timer a message sent now in `conversationId` carries (null: off). A device of `peer` or of
   * this account that cannot honour it would show a timed message as a plain one, so the send is
   * refused instead (TIMERS_UNSUPPORTED; ADR 0030).
   */
  #timerForSend(db: WriteDb, conversationId: number, peer: Uint8Array): number | null {
    const seconds = conversationTimer(db, conversationId).seconds;
    if (seconds === 0) return null;
    this.#requireTimers(db, peer);
    return seconds;
  }

  /** Throws TIMERS_UNSUPPORTED when a listed device of `peer` or of this account lacks `timers`. */
  #requireTimers(db: WriteDb, peer: Uint8Array): void {
    const { core } = this;
    const lacking = [...(core.isSelf(peer) ? [] : devicesLacking(core, db, peer, 'timers')), ...devicesLacking(core, db, core.account.accountId, 'timers')];
    if (lacking.length > 0) {
      throw new EngineError('TIMERS_UNSUPPORTED', 'a device on an older version cannot honour disappearing messages or delete for everyone');
    }
  }

  // ── Disappearing messages and delete for everyone (docs/protocol.md §23) ────

  /**
   * conversations:setTimer — the conversation's timer (0 = off), a system line here and a timer
   * change (§23.2) to the person's devices. Turning a timer on needs every device to honour it;
   * turning it off is always allowed. The person's own devices learn it through own-device sync
   * (helper `sync`, content 0x08–0x0B: not built here; hook: this method's transaction).
   */
  setTimer(req: RequestOf<'conversations:setTimer'>): ConversationView {
    const { core } = this;
    core.checkApi();
    if (req.seconds !== 0 && !isTimerValue(req.seconds)) throw new EngineError('INVALID_REQUEST', 'a timer is off or 1 second to 4 weeks');
    const conversationId = rowIdOf(req.conversationId);
    const db = core.db.writer;
    const conversation = getConversation(db, conversationId);
    if (!conversation) throw new EngineError('NOT_FOUND', 'no such conversation');
    const peer = conversation.peerAccountId;
    const note = conversation.kind === 'note-to-self';
    if (!note) {
      const contact = getContact(db, peer);
      if (!contact) throw new EngineError('NOT_FOUND', 'no such contact');
      if (contact.blocked) throw new EngineError('CONTACT_BLOCKED', 'this person is blocked: unblock them first');
    }
    if (req.seconds !== 0) this.#requireTimers(db, peer);
    const now = core.clock();
    const current = conversationTimer(db, conversationId);
    let noticeId: number | null = null;
    if (current.seconds !== req.seconds) {
      // Never behind the change it replaces (a peer's clock may be ahead of this one).
      const changedAt = Math.max(now, current.changedAt + 1);
      const messageId = core.rng(MESSAGE_ID_LENGTH);
      noticeId = db.transaction(() => {
        applyTimerChange(db, conversationId, req.seconds, changedAt);
        const id = insertMessage(db, {
          conversationId,
          kind: 'timer-changed',
          direction: 'outgoing',
          senderAccountId: core.account.accountId,
          senderDeviceId: core.account.deviceId,
          messageId,
          sentAt: changedAt,
          receivedAt: now,
          body: null,
          status: null,
          readAt: now,
          expireTimerSeconds: req.seconds,
        });
        if (!note) {
          const content = encodeContent({ type: 'timer-change', messageId, sentAt: changedAt, seconds: req.seconds });
          core.queueSend(db, { kind: 'message', recipient: peer, content, messageRowId: null });
        }
        // The person's other devices follow, with the same system line (§16.1 TimerChanged).
        this.sync.timerChanged(db, note ? core.account.accountId : peer, req.seconds, messageId, changedAt);
        return id;
      });
    }
    if (noticeId !== null) {
      core.emitMessageAdded(noticeId);
      core.emitConversation(conversationId);
      this.outbox.kick();
    }
    const row = conversationListRow(core.db.writer, conversationId, MAX_PREVIEW_LENGTH)!;
    return conversationView(row, this.presenceOf(peer), core.clock());
  }

  /**
   * messages:deleteForEveryone — one of this account's own texts or files, within 24 hours of its
   * sending: removed here as expiry removes it (row, search entries, files), "This message was
   * deleted" in its place, and a delete request (§23.3) to the person's devices.
   */
  async deleteForEveryone(req: RequestOf<'messages:deleteForEveryone'>): Promise<null> {
    const { core } = this;
    core.checkApi();
    const rowId = rowIdOf(req.messageId);
    const m = getMessage(core.db.reader, rowId);
    if (!m) throw new EngineError('NOT_FOUND', 'no such message');
    if (m.direction !== 'outgoing' || (m.kind !== 'text' && m.kind !== 'attachment') || m.messageId === null) {
      throw new EngineError('NOT_DELETABLE', 'only your own messages can be deleted for everyone');
    }
    const now = core.clock();
    if (now - m.sentAt > DELETE_FOR_EVERYONE_WINDOW_MS) throw new EngineError('DELETE_WINDOW_PASSED', 'older than 24 hours');
    const conversation = getConversation(core.db.reader, m.conversationId)!;
    const peer = conversation.peerAccountId;
    const note = conversation.kind === 'note-to-self';
    if (!note) this.#requireTimers(core.db.writer, peer);
    const target = m.messageId;
    let tombstone = 0;
    await this.expiry.removeBatch([{ id: m.id, conversationId: m.conversationId }], m.kind === 'attachment' ? [m.id] : [], (db) => {
      tombstone = insertTombstone(db, m);
      if (!note) {
        const content = encodeContent({ type: 'delete', messageId: core.rng(MESSAGE_ID_LENGTH), sentAt: now, target });
        core.queueSend(db, { kind: 'message', recipient: peer, content, messageRowId: null });
      }
      // The author's other devices hold the same message (a copy, or the original): they delete it too.
      this.sync.messagesDeleted(db, [m], true);
    });
    core.emitMessageAdded(tombstone);
    core.emitConversation(m.conversationId);
    this.outbox.kick();
    return null;
  }

  /** Rows expiry (or a delete) removed: the windows drop them; each conversation's list data follows. */
  #removed(rows: readonly RemovedRow[]): void {
    const { core } = this;
    for (const r of rows) core.emit('message:removed', { conversationId: String(r.conversationId), messageId: String(r.id) });
    for (const id of new Set(rows.map((r) => r.conversationId))) core.emitConversation(id);
  }

  /** One text: checks, message row, outbox rows (peer and own devices), in the caller's transaction. */
  #queueText(db: WriteDb, req: RequestOf<'messages:send'>): { record: MessageRecord; accepted: boolean } {
    const { core } = this;
    const conversationId = rowIdOf(req.conversationId);
    const conversation = getConversation(db, conversationId);
    if (!conversation) throw new EngineError('NOT_FOUND', 'no such conversation');
    if (conversation.kind === 'note-to-self') return { record: this.#queueNote(db, conversationId, req.body), accepted: false };
    const peer = conversation.peerAccountId;
    const contact = getContact(db, peer);
    if (!contact) throw new EngineError('NOT_FOUND', 'no such contact');
    if (contact.blocked) throw new EngineError('CONTACT_BLOCKED', 'this person is blocked: unblock them first');
    if (contact.keyChangePending) throw new EngineError('KEY_CHANGE_PENDING', "the contact's safety number changed: accept the change first");
    const now = core.clock();
    const messageId = core.rng(MESSAGE_ID_LENGTH);
    // The conversation's timer goes with the message itself (§23.1), so a change cannot race it.
    const timer = this.#timerForSend(db, conversationId, peer);
    const content = encodeContent({ type: 'text', messageId, sentAt: now, text: req.body, expireTimerSeconds: timer });
    const accepted = acceptContact(db, peer, now);
    // A reply accepts a request: the receipts held back go now.
    if (accepted) this.#queueHeldReceipts(db, peer, conversationId, now);
    // The profile key goes first (before the first text, and after every change or rotation).
    this.profiles.shareIfOwed(db, peer);
    const row = {
      conversationId,
      kind: 'text',
      direction: 'outgoing',
      senderAccountId: core.account.accountId,
      senderDeviceId: core.account.deviceId,
      messageId,
      sentAt: now,
      receivedAt: now,
      body: req.body,
      status: 'sending',
      readAt: null,
      ...timedFields(timer, now),
    } as const;
    const rowId = insertMessage(db, row);
    // The copy for this account's other devices is queued first: the outbox goes out in order, so
    // each of them holds the message before any receipt for it can arrive (docs/adr/0026).
    if (core.targetDevices(db, core.account.accountId).length > 0) {
      const transcript = encodeContent({ type: 'sent', messageId, sentAt: now, destination: peer, text: req.body, expireTimerSeconds: timer });
      core.queueSend(db, { kind: 'sync', recipient: core.account.accountId, content: transcript, messageRowId: rowId });
    }
    core.queueSend(db, { kind: 'message', recipient: peer, content, messageRowId: rowId });
    return { record: insertedRecord(rowId, row), accepted };
  }

  /**
   * A note to self: stored as sent (nothing to deliver) and copied to this account's other devices
   * as a sent transcript addressed to the account itself.
   */
  #queueNote(db: WriteDb, conversationId: number, body: string): MessageRecord {
    const { core } = this;
    const now = core.clock();
    const messageId = core.rng(MESSAGE_ID_LENGTH);
    const self = core.account.accountId;
    const timer = this.#timerForSend(db, conversationId, self);
    const row = {
      conversationId,
      kind: 'text',
      direction: 'outgoing',
      senderAccountId: self,
      senderDeviceId: core.account.deviceId,
      messageId,
      sentAt: now,
      receivedAt: now,
      body,
      status: 'sent',
      readAt: null,
      ...timedFields(timer, now),
    } as const;
    const rowId = insertMessage(db, row);
    if (core.targetDevices(db, self).length > 0) {
      const transcript = encodeContent({ type: 'sent', messageId, sentAt: now, destination: self, text: body, expireTimerSeconds: timer });
      core.queueSend(db, { kind: 'sync', recipient: self, content: transcript, messageRowId: rowId });
    }
    return insertedRecord(rowId, row);
  }

  /** messages:retry — a failed message is queued again (same id and time: receivers de-duplicate). */
  retry(req: RequestOf<'messages:retry'>): MessageView {
    const { core } = this;
    core.checkApi();
    const m = getMessage(core.db.reader, rowIdOf(req.messageId));
    if (!m) throw new EngineError('NOT_FOUND', 'no such message');
    if (m.direction !== 'outgoing' || m.kind !== 'text' || m.status !== 'failed') throw new EngineError('NOT_RETRYABLE', 'only a failed message can be retried');
    const conversation = getConversation(core.db.reader, m.conversationId)!;
    const contact = getContact(core.db.reader, conversation.peerAccountId);
    if (!contact) throw new EngineError('NOT_FOUND', 'no such contact');
    if (contact.blocked) throw new EngineError('CONTACT_BLOCKED', 'this person is blocked: unblock them first');
    if (contact.keyChangePending) throw new EngineError('KEY_CHANGE_PENDING', "the contact's safety number changed: accept the change first");
    const db = core.db.writer;
    const changed = db.transaction(() => {
      const row = markSending(db, m.id);
      if (row) core.queueSend(db, { kind: 'message', recipient: conversation.peerAccountId, content: textContentOf(m), messageRowId: m.id });
      return row;
    });
    crashPoint('after-outbox-commit');
    const now = getMessage(core.db.reader, m.id)!;
    if (changed) {
      core.emit('message:status', { conversationId: String(m.conversationId), messageId: String(m.id), status: 'sending' });
      core.emitConversation(m.conversationId);
    }
    this.outbox.kick();
    return messageView(now, core.account.accountId);
  }

  /** conversations:setTyping */
  setTyping(req: RequestOf<'conversations:setTyping'>): null {
    this.core.checkApi();
    const conversationId = rowIdOf(req.conversationId);
    if (!getConversation(this.core.db.reader, conversationId)) throw new EngineError('NOT_FOUND', 'no such conversation');
    if (this.groups.typing(conversationId, req.typing ? 'started' : 'stopped')) return null;
    this.typing.set(conversationId, req.typing);
    return null;
  }

  // ── Message requests and blocking (ADR 0019) ─────────────────────────────────

  #requestContact(contactId: string) {
    const contact = getContact(this.core.db.reader, accountIdOf(contactId));
    if (!contact) throw new EngineError('NOT_FOUND', 'no such contact');
    return contact;
  }

  /**
   * contacts:accept — the person joins the relay's contact list (presence and typing once mutual),
   * gets this account's profile key, and a delivery receipt (and a read receipt, when read and
   * read receipts are on) for what they sent while it was a request.
   */
  acceptRequest(req: RequestOf<'contacts:accept'>): ConversationView {
    const { core } = this;
    core.checkApi();
    const contact = this.#requestContact(req.contactId);
    if (contact.blocked) throw new EngineError('CONTACT_BLOCKED', 'this person is blocked: unblock them first');
    const db = core.db.writer;
    const now = core.clock();
    const conversation = findDirectConversation(db, contact.accountId);
    if (!conversation) throw new EngineError('NOT_FOUND', 'no conversation with this person');
    const changed = db.transaction(() => acceptContact(db, contact.accountId, now));
    if (changed) {
      this.#afterAccept(contact.accountId);
      this.#syncContact(contact.accountId, { accepted: true });
    }
    const conversationId = conversation.id;
    core.emitConversation(conversationId);
    const row = conversationListRow(core.db.reader, conversationId, MAX_PREVIEW_LENGTH)!;
    return conversationView(row, this.presenceOf(contact.accountId), core.clock());
  }

  /** A request was just accepted (contacts:accept or contacts:add): held receipts and the profile key go. */
  #afterAccept(accountId: Uint8Array): void {
    const { core } = this;
    const db = core.db.writer;
    const conversation = findDirectConversation(db, accountId);
    db.transaction(() => {
      if (conversation) this.#queueHeldReceipts(db, accountId, conversation.id, core.clock());
      this.profiles.shareIfOwed(db, accountId);
    });
    if (conversation) this.attachments.showAccepted(conversation.id);
    this.#contactsChanged();
    this.outbox.kickSoon(RECEIPT_FLUSH_DELAY_MS);
    this.outbox.kick();
  }

  /**
   * A request just accepted (contacts:accept, contacts:add or a reply): delivery receipts for every
   * text and file it sent meanwhile, and read receipts for those read when read receipts are on.
   */
  #queueHeldReceipts(db: WriteDb, peer: Uint8Array, conversationId: number, now: number): void {
    const ids = incomingMessageIds(db, conversationId);
    for (const messageId of ids.all) queueReceipt(db, { peerAccountId: peer, kind: 'delivered', messageId }, now);
    if (this.core.settings().readReceipts) for (const messageId of ids.read) queueReceipt(db, { peerAccountId: peer, kind: 'read', messageId }, now);
  }

  /**
   * messages:deleteForMe — the message leaves this device and the person's other devices (issue
   * 17: a MessagesDeleted sync, §16.1): its row with everything keyed on it (search entries,
   * attachment row, per-device statuses, a send still queued: deleteMessage), then its attachment
   * files. Nothing goes to the peer: they keep their copy.
   */
  async deleteForMe(req: RequestOf<'messages:deleteForMe'>): Promise<null> {
    const { core } = this;
    core.checkApi();
    const rowId = rowIdOf(req.messageId);
    const m = getMessage(core.db.reader, rowId);
    if (!m) throw new EngineError('NOT_FOUND', 'no such message');
    const db = core.db.writer;
    const remove = (): void =>
      void db.transaction(() => {
        if (deleteMessage(db, rowId)) this.sync.messagesDeleted(db, [m], false);
      });
    if (m.kind === 'attachment') await this.attachments.discard([rowId], remove);
    else remove();
    this.outbox.kick();
    core.emit('message:removed', { conversationId: String(m.conversationId), messageId: String(rowId) });
    core.emitConversation(m.conversationId);
    return null;
  }

  /**
   * contacts:deleteRequest — only a request (not an accepted contact) is deleted this way: the
   * person, the conversation and its messages, and their attachment files (as conversations:delete).
   */
  async deleteRequest(req: RequestOf<'contacts:deleteRequest'>): Promise<null> {
    const { core } = this;
    core.checkApi();
    const contact = this.#requestContact(req.contactId);
    if (contact.accepted) throw new EngineError('INVALID_REQUEST', 'not a message request');
    const db = core.db.writer;
    const conversation = findDirectConversation(db, contact.accountId);
    const remove = (): void =>
      void db.transaction(() => {
        deleteContact(db, contact.accountId);
        dropContactClock(db, contact.accountId);
        // The account's other devices delete the request too.
        if (conversation) this.sync.conversationDeleted(db, conversation, true);
      });
    if (conversation) await this.attachments.discardConversation(conversation.id, remove);
    else remove();
    this.outbox.kick();
    if (conversation) core.emit('conversation:removed', { conversationId: String(conversation.id) });
    return null;
  }

  /**
   * conversations:delete — the conversation leaves this device with its messages, their search
   * entries and their attachment files (transfers stopped first). Nothing is sent; the person stays
   * a contact.
   */
  async deleteConversation(req: RequestOf<'conversations:delete'>): Promise<null> {
    const { core } = this;
    core.checkApi();
    const conversationId = rowIdOf(req.conversationId);
    const conversation = getConversation(core.db.reader, conversationId);
    if (!conversation) throw new EngineError('NOT_FOUND', 'no such conversation');
    const db = core.db.writer;
    await this.attachments.discardConversation(
      conversationId,
      () =>
        void db.transaction(() => {
          deleteConversation(db, conversationId);
          // The account's other devices delete what they show of it up to now.
          this.sync.conversationDeleted(db, conversation, false);
        }),
    );
    this.outbox.kick();
    core.emit('conversation:removed', { conversationId: String(conversationId) });
    return null;
  }

  /**
   * contacts:setBlocked — blocking drops what was queued for them, takes them off the relay's
   * contact list and gives this account a new profile key (uploaded, then shared with everyone
   * else who held the old one); their conversation leaves the list. Unblocking lists it again and,
   * when the conversation was accepted and they held a key before, sends them the current key at
   * once (ADR 0022); a message request still gets it only when accepted.
   */
  async setBlocked(req: RequestOf<'contacts:setBlocked'>): Promise<ContactView> {
    const { core } = this;
    core.checkApi();
    const contact = this.#requestContact(req.contactId);
    const db = core.db.writer;
    const now = core.clock();
    const changed = db.transaction(() => {
      const did = setContactBlocked(db, contact.accountId, req.blocked, now);
      if (did && req.blocked) {
        dropQueuedFor(db, contact.accountId);
        this.profiles.rotateKey(db);
      }
      // The account's other devices block (or unblock) them too.
      if (did) this.sync.contactChanged(db, contact.accountId, { blocked: req.blocked });
      return did;
    });
    if (changed) this.outbox.kick();
    const conversation = findDirectConversation(db, contact.accountId);
    if (changed && conversation) {
      if (req.blocked) core.emit('conversation:removed', { conversationId: String(conversation.id) });
      else core.emitConversation(conversation.id);
    }
    if (changed) {
      this.#contactsChanged();
      // Blocking: the new key goes to everyone else. Unblocking: the record of what they were sent
      // was kept (blocked contacts are skipped), so an accepted one is owed the new key now.
      // The rotated key's token replaces the old one at the relay before the key is shared (so the
      // blocked person's stops working and nobody else's is refused): beforeShare.
      await this.profiles.uploadAndShare().catch(() => undefined);
      core.checkApi();
    }
    return contactView(getContact(core.db.reader, contact.accountId)!, core.clock());
  }

  listBlocked(): ContactView[] {
    this.core.checkApi();
    const now = this.core.clock();
    return listBlockedContacts(this.core.db.reader).map((c) => contactView(c, now));
  }

  /** A contact change made here goes to the account's other devices (sync.ts). */
  #syncContact(accountId: Uint8Array, change: ContactChange): void {
    const db = this.core.db.writer;
    if (db.transaction(() => this.sync.contactChanged(db, accountId, change))) this.outbox.kick();
  }

  // ── Hooks from the engine ──────────────────────────────────────────────────

  /** Sync content was queued for the account's other devices (verification, settings). */
  syncQueued(): void {
    this.outbox.kick();
  }

  /** markRead queued read receipts. */
  receiptsQueued(): void {
    this.outbox.kick();
  }

  /** A contact was accepted (or verified): the relay's contact list and presence follow. */
  #contactsChanged(): void {
    void this.contacts
      .syncRelayContacts()
      .then(() => this.presence.snapshot())
      .catch(() => undefined);
  }

  settingsChanged(patch: Partial<Settings>, settings: Settings): void {
    if ('presenceVisible' in patch && this.core.relay.state === 'open') {
      void this.presence.publishVisibility(settings.presenceVisible).catch(() => undefined);
    }
    if ('typingIndicators' in patch && !settings.typingIndicators) this.typing.turnedOff();
  }
}
