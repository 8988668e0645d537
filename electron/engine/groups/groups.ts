/**
 * Groups in the engine (issue 16, DESIGN §3.5, docs/protocol.md §24, docs/adr/0032-groups.md).
 *
 * Owns, for one open profile:
 *  - the group API (groups:*): create from contacts (≤ 1,000 members, every device with the
 *    `groups` capability, else GROUP_MEMBER_UNSUPPORTED), add and remove members and admins,
 *    rename, leave — each a membership record signed by this device's identity key, applied here
 *    and delivered end to end over the pairwise sessions (content 0x11): the new record to the
 *    members, the whole chain to a newcomer, so it learns the admins and the membership from the
 *    inviter and never from the relay;
 *  - this device's sender-key chain per group: created on first send, rotated after 100 messages
 *    or 24 h (senderKeyNeedsRotation), when a member or member device goes (removal, leave, a
 *    device gone from a list), and before a send on a stale chain; distributed (content 0x12) at its
 *    **current** iteration to every member device (and this account's other devices) that was not
 *    given it yet; a re-request (0x13) is answered with a point the requesting account's devices
 *    all had already, or the current one;
 *  - sends: the text is encrypted once (senderKeyEncrypt, the membership head inside the signed
 *    AD) and queued in the group outbox; the sender loop posts it as ONE sealed multi-account
 *    upload to every member device and this account's other devices (POST /v1/sealed/multi),
 *    refreshing the lists the relay calls stale, and sends authenticated to the members whose
 *    token it lacks or the relay refused;
 *  - receiving (inside the inbound batch's transaction): membership updates (applyGroupRecord,
 *    with the author device checked against its account's verified list; records whose previous
 *    record is missing wait, capped), distributions (only over the sender device's own pairwise
 *    session, processSenderKeyDistribution), requests, and group messages: decrypted with the
 *    sender device's record, the head checked (checkGroupMessageHead), shown; a message whose
 *    distribution or head record has not arrived waits in a capped queue and is opened when it
 *    does; a missing distribution is requested again;
 *  - per-member receipts of own group messages and the group views.
 *
 * Does not own: the protocol (shared/protocol/sender-key*.ts, group-membership.ts), pairwise
 * sessions and the 1:1 outbox (messaging/), the sealed layer (messaging/sealed.ts), storage
 * (db/groups.ts).
 */
import { bytesEqual, compareBytes, fromHex, toHex, utf8 } from '../../../shared/crypto/bytes.js';
import type { GroupReceiptsView, GroupView, MessageView } from '../../../shared/api/view-models.js';
import { MAX_MESSAGE_BODY_BYTES } from '../../../shared/api/primitives.js';
import type { RequestOf } from '../../../shared/api/types.js';
import { hasCapability } from '../../../shared/protocol/device-list.js';
import { GROUP_ID_LENGTH, MAX_GROUP_DESCRIPTION_BYTES, MAX_GROUP_MEMBERS, MAX_GROUP_NAME_BYTES } from '../../../shared/protocol/constants.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import {
  applyGroupRecord,
  checkGroupMessageHead,
  deserializeMembership,
  findGroupMember,
  groupMembers,
  isOnChain,
  membershipRecords,
  openMembership,
  parseGroupRecord,
  proposeGroupRecord,
  serializeMembership,
  signGroupRecord,
  type DeviceKeyCheck,
  type GroupMember,
  type GroupOperation,
  type Membership,
  type SignedGroupRecord,
} from '../../../shared/protocol/group-membership.js';
import {
  createSenderKeyState,
  deserializeSenderKeyRecord,
  deserializeSenderKeyState,
  EMPTY_SENDER_KEY_RECORD,
  parseSenderKeyMessage,
  senderKeyDecrypt,
  senderKeyEncrypt,
  senderKeyNeedsRotation,
  serializeSenderKeyRecord,
  serializeSenderKeyState,
  SENDER_KEY_MESSAGE_TYPE,
  type SenderKeyState,
} from '../../../shared/protocol/sender-key.js';
import { createSenderKeyDistribution, processSenderKeyDistribution, type SenderKeyDistributionRequest } from '../../../shared/protocol/sender-key-distribution.js';
import type { PeerDevice } from '../../../shared/protocol/session.js';
import { encodeSealedMultiRecipient, sealMessage, type SealedRecipient } from '../../../shared/protocol/sealed-sender.js';
import { MAX_SEALED_MULTI_UPLOAD_BYTES } from '../../../shared/wire/sealed.js';
import { parsedDeviceList } from '../account/device-list-cache.js';
import { getContact } from '../db/contacts.js';
import type { WriteDb } from '../db/database.js';
import {
  bumpGroupSend,
  chainDevices,
  countPendingMessages,
  countPendingRecords,
  deleteGroupSend,
  deletePendingMessage,
  deletePendingRecord,
  dropOldestPendingMessage,
  dropOwnChain,
  dropSenderKeys,
  enqueueGroupSend,
  getGroup,
  groupByConversation,
  groupReceipts,
  groupSends,
  insertGroup,
  insertPendingMessage,
  insertPendingRecord,
  listGroups,
  markPendingRequested,
  markRotate,
  ownChain,
  pendingMessages,
  pendingRecords,
  pruneChainDevices,
  putOwnChain,
  putSenderKeyRecord,
  recordChainDevice,
  recordGroupReceipt,
  senderKeyRecord,
  updateGroup,
  type GroupRow,
  type GroupStanding,
} from '../db/groups.js';
import { recordReceived } from '../db/inbound.js';
import { getMessage, insertedRecord, insertMessage, markSent } from '../db/messages.js';
import { queueReceipt } from '../db/receipts.js';
import { sql } from '../db/sql.js';
import { EngineError } from '../errors.js';
import { RelayClientError } from '../relay/errors.js';
import { messageView, rowIdOf } from '../views.js';
import { ContentError, decodeContent, encodeContent, MESSAGE_ID_LENGTH, type Content } from '../messaging/content.js';
import type { Contacts } from '../messaging/contacts.js';
import { MessagingStopped, type MessagingCore } from '../messaging/fan-out.js';
import type { SealedSender } from '../messaging/sealed.js';

/** Group messages waiting for their distribution or head record, per group; the oldest go first. */
export const MAX_PENDING_GROUP_MESSAGES = 500;
/** Membership records waiting for the record they build on, per group. */
export const MAX_PENDING_GROUP_RECORDS = 256;
/** A missing distribution is asked for again at most this often per sender device and chain. */
export const DISTRIBUTION_REQUEST_INTERVAL_MS = 30_000;
/** Attempts of one group send before it fails (each after a refresh of what the relay refused). */
const MAX_GROUP_SEND_ATTEMPTS = 6;

/** What an inbound batch collects for after its commit (inbound.ts's Effects fits). */
export type GroupEffects = {
  events: (() => void)[];
  conversations: Set<number>;
  receiptsQueued: boolean;
  sendSoon: boolean;
};

export type GroupHooks = {
  /** The 1:1 outbox has work (distributions, updates, requests). */
  readonly kick: () => void;
  /** A typing notice from a member in a group conversation. */
  readonly typing?: (accountId: Uint8Array, conversationId: number, state: 'started' | 'stopped') => void;
};

function standingOf(m: Membership, self: Uint8Array, previous: GroupStanding): GroupStanding {
  if (findGroupMember(m.state, self)) return 'member';
  return previous === 'left' ? 'left' : 'removed';
}

export class Groups {
  #sending: Promise<void> | null = null;
  #again = false;
  #retry: NodeJS.Timeout | undefined;
  /** When each (group, sender device, chain) was last asked for its distribution (this run). */
  readonly #requested = new Map<string, number>();

  constructor(
    private readonly core: MessagingCore,
    private readonly contacts: Contacts,
    private readonly sealed: SealedSender,
    private readonly hooks: GroupHooks,
  ) {}

  stop(): void {
    clearTimeout(this.#retry);
  }

  // ── Views ──────────────────────────────────────────────────────────────────

  #name(db: WriteDb, accountId: Uint8Array): string {
    if (this.core.isSelf(accountId)) return 'You';
    const c = getContact(db, accountId);
    return c?.displayName ?? (c?.username || `Unknown ${toHex(accountId).slice(0, 8)}`);
  }

  view(db: WriteDb, g: GroupRow): GroupView {
    const m = deserializeMembership(g.membership);
    const self = this.core.account.accountId;
    const members = groupMembers(m.state).map((member) => ({
      id: toHex(member.accountId),
      name: this.#name(db, member.accountId),
      admin: member.admin,
      self: bytesEqual(member.accountId, self),
    }));
    const unread = db.get<{ n: number }>(sql`SELECT count(*) AS n FROM messages WHERE conversation_id = ${g.conversationId} AND direction = 'incoming' AND read_at IS NULL`)!.n;
    const last = db.get<{ id: number }>(sql`SELECT id FROM messages WHERE conversation_id = ${g.conversationId} ORDER BY display_at DESC, id DESC LIMIT 1`);
    const lm = last ? getMessage(db, last.id) : undefined;
    return {
      id: toHex(g.groupId),
      conversationId: String(g.conversationId),
      name: m.state.name,
      description: m.state.description,
      members,
      admin: findGroupMember(m.state, self)?.admin === true && g.standing === 'member',
      standing: g.standing,
      unreadCount: unread,
      lastMessage: lm
        ? { id: String(lm.id), kind: lm.kind, direction: lm.direction, preview: lm.body === null ? null : lm.body.slice(0, 120), displayAt: lm.displayAt, status: lm.status }
        : null,
    };
  }

  #emit(groupId: Uint8Array): void {
    const g = getGroup(this.core.db.writer, groupId);
    if (g) this.core.emit('group:updated', { group: this.view(this.core.db.writer, g) });
  }

  list(): GroupView[] {
    this.core.checkApi();
    const db = this.core.db.writer;
    return listGroups(db).map((g) => this.view(db, g));
  }

  #group(groupIdHex: string): GroupRow {
    const g = getGroup(this.core.db.writer, fromHex(groupIdHex));
    if (!g) throw new EngineError('NOT_FOUND', 'no such group');
    return g;
  }

  // ── Membership checks ─────────────────────────────────────────────────────

  /** The author device of a record is on its account's verified list with that signing key. */
  #deviceCheck(db: WriteDb): DeviceKeyCheck {
    return (accountId, deviceId, signingKey) => {
      const { core } = this;
      if (core.isSelf(accountId)) {
        const own = parsedDeviceList(core.account.deviceList.signed).list.devices.find((d) => d.deviceId === deviceId);
        return own !== undefined && bytesEqual(own.identitySigningKey, signingKey);
      }
      const contact = getContact(db, accountId);
      // A newcomer learns the earlier admins' keys from its inviter (DESIGN §3.5): an author this
      // device holds no list for is taken on the inviter's word; one it does hold must match it.
      if (!contact) return true;
      const device = parsedDeviceList(contact.deviceList.signed).list.devices.find((d) => d.deviceId === deviceId);
      return device !== undefined && bytesEqual(device.identitySigningKey, signingKey);
    };
  }

  /** The members for a create or add: accepted contacts whose every device has groups. */
  #membersFor(db: WriteDb, ids: readonly string[]): GroupMember[] {
    const out: GroupMember[] = [];
    for (const id of ids) {
      const accountId = fromHex(id);
      if (this.core.isSelf(accountId)) continue;
      const contact = getContact(db, accountId);
      if (!contact || contact.blocked) throw new EngineError('NOT_FOUND', 'no such contact');
      const devices = parsedDeviceList(contact.deviceList.signed).list.devices;
      if (devices.some((d) => !hasCapability(d, 'groups'))) {
        throw new EngineError('GROUP_MEMBER_UNSUPPORTED', 'a device of this person runs a version without groups');
      }
      out.push({ accountId, accountPublicKey: contact.accountKey, admin: false });
    }
    return out;
  }

  #author() {
    const a = this.core.account;
    return { accountId: a.accountId, deviceId: a.deviceId, signingPublicKey: a.identitySigning.publicKey };
  }

  // ── API: membership changes ───────────────────────────────────────────────

  create(req: RequestOf<'groups:create'>): GroupView {
    const { core } = this;
    core.checkApi();
    const db = core.db.writer;
    const name = req.name.trim();
    const description = (req.description ?? '').trim();
    if (name.length === 0 || utf8(name).length > MAX_GROUP_NAME_BYTES || utf8(description).length > MAX_GROUP_DESCRIPTION_BYTES) {
      throw new EngineError('INVALID_REQUEST', 'a group name is 1 to 128 bytes, a description at most 512');
    }
    const unique = [...new Set(req.memberIds)];
    if (unique.length + 1 > MAX_GROUP_MEMBERS) throw new EngineError('GROUP_MEMBER_LIMIT', 'a group has at most 1,000 members');
    const self: GroupMember = { accountId: core.account.accountId, accountPublicKey: core.account.accountPublicKey, admin: true };
    const members = [self, ...this.#membersFor(db, unique)].sort((a, b) => compareBytes(a.accountId, b.accountId));
    const now = core.clock();
    const groupId = core.rng(GROUP_ID_LENGTH);
    const genesis = signGroupRecord(
      { groupId, epoch: 0, previousHash: new Uint8Array(32), time: now, author: this.#author(), operation: { kind: 'create', name, description, members } },
      core.account.identitySigning.privateKey,
    );
    const m = openMembership(genesis.bytes, this.#deviceCheck(db));
    let line = 0;
    const g = db.transaction(() => {
      const row = insertGroup(db, { groupId, membership: serializeMembership(m), now });
      line = this.#systemLine(db, row.conversationId, core.account.accountId, `You created the group “${name}”`, now, 'outgoing');
      // Everyone (and this account's other devices) gets the chain so far: the genesis.
      for (const member of members) if (!core.isSelf(member.accountId)) this.#queueUpdate(db, groupId, member.accountId, [genesis.bytes]);
      if (core.targetDevices(db, core.account.accountId).length > 0) this.#queueUpdate(db, groupId, core.account.accountId, [genesis.bytes]);
      return row;
    });
    this.hooks.kick();
    const view = this.view(db, g);
    core.emit('group:updated', { group: view });
    core.emitMessageAdded(line);
    return view;
  }

  addMembers(req: RequestOf<'groups:addMembers'>): GroupView {
    const db = this.core.db.writer;
    const g = this.#group(req.groupId);
    const m = deserializeMembership(g.membership);
    const fresh = this.#membersFor(
      db,
      [...new Set(req.memberIds)].filter((id) => !findGroupMember(m.state, fromHex(id))),
    ).sort((a, b) => compareBytes(a.accountId, b.accountId));
    if (fresh.length === 0) return this.view(db, g);
    if (m.state.members.size + fresh.length > MAX_GROUP_MEMBERS) throw new EngineError('GROUP_MEMBER_LIMIT', 'a group has at most 1,000 members');
    return this.#change(g, { kind: 'add', members: fresh }, { newcomers: fresh.map((f) => f.accountId) });
  }

  removeMember(req: RequestOf<'groups:removeMember'>): GroupView {
    const g = this.#group(req.groupId);
    const target = fromHex(req.memberId);
    if (this.core.isSelf(target)) throw new EngineError('GROUP_INVALID_CHANGE', 'leave the group instead');
    if (!findGroupMember(deserializeMembership(g.membership).state, target)) throw new EngineError('NOT_FOUND', 'not a member of this group');
    return this.#change(g, { kind: 'remove', accountId: target }, { alsoTo: [target] });
  }

  setAdmin(req: RequestOf<'groups:setAdmin'>): GroupView {
    const g = this.#group(req.groupId);
    const target = fromHex(req.memberId);
    if (!findGroupMember(deserializeMembership(g.membership).state, target)) throw new EngineError('NOT_FOUND', 'not a member of this group');
    return this.#change(g, { kind: 'setRole', accountId: target, admin: req.admin }, {});
  }

  rename(req: RequestOf<'groups:rename'>): GroupView {
    const g = this.#group(req.groupId);
    const name = req.name.trim();
    const description = (req.description ?? deserializeMembership(g.membership).state.description).trim();
    if (name.length === 0 || utf8(name).length > MAX_GROUP_NAME_BYTES || utf8(description).length > MAX_GROUP_DESCRIPTION_BYTES) {
      throw new EngineError('INVALID_REQUEST', 'a group name is 1 to 128 bytes, a description at most 512');
    }
    return this.#change(g, { kind: 'rename', name, description }, {});
  }

  leave(req: RequestOf<'groups:leave'>): GroupView {
    const g = this.#group(req.groupId);
    return this.#change(g, { kind: 'leave' }, {});
  }

  /**
   * A record proposed on the head, checked there exactly as a receiver checks it (an error is typed
   * and nothing changes), applied, stored and sent: the record to every member at the new head
   * and to `alsoTo` (a removed member learns it), the whole chain to newcomers.
   */
  #change(g: GroupRow, operation: Exclude<GroupOperation, { kind: 'create' }>, o: { newcomers?: readonly Uint8Array[]; alsoTo?: readonly Uint8Array[] }): GroupView {
    const { core } = this;
    core.checkApi();
    if (g.standing !== 'member') throw new EngineError('REMOVED_FROM_GROUP', 'this account is no longer a member of the group');
    const db = core.db.writer;
    const m = deserializeMembership(g.membership);
    const now = core.clock();
    const record = proposeGroupRecord(m, this.#author(), operation, now, core.account.identitySigning.privateKey);
    let applied;
    try {
      applied = applyGroupRecord(m, record.bytes, this.#deviceCheck(db));
    } catch (e) {
      throw this.#apiError(e);
    }
    if (applied.rejected) throw this.#apiError(applied.rejected);
    const next = applied.membership;
    const self = core.account.accountId;
    let lines: number[] = [];
    db.transaction(() => {
      const standing = operation.kind === 'leave' ? 'left' : standingOf(next, self, g.standing);
      updateGroup(db, g.groupId, serializeMembership(next), standing, now);
      lines = this.#linesFor(db, g.conversationId, [record], now);
      const newcomers = new Set((o.newcomers ?? []).map(toHex));
      const records = membershipRecords(next);
      for (const member of groupMembers(next.state)) {
        if (bytesEqual(member.accountId, self)) continue;
        this.#queueUpdate(db, g.groupId, member.accountId, newcomers.has(toHex(member.accountId)) ? records : [record.bytes]);
      }
      for (const other of o.alsoTo ?? []) this.#queueUpdate(db, g.groupId, other, [record.bytes]);
      if (operation.kind === 'leave') {
        // The members who stay learned it above; this device's chain and everything it received go.
        dropOwnChain(db, g.groupId);
        dropSenderKeys(db, g.groupId);
      }
      if (core.targetDevices(db, self).length > 0) this.#queueUpdate(db, g.groupId, self, records);
      if (operation.kind === 'remove') markRotate(db, g.groupId);
    });
    this.hooks.kick();
    const view = this.view(db, getGroup(db, g.groupId)!);
    core.emit('group:updated', { group: view });
    for (const id of lines) core.emitMessageAdded(id);
    return view;
  }

  #apiError(e: unknown): EngineError {
    if (!isProtocolError(e)) throw e;
    switch (e.code) {
      case 'GROUP_NOT_ADMIN':
        return new EngineError('NOT_GROUP_ADMIN', 'only an admin of the group can do that');
      case 'GROUP_TOO_LARGE':
        return new EngineError('GROUP_MEMBER_LIMIT', 'a group has at most 1,000 members');
      case 'GROUP_NOT_MEMBER':
        return new EngineError('REMOVED_FROM_GROUP', 'this account is no longer a member of the group');
      default:
        return new EngineError('GROUP_INVALID_CHANGE', 'that change does not apply to this group');
    }
  }

  /** A group update (content 0x11) to every device of `recipient` over the pairwise sessions. */
  #queueUpdate(db: WriteDb, groupId: Uint8Array, recipient: Uint8Array, records: readonly Uint8Array[]): void {
    const content = encodeContent({ type: 'group-update', messageId: this.core.rng(MESSAGE_ID_LENGTH), sentAt: this.core.clock(), groupId, records });
    this.core.queueSend(db, { kind: 'sync', recipient, content, messageRowId: null });
  }

  #systemLine(db: WriteDb, conversationId: number, sender: Uint8Array, body: string, now: number, direction: 'incoming' | 'outgoing'): number {
    return insertMessage(db, {
      conversationId,
      kind: 'group-changed',
      direction,
      senderAccountId: sender,
      senderDeviceId: null,
      messageId: null,
      sentAt: now,
      receivedAt: now,
      body,
      status: null,
      readAt: now,
    });
  }

  /** System lines for records that took effect ("Alice added Carol"), in chain order. */
  #linesFor(db: WriteDb, conversationId: number, records: readonly SignedGroupRecord[], now: number): number[] {
    const ids: number[] = [];
    for (const r of records) {
      const author = r.record.author.accountId;
      const who = this.#name(db, author);
      const op = r.record.operation;
      const them = (id: Uint8Array) => (this.core.isSelf(id) ? 'you' : this.#name(db, id));
      let line: string;
      switch (op.kind) {
        case 'create':
          line = `${who} created the group “${op.name}”`;
          break;
        case 'add':
          line = `${who} added ${op.members.map((x) => them(x.accountId)).join(', ')}`;
          break;
        case 'remove':
          line = `${who} removed ${them(op.accountId)}`;
          break;
        case 'setRole':
          line = op.admin ? `${who} made ${them(op.accountId)} an admin` : `${who} removed ${them(op.accountId)} as admin`;
          break;
        case 'rename':
          line = `${who} renamed the group to “${op.name}”`;
          break;
        case 'leave':
          line = `${who} left the group`;
          break;
      }
      ids.push(this.#systemLine(db, conversationId, author, line, now, this.core.isSelf(author) ? 'outgoing' : 'incoming'));
    }
    return ids;
  }

  // ── API: sending ──────────────────────────────────────────────────────────

  /**
   * groups:send — the text encrypted once under this device's chain (rotated first when due, and
   * distributed to every member device that lacks it), committed with its message row and the
   * group outbox row; the sender loop uploads it. Members this device holds no list for become
   * contacts first (message requests), so their devices can be named.
   */
  async send(req: RequestOf<'groups:send'>): Promise<MessageView> {
    const { core } = this;
    core.checkApi();
    if (utf8(req.body).length > MAX_MESSAGE_BODY_BYTES) throw new EngineError('MESSAGE_TOO_LARGE', `a message is at most ${MAX_MESSAGE_BODY_BYTES} bytes`);
    const g = this.#group(req.groupId);
    if (g.standing !== 'member') throw new EngineError('REMOVED_FROM_GROUP', 'this account is no longer a member of the group');
    await this.#knowMembers(g.groupId);
    const db = core.db.writer;
    const now = core.clock();
    const record = db.transaction(() => {
      const current = getGroup(db, g.groupId)!;
      if (current.standing !== 'member') throw new EngineError('REMOVED_FROM_GROUP', 'this account is no longer a member of the group');
      const m = deserializeMembership(current.membership);
      const state = this.#readyChain(db, current, m);
      const messageId = core.rng(MESSAGE_ID_LENGTH);
      const content = encodeContent({ type: 'text', messageId, sentAt: now, text: req.body, expireTimerSeconds: null });
      const { state: advanced, message } = senderKeyEncrypt(state, content, m.head);
      putOwnChain(db, g.groupId, serializeSenderKeyState(advanced));
      const row = {
        conversationId: current.conversationId,
        kind: 'text',
        direction: 'outgoing',
        senderAccountId: core.account.accountId,
        senderDeviceId: core.account.deviceId,
        messageId,
        sentAt: now,
        receivedAt: now,
        body: req.body,
        status: 'sending',
        readAt: now,
      } as const;
      const rowId = insertMessage(db, row);
      enqueueGroupSend(db, { groupId: g.groupId, messageRowId: rowId, message, online: false, now });
      return insertedRecord(rowId, row);
    });
    this.hooks.kick();
    this.kick();
    const view = messageView(record, core.account.accountId);
    core.emit('message:added', { message: view });
    this.#emit(g.groupId);
    return view;
  }

  /** Typing in a group: online only, under the sender key like any group content. */
  typing(conversationId: number, state: 'started' | 'stopped'): boolean {
    const { core } = this;
    const db = core.db.writer;
    const g = groupByConversation(db, conversationId);
    if (!g) return false;
    if (g.standing !== 'member') return true;
    db.transaction(() => {
      const m = deserializeMembership(g.membership);
      const own = ownChain(db, g.groupId);
      // Typing never creates or rotates a chain: without a current one it is not sent.
      if (!own || own.rotate) return;
      const chain = deserializeSenderKeyState(own.state);
      if (senderKeyNeedsRotation(chain, core.clock())) return;
      const content = encodeContent({ type: 'typing', messageId: core.rng(MESSAGE_ID_LENGTH), sentAt: core.clock(), state });
      const { state: advanced, message } = senderKeyEncrypt(chain, content, m.head);
      putOwnChain(db, g.groupId, serializeSenderKeyState(advanced));
      enqueueGroupSend(db, { groupId: g.groupId, messageRowId: null, message, online: true, now: core.clock() });
    });
    this.kick();
    return true;
  }

  /** Members (and their lists) this device does not hold yet become contacts, so sends can name their devices. */
  async #knowMembers(groupId: Uint8Array): Promise<void> {
    const { core } = this;
    const g = getGroup(core.db.writer, groupId);
    if (!g) return;
    for (const member of groupMembers(deserializeMembership(g.membership).state)) {
      if (core.isSelf(member.accountId) || getContact(core.db.writer, member.accountId)) continue;
      try {
        await this.contacts.refresh(member.accountId, { create: true });
      } catch (e) {
        if (e instanceof MessagingStopped) throw e;
      }
      core.check();
    }
  }

  /**
   * This device's chain for the group, rotated when due (marked, 100 messages, 24 h), and
   * distributed at its current iteration to every member device and own other device that was
   * not given it — in the caller's transaction, before the message that needs it.
   */
  #readyChain(db: WriteDb, g: GroupRow, m: Membership): SenderKeyState {
    const { core } = this;
    const own = ownChain(db, g.groupId);
    let state = own && deserializeSenderKeyState(own.state);
    const now = core.clock();
    if (!state || own!.rotate || senderKeyNeedsRotation(state, now) || this.#deviceGone(db, g, state, m)) {
      state = createSenderKeyState(g.groupId, { rng: core.rng, now: core.clock });
      putOwnChain(db, g.groupId, serializeSenderKeyState(state));
      pruneChainDevices(db, g.groupId, state.distributionId);
    }
    const given = new Set(chainDevices(db, g.groupId, state.distributionId).map((d) => `${toHex(d.accountId)}:${d.deviceId}`));
    const me = { accountId: core.account.accountId, deviceId: core.account.deviceId };
    for (const account of this.#recipientAccounts(db, m)) {
      const devices = core.targetDevices(db, account);
      if (devices.length === 0 || devices.every((d) => given.has(`${toHex(account)}:${d.entry.deviceId}`))) continue;
      const distribution = createSenderKeyDistribution(state, me);
      const content = encodeContent({ type: 'sender-key', messageId: core.rng(MESSAGE_ID_LENGTH), sentAt: now, distribution });
      core.queueSend(db, { kind: 'sync', recipient: account, content, messageRowId: null });
      for (const d of devices) recordChainDevice(db, { groupId: g.groupId, distributionId: state.distributionId, accountId: account, deviceId: d.entry.deviceId, iteration: state.iteration });
    }
    return state;
  }

  /** A device that was given the chain is no longer a member device (removed from its list, or its account left). */
  #deviceGone(db: WriteDb, g: GroupRow, state: SenderKeyState, m: Membership): boolean {
    const { core } = this;
    const current = new Set<string>();
    for (const account of this.#recipientAccounts(db, m)) for (const d of core.targetDevices(db, account)) current.add(`${toHex(account)}:${d.entry.deviceId}`);
    return chainDevices(db, g.groupId, state.distributionId).some((d) => !current.has(`${toHex(d.accountId)}:${d.deviceId}`));
  }

  /** The accounts a group send goes to: the other members, and this account when it has other devices. */
  #recipientAccounts(db: WriteDb, m: Membership): Uint8Array[] {
    const { core } = this;
    const out = groupMembers(m.state)
      .map((x) => x.accountId)
      .filter((id) => !core.isSelf(id));
    if (core.targetDevices(db, core.account.accountId).length > 0) out.push(core.account.accountId);
    return out;
  }

  // ── The group sender loop ─────────────────────────────────────────────────

  kick(): void {
    if (this.core.stopped) return;
    if (this.#sending) {
      this.#again = true;
      return;
    }
    this.#sending = this.#drain()
      .catch(() => undefined)
      .finally(() => {
        this.#sending = null;
        if (this.#again && !this.core.stopped) {
          this.#again = false;
          this.kick();
        }
      });
  }

  /** Resolves when the group outbox is empty or the loop gave up for now (tests). */
  async idle(): Promise<void> {
    while (this.#sending) await this.#sending;
  }

  async #drain(): Promise<void> {
    const { core } = this;
    for (const send of groupSends(core.db.writer)) {
      core.check();
      if (core.relay.state !== 'open') {
        this.#retryLater();
        return;
      }
      try {
        const serverTimestamp = await this.#post(send.groupId, send.message, send.online);
        core.check();
        core.db.writer.transaction(() => {
          deleteGroupSend(core.db.writer, send.id);
          if (send.messageRowId !== null && serverTimestamp !== null) markSent(core.db.writer, send.messageRowId, serverTimestamp);
        });
        if (send.messageRowId !== null) {
          const m = getMessage(core.db.writer, send.messageRowId);
          if (m?.status) core.emit('message:status', { conversationId: String(m.conversationId), messageId: String(m.id), status: m.status });
        }
      } catch (e) {
        if (e instanceof MessagingStopped) throw e;
        core.db.writer.transaction(() => {
          if (send.online || send.attempts + 1 >= MAX_GROUP_SEND_ATTEMPTS) {
            deleteGroupSend(core.db.writer, send.id);
            if (send.messageRowId !== null) core.db.writer.run(sql`UPDATE messages SET status = 'failed' WHERE id = ${send.messageRowId} AND status = 'sending'`);
          } else bumpGroupSend(core.db.writer, send.id);
        });
        if (send.messageRowId !== null && !send.online) {
          const m = getMessage(core.db.writer, send.messageRowId);
          if (m?.status === 'failed') core.emit('message:status', { conversationId: String(m.conversationId), messageId: String(m.id), status: 'failed' });
          else this.#retryLater();
        }
        return;
      }
    }
  }

  #retryLater(): void {
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => this.kick(), 1_000);
    this.#retry.unref?.();
  }

  /**
   * One group message to every member device and this account's other devices: sealed in ONE
   * multi-account upload where it can (tokens held, every device `sealed`), the rest authenticated
   * per account. A list the relay calls stale is refreshed (a device that left makes the chain
   * rotate at the next send) and the upload made again; a refused token moves that member to the
   * authenticated path. Returns the relay's time (null: nobody to send to).
   */
  async #post(groupId: Uint8Array, message: Uint8Array, online: boolean): Promise<number | null> {
    const { core } = this;
    const refused = new Set<string>();
    for (let round = 0; round < 3; round++) {
      const db = core.db.writer;
      const g = getGroup(db, groupId);
      if (!g || g.standing !== 'member') return null;
      const m = deserializeMembership(g.membership);
      const accounts = this.#recipientAccounts(db, m);
      if (accounts.length === 0) return core.clock();
      const sealedParts: { to: Uint8Array; token: Uint8Array; devices: PeerDevice[] }[] = [];
      const plain: { to: Uint8Array; devices: PeerDevice[] }[] = [];
      for (const to of accounts) {
        const devices = core.targetDevices(db, to);
        if (devices.length === 0) continue;
        const token = refused.has(toHex(to)) ? null : this.sealed.tokenFor(db, to);
        if (token && devices.every((d) => hasCapability(d.entry, 'sealed'))) sealedParts.push({ to, token, devices });
        else plain.push({ to, devices });
      }
      let at: number | null = null;
      try {
        if (sealedParts.length > 0) at = await this.#postSealed(sealedParts, message, online);
        core.check();
        if (!online) {
          for (const p of plain) {
            const r = await core.relay.send(p.to, p.devices.map((d) => ({ deviceId: d.entry.deviceId, content: message })));
            core.check();
            at ??= r.serverTimestamp;
          }
        }
        return at ?? core.clock();
      } catch (e) {
        core.check();
        if (!(e instanceof RelayClientError)) throw e;
        if (e.code === 'UNAUTHORIZED' && e.details.accounts) {
          for (const a of e.details.accounts) refused.add(toHex(Buffer.from(a.accountId, 'base64url')));
          continue;
        }
        if (e.code === 'MISMATCHED_DEVICES') {
          const stale = e.details.accounts?.map((a) => new Uint8Array(Buffer.from(a.accountId, 'base64url'))) ?? [];
          for (const account of stale) {
            if (core.isSelf(account)) await this.contacts.syncOwnList();
            else await this.contacts.refresh(account);
            core.check();
          }
          // New devices need the chain first: a fresh one if a device left, the current one otherwise.
          core.db.writer.transaction(() => {
            const current = getGroup(core.db.writer, groupId);
            if (current && current.standing === 'member') this.#readyChain(core.db.writer, current, deserializeMembership(current.membership));
          });
          this.hooks.kick();
          continue;
        }
        throw e;
      }
    }
    throw new Error('group send: the relay kept refusing the recipient set');
  }

  async #postSealed(parts: readonly { to: Uint8Array; token: Uint8Array; devices: PeerDevice[] }[], message: Uint8Array, online: boolean): Promise<number> {
    const { core } = this;
    const certificate = await this.sealed.certificate();
    core.check();
    if (!certificate || this.sealed.trust().size === 0) throw new RelayClientError('UNAVAILABLE', 'no sender certificate');
    const recipients: SealedRecipient[] = [];
    for (const p of parts) {
      for (const d of p.devices) recipients.push({ accountId: p.to, deviceId: d.entry.deviceId, identityKey: d.entry.identityDhKey });
      // This account's part names every device, this one too (it drops its own copy, §21.9).
      if (core.isSelf(p.to)) recipients.push({ accountId: p.to, deviceId: core.account.deviceId, identityKey: core.account.identityDh.publicKey });
    }
    const upload = encodeSealedMultiRecipient(sealMessage({ certificate, senderIdentityPrivate: core.account.identityDh.privateKey, recipients, messages: [message] }, { rng: core.rng }));
    if (upload.length > MAX_SEALED_MULTI_UPLOAD_BYTES) throw new RelayClientError('PAYLOAD_TOO_LARGE', 'group upload too large');
    const answer = await core.relay.sendSealedMulti({ recipients: parts.map((p) => ({ to: p.to, token: p.token })), upload, online });
    return answer.serverTimestamp;
  }

  // ── Receiving (inside the inbound batch's transaction) ─────────────────────

  /** Whether inner message bytes are a group message (type 0x10, §24). */
  static isGroupMessage(bytes: Uint8Array): boolean {
    return bytes.length > 2 && bytes[1] === SENDER_KEY_MESSAGE_TYPE;
  }

  /**
   * A group message from `peer` (the sealed certificate's or the relay's sender device). Waits
   * (capped) when the group, the distribution or the head record is not here yet; refused when the
   * signature, the chain or the head does not check out. A member's text is shown in the group.
   */
  receiveMessage(db: WriteDb, peer: PeerDevice, bytes: Uint8Array, serverTimestamp: number, effects: GroupEffects): void {
    let header;
    try {
      header = parseSenderKeyMessage(bytes);
    } catch {
      return;
    }
    const g = getGroup(db, header.groupId);
    if (!g) {
      this.#wait(db, header.groupId, peer, header.distributionId, header.iteration, bytes, serverTimestamp, effects, false);
      return;
    }
    if (g.standing !== 'member') return;
    this.#open(db, g, peer.accountId, peer.entry.deviceId, bytes, serverTimestamp, effects, true);
  }

  /** Decrypts and shows one group message; false when it waits. */
  #open(db: WriteDb, g: GroupRow, senderAccountId: Uint8Array, senderDeviceId: number, bytes: Uint8Array, serverTimestamp: number, effects: GroupEffects, fresh: boolean): boolean {
    const { core } = this;
    const now = core.clock();
    const stored = senderKeyRecord(db, g.groupId, senderAccountId, senderDeviceId);
    const record = stored ? deserializeSenderKeyRecord(stored) : EMPTY_SENDER_KEY_RECORD;
    let result;
    try {
      result = senderKeyDecrypt(record, bytes);
    } catch (e) {
      if (isProtocolError(e, 'NO_SENDER_KEY') && fresh) {
        const h = parseSenderKeyMessage(bytes);
        this.#wait(db, g.groupId, { accountId: senderAccountId, entry: { deviceId: senderDeviceId } } as PeerDevice, h.distributionId, h.iteration, bytes, serverTimestamp, effects, true);
        return false;
      }
      if (isProtocolError(e, 'NO_SENDER_KEY')) return false;
      // A bad signature, a duplicate, a jump past the limit: dropped, nothing changed.
      return true;
    }
    const m = deserializeMembership(g.membership);
    try {
      checkGroupMessageHead(m, result.header.headHash, senderAccountId);
    } catch (e) {
      if (isProtocolError(e, 'GROUP_UNKNOWN_HEAD') && fresh) {
        this.#wait(db, g.groupId, { accountId: senderAccountId, entry: { deviceId: senderDeviceId } } as PeerDevice, result.header.distributionId, result.header.iteration, bytes, serverTimestamp, effects, false);
        return false;
      }
      if (isProtocolError(e, 'GROUP_UNKNOWN_HEAD')) return false;
      return true; // a non-member's message: dropped
    }
    putSenderKeyRecord(db, g.groupId, senderAccountId, senderDeviceId, serializeSenderKeyRecord(result.record));
    let content: Content;
    try {
      content = decodeContent(result.plaintext);
    } catch (e) {
      if (!(e instanceof ContentError)) throw e;
      return true;
    } finally {
      result.plaintext.fill(0);
    }
    if (!recordReceived(db, { senderAccountId, senderDeviceId, messageId: content.messageId }, now)) return true;
    if (content.type === 'typing') {
      const state = content.state;
      effects.events.push(() => this.hooks.typing?.(senderAccountId, g.conversationId, state));
      return true;
    }
    if (content.type !== 'text' || core.isSelf(senderAccountId)) return true;
    const row = {
      conversationId: g.conversationId,
      kind: 'text',
      direction: 'incoming',
      senderAccountId,
      senderDeviceId,
      messageId: content.messageId,
      sentAt: content.sentAt,
      receivedAt: now,
      body: content.text,
      status: null,
      readAt: null,
    } as const;
    const rowId = insertMessage(db, row);
    if (getContact(db, senderAccountId)?.accepted) {
      queueReceipt(db, { peerAccountId: senderAccountId, kind: 'delivered', messageId: content.messageId }, now);
      effects.receiptsQueued = true;
    }
    const view = messageView(insertedRecord(rowId, row), core.account.accountId);
    effects.events.push(() => {
      core.emit('message:added', { message: view });
      this.#emit(g.groupId);
    });
    return true;
  }

  /** Keeps a group message until what it needs arrives (capped: the oldest goes); asks for a missing chain. */
  #wait(
    db: WriteDb,
    groupId: Uint8Array,
    peer: PeerDevice,
    distributionId: Uint8Array,
    iteration: number,
    bytes: Uint8Array,
    serverTimestamp: number,
    effects: GroupEffects,
    requestChain: boolean,
  ): void {
    const { core } = this;
    const now = core.clock();
    while (countPendingMessages(db, groupId) >= MAX_PENDING_GROUP_MESSAGES) dropOldestPendingMessage(db, groupId);
    const id = insertPendingMessage(db, { groupId, senderAccountId: peer.accountId, senderDeviceId: peer.entry.deviceId, distributionId, iteration, message: bytes, serverTimestamp, receivedAt: now });
    if (!requestChain) return;
    const key = `${toHex(groupId)}:${toHex(peer.accountId)}:${peer.entry.deviceId}:${toHex(distributionId)}`;
    const last = this.#requested.get(key);
    if (last !== undefined && now - last < DISTRIBUTION_REQUEST_INTERVAL_MS) return;
    this.#requested.set(key, now);
    const request: SenderKeyDistributionRequest = { groupId, distributionId, iteration };
    const sender = peer.accountId;
    markPendingRequested(db, id, now);
    // Queued after the batch commits (see applyRequest), only to a sender this device can address.
    effects.events.push(() => {
      if (core.stopped || !(core.isSelf(sender) || getContact(core.db.writer, sender))) return;
      const content = encodeContent({ type: 'sender-key-request', messageId: core.rng(MESSAGE_ID_LENGTH), sentAt: core.clock(), request });
      core.db.writer.transaction(() => core.queueSend(core.db.writer, { kind: 'sync', recipient: sender, content, messageRowId: null }));
      this.hooks.kick();
    });
  }

  /** Opens the waiting messages of a group that can be opened now. */
  #retryPending(db: WriteDb, groupId: Uint8Array, effects: GroupEffects): void {
    const g = getGroup(db, groupId);
    if (!g || g.standing !== 'member') return;
    for (const p of pendingMessages(db, groupId)) {
      const current = getGroup(db, groupId)!;
      const done = this.#open(db, current, p.senderAccountId, p.senderDeviceId, p.message, p.serverTimestamp, effects, false);
      if (done) deletePendingMessage(db, p.id);
    }
  }

  /** A group update (0x11) from `peer` over its pairwise session. */
  applyUpdate(db: WriteDb, peer: PeerDevice, update: { readonly groupId: Uint8Array; readonly records: readonly Uint8Array[] }, effects: GroupEffects): void {
    const records = update.records;
    const { core } = this;
    const now = core.clock();
    let first: SignedGroupRecord;
    try {
      first = parseGroupRecord(records[0]!);
    } catch {
      return;
    }
    const groupId = first.record.groupId;
    // Every record names the update's group (applyGroupRecord refuses one of another group).
    if (!bytesEqual(groupId, update.groupId)) return;
    const check = this.#deviceCheck(db);
    const existing = getGroup(db, groupId);
    let m: Membership;
    let rest: readonly Uint8Array[];
    if (existing) {
      m = deserializeMembership(existing.membership);
      rest = records;
    } else {
      // A group this device does not know: the chain from its genesis, from a member at its head
      // (the inviter) — never from the relay, which cannot open a pairwise session.
      try {
        m = openMembership(records[0]!, check);
      } catch {
        return;
      }
      rest = records.slice(1);
    }
    const before = m;
    const appliedRecords: SignedGroupRecord[] = [];
    const apply = (bytes: Uint8Array): boolean => {
      try {
        const r = applyGroupRecord(m, bytes, check);
        if (r.changed) {
          m = r.membership;
          if (!r.rejected) appliedRecords.push(parseGroupRecord(bytes));
        }
        return true;
      } catch (e) {
        if (!isProtocolError(e)) throw e;
        if (e.code === 'GROUP_UNKNOWN_RECORD' && existing) {
          // Builds on a record not here yet: kept (capped) until it is.
          if (countPendingRecords(db, groupId) < MAX_PENDING_GROUP_RECORDS) {
            const signed = parseGroupRecord(bytes);
            insertPendingRecord(db, groupId, signed.hash, bytes, peer.accountId, now);
          }
        }
        return false;
      }
    };
    for (const bytes of rest) apply(bytes);
    // Records that waited for one of these.
    if (existing) {
      let progress = true;
      while (progress) {
        progress = false;
        for (const p of pendingRecords(db, groupId)) {
          try {
            const r = applyGroupRecord(m, p.record, check);
            deletePendingRecord(db, groupId, p.hash);
            if (r.changed) {
              m = r.membership;
              if (!r.rejected) appliedRecords.push(parseGroupRecord(p.record));
              progress = true;
            }
          } catch (e) {
            if (!isProtocolError(e)) throw e;
            if (e.code !== 'GROUP_UNKNOWN_RECORD') deletePendingRecord(db, groupId, p.hash);
          }
        }
      }
    }
    const self = core.account.accountId;
    if (!existing) {
      // Only a group this account is in, from a member at its head (an own device counts).
      if (!findGroupMember(m.state, self)) return;
      if (!core.isSelf(peer.accountId) && !findGroupMember(m.state, peer.accountId)) return;
      const row = insertGroup(db, { groupId, membership: serializeMembership(m), now });
      const onChain = [first, ...appliedRecords].filter((r) => isOnChain(m, r.hash));
      // A newcomer sees the change that brought it in, not the whole history.
      const lines = this.#linesFor(db, row.conversationId, onChain.slice(-1), now);
      effects.events.push(() => {
        for (const id of lines) core.emitMessageAdded(id);
        this.#emit(groupId);
      });
      effects.conversations.add(row.conversationId);
      this.#retryPending(db, groupId, effects);
      return;
    }
    if (bytesEqual(before.head, m.head) && appliedRecords.length === 0) return;
    const wasMember = existing.standing === 'member';
    const standing = standingOf(m, self, existing.standing);
    updateGroup(db, groupId, serializeMembership(m), standing, now);
    // A removal or leave that lost a fork still takes effect (§24.2): it gets its line too.
    const shown = (r: SignedGroupRecord): boolean => {
      if (isOnChain(m, r.hash)) return true;
      const op = r.record.operation;
      const gone = op.kind === 'remove' ? op.accountId : op.kind === 'leave' ? r.record.author.accountId : null;
      return gone !== null && !findGroupMember(m.state, gone);
    };
    const onChain = appliedRecords.filter(shown).sort((a, b) => a.record.epoch - b.record.epoch);
    const lines = this.#linesFor(db, existing.conversationId, onChain, now);
    // Someone went: this device's chain must not reach them; a fresh one before the next send.
    const went = groupMembers(before.state).some((x) => !findGroupMember(m.state, x.accountId));
    if (went) {
      markRotate(db, groupId);
      for (const x of groupMembers(before.state)) if (!findGroupMember(m.state, x.accountId)) dropSenderKeys(db, groupId, x.accountId);
    }
    if (wasMember && standing !== 'member') {
      // Removed: nothing more is sent or opened here; the keys go.
      dropOwnChain(db, groupId);
      dropSenderKeys(db, groupId);
    }
    effects.events.push(() => {
      for (const id of lines) core.emitMessageAdded(id);
      this.#emit(groupId);
    });
    effects.conversations.add(existing.conversationId);
    this.#retryPending(db, groupId, effects);
  }

  /** A distribution (0x12) from `peer`, accepted only for that very device and a group both are in. */
  applyDistribution(db: WriteDb, peer: PeerDevice, content: Extract<Content, { type: 'sender-key' }>, effects: GroupEffects): void {
    const { core } = this;
    const d = content.distribution;
    const g = getGroup(db, d.groupId);
    if (!g || g.standing !== 'member') return;
    const m = deserializeMembership(g.membership);
    if (!core.isSelf(peer.accountId) && !findGroupMember(m.state, peer.accountId)) return;
    const stored = senderKeyRecord(db, g.groupId, peer.accountId, peer.entry.deviceId);
    const record = stored ? deserializeSenderKeyRecord(stored) : EMPTY_SENDER_KEY_RECORD;
    try {
      const r = processSenderKeyDistribution(record, d, { groupId: g.groupId, from: { accountId: peer.accountId, deviceId: peer.entry.deviceId }, now: core.clock });
      if (r.changed) putSenderKeyRecord(db, g.groupId, peer.accountId, peer.entry.deviceId, serializeSenderKeyRecord(r.record));
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      return; // forged, forwarded, rolled back, conflicting: refused, nothing changed
    }
    this.#retryPending(db, g.groupId, effects);
  }

  /**
   * A request (0x13) for this device's chain from a member device that lost it. Answered after the
   * batch commits: an encryption to `peer` inside the decryption of its own message would fork the
   * pairwise session (the decrypt commits its record after its callback).
   */
  applyRequest(_db: WriteDb, peer: PeerDevice, request: SenderKeyDistributionRequest, effects: GroupEffects): void {
    effects.events.push(() => {
      if (this.core.stopped) return;
      this.core.db.writer.transaction(() => this.#answerRequest(this.core.db.writer, peer, request));
      this.hooks.kick();
    });
  }

  #answerRequest(db: WriteDb, peer: PeerDevice, request: SenderKeyDistributionRequest): void {
    const { core } = this;
    const g = getGroup(db, request.groupId);
    if (!g || g.standing !== 'member') return;
    const m = deserializeMembership(g.membership);
    if (!core.isSelf(peer.accountId) && !findGroupMember(m.state, peer.accountId)) return;
    const own = ownChain(db, g.groupId);
    if (!own) return;
    const state = deserializeSenderKeyState(own.state);
    if (!bytesEqual(state.distributionId, request.distributionId)) return; // an old chain: the next send distributes the current one
    const devices = core.targetDevices(db, peer.accountId);
    const given = chainDevices(db, g.groupId, state.distributionId).filter((d) => bytesEqual(d.accountId, peer.accountId));
    // An earlier point only when every device of that account already had it (the same content
    // reaches all of them); otherwise the current one.
    const all = devices.every((d) => given.some((x) => x.deviceId === d.entry.deviceId));
    const from = all && given.length > 0 ? Math.max(...given.map((x) => x.iteration)) : state.iteration;
    const distribution = createSenderKeyDistribution(state, { accountId: core.account.accountId, deviceId: core.account.deviceId }, from);
    const content = encodeContent({ type: 'sender-key', messageId: core.rng(MESSAGE_ID_LENGTH), sentAt: core.clock(), distribution });
    core.queueSend(db, { kind: 'sync', recipient: peer.accountId, content, messageRowId: null });
    for (const d of devices) recordChainDevice(db, { groupId: g.groupId, distributionId: state.distributionId, accountId: peer.accountId, deviceId: d.entry.deviceId, iteration: from });
  }

  /** A receipt from `peer` naming own messages of a group: per member, and the message's status. */
  applyReceipt(db: WriteDb, peer: PeerDevice, kind: 'delivered' | 'read', messageIds: readonly Uint8Array[], effects: GroupEffects): void {
    const { core } = this;
    for (const id of messageIds) {
      // CROSS JOIN keeps groups the outer loop: without groups this costs nothing, and a receipt
      // for a 1:1 message never scans the messages table (message_id alone has no index).
      const r = db.get<{ id: number; conversation_id: number }>(sql`
        SELECT m.id, m.conversation_id FROM groups g CROSS JOIN messages m
        WHERE m.conversation_id = g.conversation_id AND m.direction = 'outgoing' AND m.message_id = ${id}`);
      if (!r) continue;
      if (!recordGroupReceipt(db, r.id, peer.accountId, kind, core.clock())) continue;
      const status = kind === 'read' ? 'read' : 'delivered';
      const upgraded = db.get<{ id: number }>(sql`
        UPDATE messages SET status = ${status} WHERE id = ${r.id}
          AND (status IN ('sending', 'sent') OR (status = 'delivered' AND ${status} = 'read')) RETURNING id`);
      const conversationId = r.conversation_id;
      const rowId = r.id;
      if (upgraded) effects.events.push(() => core.emit('message:status', { conversationId: String(conversationId), messageId: String(rowId), status }));
    }
  }

  /** groups:receipts — delivered and read per member ("read by 3 of 5"). */
  receipts(req: RequestOf<'groups:receipts'>): GroupReceiptsView {
    const { core } = this;
    core.checkApi();
    const db = core.db.writer;
    const m = getMessage(db, rowIdOf(req.messageId));
    const g = m && groupByConversation(db, m.conversationId);
    if (!m || !g || m.direction !== 'outgoing') throw new EngineError('NOT_FOUND', 'no such group message');
    const byAccount = new Map(groupReceipts(db, m.id).map((r) => [toHex(r.accountId), r]));
    const members = groupMembers(deserializeMembership(g.membership).state)
      .filter((x) => !core.isSelf(x.accountId))
      .map((x) => {
        const r = byAccount.get(toHex(x.accountId));
        return { id: toHex(x.accountId), name: this.#name(db, x.accountId), delivered: (r?.deliveredAt ?? null) !== null, read: (r?.readAt ?? null) !== null };
      });
    return { messageId: req.messageId, members, deliveredCount: members.filter((x) => x.delivered).length, readCount: members.filter((x) => x.read).length };
  }

  /** Whether a conversation is a group's (for the 1:1 paths that must not treat it as one). */
  isGroupConversation(conversationId: number): boolean {
    return groupByConversation(this.core.db.writer, conversationId) !== undefined;
  }
}
