/**
 * Attachments in the engine (issue 13): the attachments:* channels and the transfers behind them,
 * for one open profile (started and stopped with the messaging layer).
 *
 * Sending: the renderer hands a file over in pieces (stage, write) into the engine's staging
 * folder; `send` sanitises its name, sniffs its type from the bytes, re-encodes an image without
 * its metadata in the image process (unless sent as a file), encrypts it once into the spool
 * `<attachments>/<message row id>.spool` and commits the message with its attachment row. The
 * upload (transfer.ts, tus) runs in the background from the spool; its progress at the relay is
 * committed after every chunk, so a relay restart, a lost connection or an app restart resumes from
 * the last committed offset. Once the relay holds every byte, the E2E message with the pointer
 * (docs/protocol.md §17.9) is queued like a text.
 *
 * Receiving: inbound.ts stores the pointer (`receive`); `open` downloads the ciphertext into the
 * same folder (it stays encrypted at rest: the key is only in the encrypted database), decrypts it
 * into a private temporary file released only after the final segment and both digests verified,
 * sniffs its type, and `read` hands the bytes to the renderer (which alone decodes images); the
 * decrypted copy is deleted after its last byte is read and at every start.
 *
 * Owns the attachments folder. Not the cipher (file-cipher.ts), the wire (transfer.ts), names and
 * types (file-names.ts), the image process (image-strip.ts) or the E2E content (content.ts).
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { RequestOf } from '../../../shared/api/types.js';
import type { AttachmentError, AttachmentView, MessageView } from '../../../shared/api/view-models.js';
import { fromBase64Url, toBase64Url, toHex, utf8 } from '../../../shared/crypto/bytes.js';
import { attachmentLayout, type AttachmentDescriptor } from '../../../shared/protocol/attachment-cipher.js';
import { MAX_POINTER_FILE_NAME_BYTES, type AttachmentPointer } from '../../../shared/protocol/attachment-pointer.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import { ATTACHMENTS_PATH } from '../../../shared/wire/attachments.js';
import {
  abandonedUploads,
  attachmentRowIds,
  attachmentsInTransfer,
  attachmentsOfConversation,
  forgetAbandonedUpload,
  getAttachment,
  insertIncomingAttachment,
  insertOutgoingAttachment,
  setAttachmentState,
  setAttachmentTransferred,
  setRevealed,
  setUploaded,
  setUploadState,
  type AttachmentRecord,
} from '../db/attachments.js';
import { acceptContact, getContact } from '../db/contacts.js';
import { getConversation } from '../db/conversations.js';
import type { ReadDb, WriteDb } from '../db/database.js';
import { getMessage, insertedRecord, insertMessage, markFailed, markSending, type MessageRecord } from '../db/messages.js';
import { EngineError } from '../errors.js';
import type { MessagingCore } from '../messaging/fan-out.js';
import { noticeIfLacking } from '../messaging/capabilities.js';
import { encodeContent, MESSAGE_ID_LENGTH } from '../messaging/content.js';
import { RelayClient } from '../relay/client.js';
import { messageView, rowIdOf } from '../views.js';
import { isFileCipherError, isTransferError, type TransferErrorCode } from './errors.js';
import { decryptToFile, encryptToSpool } from './file-cipher.js';
import { isRisky, sanitizeFileName, sniffMediaType, STRIPPABLE_IMAGE_TYPES } from './file-names.js';
import { stripImage, type StrippedImage } from './image-strip.js';
import { cancelUpload, downloadAttachment, uploadSpool, type RetryOptions, type UploadState, type UploadStateStore } from './transfer.js';

/** Progress events at most this often per transfer. */
const PROGRESS_INTERVAL_MS = 250;

type Stage = { readonly file: string; readonly name: string; readonly size: number; received: number };

export type AttachmentsOptions = {
  readonly core: MessagingCore;
  /** `<profile data dir>/attachments`. */
  readonly dir: string;
  /** The outbox loop: a queued attachment message goes out. */
  readonly kick: () => void;
  /** Retries inside one transfer before it pauses (tests shorten them; transfer.ts has the defaults). */
  readonly retry?: Partial<RetryOptions> | undefined;
  /**
   * In the transaction that queues an attachment message: what goes to the person before it (the
   * profile key, when they do not hold the current one — as before a text, so they see a name).
   */
  readonly beforeSend?: ((db: WriteDb, recipient: Uint8Array) => void) | undefined;
  /**
   * The disappearing timer a file sent now in the conversation carries (null: off); throws
   * TIMERS_UNSUPPORTED when a device could not honour it (messaging.ts, docs/protocol.md §23.1).
   */
  readonly timerFor?: ((db: WriteDb, conversationId: number, recipient: Uint8Array) => number | null) | undefined;
  /** A timed file was committed: the expiry timer follows. */
  readonly timed?: (() => void) | undefined;
};

/** A transfer that paused while the relay connection stayed up (the HTTP path failed alone) is tried again after this long. */
export const PAUSED_RETRY_MS = 30_000;

/** The relay's refusal or a local failure, as the UI names it. */
function attachmentErrorOf(e: unknown): AttachmentError {
  if (isTransferError(e)) {
    const map: Partial<Record<TransferErrorCode, AttachmentError>> = {
      ATTACHMENT_TOO_LARGE: 'too-large',
      QUOTA_EXCEEDED: 'quota',
      ATTACHMENT_EXPIRED: 'expired',
      NOT_FOUND: 'not-found',
      SIZE_MISMATCH: 'damaged',
      IO: 'storage',
    };
    return map[e.code] ?? 'network';
  }
  if (isFileCipherError(e)) return e.code === 'IO' || e.code === 'NOT_A_FILE' ? 'storage' : e.code === 'TOO_LARGE' ? 'too-large' : 'damaged';
  if (isProtocolError(e)) return 'damaged';
  return 'storage';
}

const API_ERROR_OF: Record<AttachmentError, { code: ConstructorParameters<typeof EngineError>[0]; message: string }> = {
  'too-large': { code: 'ATTACHMENT_TOO_LARGE', message: 'the file is larger than the relay accepts' },
  quota: { code: 'QUOTA_EXCEEDED', message: 'the storage quota at the relay is used up' },
  expired: { code: 'ATTACHMENT_EXPIRED', message: 'the attachment is no longer at the relay' },
  'not-found': { code: 'ATTACHMENT_EXPIRED', message: 'the relay does not hold this attachment' },
  damaged: { code: 'ATTACHMENT_DAMAGED', message: 'the attachment did not verify; nothing was released' },
  network: { code: 'RELAY_UNAVAILABLE', message: 'the relay could not be reached' },
  storage: { code: 'STORAGE_FAILURE', message: 'the attachment could not be read or written' },
};

function apiError(error: AttachmentError): EngineError {
  const e = API_ERROR_OF[error];
  return new EngineError(e.code, e.message);
}

/** A transfer that lost the relay: its row stays uploading or downloading, with the error `network` (docs/adr/0021). */
function isPaused(a: AttachmentRecord): boolean {
  return (a.state === 'uploading' || a.state === 'downloading') && a.error === 'network';
}

/**
 * An image in a message request that the person has not asked to see: its thumbnail stays here
 * (and opening it is refused) until attachments:reveal or Accept (docs/adr/0021).
 */
function isWithheld(a: AttachmentRecord, request: boolean): boolean {
  return request && a.thumbnail !== null && !a.revealed;
}

/** Whether a conversation is a message request: its person is not accepted (yet). */
export function isRequestConversation(db: ReadDb, conversationId: number): boolean {
  const conversation = getConversation(db, conversationId);
  const contact = conversation && getContact(db, conversation.peerAccountId);
  return contact !== undefined && !contact.accepted;
}

/**
 * The view of an attachment row (the thumbnail as base64, the name as stored: sanitised on
 * arrival); `request`: its conversation is a message request (isRequestConversation).
 */
export function attachmentView(a: AttachmentRecord, request: boolean): AttachmentView {
  const total = a.key === null ? 0 : attachmentLayout(a.length).ciphertextLength;
  const paused = isPaused(a);
  const withheld = isWithheld(a, request);
  return {
    fileName: a.fileName,
    mediaType: a.mediaType,
    size: a.length,
    width: a.width,
    height: a.height,
    thumbnail: a.thumbnail === null || withheld ? null : Buffer.from(a.thumbnail).toString('base64'),
    withheld,
    original: a.original,
    state: a.state,
    transferred: Math.min(a.transferred, total),
    total,
    error: paused ? null : a.error,
    paused,
    risky: isRisky(a.fileName, a.mediaType),
  };
}

function descriptorOf(a: AttachmentRecord): AttachmentDescriptor {
  if (!a.key || !a.ciphertextDigest || !a.plaintextSha256) throw new EngineError('ATTACHMENT_NOT_READY', 'the attachment is not ready');
  return { key: a.key, length: a.length, paddedLength: a.paddedLength, ciphertextDigest: a.ciphertextDigest, plaintextSha256: a.plaintextSha256 };
}

/** The pointer of a row, for the E2E content. */
export function pointerOf(a: AttachmentRecord): AttachmentPointer {
  if (!a.attachmentId) throw new EngineError('ATTACHMENT_NOT_READY', 'the attachment is not uploaded yet');
  return {
    attachmentId: a.attachmentId,
    descriptor: descriptorOf(a),
    mediaType: a.mediaType,
    fileName: a.fileName,
    dimensions: a.width !== null && a.height !== null ? { width: a.width, height: a.height } : null,
    thumbnail: a.thumbnail,
    original: a.original,
  };
}

/** Cuts a sanitised name to the pointer's 255 bytes (sanitizeFileName already keeps within them). */
function pointerName(name: string): string {
  return utf8(name).length <= MAX_POINTER_FILE_NAME_BYTES ? name : 'file';
}

export class Attachments {
  readonly #core: MessagingCore;
  readonly #dir: string;
  readonly #kick: () => void;
  readonly #retry: Partial<RetryOptions> | undefined;
  readonly #beforeSend: ((db: WriteDb, recipient: Uint8Array) => void) | undefined;
  readonly #timerFor: AttachmentsOptions['timerFor'];
  readonly #timed: AttachmentsOptions['timed'];
  readonly #stages = new Map<string, Stage>();
  readonly #transfers = new Map<number, { readonly controller: AbortController; readonly done: Promise<void> }>();
  /** Decrypted copies being read, by message row id. */
  readonly #opened = new Map<number, { readonly file: string; readonly size: number }>();
  #maxCiphertextBytes: number | undefined;
  #stopped = false;
  /** The relay's live connection was lost and is not back (Messaging tells); paused transfers wait for it. */
  #relayAway = false;
  #pausedRetry: NodeJS.Timeout | undefined;
  /** The folder's clean-up at start: staging and sending wait for it (it deletes unknown files). */
  #ready: Promise<void> = Promise.resolve();
  /** The relay deletions of abandoned uploads in progress (one run at a time). */
  #terminating: Promise<void> | undefined;

  constructor(o: AttachmentsOptions) {
    this.#core = o.core;
    this.#dir = o.dir;
    this.#kick = o.kick;
    this.#retry = o.retry;
    this.#beforeSend = o.beforeSend;
    this.#timerFor = o.timerFor;
    this.#timed = o.timed;
  }

  get #staging(): string {
    return path.join(this.#dir, 'staging');
  }

  get #plain(): string {
    return path.join(this.#dir, 'open');
  }

  #spool(rowId: number): string {
    return path.join(this.#dir, `${rowId}.spool`);
  }

  /**
   * Cleans the folder (staged files, decrypted copies and files of deleted messages go) and takes
   * up the uploads and downloads that were running when the engine stopped.
   */
  start(): Promise<void> {
    this.#ready = this.#clean();
    return this.#ready.then(() => {
      this.#resume();
      void this.#terminateAbandoned();
    });
  }

  async #clean(): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await rm(this.#staging, { recursive: true, force: true });
    await rm(this.#plain, { recursive: true, force: true });
    // Stopped meanwhile (logout, lock, shutdown): the database may be closed already.
    if (this.#stopped) return;
    const keep = attachmentRowIds(this.#core.db.reader);
    for (const name of await readdir(this.#dir)) {
      const m = /^([0-9]+)\.spool(\.partial)?$/.exec(name);
      if (m && !keep.has(Number(m[1]))) await rm(path.join(this.#dir, name), { force: true });
      else if (!m && name.endsWith('.partial')) await rm(path.join(this.#dir, name), { force: true });
    }
  }

  #resume(): void {
    if (this.#stopped) return;
    for (const a of attachmentsInTransfer(this.#core.db.reader)) {
      if (a.state === 'uploading') this.#startUpload(a.messageRowId);
      else void this.#startDownload(a.messageRowId);
    }
  }

  /** Abandons every transfer (the database closes next); their state stays for the next start. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#pausedRetry);
    for (const t of this.#transfers.values()) t.controller.abort();
    this.#transfers.clear();
  }

  /** Resolves when no transfer runs (tests). */
  async idle(): Promise<void> {
    while (this.#transfers.size > 0) await Promise.all([...this.#transfers.values()].map((t) => t.done));
  }

  // ── Paused transfers (the relay is away) ───────────────────────────────────

  /**
   * The relay's live connection went down or came back (Messaging). Down: every running transfer
   * shows as paused (it keeps retrying on its own). Back: every paused transfer is resumed from its
   * last committed offset — restarted if it had given up, left running otherwise.
   */
  connection(online: boolean): void {
    this.#relayAway = !online;
    if (this.#stopped) return;
    if (!online) {
      for (const rowId of this.#transfers.keys()) this.#pause(rowId);
      return;
    }
    // After the folder's clean-up at start (which takes up every transfer itself).
    void this.#ready.then(() => {
      if (this.#stopped || this.#relayAway) return;
      this.#resumePaused();
      void this.#terminateAbandoned();
    });
  }

  /**
   * Every paused transfer goes on: restarted from its persisted state at once (one still retrying
   * on its own is stopped first, rather than left to its growing backoff).
   */
  #resumePaused(): void {
    clearTimeout(this.#pausedRetry);
    this.#pausedRetry = undefined;
    for (const a of attachmentsInTransfer(this.#core.db.reader)) {
      const rowId = a.messageRowId;
      const running = this.#transfers.get(rowId);
      if (running && !isPaused(a)) continue;
      this.#unpause(rowId);
      const restart = (): void => {
        if (this.#stopped) return;
        if (a.state === 'uploading') this.#startUpload(rowId);
        else void this.#startDownload(rowId);
      };
      if (!running) restart();
      else {
        running.controller.abort();
        void running.done.then(restart);
      }
    }
  }

  /** Marks a transfer paused (not failed: an outgoing message stays `sending`). */
  #pause(rowId: number): void {
    if (this.#core.stopped) return;
    const db = this.#core.db.writer;
    const a = getAttachment(db, rowId);
    if (!a || isPaused(a) || (a.state !== 'uploading' && a.state !== 'downloading')) return;
    db.transaction(() => setAttachmentState(db, rowId, a.state, 'network'));
    this.#emitUpdated(rowId);
  }

  #unpause(rowId: number): void {
    if (this.#core.stopped) return;
    const db = this.#core.db.writer;
    const a = getAttachment(db, rowId);
    if (!a || !isPaused(a)) return;
    db.transaction(() => setAttachmentState(db, rowId, a.state, null));
    this.#emitUpdated(rowId);
  }

  /** A transfer gave up on the relay: it pauses, and resumes when the connection is back (or, if it never left, a little later). */
  #pauseAfterFailure(rowId: number): void {
    this.#pause(rowId);
    if (!this.#relayAway && this.#pausedRetry === undefined) {
      this.#pausedRetry = setTimeout(() => {
        this.#pausedRetry = undefined;
        if (!this.#stopped && !this.#relayAway) this.#resumePaused();
      }, PAUSED_RETRY_MS);
      this.#pausedRetry.unref();
    }
  }

  // ── Limits ────────────────────────────────────────────────────────────────

  async #maxBytes(): Promise<number> {
    if (this.#maxCiphertextBytes === undefined) {
      let known;
      try {
        known = await RelayClient.wellKnown(this.#core.account.relayUrl);
      } catch {
        throw new EngineError('RELAY_UNAVAILABLE', 'the relay could not be reached');
      }
      if (!known.attachments) throw new EngineError('ATTACHMENT_TOO_LARGE', 'this relay does not accept attachments');
      this.#maxCiphertextBytes = known.attachments.maxBytes;
    }
    return this.#maxCiphertextBytes;
  }

  // ── Handing a file over (attachments:stage, attachments:write) ─────────────

  async stage(req: RequestOf<'attachments:stage'>): Promise<{ stageId: string }> {
    this.#core.checkApi();
    await this.#ready.catch(() => undefined);
    let ciphertextLength: number;
    try {
      ciphertextLength = attachmentLayout(req.size).ciphertextLength;
    } catch {
      throw apiError('too-large');
    }
    if (ciphertextLength > (await this.#maxBytes())) throw apiError('too-large');
    const stageId = toHex(this.#core.rng(16));
    await mkdir(this.#staging, { recursive: true, mode: 0o700 });
    const file = path.join(this.#staging, stageId);
    await (await open(file, 'wx', 0o600)).close();
    this.#stages.set(stageId, { file, name: req.name, size: req.size, received: 0 });
    return { stageId };
  }

  async write(req: RequestOf<'attachments:write'>): Promise<{ received: number }> {
    this.#core.checkApi();
    const stage = this.#stages.get(req.stageId);
    if (!stage) throw new EngineError('NOT_FOUND', 'no such staged file');
    if (req.offset !== stage.received) throw new EngineError('INVALID_REQUEST', `expected the bytes from offset ${stage.received}`);
    const data = Buffer.from(req.data, 'base64');
    if (stage.received + data.length > stage.size) throw new EngineError('INVALID_REQUEST', 'more bytes than the staged size');
    const handle = await open(stage.file, 'r+');
    try {
      await handle.write(data, 0, data.length, stage.received);
    } finally {
      await handle.close();
    }
    stage.received += data.length;
    return { received: stage.received };
  }

  // ── Sending (attachments:send) ─────────────────────────────────────────────

  async send(req: RequestOf<'attachments:send'>): Promise<MessageView> {
    const core = this.#core;
    core.checkApi();
    const stage = this.#stages.get(req.stageId);
    if (!stage) throw new EngineError('NOT_FOUND', 'no such staged file');
    if (stage.received !== stage.size) throw new EngineError('ATTACHMENT_NOT_READY', 'the file was not handed over completely');
    if (utf8(req.caption).length > 4096) throw new EngineError('MESSAGE_TOO_LARGE', 'a caption is at most 4,096 bytes');
    const conversationId = rowIdOf(req.conversationId);
    this.#checkConversation(conversationId);
    this.#stages.delete(req.stageId);
    const fileName = pointerName(sanitizeFileName(stage.name));
    let source = stage.file;
    let image: StrippedImage | null = null;
    try {
      let mediaType = await sniffMediaType(stage.file);
      if (!req.asFile && STRIPPABLE_IMAGE_TYPES.has(mediaType)) {
        const stripped = `${stage.file}.stripped`;
        try {
          image = await stripImage({ input: stage.file, output: stripped, mediaType });
        } catch {
          // Never the original instead: its metadata (a GPS position) would go with it unasked.
          throw new EngineError('METADATA_NOT_REMOVED', "the photo's metadata could not be removed; nothing was sent");
        }
        source = stripped;
        mediaType = await sniffMediaType(stripped);
      }
      core.checkApi();
      const spooled = await encryptToSpool(source, { spoolDir: this.#dir, maxCiphertextBytes: await this.#maxBytes() }).catch((e: unknown) => {
        throw apiError(attachmentErrorOf(e));
      });
      core.checkApi();
      const thumbnail = image?.thumbnail ?? null;
      const now = core.clock();
      const messageId = core.rng(MESSAGE_ID_LENGTH);
      const db = core.db.writer;
      const row = {
        conversationId,
        kind: 'attachment',
        direction: 'outgoing',
        senderAccountId: core.account.accountId,
        senderDeviceId: core.account.deviceId,
        messageId,
        sentAt: now,
        receivedAt: now,
        body: req.caption === '' ? null : req.caption,
        status: 'sending',
        readAt: null,
      } as const;
      let notice: number | null = null;
      let timed: { expireTimerSeconds: number; expireStartedAt: number; expiresAt: number } | null = null;
      const rowId = db.transaction(() => {
        const peer = this.#checkConversation(conversationId);
        // Its own timer (§23.1), started at the send like a text's.
        const timer = this.#timerFor?.(db, conversationId, peer) ?? null;
        timed = timer === null ? null : { expireTimerSeconds: timer, expireStartedAt: now, expiresAt: now + timer * 1000 };
        const id = insertMessage(db, { ...row, ...timed });
        // A device of theirs that cannot show files: the sender is told, right after the file.
        notice = noticeIfLacking(core, db, peer, 'files', now);
        insertOutgoingAttachment(db, id, {
          descriptor: spooled.descriptor,
          mediaType,
          fileName,
          dimensions: image ? { width: Math.min(image.width, 65_535), height: Math.min(image.height, 65_535) } : null,
          thumbnail,
          original: req.asFile,
        });
        return id;
      });
      try {
        await rename(spooled.spoolPath, this.#spool(rowId));
      } catch {
        this.#fail(rowId, 'storage');
      }
      // Started first, so that the view (event and answer alike) shows it paused if the relay is away.
      if (getAttachment(db, rowId)?.state === 'uploading') this.#startUpload(rowId);
      const view = this.#view(insertedRecord(rowId, { ...row, ...(timed ?? {}) }));
      core.emit('message:added', { message: view });
      if (timed !== null) this.#timed?.();
      if (notice !== null) core.emitMessageAdded(notice);
      core.emitConversation(conversationId);
      return view;
    } finally {
      await rm(stage.file, { force: true });
      await rm(`${stage.file}.stripped`, { force: true });
    }
  }

  /** The conversation's person, when a file may be sent to them. */
  #checkConversation(conversationId: number): Uint8Array {
    const db = this.#core.db.writer;
    const conversation = getConversation(db, conversationId);
    if (!conversation) throw new EngineError('NOT_FOUND', 'no such conversation');
    const contact = getContact(db, conversation.peerAccountId);
    if (!contact) throw new EngineError('NOT_FOUND', 'no such contact');
    if (contact.keyChangePending) throw new EngineError('KEY_CHANGE_PENDING', "the contact's safety number changed: accept the change first");
    return contact.accountId;
  }

  /** The upload's state in the attachment row: it survives an app restart. */
  #uploadState(rowId: number): UploadStateStore {
    const db = this.#core.db.writer;
    const relayUrl = this.#core.account.relayUrl;
    return {
      load: async () => {
        const a = getAttachment(db, rowId);
        if (!a?.uploadId) return undefined;
        const attachmentId = toBase64Url(a.uploadId);
        return { uploadUrl: new URL(`${ATTACHMENTS_PATH}/${attachmentId}`, relayUrl).href, attachmentId, offset: a.uploadOffset ?? 0 };
      },
      save: async (s: UploadState) => {
        this.#core.check();
        db.transaction(() => {
          setUploadState(db, rowId, { id: fromBase64Url(s.attachmentId), offset: s.offset });
          setAttachmentTransferred(db, rowId, s.offset);
        });
      },
      clear: async () => {
        this.#core.check();
        db.transaction(() => setUploadState(db, rowId, null));
      },
    };
  }

  #track(rowId: number, run: (signal: AbortSignal) => Promise<void>): void {
    if (this.#stopped || this.#transfers.has(rowId)) return;
    const controller = new AbortController();
    const done = run(controller.signal)
      .catch(() => undefined)
      .finally(() => {
        if (this.#transfers.get(rowId)?.controller === controller) this.#transfers.delete(rowId);
      });
    this.#transfers.set(rowId, { controller, done });
    // Started while the relay is away: it tries on its own, and shows as waiting meanwhile.
    if (this.#relayAway) this.#pause(rowId);
  }

  #progress(rowId: number): (bytes: number, total: number) => void {
    let last = 0;
    let since = { at: Date.now(), bytes: -1 };
    return (bytes, total) => {
      const now = Date.now();
      if (since.bytes < 0) since = { at: now, bytes };
      if (now - last < PROGRESS_INTERVAL_MS && bytes < total) return;
      last = now;
      const seconds = Math.max(0.001, (now - since.at) / 1000);
      const m = getMessage(this.#core.db.reader, rowId);
      if (!m) return;
      // Bytes move again: whatever the live connection says, the transfer is not waiting.
      if (bytes > since.bytes) this.#unpause(rowId);
      this.#core.emit('attachment:progress', {
        conversationId: String(m.conversationId),
        messageId: String(rowId),
        transferred: bytes,
        total,
        bytesPerSecond: Math.max(0, Math.round((bytes - since.bytes) / seconds)),
      });
    };
  }

  #startUpload(rowId: number): void {
    this.#track(rowId, async (signal) => {
      const core = this.#core;
      const a = getAttachment(core.db.reader, rowId);
      if (!a || a.state !== 'uploading') return;
      const length = attachmentLayout(a.length).ciphertextLength;
      let attachmentId: Uint8Array;
      try {
        ({ attachmentId } = await uploadSpool({
          relayUrl: core.account.relayUrl,
          spoolPath: this.#spool(rowId),
          length,
          sessionToken: () => core.relay.sessionToken(),
          state: this.#uploadState(rowId),
          signal,
          onProgress: this.#progress(rowId),
          retry: this.#retry,
        }));
      } catch (e) {
        if (signal.aborted || core.stopped) return;
        const error = attachmentErrorOf(e);
        if (error === 'network') this.#pauseAfterFailure(rowId);
        else this.#fail(rowId, error);
        return;
      }
      if (core.stopped) return;
      const db = core.db.writer;
      db.transaction(() => {
        setUploaded(db, rowId, attachmentId);
        setAttachmentTransferred(db, rowId, length);
        const m = getMessage(db, rowId)!;
        const conversation = getConversation(db, m.conversationId)!;
        const pointer = pointerOf(getAttachment(db, rowId)!);
        const content = encodeContent({ type: 'attachment', messageId: m.messageId!, sentAt: m.sentAt, pointer, caption: m.body ?? '', expireTimerSeconds: m.expireTimerSeconds });
        acceptContact(db, conversation.peerAccountId, core.clock());
        this.#beforeSend?.(db, conversation.peerAccountId);
        // The copy for this account's other devices first, as for a text (docs/adr/0026).
        const self = core.account.accountId;
        if (core.targetDevices(db, self).length > 0) {
          // The copy carries the file's disappearing timer too (pointer flag 0x08, docs/protocol.md §23.1).
          const timed = m.expireTimerSeconds === null ? pointer : { ...pointer, expireTimerSeconds: m.expireTimerSeconds };
          const transcript = encodeContent({ type: 'sent-attachment', messageId: m.messageId!, sentAt: m.sentAt, destination: conversation.peerAccountId, pointer: timed, caption: m.body ?? '' });
          core.queueSend(db, { kind: 'sync', recipient: self, content: transcript, messageRowId: rowId });
        }
        core.queueSend(db, { kind: 'message', recipient: conversation.peerAccountId, content, messageRowId: rowId });
      });
      this.#emitUpdated(rowId);
      this.#kick();
    });
  }

  /** A failed transfer: the row says why; an outgoing message becomes `failed`. */
  #fail(rowId: number, error: AttachmentError): void {
    const db = this.#core.db.writer;
    const m = db.transaction(() => {
      setAttachmentState(db, rowId, 'failed', error);
      const m = getMessage(db, rowId);
      if (m?.direction === 'outgoing') markFailed(db, rowId);
      return m;
    });
    if (m) this.#emitUpdated(rowId);
  }

  #emitUpdated(rowId: number): void {
    const m = getMessage(this.#core.db.writer, rowId);
    if (!m) return;
    const view = this.#view(m);
    this.#core.emit('message:updated', { message: view });
    if (m.direction === 'outgoing' && m.status) this.#core.emit('message:status', { conversationId: view.conversationId, messageId: view.id, status: m.status });
    this.#core.emitConversation(m.conversationId);
  }

  /** The message view with its attachment. */
  #view(m: MessageRecord): MessageView {
    const db = this.#core.db.writer;
    return withAttachment(messageView(m, this.#core.account.accountId), getAttachment(db, m.id), isRequestConversation(db, m.conversationId));
  }

  // ── Receiving (inbound.ts) ─────────────────────────────────────────────────

  /** Stores an incoming pointer with its message (in inbound's transaction); the name is sanitised here. */
  static receive(db: WriteDb, messageRowId: number, pointer: AttachmentPointer): AttachmentRecord {
    insertIncomingAttachment(db, messageRowId, pointer, pointerName(sanitizeFileName(pointer.fileName)));
    return getAttachment(db, messageRowId)!;
  }

  #startDownload(rowId: number): Promise<void> {
    this.#track(rowId, async (signal) => {
      const core = this.#core;
      const a = getAttachment(core.db.reader, rowId);
      if (!a?.attachmentId) return;
      const db = core.db.writer;
      if (a.state !== 'downloading') {
        db.transaction(() => setAttachmentState(db, rowId, 'downloading'));
        this.#emitUpdated(rowId);
      }
      const length = attachmentLayout(a.length).ciphertextLength;
      const report = this.#progress(rowId);
      try {
        await downloadAttachment({
          relayUrl: core.account.relayUrl,
          attachmentId: a.attachmentId,
          length,
          destination: this.#spool(rowId),
          signal,
          onProgress: (bytes, total) => {
            report(bytes, total);
            if (!core.stopped) db.transaction(() => setAttachmentTransferred(db, rowId, bytes));
          },
          retry: this.#retry,
        });
      } catch (e) {
        if (signal.aborted || core.stopped) return;
        const error = attachmentErrorOf(e);
        if (error === 'network') this.#pauseAfterFailure(rowId);
        else this.#fail(rowId, error);
        return;
      }
      if (core.stopped) return;
      db.transaction(() => {
        setAttachmentState(db, rowId, 'downloaded');
        setAttachmentTransferred(db, rowId, length);
      });
      this.#emitUpdated(rowId);
    });
    return this.#transfers.get(rowId)?.done ?? Promise.resolve();
  }

  // ── Opening (attachments:open, attachments:read) ───────────────────────────

  async open(req: RequestOf<'attachments:open'>): Promise<{ size: number; mediaType: string; fileName: string; risky: boolean }> {
    const core = this.#core;
    core.checkApi();
    const rowId = rowIdOf(req.messageId);
    let a = this.#attachment(rowId);
    const m = getMessage(core.db.reader, rowId);
    if (m && isWithheld(a, isRequestConversation(core.db.reader, m.conversationId))) {
      throw new EngineError('ATTACHMENT_WITHHELD', 'this image is from a message request: show it first');
    }
    if (a.state === 'available' || a.state === 'downloading' || (a.state === 'failed' && getMessage(core.db.reader, rowId)?.direction === 'incoming')) {
      if (a.state !== 'downloading') core.db.writer.transaction(() => setAttachmentState(core.db.writer, rowId, 'available'));
      await (this.#transfers.get(rowId)?.done ?? this.#startDownload(rowId));
      core.checkApi();
      a = this.#attachment(rowId);
    }
    if (a.state === 'failed') throw apiError(a.error ?? 'storage');
    if (a.state === 'downloading' && isPaused(a)) throw apiError('network');
    if (a.state !== 'downloaded' && a.state !== 'sent' && a.state !== 'uploading') throw new EngineError('ATTACHMENT_NOT_READY', 'the attachment is not here yet');
    await mkdir(this.#plain, { recursive: true, mode: 0o700 });
    const file = path.join(this.#plain, String(rowId));
    try {
      await decryptToFile(this.#spool(rowId), file, descriptorOf(a));
    } catch (e) {
      core.checkApi();
      const error = attachmentErrorOf(e);
      if (error === 'damaged') {
        // A ciphertext that does not verify is of no use: it goes, and the message says why.
        await rm(this.#spool(rowId), { force: true });
        this.#fail(rowId, 'damaged');
      }
      throw apiError(error);
    }
    const mediaType = await sniffMediaType(file);
    const size = (await stat(file)).size;
    this.#opened.set(rowId, { file, size });
    return { size, mediaType, fileName: a.fileName, risky: isRisky(a.fileName, mediaType) };
  }

  async read(req: RequestOf<'attachments:read'>): Promise<{ data: string; eof: boolean }> {
    this.#core.checkApi();
    const rowId = rowIdOf(req.messageId);
    const opened = this.#opened.get(rowId);
    if (!opened) throw new EngineError('ATTACHMENT_NOT_READY', 'open the attachment first');
    const end = Math.min(opened.size, req.offset + req.length);
    const chunks: Buffer[] = [];
    if (end > req.offset) {
      for await (const chunk of createReadStream(opened.file, { start: req.offset, end: end - 1 })) chunks.push(chunk as Buffer);
    }
    const eof = end >= opened.size;
    if (eof) {
      this.#opened.delete(rowId);
      await rm(opened.file, { force: true });
    }
    return { data: Buffer.concat(chunks).toString('base64'), eof };
  }

  #attachment(rowId: number): AttachmentRecord {
    const a = getAttachment(this.#core.db.reader, rowId);
    if (!a) throw new EngineError('NOT_FOUND', 'no such attachment');
    return a;
  }

  // ── Deletion ───────────────────────────────────────────────────────────────

  /**
   * The files of messages being deleted (one, or a whole conversation's), for a deletion of their
   * rows (`remove` deletes them, in the writer's transaction): their running transfers are stopped
   * first (they would write to rows that are gone), then the rows go, then each ciphertext spool,
   * partial download and decrypted copy. A crash between the rows and the files leaves files of no
   * message, which the clean-up at start deletes. An unfinished upload is terminated at the relay
   * (tus termination): the row's deletion records it (migration 0014's trigger, in the same
   * transaction) and it is deleted at the relay in the background (deleting does not wait for the
   * network) or, if the relay is away, once it is back — after a restart too.
   */
  async discard(rowIds: readonly number[], remove: () => void): Promise<void> {
    const running = rowIds.flatMap((rowId) => this.#transfers.get(rowId) ?? []);
    for (const t of running) t.controller.abort();
    await Promise.all(running.map((t) => t.done));
    this.#core.checkApi();
    remove();
    for (const rowId of rowIds) {
      const opened = this.#opened.get(rowId);
      this.#opened.delete(rowId);
      if (opened) await rm(opened.file, { force: true });
      await rm(this.#spool(rowId), { force: true });
      await rm(`${this.#spool(rowId)}.partial`, { force: true });
    }
    void this.#terminateAbandoned();
  }

  /**
   * Deletes at the relay every unfinished upload whose message is gone (abandoned_uploads), one at a
   * time, forgetting each once the relay answered (deleted, or already unknown). A relay that cannot
   * be reached keeps the rest for the next connection; the relay's own expiry is the last resort.
   */
  async #terminateAbandoned(): Promise<void> {
    if (this.#terminating) return this.#terminating;
    const run = async (): Promise<void> => {
      const core = this.#core;
      for (;;) {
        if (this.#stopped || core.stopped) return;
        const next = abandonedUploads(core.db.reader).find((id) => !tried.has(toHex(id)));
        if (next === undefined) return;
        tried.add(toHex(next));
        const attachmentId = toBase64Url(next);
        const state: UploadStateStore = {
          load: async () => ({ uploadUrl: new URL(`${ATTACHMENTS_PATH}/${attachmentId}`, core.account.relayUrl).href, attachmentId, offset: 0 }),
          save: async () => undefined,
          clear: async () => {
            if (this.#stopped || core.stopped) return;
            const db = core.db.writer;
            db.transaction(() => forgetAbandonedUpload(db, next));
          },
        };
        try {
          await cancelUpload({ relayUrl: core.account.relayUrl, state, sessionToken: () => core.relay.sessionToken() });
        } catch {
          return; // The relay is away or refused: tried again on the next connection.
        }
      }
    };
    const tried = new Set<string>();
    this.#terminating = run().finally(() => {
      this.#terminating = undefined;
    });
    return this.#terminating;
  }

  /** discard() for every attachment of a conversation. */
  discardConversation(conversationId: number, remove: () => void): Promise<void> {
    return this.discard(
      attachmentsOfConversation(this.#core.db.reader, conversationId).map((a) => a.messageRowId),
      remove,
    );
  }

  // ── Message requests (docs/adr/0021) ───────────────────────────────────────

  /** attachments:reveal — the person asked to see a message request's image. */
  reveal(req: RequestOf<'attachments:reveal'>): MessageView {
    const core = this.#core;
    core.checkApi();
    const rowId = rowIdOf(req.messageId);
    this.#attachment(rowId);
    const db = core.db.writer;
    db.transaction(() => setRevealed(db, rowId));
    const view = this.#view(getMessage(db, rowId)!);
    core.emit('message:updated', { message: view });
    return view;
  }

  /** A request was accepted: its held-back images are shown (their views now carry the thumbnails). */
  showAccepted(conversationId: number): void {
    const db = this.#core.db.writer;
    for (const a of attachmentsOfConversation(db, conversationId)) {
      if (a.thumbnail === null || a.revealed) continue;
      const m = getMessage(db, a.messageRowId);
      if (m) this.#core.emit('message:updated', { message: this.#view(m) });
    }
  }

  // ── Cancel and retry ───────────────────────────────────────────────────────

  async cancel(req: RequestOf<'attachments:cancel'>): Promise<MessageView> {
    const core = this.#core;
    core.checkApi();
    const rowId = rowIdOf(req.messageId);
    const a = this.#attachment(rowId);
    const running = this.#transfers.get(rowId);
    running?.controller.abort();
    await running?.done;
    core.checkApi();
    const db = core.db.writer;
    if (a.state === 'uploading' || a.state === 'preparing') {
      // tus termination: the relay deletes the partial upload at once.
      await cancelUpload({ relayUrl: core.account.relayUrl, state: this.#uploadState(rowId), sessionToken: () => core.relay.sessionToken() }).catch(() => undefined);
      db.transaction(() => {
        setAttachmentState(db, rowId, 'cancelled');
        setAttachmentTransferred(db, rowId, 0);
        markFailed(db, rowId);
      });
    } else if (a.state === 'downloading') {
      db.transaction(() => setAttachmentState(db, rowId, 'available'));
    }
    this.#emitUpdated(rowId);
    return this.#view(getMessage(db, rowId)!);
  }

  retry(req: RequestOf<'attachments:retry'>): MessageView {
    const core = this.#core;
    core.checkApi();
    const rowId = rowIdOf(req.messageId);
    const a = this.#attachment(rowId);
    const m = getMessage(core.db.reader, rowId)!;
    const db = core.db.writer;
    if (m.direction === 'outgoing' && (a.state === 'failed' || a.state === 'cancelled')) {
      if (a.attachmentId) throw new EngineError('NOT_RETRYABLE', 'the attachment is uploaded; retry the message');
      db.transaction(() => {
        setAttachmentState(db, rowId, 'uploading');
        markSending(db, rowId);
      });
      this.#emitUpdated(rowId);
      this.#startUpload(rowId);
    } else if (m.direction === 'incoming' && a.state === 'failed') {
      db.transaction(() => setAttachmentState(db, rowId, 'available'));
      void this.#startDownload(rowId);
    } else throw new EngineError('NOT_RETRYABLE', 'only a failed or cancelled transfer can be retried');
    return this.#view(getMessage(db, rowId)!);
  }
}

/** Adds the attachment (if any) to a message view; `request` as for attachmentView. */
export function withAttachment(view: MessageView, a: AttachmentRecord | undefined, request: boolean): MessageView {
  return a ? { ...view, attachment: attachmentView(a, request) } : view;
}
