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
import { MAX_CAPTION_BYTES, MAX_MESSAGE_BODY_BYTES } from '../../../shared/api/primitives.js';
import { fromUtf8, toHex, utf8 } from '../../../shared/crypto/bytes.js';
import { Reader, Writer } from '../../../shared/protocol/codec.js';
import { readAttachmentPointer, writeAttachmentPointer, type AttachmentPointer } from '../../../shared/protocol/attachment-pointer.js';
import { ACCOUNT_ID_LENGTH } from '../../../shared/protocol/constants.js';
import { PROFILE_KEY_LENGTH } from '../../../shared/protocol/constants.js';
import { normalizeUsername } from '../../../shared/wire/username.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import { readHistoryTransfer, writeHistoryTransfer, type HistoryTransferMessage } from '../linking/history-content.js';

export const CONTENT_VERSION = 1;
export const MESSAGE_ID_LENGTH = 16;

/**
 * Content types. 0x02 is the receipt of the first release ("everything up to a message"): never
 * sent any more, and read as confirming only the one message it names (docs/protocol.md §16).
 * 0x07 carries the sender's profile key (§16, §18).
 */
export const ContentType = { Text: 0x01, UpToReceipt: 0x02, Typing: 0x03, SentTranscript: 0x04, Receipt: 0x05, Attachment: 0x06, ProfileKey: 0x07, HistoryTransfer: 0x0d } as const;
/** The highest content type this build understands; above it, UNSUPPORTED (as is a type in between it does not know). */
const LAST_CONTENT_TYPE = ContentType.HistoryTransfer;
export { MAX_CAPTION_BYTES };
export const ReceiptType = { delivered: 0x01, read: 0x02 } as const;
export const TypingState = { started: 0x01, stopped: 0x02 } as const;
/**
 * At most this many message ids in one receipt (16 KiB of ids; with the header it pads to a few
 * hundred bytes per hundred ids, far below the relay's envelope limit). Longer lists are split.
 */
export const MAX_RECEIPT_MESSAGE_IDS = 1024;

/** Text flag: a disappearing-message timer follows (reserved; no client sets it yet). */
const TEXT_FLAG_TIMER = 0x01;

export type ContentHeader = {
  /** Random, chosen by the sender; with the sender's account and device, the de-duplication key. */
  readonly messageId: Uint8Array;
  /** The sender's clock (ms); for a text, its displayed time (clamped to the receive time). */
  readonly sentAt: number;
};

export type TextBody = {
  readonly text: string;
  /** Disappearing-message timer in seconds; reserved field (null = none). */
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
  | (ContentHeader & { readonly type: 'attachment'; readonly pointer: AttachmentPointer; readonly caption: string })
  /**
   * The sender's profile key (docs/protocol.md §18), the revision of its profile now at the relay
   * and the username it claims (the receiver confirms it at the relay before showing it).
   */
  | (ContentHeader & { readonly type: 'profile-key'; readonly profileKey: Uint8Array; readonly revision: number; readonly username: string })
  /** History transfer between two devices of this account (docs/protocol.md §22.5). */
  | (ContentHeader & { readonly type: 'history'; readonly transfer: HistoryTransferMessage });

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

function writeText(w: Writer, b: TextBody): void {
  const bytes = utf8(b.text);
  if (bytes.length === 0 || bytes.length > MAX_MESSAGE_BODY_BYTES) throw new RangeError('text length out of range');
  if (b.expireTimerSeconds !== null) {
    if (!Number.isInteger(b.expireTimerSeconds) || b.expireTimerSeconds < 1 || b.expireTimerSeconds > 0xffffffff) {
      throw new RangeError('timer out of range');
    }
    w.u8(TEXT_FLAG_TIMER).u32(b.expireTimerSeconds);
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
      writeAttachmentPointer(w, c.pointer);
      w.var32(caption);
      break;
    }
    case 'history':
      w.u8(ContentType.HistoryTransfer).bytes(c.messageId).u64(c.sentAt);
      writeHistoryTransfer(w, c.transfer);
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
      let caption: string;
      try {
        caption = fromUtf8(r.var32(MAX_CAPTION_BYTES));
      } catch (e) {
        if (isProtocolError(e)) throw e;
        throw new ContentError('MALFORMED', 'attachment: caption is not UTF-8');
      }
      content = { type: 'attachment', messageId, sentAt, pointer, caption };
      break;
    }
    case ContentType.SentTranscript: {
      const destination = r.bytes(ACCOUNT_ID_LENGTH);
      content = { type: 'sent', messageId, sentAt, destination, ...readText(r) };
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
    case ContentType.HistoryTransfer:
      content = { type: 'history', messageId, sentAt, transfer: readHistoryTransfer(r) };
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
