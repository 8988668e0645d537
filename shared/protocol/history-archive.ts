/**
 * The history archive (DESIGN §3.11, docs/protocol.md §22): the plaintext a device hands a newly
 * linked device of the same account when the person chooses to move their message history. It is
 * encrypted as one file with the file cipher (attachment-cipher.ts, §17) under a fresh key and goes
 * through the relay's attachment store; the key and digests travel end to end (content 0x0D).
 *
 * Compact and strictly parsed: conversations by peer account id, each with its messages in the
 * exporting device's arrival order — kind, direction and status, the sender's device and message id, the sender's and the
 * exporter's times, the text or caption, and for a file its attachment pointer (§17.9: the relay id
 * and key of the ciphertext, never the file's plaintext). Every violation is MALFORMED, another
 * version UNSUPPORTED_VERSION, another account's archive UNTRUSTED_IDENTITY.
 *
 * Parsing is resumable (`HistoryArchiveParser.step`) so an engine can parse a large archive in
 * slices between turns of its event loop; encoding comes in pieces (header, conversation start,
 * messages) for the same reason. Does not own: encryption, transport, what an importer does with
 * duplicates it already holds (the engine skips them), reading or writing any database.
 */
import { bytesEqual, fromUtf8, toHex, utf8 } from '../crypto/bytes.js';
import { readAttachmentPointer, writeAttachmentPointer, type AttachmentPointer } from './attachment-pointer.js';
import { Reader, Writer } from './codec.js';
import {
  ACCOUNT_ID_LENGTH,
  HISTORY_ARCHIVE_VERSION,
  HISTORY_RECENT_MS,
  MAX_HISTORY_CAPTION_BYTES,
  MAX_HISTORY_CONVERSATIONS,
  MAX_HISTORY_TEXT_BYTES,
} from './constants.js';
import { ProtocolError } from './errors.js';

export const HISTORY_MESSAGE_ID_LENGTH = 16;
/** version ‖ scope ‖ accountId ‖ createdAt ‖ since ‖ conversationCount. */
export const HISTORY_HEADER_LENGTH = 1 + 1 + ACCOUNT_ID_LENGTH + 8 + 8 + 4;

/** What the person chose: the last 30 days, or everything. "None" sends no archive at all. */
export type HistoryScope = 'recent' | 'all';
const SCOPE_BYTES: Record<HistoryScope, number> = { recent: 0x01, all: 0x02 };

export type HistoryKind = 'text' | 'attachment';
const KIND_BYTES: Record<HistoryKind, number> = { text: 0x01, attachment: 0x02 };

export type HistoryStatus = 'sending' | 'sent' | 'delivered' | 'read' | 'failed';
/** Message state bytes: incoming unread/read, outgoing by status. */
const STATE = { unread: 0x01, read: 0x02 } as const;
const OUTGOING_STATE_BYTES: Record<HistoryStatus, number> = { sending: 0x11, sent: 0x12, delivered: 0x13, read: 0x14, failed: 0x15 };
const OUTGOING_STATES: ReadonlyMap<number, HistoryStatus> = new Map(Object.entries(OUTGOING_STATE_BYTES).map(([k, v]) => [v, k as HistoryStatus]));

export type HistoryArchiveHeader = {
  readonly scope: HistoryScope;
  /** The account whose history this is: outgoing messages are its own. */
  readonly accountId: Uint8Array;
  /** The exporting device's clock when it made the archive (ms). */
  readonly createdAt: number;
  /** The oldest display time the archive holds: createdAt − 30 days for `recent`, 0 for `all`. */
  readonly since: number;
  readonly conversationCount: number;
};

export type ArchivedMessage = {
  readonly kind: HistoryKind;
  readonly direction: 'incoming' | 'outgoing';
  /** Outgoing only (null for incoming). */
  readonly status: HistoryStatus | null;
  /** Incoming only: when it was read on the exporting device; null = unread (and for outgoing). */
  readonly readAt: number | null;
  /** The sending device: the peer's for incoming, one of the account's own for outgoing. */
  readonly senderDeviceId: number;
  readonly messageId: Uint8Array;
  /** The sender's clock. */
  readonly sentAt: number;
  /** The exporting device's clock when it stored the message; display time = min(sentAt, receivedAt). */
  readonly receivedAt: number;
  /** The text (1 … 65,536 bytes) or the caption ('' = none; 0 … 4,096 bytes). */
  readonly body: string;
  /** Attachments only. */
  readonly pointer: AttachmentPointer | null;
};

export type ArchivedConversation = { readonly peerAccountId: Uint8Array; readonly messages: readonly ArchivedMessage[] };

export type HistoryArchive = Omit<HistoryArchiveHeader, 'conversationCount'> & { readonly conversations: readonly ArchivedConversation[] };

function malformed(what: string): ProtocolError {
  return new ProtocolError('MALFORMED', `history archive: ${what}`);
}

function checkTime(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${what} out of range`);
}

/** The archive's header (§22.1). RangeError on values out of bounds. */
export function encodeHistoryHeader(h: HistoryArchiveHeader): Uint8Array {
  if (h.accountId.length !== ACCOUNT_ID_LENGTH) throw new RangeError('an account id is 16 bytes');
  checkTime(h.createdAt, 'createdAt');
  checkTime(h.since, 'since');
  if (h.scope === 'all' ? h.since !== 0 : h.since !== Math.max(0, h.createdAt - HISTORY_RECENT_MS)) throw new RangeError('since does not match the scope');
  if (!Number.isInteger(h.conversationCount) || h.conversationCount < 0 || h.conversationCount > MAX_HISTORY_CONVERSATIONS) throw new RangeError('conversation count');
  return new Writer().u8(HISTORY_ARCHIVE_VERSION).u8(SCOPE_BYTES[h.scope]).bytes(h.accountId).u64(h.createdAt).u64(h.since).u32(h.conversationCount).finish();
}

/** A conversation's start: peer account id ‖ u32 message count (≥ 1). */
export function encodeConversationStart(peerAccountId: Uint8Array, messageCount: number): Uint8Array {
  if (peerAccountId.length !== ACCOUNT_ID_LENGTH) throw new RangeError('an account id is 16 bytes');
  if (!Number.isInteger(messageCount) || messageCount < 1 || messageCount > 0xffffffff) throw new RangeError('message count');
  return new Writer().bytes(peerAccountId).u32(messageCount).finish();
}

/** Appends one message (§22.2) to `w`. RangeError on values out of bounds. */
export function writeArchivedMessage(w: Writer, m: ArchivedMessage): void {
  if (m.messageId.length !== HISTORY_MESSAGE_ID_LENGTH) throw new RangeError('a message id is 16 bytes');
  if (!Number.isInteger(m.senderDeviceId) || m.senderDeviceId < 1 || m.senderDeviceId > 0xffffffff) throw new RangeError('sender device id');
  checkTime(m.sentAt, 'sentAt');
  checkTime(m.receivedAt, 'receivedAt');
  const body = utf8(m.body);
  if (m.kind === 'text' ? body.length < 1 || body.length > MAX_HISTORY_TEXT_BYTES : body.length > MAX_HISTORY_CAPTION_BYTES) throw new RangeError('body length');
  if ((m.kind === 'attachment') !== (m.pointer !== null)) throw new RangeError('a pointer goes with exactly the attachments');
  let state: number;
  if (m.direction === 'incoming') {
    if (m.status !== null) throw new RangeError('incoming messages have no status');
    state = m.readAt === null ? STATE.unread : STATE.read;
  } else {
    if (m.status === null || m.readAt !== null) throw new RangeError('outgoing messages have a status and no read time');
    state = OUTGOING_STATE_BYTES[m.status];
  }
  w.u8(KIND_BYTES[m.kind]).u8(state).u32(m.senderDeviceId).bytes(m.messageId).u64(m.sentAt).u64(m.receivedAt);
  if (m.readAt !== null) {
    checkTime(m.readAt, 'readAt');
    w.u64(m.readAt);
  }
  w.var32(body);
  if (m.pointer) writeAttachmentPointer(w, m.pointer);
}

/** The whole archive in one buffer (tests, vectors; the engine writes the same pieces in slices). */
export function encodeHistoryArchive(a: HistoryArchive): Uint8Array {
  const parts = [encodeHistoryHeader({ ...a, conversationCount: a.conversations.length })];
  for (const c of a.conversations) {
    parts.push(encodeConversationStart(c.peerAccountId, c.messages.length));
    const w = new Writer();
    for (const m of c.messages) writeArchivedMessage(w, m);
    parts.push(w.finish());
  }
  return concatParts(parts);
}

/** Concatenates encoded pieces into one archive. */
export function concatParts(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * A resumable strict parser: `step(n)` parses up to n more messages and says whether the archive
 * is complete (every byte read, no trailing data). Nothing is returned before the caller has
 * stepped to the end, so a caller that imports only complete archives never imports a part of a
 * malformed one. Checks (§22.3): version (UNSUPPORTED_VERSION), scope and `since`, the account
 * (UNTRUSTED_IDENTITY), counts, distinct peers, kinds, states, UTF-8 and lengths, pointers (§17.9),
 * times (display time ≥ since, received ≤ createdAt), no trailing bytes; anything else MALFORMED.
 */
export class HistoryArchiveParser {
  readonly header: HistoryArchiveHeader;
  readonly #r: Reader;
  readonly #keep: boolean;
  readonly #conversations: ArchivedConversation[] = [];
  readonly #peers = new Set<string>();
  #current: { peerAccountId: Uint8Array; messages: ArchivedMessage[]; left: number } | null = null;
  #started = 0;
  #messages = 0;
  #done = false;

  /**
   * `keep: false` parses without holding the messages (a first, checking pass, or a reader that
   * consumes them one by one with `next`); `result` then is not available.
   */
  constructor(bytes: Uint8Array, expectedAccountId: Uint8Array, o: { readonly keep?: boolean } = {}) {
    this.#keep = o.keep ?? true;
    this.#r = new Reader(bytes, 'history archive');
    const r = this.#r;
    const version = r.u8();
    if (version !== HISTORY_ARCHIVE_VERSION) throw new ProtocolError('UNSUPPORTED_VERSION', `history archive version ${version}`);
    const scopeByte = r.u8();
    const scope: HistoryScope | undefined = scopeByte === SCOPE_BYTES.recent ? 'recent' : scopeByte === SCOPE_BYTES.all ? 'all' : undefined;
    if (!scope) throw malformed('unknown scope');
    const accountId = r.bytes(ACCOUNT_ID_LENGTH);
    const createdAt = r.u64();
    const since = r.u64();
    if (scope === 'all' ? since !== 0 : since !== Math.max(0, createdAt - HISTORY_RECENT_MS)) throw malformed('since does not match the scope');
    const conversationCount = r.u32();
    if (conversationCount > MAX_HISTORY_CONVERSATIONS) throw malformed('too many conversations');
    if (!bytesEqual(accountId, expectedAccountId)) throw new ProtocolError('UNTRUSTED_IDENTITY', "history archive: another account's history");
    this.header = { scope, accountId, createdAt, since, conversationCount };
  }

  /** Messages parsed so far. */
  get messages(): number {
    return this.#messages;
  }

  /** Parses up to `limit` more messages; true once the whole archive is parsed and checked. */
  step(limit: number): boolean {
    for (let n = 0; n < limit; n++) if (this.next() === null) return true;
    return this.#done || this.#atEnd();
  }

  /**
   * The next message with its conversation's peer, or null once the archive ended (and every byte
   * of it was checked). A caller that imports as it reads MUST have checked the whole archive first
   * (a parser with `keep: false` stepped to the end), so nothing of a malformed one is imported.
   */
  next(): { readonly peerAccountId: Uint8Array; readonly message: ArchivedMessage } | null {
    const r = this.#r;
    while (this.#current === null) {
      if (this.#done || this.#atEnd()) return null;
      const peerAccountId = r.bytes(ACCOUNT_ID_LENGTH);
      const hex = toHex(peerAccountId);
      if (this.#peers.has(hex)) throw malformed('a conversation appears twice');
      this.#peers.add(hex);
      const left = r.u32();
      if (left < 1) throw malformed('an empty conversation');
      this.#started++;
      this.#current = { peerAccountId, messages: [], left };
    }
    const c = this.#current;
    const m = this.#message();
    if (this.#keep) c.messages.push(m);
    this.#messages++;
    if (--c.left === 0) {
      if (this.#keep) this.#conversations.push({ peerAccountId: c.peerAccountId, messages: c.messages });
      this.#current = null;
    }
    return { peerAccountId: c.peerAccountId, message: m };
  }

  /** Between conversations: true (and checked: no trailing bytes) once the last one was read. */
  #atEnd(): boolean {
    if (this.#current !== null || this.#started < this.header.conversationCount) return false;
    this.#r.end();
    this.#done = true;
    return true;
  }

  #message(): ArchivedMessage {
    const r = this.#r;
    const kindByte = r.u8();
    const kind: HistoryKind | undefined = kindByte === KIND_BYTES.text ? 'text' : kindByte === KIND_BYTES.attachment ? 'attachment' : undefined;
    if (!kind) throw malformed('unknown message kind');
    const state = r.u8();
    const outgoing = OUTGOING_STATES.get(state);
    if (outgoing === undefined && state !== STATE.unread && state !== STATE.read) throw malformed('unknown message state');
    const senderDeviceId = r.u32();
    if (senderDeviceId === 0) throw malformed('device id 0');
    const messageId = r.bytes(HISTORY_MESSAGE_ID_LENGTH);
    const sentAt = r.u64();
    const receivedAt = r.u64();
    const readAt = state === STATE.read ? r.u64() : null;
    const display = Math.min(sentAt, receivedAt);
    if (receivedAt > this.header.createdAt) throw malformed('a message received after the archive was made');
    if (display < this.header.since) throw malformed('a message older than the archive covers');
    const bodyBytes = r.var32(kind === 'text' ? MAX_HISTORY_TEXT_BYTES : MAX_HISTORY_CAPTION_BYTES);
    if (kind === 'text' && bodyBytes.length === 0) throw malformed('an empty text');
    let body: string;
    try {
      body = fromUtf8(bodyBytes);
    } catch {
      throw malformed('invalid UTF-8');
    }
    const pointer = kind === 'attachment' ? readAttachmentPointer(r) : null;
    return {
      kind,
      direction: outgoing === undefined ? 'incoming' : 'outgoing',
      status: outgoing ?? null,
      readAt,
      senderDeviceId,
      messageId,
      sentAt,
      receivedAt,
      body,
      pointer,
    };
  }

  /** The parsed archive; only after `step` returned true, and only with `keep`. */
  result(): HistoryArchive {
    if (!this.#done || !this.#keep) throw new Error('history archive: not parsed to the end, or parsed without keeping it');
    const { scope, accountId, createdAt, since } = this.header;
    return { scope, accountId, createdAt, since, conversations: this.#conversations };
  }
}

/** Parses a whole archive at once (tests, vectors). */
export function parseHistoryArchive(bytes: Uint8Array, expectedAccountId: Uint8Array): HistoryArchive {
  const p = new HistoryArchiveParser(bytes, expectedAccountId);
  p.step(Number.POSITIVE_INFINITY);
  return p.result();
}
