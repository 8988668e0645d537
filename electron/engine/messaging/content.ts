/**
 * E2E content (docs/protocol.md §16 "Content (E2E payloads)"): what a session encrypts. Every
 * payload — text, receipt, typing, the copy of a sent message for this account's other devices —
 * starts with the same header (version, type, a sender-chosen random 16-byte message id, the
 * sender's timestamp), so the receiver de-duplicates every kind by (sender account, sender device,
 * message id) and control messages are idempotent. session.ts pads all of them to 160-byte blocks,
 * so the relay cannot tell a read receipt or a typing notice from a short text.
 *
 * Parsing is strict (a short read, trailing bytes, an unknown flag or kind byte, bad UTF-8, an empty
 * or oversized text: MALFORMED), and runs only on plaintext a session authenticated. A version other
 * than 1 or an unknown type is UNSUPPORTED: a newer client's content, dropped without a notice.
 * Decryption errors are not content: they travel outside any session (protocol.md §9.3).
 * An attachment carries its pointer (shared/protocol/attachment-pointer.ts, protocol.md §17.9) and a
 * caption of 0 … MAX_CAPTION_BYTES.
 * Does not own what the content does (inbound.ts, receipts.ts, typing.ts).
 */
import { MAX_CAPTION_BYTES, MAX_EXPIRE_TIMER_SECONDS, MAX_MESSAGE_BODY_BYTES } from '../../../shared/api/primitives.js';
import { fromUtf8, toHex, utf8 } from '../../../shared/crypto/bytes.js';
import { KeyType } from '../../../shared/crypto/encoding.js';
import { Reader, Writer } from '../../../shared/protocol/codec.js';
import { readAttachmentPointer, writeAttachmentPointer, type AttachmentPointer } from '../../../shared/protocol/attachment-pointer.js';
import { ACCOUNT_ID_LENGTH } from '../../../shared/protocol/constants.js';
import { encodeMembershipUpdate, parseMembershipUpdate } from '../../../shared/protocol/group-membership.js';
import {
  encodeSenderKeyDistribution,
  encodeSenderKeyDistributionRequest,
  parseSenderKeyDistribution,
  parseSenderKeyDistributionRequest,
  SENDER_KEY_DISTRIBUTION_LENGTH,
  SENDER_KEY_DISTRIBUTION_REQUEST_LENGTH,
  type SenderKeyDistribution,
  type SenderKeyDistributionRequest,
} from '../../../shared/protocol/sender-key-distribution.js';
import { PROFILE_KEY_LENGTH } from '../../../shared/protocol/constants.js';
import { normalizeUsername } from '../../../shared/wire/username.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import { displayNameProblem } from '../../../shared/protocol/profile.js';
import { MAX_DEVICES_PER_ACCOUNT } from '../../../shared/wire/limits.js';
import { readHistoryTransfer, writeHistoryTransfer, type HistoryTransferMessage } from '../linking/history-content.js';

export const CONTENT_VERSION = 1;
export const MESSAGE_ID_LENGTH = 16;

/**
 * Content types. 0x02 is the receipt of the first release ("everything up to a message"): never
 * sent any more, and read as confirming only the one message it names (docs/protocol.md §16).
 * 0x07 carries the sender's profile key (§16, §18).
 */
export const ContentType = {
  Text: 0x01,
  UpToReceipt: 0x02,
  Typing: 0x03,
  SentTranscript: 0x04,
  Receipt: 0x05,
  Attachment: 0x06,
  ProfileKey: 0x07,
  /** Sync between own devices (docs/protocol.md §16.1): the copy of a sent attachment. */
  SentAttachmentTranscript: 0x08,
  /** Sync (§16.1): messages read on another own device, each "read up to and including". */
  ReadSync: 0x09,
  /** Sync (§16.1): a contact added, accepted, verified or blocked on another own device. */
  ContactSync: 0x0a,
  /** Sync (§16.1): synced settings changed, or a conversation deleted, on another own device. */
  AccountSync: 0x0b,
  /** Names of this account's devices, between its own devices (§20.12). */
  DeviceNames: 0x0c,
  /** History transfer between two devices of this account (§22.5). */
  HistoryTransfer: 0x0d,
  /** Disappearing messages (§23.2): the conversation's timer changed. */
  TimerChange: 0x0e,
  /** Delete for everyone (§23.3). */
  DeleteForEveryone: 0x0f,
  // 0x10 is the group message itself (a §9 message type, shared/protocol/sender-key.ts), never content.
  /** Groups (§24): membership records, from an admin (or a leaving member) to the group's devices. */
  GroupUpdate: 0x11,
  /** Groups (§24): a sender-key distribution, over the pairwise session with each device. */
  SenderKeyDistribution: 0x12,
  /** Groups (§24): a request for a lost distribution. */
  SenderKeyRequest: 0x13,
} as const;
/** The highest content type this build understands; above it (and at a gap), UNSUPPORTED. */
const LAST_CONTENT_TYPE = ContentType.SenderKeyRequest;

/** ContactSync flag bits (§16.1), in `set` (which fields the record changes) and `values`. */
export const ContactSyncFlag = { accepted: 0x01, verified: 0x02, blocked: 0x04 } as const;
/** The synced settings (§16.1, ADR 0025's account state): bits of a settings record's `set`. */
export const SyncedSettingFlag = { readReceipts: 0x01, typingIndicators: 0x02, presenceVisible: 0x04, notifications: 0x08 } as const;
export const NOTIFICATION_CODES = { 'name-and-message': 0x01, 'name-only': 0x02, nothing: 0x03 } as const;
export type SyncedSettings = {
  readReceipts?: boolean;
  typingIndicators?: boolean;
  presenceVisible?: boolean;
  notifications?: keyof typeof NOTIFICATION_CODES;
};
const AccountSyncKind = { settings: 0x01, conversationDeleted: 0x02, timerChanged: 0x03, messagesDeleted: 0x04 } as const;
/** MessagesDeleted flag: deleted for everyone (a tombstone stays), not only for me (§16.1). */
const DELETED_FOR_EVERYONE = 0x01;
/** ConversationDeleted flag: the person was a message request and is deleted with it. */
const DELETED_REQUEST = 0x01;
/** A signed device list is at most 53 + 82 · 6 + 64 bytes (§4.1). */
const MAX_SIGNED_LIST_BYTES = 53 + 82 * 6 + 64;
/** A device name is at most this many UTF-8 bytes (as a display name, docs/protocol.md §20.12). */
export const MAX_DEVICE_NAME_BYTES = 128;
/** Why a device name is refused (typed; the same rule for a name typed here and one received). */
export function deviceNameProblem(name: string): 'empty' | 'too-long' | 'control-characters' | 'markup' | null {
  const problem = displayNameProblem(name);
  if (problem !== null) return problem;
  if (name !== name.trim()) return 'empty';
  // Bidirectional overrides and marks could make a name in a security notice read as another.
  if (/[\u200e\u200f\u202a-\u202e\u2066-\u2069]/u.test(name)) return 'control-characters';
  // Names are shown as text everywhere, and on every device of the account; markup has no place in one.
  if (/[<>]/u.test(name)) return 'markup';
  return null;
}
export { MAX_CAPTION_BYTES };
export const ReceiptType = { delivered: 0x01, read: 0x02 } as const;
export const TypingState = { started: 0x01, stopped: 0x02 } as const;
/**
 * At most this many message ids in one receipt (16 KiB of ids; with the header it pads to a few
 * hundred bytes per hundred ids, far below the relay's envelope limit). Longer lists are split.
 */
export const MAX_RECEIPT_MESSAGE_IDS = 1024;
/** At most this many messages named by one read sync (§16.1); more are split. */
export const MAX_READ_SYNC_ENTRIES = 1024;

/** One message read on another own device: its sender (a contact's account and device) and its id. */
export type ReadSyncEntry = { readonly senderAccountId: Uint8Array; readonly senderDeviceId: number; readonly messageId: Uint8Array };

/** Text flag: a disappearing-message timer follows (§16, §23.1). */
const TEXT_FLAG_TIMER = 0x01;
/** The largest timer value a timer change may carry: 4 weeks (§23.2). */
const MAX_TIMER_CHANGE_SECONDS = MAX_EXPIRE_TIMER_SECONDS;

export type ContentHeader = {
  /** Random, chosen by the sender; with the sender's account and device, the de-duplication key. */
  readonly messageId: Uint8Array;
  /** The sender's clock (ms); for a text, its displayed time (clamped to the receive time). */
  readonly sentAt: number;
};

export type TextBody = {
  readonly text: string;
  /** Disappearing-message timer in seconds (null = none), §23.1. */
  readonly expireTimerSeconds: number | null;
};

export type Content =
  | (ContentHeader & { readonly type: 'text' } & TextBody)
  /** Confirms exactly the messages named (distinct ids, 1 … MAX_RECEIPT_MESSAGE_IDS of them). */
  | (ContentHeader & { readonly type: 'receipt'; readonly receipt: 'delivered' | 'read'; readonly messageIds: readonly Uint8Array[] })
  | (ContentHeader & { readonly type: 'typing'; readonly state: 'started' | 'stopped' })
  /** A message this account sent from another device, for its other devices' history. */
  | (ContentHeader & { readonly type: 'sent'; readonly destination: Uint8Array } & TextBody)
  /** One file: where it is, how to open it, what to show before it is fetched; and a caption ('' for none). */
  | (ContentHeader & { readonly type: 'attachment'; readonly pointer: AttachmentPointer; readonly caption: string; readonly expireTimerSeconds?: number | null })
  /** The conversation's disappearing-message timer changed (§23.2): seconds, 0 = off. */
  | (ContentHeader & { readonly type: 'timer-change'; readonly seconds: number })
  /** Delete for everyone (§23.3): the author asks to remove its own message `target`. */
  | (ContentHeader & { readonly type: 'delete'; readonly target: Uint8Array })
  /** Groups (§24.6): signed membership records of one group (parents first), 1 … MAX_GROUP_UPDATE_RECORDS. */
  | (ContentHeader & { readonly type: 'group-update'; readonly groupId: Uint8Array; readonly records: readonly Uint8Array[] })
  /** Groups (§24): the sender's chain for one group, for this device. */
  | (ContentHeader & { readonly type: 'sender-key'; readonly distribution: SenderKeyDistribution })
  /** Groups (§24): the sender asks this device's chain again from `iteration`. */
  | (ContentHeader & { readonly type: 'sender-key-request'; readonly request: SenderKeyDistributionRequest })
  /** A file this account sent from another device (to `destination`), for its other devices' history. */
  | (ContentHeader & { readonly type: 'sent-attachment'; readonly destination: Uint8Array; readonly pointer: AttachmentPointer; readonly caption: string })
  /** Read on another own device: each entry's conversation up to and including that message (distinct entries). */
  | (ContentHeader & { readonly type: 'read-sync'; readonly entries: readonly ReadSyncEntry[] })
  /**
   * A contact as another own device holds it, with the flags that changed there (absent: not
   * changed by this record); the account key and signed list let a device that does not know the
   * contact yet add it (verified under the key first).
   */
  | (ContentHeader & {
      readonly type: 'contact-sync';
      readonly accountId: Uint8Array;
      readonly accepted?: true;
      readonly verified?: boolean;
      readonly blocked?: boolean;
      readonly accountKey: Uint8Array;
      readonly deviceList: Uint8Array;
      readonly username: string;
    })
  /** Synced settings changed on another own device (only the ones named). */
  | (ContentHeader & { readonly type: 'settings-sync'; readonly settings: SyncedSettings })
  /**
   * A conversation deleted on another own device at `deletedAt` (its clock): with `peer` (the own
   * account id: the note to self); `request`: the person was a message request, deleted too.
   */
  | (ContentHeader & { readonly type: 'conversation-deleted'; readonly peer: Uint8Array; readonly deletedAt: number; readonly request: boolean })
  /**
   * The timer of the conversation with `peer` (the own account id: the note to self) was changed on
   * another own device to `seconds` (0 = off); the header's message id and time are the change's
   * (the same as the 0x0E the peer got), so every device shows the same system line.
   */
  | (ContentHeader & { readonly type: 'timer-sync'; readonly peer: Uint8Array; readonly seconds: number })
  /**
   * Messages deleted on another own device, each named as a read sync names it: for me (the rows
   * go), or for everyone (exactly one own text or file; a tombstone stays).
   */
  | (ContentHeader & { readonly type: 'messages-deleted'; readonly forEveryone: boolean; readonly entries: readonly ReadSyncEntry[] })
  /**
   * The sender's profile key (docs/protocol.md §18), the revision of its profile now at the relay
   * and the username it claims (the receiver confirms it at the relay before showing it).
   */
  | (ContentHeader & { readonly type: 'profile-key'; readonly profileKey: Uint8Array; readonly revision: number; readonly username: string })
  /**
   * Names of this account's devices (docs/protocol.md §20.12), only between the account's own
   * devices: 0 … MAX_DEVICES_PER_ACCOUNT entries, distinct device ids, each with when it was named
   * (none: only "this account's device list changed, fetch it").
   */
  | (ContentHeader & { readonly type: 'device-names'; readonly names: readonly DeviceNameEntry[] })
  /** History transfer between two devices of this account (docs/protocol.md §22.5). */
  | (ContentHeader & { readonly type: 'history'; readonly transfer: HistoryTransferMessage });

export type DeviceNameEntry = { readonly deviceId: number; readonly name: string; readonly namedAt: number };

export type ContentErrorCode = 'MALFORMED' | 'UNSUPPORTED';

export class ContentError extends Error {
  override readonly name = 'ContentError';
  constructor(
    readonly code: ContentErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function checkTimer(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 0xffffffff) throw new RangeError('timer out of range');
  return seconds;
}

function writeText(w: Writer, b: TextBody): void {
  const bytes = utf8(b.text);
  if (bytes.length === 0 || bytes.length > MAX_MESSAGE_BODY_BYTES) throw new RangeError('text length out of range');
  if (b.expireTimerSeconds !== null) {
    w.u8(TEXT_FLAG_TIMER).u32(checkTimer(b.expireTimerSeconds));
  } else {
    w.u8(0);
  }
  w.var32(bytes);
}

function readText(r: Reader): TextBody {
  const flags = r.u8();
  if ((flags & ~TEXT_FLAG_TIMER) !== 0) throw new ContentError('MALFORMED', 'text: unknown flags');
  let expireTimerSeconds: number | null = null;
  if (flags & TEXT_FLAG_TIMER) {
    expireTimerSeconds = r.u32();
    if (expireTimerSeconds === 0) throw new ContentError('MALFORMED', 'text: zero timer');
  }
  const bytes = r.var32(MAX_MESSAGE_BODY_BYTES);
  if (bytes.length === 0) throw new ContentError('MALFORMED', 'text: empty');
  let text: string;
  try {
    text = fromUtf8(bytes);
  } catch {
    throw new ContentError('MALFORMED', 'text: invalid UTF-8');
  }
  return { text, expireTimerSeconds };
}

export function encodeContent(c: Content): Uint8Array {
  if (c.messageId.length !== MESSAGE_ID_LENGTH) throw new RangeError('a message id is 16 bytes');
  const w = new Writer().u8(CONTENT_VERSION);
  switch (c.type) {
    case 'text':
      w.u8(ContentType.Text).bytes(c.messageId).u64(c.sentAt);
      writeText(w, c);
      break;
    case 'receipt':
      if (c.messageIds.length === 0 || c.messageIds.length > MAX_RECEIPT_MESSAGE_IDS) throw new RangeError('a receipt names 1 … MAX_RECEIPT_MESSAGE_IDS messages');
      w.u8(ContentType.Receipt).bytes(c.messageId).u64(c.sentAt).u8(ReceiptType[c.receipt]).u16(c.messageIds.length);
      for (const id of c.messageIds) {
        if (id.length !== MESSAGE_ID_LENGTH) throw new RangeError('a message id is 16 bytes');
        w.bytes(id);
      }
      if (new Set(c.messageIds.map(toHex)).size !== c.messageIds.length) throw new RangeError('a receipt names each message once');
      break;
    case 'typing':
      w.u8(ContentType.Typing).bytes(c.messageId).u64(c.sentAt).u8(TypingState[c.state]);
      break;
    case 'sent':
      if (c.destination.length !== ACCOUNT_ID_LENGTH) throw new RangeError('an account id is 16 bytes');
      w.u8(ContentType.SentTranscript).bytes(c.messageId).u64(c.sentAt).bytes(c.destination);
      writeText(w, c);
      break;
    case 'attachment': {
      const caption = utf8(c.caption);
      if (caption.length > MAX_CAPTION_BYTES) throw new RangeError('caption too long');
      w.u8(ContentType.Attachment).bytes(c.messageId).u64(c.sentAt);
      // The message's timer rides in the pointer (flag 0x08, §23.1): untimed, the v1 bytes.
      const timer = c.expireTimerSeconds ?? c.pointer.expireTimerSeconds ?? null;
      writeAttachmentPointer(w, { ...c.pointer, expireTimerSeconds: timer === null ? null : checkTimer(timer) });
      w.var32(caption);
      break;
    }
    case 'sent-attachment': {
      const caption = utf8(c.caption);
      if (caption.length > MAX_CAPTION_BYTES) throw new RangeError('caption too long');
      if (c.destination.length !== ACCOUNT_ID_LENGTH) throw new RangeError('an account id is 16 bytes');
      w.u8(ContentType.SentAttachmentTranscript).bytes(c.messageId).u64(c.sentAt).bytes(c.destination);
      writeAttachmentPointer(w, c.pointer);
      w.var32(caption);
      break;
    }
    case 'read-sync':
      w.u8(ContentType.ReadSync).bytes(c.messageId).u64(c.sentAt);
      writeMessageRefs(w, c.entries);
      break;
    case 'contact-sync': {
      let set = 0;
      let values = 0;
      for (const [name, bit] of Object.entries(ContactSyncFlag)) {
        const v = c[name as keyof typeof ContactSyncFlag];
        if (v === undefined) continue;
        set |= bit;
        if (v) values |= bit;
      }
      if (set === 0) throw new RangeError('a contact sync changes at least one flag');
      if (c.accountId.length !== ACCOUNT_ID_LENGTH) throw new RangeError('an account id is 16 bytes');
      if (c.deviceList.length === 0 || c.deviceList.length > MAX_SIGNED_LIST_BYTES) throw new RangeError('not a signed device list');
      if (normalizeUsername(c.username) !== c.username) throw new RangeError('not a canonical username');
      const name = utf8(c.username);
      w.u8(ContentType.ContactSync).bytes(c.messageId).u64(c.sentAt).bytes(c.accountId).u8(set).u8(values).key(KeyType.Ed25519, c.accountKey);
      w.u16(c.deviceList.length).bytes(c.deviceList).u8(name.length).bytes(name);
      break;
    }
    case 'settings-sync': {
      let set = 0;
      let values = 0;
      for (const name of ['readReceipts', 'typingIndicators', 'presenceVisible'] as const) {
        const v = c.settings[name];
        if (v === undefined) continue;
        set |= SyncedSettingFlag[name];
        if (v) values |= SyncedSettingFlag[name];
      }
      let notifications = 0;
      if (c.settings.notifications !== undefined) {
        set |= SyncedSettingFlag.notifications;
        notifications = NOTIFICATION_CODES[c.settings.notifications];
      }
      if (set === 0) throw new RangeError('a settings sync changes at least one setting');
      w.u8(ContentType.AccountSync).bytes(c.messageId).u64(c.sentAt).u8(AccountSyncKind.settings).u8(set).u8(values).u8(notifications);
      break;
    }
    case 'conversation-deleted':
      if (c.peer.length !== ACCOUNT_ID_LENGTH) throw new RangeError('an account id is 16 bytes');
      w.u8(ContentType.AccountSync).bytes(c.messageId).u64(c.sentAt).u8(AccountSyncKind.conversationDeleted).bytes(c.peer).u64(c.deletedAt).u8(c.request ? DELETED_REQUEST : 0);
      break;
    case 'timer-sync':
      if (c.peer.length !== ACCOUNT_ID_LENGTH) throw new RangeError('an account id is 16 bytes');
      if (!Number.isInteger(c.seconds) || c.seconds < 0 || c.seconds > MAX_TIMER_CHANGE_SECONDS) throw new RangeError('timer out of range');
      w.u8(ContentType.AccountSync).bytes(c.messageId).u64(c.sentAt).u8(AccountSyncKind.timerChanged).bytes(c.peer).u32(c.seconds);
      break;
    case 'messages-deleted':
      if (c.forEveryone && c.entries.length !== 1) throw new RangeError('a delete for everyone names one message');
      w.u8(ContentType.AccountSync).bytes(c.messageId).u64(c.sentAt).u8(AccountSyncKind.messagesDeleted).u8(c.forEveryone ? DELETED_FOR_EVERYONE : 0);
      writeMessageRefs(w, c.entries);
      break;
    case 'device-names': {
      if (c.names.length > MAX_DEVICES_PER_ACCOUNT) throw new RangeError('0 … 6 device names');
      if (new Set(c.names.map((n) => n.deviceId)).size !== c.names.length) throw new RangeError('a device named twice');
      w.u8(ContentType.DeviceNames).bytes(c.messageId).u64(c.sentAt).u8(c.names.length);
      for (const n of c.names) {
        if (deviceNameProblem(n.name) !== null) throw new RangeError('not a valid device name');
        const name = utf8(n.name);
        w.u32(n.deviceId).u64(n.namedAt).u8(name.length).bytes(name);
      }
      break;
    }
    case 'history':
      w.u8(ContentType.HistoryTransfer).bytes(c.messageId).u64(c.sentAt);
      writeHistoryTransfer(w, c.transfer);
      break;
    case 'timer-change':
      if (!Number.isInteger(c.seconds) || c.seconds < 0 || c.seconds > MAX_TIMER_CHANGE_SECONDS) throw new RangeError('timer out of range');
      w.u8(ContentType.TimerChange).bytes(c.messageId).u64(c.sentAt).u32(c.seconds);
      break;
    case 'delete':
      if (c.target.length !== MESSAGE_ID_LENGTH) throw new RangeError('a message id is 16 bytes');
      w.u8(ContentType.DeleteForEveryone).bytes(c.messageId).u64(c.sentAt).bytes(c.target);
      break;
    case 'group-update':
      w.u8(ContentType.GroupUpdate).bytes(c.messageId).u64(c.sentAt).bytes(encodeMembershipUpdate({ groupId: c.groupId, records: c.records }));
      break;
    case 'sender-key':
      w.u8(ContentType.SenderKeyDistribution).bytes(c.messageId).u64(c.sentAt).bytes(encodeSenderKeyDistribution(c.distribution));
      break;
    case 'sender-key-request':
      w.u8(ContentType.SenderKeyRequest).bytes(c.messageId).u64(c.sentAt).bytes(encodeSenderKeyDistributionRequest(c.request));
      break;
    case 'profile-key': {
      if (c.profileKey.length !== PROFILE_KEY_LENGTH) throw new RangeError('a profile key is 32 bytes');
      if (normalizeUsername(c.username) !== c.username) throw new RangeError('not a canonical username');
      const name = utf8(c.username);
      w.u8(ContentType.ProfileKey).bytes(c.messageId).u64(c.sentAt).bytes(c.profileKey).u64(c.revision).u8(name.length).bytes(name);
      break;
    }
  }
  return w.finish();
}

function readReceiptKind(r: Reader): 'delivered' | 'read' {
  const kind = r.u8();
  if (kind !== ReceiptType.delivered && kind !== ReceiptType.read) throw new ContentError('MALFORMED', 'receipt: unknown kind');
  return kind === ReceiptType.read ? 'read' : 'delivered';
}

/** u16 count (1 … MAX_READ_SYNC_ENTRIES) ‖ count × (account id ‖ u32 device id ‖ message id), distinct (§16.1). */
function writeMessageRefs(w: Writer, entries: readonly ReadSyncEntry[]): void {
  if (entries.length === 0 || entries.length > MAX_READ_SYNC_ENTRIES) throw new RangeError('1 … MAX_READ_SYNC_ENTRIES messages');
  w.u16(entries.length);
  for (const e of entries) {
    if (e.senderAccountId.length !== ACCOUNT_ID_LENGTH || e.messageId.length !== MESSAGE_ID_LENGTH) throw new RangeError('an entry is an account id, a device id and a message id');
    if (!Number.isInteger(e.senderDeviceId) || e.senderDeviceId < 1 || e.senderDeviceId > 0xffffffff) throw new RangeError('a device id is 1 … 2³² − 1');
    w.bytes(e.senderAccountId).u32(e.senderDeviceId).bytes(e.messageId);
  }
  if (new Set(entries.map(readSyncKey)).size !== entries.length) throw new RangeError('each message is named once');
}

function readMessageRefs(r: Reader, what: string): ReadSyncEntry[] {
  const count = r.u16();
  if (count === 0 || count > MAX_READ_SYNC_ENTRIES) throw new ContentError('MALFORMED', `${what}: entry count out of range`);
  const entries: ReadSyncEntry[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const senderAccountId = r.bytes(ACCOUNT_ID_LENGTH);
    const senderDeviceId = r.u32();
    if (senderDeviceId === 0) throw new ContentError('MALFORMED', `${what}: device id 0`);
    const entry = { senderAccountId, senderDeviceId, messageId: r.bytes(MESSAGE_ID_LENGTH) };
    const key = readSyncKey(entry);
    if (seen.has(key)) throw new ContentError('MALFORMED', `${what}: a message named twice`);
    seen.add(key);
    entries.push(entry);
  }
  return entries;
}

function readSyncKey(e: ReadSyncEntry): string {
  return `${toHex(e.senderAccountId)}:${e.senderDeviceId}:${toHex(e.messageId)}`;
}

function readCaption(r: Reader): string {
  try {
    return fromUtf8(r.var32(MAX_CAPTION_BYTES));
  } catch (e) {
    if (isProtocolError(e)) throw e;
    throw new ContentError('MALFORMED', 'attachment: caption is not UTF-8');
  }
}

function decodeInner(bytes: Uint8Array): Content {
  const r = new Reader(bytes, 'content');
  const version = r.u8();
  if (version !== CONTENT_VERSION) throw new ContentError('UNSUPPORTED', `content version ${version}`);
  const type = r.u8();
  if (type < ContentType.Text || type > LAST_CONTENT_TYPE) throw new ContentError('UNSUPPORTED', `content type ${type}`);
  const messageId = r.bytes(MESSAGE_ID_LENGTH);
  const sentAt = r.u64();
  let content: Content;
  switch (type) {
    case ContentType.Text:
      content = { type: 'text', messageId, sentAt, ...readText(r) };
      break;
    case ContentType.UpToReceipt:
      // The first release's "up to and including": only the named message is known to be held.
      content = { type: 'receipt', messageId, sentAt, receipt: readReceiptKind(r), messageIds: [r.bytes(MESSAGE_ID_LENGTH)] };
      break;
    case ContentType.Receipt: {
      const receipt = readReceiptKind(r);
      const count = r.u16();
      if (count === 0 || count > MAX_RECEIPT_MESSAGE_IDS) throw new ContentError('MALFORMED', 'receipt: message count out of range');
      const messageIds: Uint8Array[] = [];
      const seen = new Set<string>();
      for (let i = 0; i < count; i++) {
        const id = r.bytes(MESSAGE_ID_LENGTH);
        const key = toHex(id);
        if (seen.has(key)) throw new ContentError('MALFORMED', 'receipt: a message named twice');
        seen.add(key);
        messageIds.push(id);
      }
      content = { type: 'receipt', messageId, sentAt, receipt, messageIds };
      break;
    }
    case ContentType.Typing: {
      const state = r.u8();
      if (state !== TypingState.started && state !== TypingState.stopped) throw new ContentError('MALFORMED', 'typing: unknown state');
      content = { type: 'typing', messageId, sentAt, state: state === TypingState.started ? 'started' : 'stopped' };
      break;
    }
    case ContentType.Attachment: {
      const pointer = readAttachmentPointer(r);
      const caption = readCaption(r);
      // The message's timer rides in the pointer (flag 0x08, §23.1).
      const { expireTimerSeconds = null, ...untimed } = pointer;
      content = { type: 'attachment', messageId, sentAt, pointer: untimed, caption, expireTimerSeconds };
      break;
    }
    case ContentType.SentAttachmentTranscript: {
      const destination = r.bytes(ACCOUNT_ID_LENGTH);
      const pointer = readAttachmentPointer(r);
      content = { type: 'sent-attachment', messageId, sentAt, destination, pointer, caption: readCaption(r) };
      break;
    }
    case ContentType.TimerChange: {
      const seconds = r.u32();
      if (seconds > MAX_TIMER_CHANGE_SECONDS) throw new ContentError('MALFORMED', 'timer change: out of range');
      content = { type: 'timer-change', messageId, sentAt, seconds };
      break;
    }
    case ContentType.DeleteForEveryone:
      content = { type: 'delete', messageId, sentAt, target: r.bytes(MESSAGE_ID_LENGTH) };
      break;
    case ContentType.SentTranscript: {
      const destination = r.bytes(ACCOUNT_ID_LENGTH);
      content = { type: 'sent', messageId, sentAt, destination, ...readText(r) };
      break;
    }
    case ContentType.ReadSync:
      content = { type: 'read-sync', messageId, sentAt, entries: readMessageRefs(r, 'read sync') };
      break;
    case ContentType.ContactSync: {
      const accountId = r.bytes(ACCOUNT_ID_LENGTH);
      const set = r.u8();
      const values = r.u8();
      const all = ContactSyncFlag.accepted | ContactSyncFlag.verified | ContactSyncFlag.blocked;
      if (set === 0 || (set & ~all) !== 0 || (values & ~set) !== 0) throw new ContentError('MALFORMED', 'contact sync: bad flags');
      if (set & ContactSyncFlag.accepted && !(values & ContactSyncFlag.accepted)) throw new ContentError('MALFORMED', 'contact sync: a request is never un-accepted');
      const accountKey = r.key(KeyType.Ed25519);
      const listLength = r.u16();
      if (listLength === 0 || listLength > MAX_SIGNED_LIST_BYTES) throw new ContentError('MALFORMED', 'contact sync: device list length');
      const deviceList = r.bytes(listLength);
      let username: string;
      try {
        username = fromUtf8(r.bytes(r.u8()));
      } catch (e) {
        if (isProtocolError(e)) throw e;
        throw new ContentError('MALFORMED', 'contact sync: username is not UTF-8');
      }
      if (normalizeUsername(username) !== username) throw new ContentError('MALFORMED', 'contact sync: not a canonical username');
      const flag = (bit: number) => (set & bit ? { value: (values & bit) !== 0 } : null);
      const verified = flag(ContactSyncFlag.verified);
      const blocked = flag(ContactSyncFlag.blocked);
      content = {
        type: 'contact-sync',
        messageId,
        sentAt,
        accountId,
        ...(set & ContactSyncFlag.accepted && { accepted: true as const }),
        ...(verified && { verified: verified.value }),
        ...(blocked && { blocked: blocked.value }),
        accountKey,
        deviceList,
        username,
      };
      break;
    }
    case ContentType.AccountSync: {
      const kind = r.u8();
      if (kind === AccountSyncKind.settings) {
        const set = r.u8();
        const values = r.u8();
        const notifications = r.u8();
        const booleans = SyncedSettingFlag.readReceipts | SyncedSettingFlag.typingIndicators | SyncedSettingFlag.presenceVisible;
        if (set === 0 || (set & ~(booleans | SyncedSettingFlag.notifications)) !== 0 || (values & ~(set & booleans)) !== 0) {
          throw new ContentError('MALFORMED', 'settings sync: bad flags');
        }
        const settings: SyncedSettings = {};
        for (const name of ['readReceipts', 'typingIndicators', 'presenceVisible'] as const) {
          if (set & SyncedSettingFlag[name]) settings[name] = (values & SyncedSettingFlag[name]) !== 0;
        }
        if (set & SyncedSettingFlag.notifications) {
          const found = Object.entries(NOTIFICATION_CODES).find(([, v]) => v === notifications);
          if (!found) throw new ContentError('MALFORMED', 'settings sync: unknown notification content');
          settings.notifications = found[0] as keyof typeof NOTIFICATION_CODES;
        } else if (notifications !== 0) {
          throw new ContentError('MALFORMED', 'settings sync: notification content without its flag');
        }
        content = { type: 'settings-sync', messageId, sentAt, settings };
      } else if (kind === AccountSyncKind.conversationDeleted) {
        const peer = r.bytes(ACCOUNT_ID_LENGTH);
        const deletedAt = r.u64();
        const flags = r.u8();
        if ((flags & ~DELETED_REQUEST) !== 0) throw new ContentError('MALFORMED', 'conversation deleted: unknown flags');
        content = { type: 'conversation-deleted', messageId, sentAt, peer, deletedAt, request: flags === DELETED_REQUEST };
      } else if (kind === AccountSyncKind.timerChanged) {
        const peer = r.bytes(ACCOUNT_ID_LENGTH);
        const seconds = r.u32();
        if (seconds > MAX_TIMER_CHANGE_SECONDS) throw new ContentError('MALFORMED', 'timer sync: out of range');
        content = { type: 'timer-sync', messageId, sentAt, peer, seconds };
      } else if (kind === AccountSyncKind.messagesDeleted) {
        const flags = r.u8();
        if ((flags & ~DELETED_FOR_EVERYONE) !== 0) throw new ContentError('MALFORMED', 'messages deleted: unknown flags');
        const entries = readMessageRefs(r, 'messages deleted');
        const forEveryone = flags === DELETED_FOR_EVERYONE;
        if (forEveryone && entries.length !== 1) throw new ContentError('MALFORMED', 'messages deleted: a delete for everyone names one message');
        content = { type: 'messages-deleted', messageId, sentAt, forEveryone, entries };
      } else {
        throw new ContentError('MALFORMED', 'account sync: unknown kind');
      }
      break;
    }
    case ContentType.ProfileKey: {
      const profileKey = r.bytes(PROFILE_KEY_LENGTH);
      const revision = r.u64();
      let username: string;
      try {
        username = fromUtf8(r.bytes(r.u8()));
      } catch (e) {
        if (isProtocolError(e)) throw e;
        throw new ContentError('MALFORMED', 'profile key: username is not UTF-8');
      }
      if (normalizeUsername(username) !== username) throw new ContentError('MALFORMED', 'profile key: not a canonical username');
      content = { type: 'profile-key', messageId, sentAt, profileKey, revision, username };
      break;
    }
    case ContentType.DeviceNames: {
      const count = r.u8();
      if (count > MAX_DEVICES_PER_ACCOUNT) throw new ContentError('MALFORMED', 'device names: count out of range');
      const names: DeviceNameEntry[] = [];
      for (let i = 0; i < count; i++) {
        const deviceId = r.u32();
        const namedAt = r.u64();
        const bytes = r.bytes(r.u8());
        let name: string;
        try {
          name = fromUtf8(bytes);
        } catch {
          throw new ContentError('MALFORMED', 'device names: not UTF-8');
        }
        if (deviceId === 0 || names.some((n) => n.deviceId === deviceId)) throw new ContentError('MALFORMED', 'device names: bad or repeated device id');
        if (bytes.length > MAX_DEVICE_NAME_BYTES || deviceNameProblem(name) !== null) throw new ContentError('MALFORMED', 'device names: not a valid name');
        names.push({ deviceId, name, namedAt });
      }
      content = { type: 'device-names', messageId, sentAt, names };
      break;
    }
    case ContentType.HistoryTransfer:
      content = { type: 'history', messageId, sentAt, transfer: readHistoryTransfer(r) };
      break;
    case ContentType.GroupUpdate: {
      const update = parseMembershipUpdate(r.bytes(r.remaining));
      content = { type: 'group-update', messageId, sentAt, groupId: update.groupId, records: update.records };
      break;
    }
    case ContentType.SenderKeyDistribution:
      content = { type: 'sender-key', messageId, sentAt, distribution: parseSenderKeyDistribution(r.bytes(SENDER_KEY_DISTRIBUTION_LENGTH)) };
      break;
    case ContentType.SenderKeyRequest:
      content = { type: 'sender-key-request', messageId, sentAt, request: parseSenderKeyDistributionRequest(r.bytes(SENDER_KEY_DISTRIBUTION_REQUEST_LENGTH)) };
      break;
    default:
      throw new ContentError('UNSUPPORTED', `content type ${type}`);
  }
  r.end();
  return content;
}

/**
 * The header of content this build could not parse as a known kind (UNSUPPORTED): its message id
 * and time when the version is 1 and the header is complete (for de-duplication). An unknown type
 * is shown as "This message needs a newer version of Parley" (docs/protocol.md §16), so a later
 * control kind must not reach a device that does not know it.
 */
export function unsupportedContentOf(bytes: Uint8Array): { readonly messageId: Uint8Array | null; readonly sentAt: number | null } {
  if (bytes.length < 2 + MESSAGE_ID_LENGTH + 8 || bytes[0] !== CONTENT_VERSION) return { messageId: null, sentAt: null };
  const r = new Reader(bytes, 'content');
  r.u8();
  r.u8();
  const messageId = r.bytes(MESSAGE_ID_LENGTH);
  return { messageId, sentAt: r.u64() };
}

/** Parses authenticated plaintext (already unpadded by the session). Throws ContentError. */
export function decodeContent(bytes: Uint8Array): Content {
  try {
    return decodeInner(bytes);
  } catch (e) {
    if (e instanceof ContentError) throw e;
    if (isProtocolError(e)) throw new ContentError('MALFORMED', e.message);
    throw e;
  }
}
