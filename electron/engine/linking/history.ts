/**
 * History transfer to a newly linked device (issue 14, DESIGN §3.11, docs/protocol.md §22, ADR
 * 0028). The person chooses on the primary, as they link the device: no history, the last 30 days,
 * or everything. The primary then
 *   1. tells the new device an archive is coming (Offer, content 0x0D),
 *   2. exports its texts and uploaded attachments' pointers into one archive (§22.1-22.2), reading
 *      its table once in row order, in pages between turns of the event loop,
 *   3. seals it as one file with the file cipher (§17; a fresh random key) segment by segment,
 *   4. uploads the ciphertext through the relay's attachment store (tus, files/transfer.ts),
 *   5. sends the relay id, key and digests end to end (Ready);
 * and the new device downloads it, opens it with every check of §17.6, parses it strictly (§22.3),
 * imports it in short transactions (skipping what it already holds), deletes the upload at the
 * relay, and says Done. Either side can cancel (Cancel): the work stops, the upload is deleted at the
 * relay, nothing is imported. A tampered, swapped or malformed archive fails with HISTORY_TAMPERED
 * and imports nothing; the link itself is unaffected. Progress shows on both devices
 * (`history:status`).
 *
 * Transfers live in memory: an app restart during a transfer ends it (the relay deletes an
 * unfinished upload after 24 h, a finished one after its retention). Does not own: the archive's
 * bytes (shared/protocol/history-archive.ts), its rows (db/history.ts), the tus and range
 * exchanges (files/transfer.ts), the linking handshake (primary.ts, new-device.ts).
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ApiError } from '../../../shared/api/errors.js';
import type { HistoryTransferView } from '../../../shared/api/view-models.js';
import { toBase64Url, toHex } from '../../../shared/crypto/bytes.js';
import { expectedLayout, openAttachmentSteps, sealAttachmentSteps, type AttachmentDescriptor } from '../../../shared/protocol/attachment-cipher.js';
import { Writer } from '../../../shared/protocol/codec.js';
import { HISTORY_RECENT_MS } from '../../../shared/protocol/constants.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import {
  concatParts,
  encodeConversationStart,
  encodeHistoryHeader,
  HistoryArchiveParser,
  writeArchivedMessage,
  type ArchivedMessage,
  type HistoryScope,
} from '../../../shared/protocol/history-archive.js';
import { parsedDeviceList } from '../account/device-list-cache.js';
import { PRIMARY_DEVICE_ID } from '../account/bootstrap.js';
import { conversationPeers, exportPage, importConversation, importMessages } from '../db/history.js';
import { sql } from '../db/sql.js';
import { EngineError } from '../errors.js';
import { sanitizeFileName } from '../files/file-names.js';
import { isTransferError } from '../files/errors.js';
import { cancelUpload, downloadAttachment, uploadSpool, type RetryOptions, type UploadState, type UploadStateStore } from '../files/transfer.js';
import { encodeContent } from '../messaging/content.js';
import type { MessagingCore } from '../messaging/fan-out.js';
import { HISTORY_TRANSFER_ID_LENGTH, type HistoryTransferMessage } from './history-content.js';

/** A new device takes an archive only this long after its own entry was added to the list. */
export const HISTORY_ACCEPT_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Work between two turns of the event loop (export pages, parsing, sealing; an import slice at most). */
export const HISTORY_SLICE_MS = 12;
/** An import transaction's work and commit together aim at this (the next slice is shorter after a slow commit)… */
export const HISTORY_IMPORT_TARGET_MS = 18;
/** … but always gets at least this much work. */
export const HISTORY_IMPORT_MIN_BUDGET_MS = 4;
/** Rows per export page. */
const EXPORT_PAGE_ROWS = 100;
/** Messages parsed per parser step. */
const PARSE_STEP = 1000;
/** Messages inserted between two looks at the clock. */
const IMPORT_STEP = 50;

type Transfer = {
  view: HistoryTransferView;
  readonly id: Uint8Array;
  readonly abort: AbortController;
  /** The upload at the relay once it exists (either side deletes it on cancel or after import). */
  upload: UploadState | null;
  files: string[];
};

const ACTIVE: ReadonlySet<HistoryTransferView['phase']> = new Set(['preparing', 'uploading', 'waiting', 'downloading', 'importing']);

/** Stopped on this device or the other: what `cancel` and a received Cancel throw into the work. */
class Cancelled extends Error {
  override readonly name = 'Cancelled';
}

const now = (): number => performance.now();
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs a stepwise seal or open (shared/protocol/attachment-cipher.ts), yielding to the event loop between slices. */
async function drive<T>(steps: Generator<number, T>, signal: AbortSignal): Promise<T> {
  try {
    let sliceStart = now();
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      if (now() - sliceStart > HISTORY_SLICE_MS) {
        await nextTurn();
        if (signal.aborted) throw new Cancelled('cancelled');
        sliceStart = now();
      }
    }
  } finally {
    steps.return(undefined as never); // wipes the working buffers of an abandoned run
  }
}

function memoryUploadState(t: Transfer): UploadStateStore {
  return {
    load: () => Promise.resolve(t.upload ?? undefined),
    save: (s) => {
      t.upload = s;
      return Promise.resolve();
    },
    clear: () => Promise.resolve(),
  };
}

/**
 * Exports the history of `scope` from this device's database into one archive (§22), reading the
 * table front to back in pages (row order = arrival order) and yielding between slices. Messages that arrive meanwhile are not in it (the
 * largest row id at the start bounds every page); they reach the new device directly.
 */
export async function exportHistory(
  core: Pick<MessagingCore, 'db' | 'account' | 'clock'>,
  scope: HistoryScope,
  o: { readonly signal?: AbortSignal; readonly onProgress?: (messages: number) => void } = {},
): Promise<{ archive: Uint8Array; messages: number }> {
  const createdAt = core.clock();
  const since = scope === 'all' ? 0 : Math.max(0, createdAt - HISTORY_RECENT_MS);
  const db = core.db.reader;
  const maxRowId = db.get<{ id: number | null }>(sql`SELECT max(id) AS id FROM messages`)?.id ?? 0;
  const own = core.account.accountId;
  const peers = conversationPeers(db, own);
  // Per conversation: its encoded messages as compact chunks (one per page that touched it) and their count.
  const byConversation = new Map<number, { chunks: Uint8Array[]; count: number }>();
  let written = 0;
  let afterId = 0;
  let sliceStart = now();
  for (;;) {
    const page = exportPage(db, since, afterId, EXPORT_PAGE_ROWS, core.account.deviceId, maxRowId);
    const writers = new Map<number, Writer>();
    for (const { conversationId, message } of page.rows) {
      if (!peers.has(conversationId)) continue;
      let w = writers.get(conversationId);
      if (!w) writers.set(conversationId, (w = new Writer()));
      writeArchivedMessage(w, clampReceived(message, createdAt));
      let c = byConversation.get(conversationId);
      if (!c) byConversation.set(conversationId, (c = { chunks: [], count: 0 }));
      c.count++;
      written++;
    }
    for (const [conversationId, w] of writers) byConversation.get(conversationId)!.chunks.push(w.finish());
    afterId = page.lastId;
    if (now() - sliceStart > HISTORY_SLICE_MS) {
      o.onProgress?.(written);
      await nextTurn();
      if (o.signal?.aborted) throw new Cancelled('cancelled');
      sliceStart = now();
    }
    if (!page.full) break;
  }
  const parts: Uint8Array[] = [];
  for (const [conversationId, c] of [...byConversation].sort((x, y) => x[0] - y[0])) {
    parts.push(encodeConversationStart(peers.get(conversationId)!, c.count), ...c.chunks);
  }
  const kept = byConversation.size;
  parts.unshift(encodeHistoryHeader({ scope, accountId: own, createdAt, since, conversationCount: kept }));
  o.onProgress?.(written);
  return { archive: concatParts(parts), messages: written };
}

/** A clock that went backwards must not make a row unexportable: received at most at createdAt (§22.2). */
function clampReceived(m: ArchivedMessage, createdAt: number): ArchivedMessage {
  return m.receivedAt <= createdAt ? m : { ...m, receivedAt: createdAt };
}

/**
 * Parses an archive strictly (§22.3) and imports it into this device's database: nothing is written
 * unless all of it parses. Imports in short transactions between turns of the event loop, skipping conversations
 * with peers this device does not hold and messages it already has. Returns the count added.
 * Transactions aim at HISTORY_IMPORT_TARGET_MS of work and commit, as inbound batches do at theirs.
 */
export async function importHistory(
  core: Pick<MessagingCore, 'db' | 'account' | 'clock'>,
  archive: Uint8Array,
  o: { readonly signal?: AbortSignal; readonly onProgress?: (messages: number, total: number) => void; readonly onConversation?: (id: number) => void } = {},
): Promise<{ imported: number; total: number }> {
  const own = core.account.accountId;
  // First pass: check every byte, holding nothing (so nothing of a malformed archive is imported).
  const check = new HistoryArchiveParser(archive, own, { keep: false });
  while (!check.step(PARSE_STEP)) {
    await nextTurn();
    if (o.signal?.aborted) throw new Cancelled('cancelled');
  }
  const total = check.messages;
  // Second pass: read and import as it goes, so a large archive's messages never pile up in memory.
  const reader = new HistoryArchiveParser(archive, own, { keep: false });
  const db = core.db.writer;
  const conversations = new Map<string, number | null>();
  const conversationOf = (peer: Uint8Array): number | null => {
    const key = toHex(peer);
    let id = conversations.get(key);
    if (id === undefined) {
      id = importConversation(db, peer, own, core.clock());
      conversations.set(key, id);
      if (id !== null) o.onConversation?.(id);
    }
    return id;
  };
  let next = reader.next();
  let read = 0;
  let imported = 0;
  let lastCommitMs = 0;
  const batch: ArchivedMessage[] = [];
  while (next !== null) {
    if (o.signal?.aborted) throw new Cancelled('cancelled');
    // As inbound batches do (DESIGN §4), but tighter: work + commit aim at HISTORY_IMPORT_TARGET_MS,
    // so a slow commit (the WAL write and fsync of every page the slice changed) shortens the next
    // slice. An import runs for seconds beside the person's use of the app; inbound batches are short.
    const budget = Math.max(HISTORY_IMPORT_MIN_BUDGET_MS, Math.min(HISTORY_SLICE_MS, HISTORY_IMPORT_TARGET_MS - lastCommitMs));
    const sliceStart = now();
    let worked = sliceStart;
    db.transaction(() => {
      while (next !== null && now() - sliceStart < budget) {
        const peer = next.peerAccountId;
        const conversationId = conversationOf(peer);
        batch.length = 0;
        while (next !== null && next.peerAccountId === peer && batch.length < IMPORT_STEP) {
          batch.push(next.message);
          next = reader.next();
        }
        read += batch.length;
        if (conversationId === null) continue; // not a contact here
        imported += importMessages(db, conversationId, batch, (m) => (m.direction === 'incoming' ? peer : own), sanitizeFileName);
      }
      worked = now();
    });
    lastCommitMs = now() - worked;
    o.onProgress?.(read, total);
    await nextTurn();
  }
  o.onProgress?.(total, total);
  return { imported, total };
}

/** Seals an archive as one file (§17) under a fresh key, yielding between segments. */
export function sealHistory(archive: Uint8Array, rng: MessagingCore['rng'], signal: AbortSignal) {
  return drive(sealAttachmentSteps(archive, { rng }), signal);
}

/** Opens a sealed archive with every check of §17.6, yielding between segments. */
export function openHistory(descriptor: AttachmentDescriptor, ciphertext: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
  return drive(openAttachmentSteps(descriptor, ciphertext), signal);
}

function apiError(e: unknown): ApiError {
  if (e instanceof Cancelled) return { code: 'HISTORY_CANCELLED', message: 'the history transfer was cancelled' };
  if (e instanceof EngineError) return { code: e.code, message: e.message };
  if (isProtocolError(e)) return { code: 'HISTORY_TAMPERED', message: 'the history archive did not check out: it was changed on the way or is not a valid archive; nothing was imported' };
  if (isTransferError(e, 'ATTACHMENT_TOO_LARGE') || isTransferError(e, 'QUOTA_EXCEEDED')) {
    return { code: 'HISTORY_TOO_LARGE', message: 'the history is larger than the relay takes; try the last 30 days' };
  }
  if (isTransferError(e, 'ATTACHMENT_EXPIRED') || isTransferError(e, 'NOT_FOUND') || isTransferError(e, 'SIZE_MISMATCH')) {
    return { code: 'HISTORY_TAMPERED', message: 'the history archive is no longer at the relay; nothing was imported' };
  }
  if (isTransferError(e)) return { code: 'RELAY_UNAVAILABLE', message: 'the history could not be transferred: the relay could not be reached' };
  return { code: 'INTERNAL', message: 'the history transfer failed' };
}

export type HistoryDeps = {
  readonly core: MessagingCore;
  /** Where the archive's ciphertext waits (the attachments folder). */
  readonly dir: string;
  /** The outbox has work. */
  readonly kick: () => void;
  readonly retry?: Partial<RetryOptions> | undefined;
};

/** The history transfers of one engine: both roles, in memory. */
export class HistoryTransfers {
  readonly #transfers = new Map<string, Transfer>();
  #stopped = false;

  constructor(private readonly deps: HistoryDeps) {}

  /** Every transfer this process knows, newest first. */
  list(): HistoryTransferView[] {
    return [...this.#transfers.values()].map((t) => t.view).reverse();
  }

  /** Primary: starts moving `scope` to the newly linked `deviceId`. */
  start(deviceId: number, scope: HistoryScope): HistoryTransferView {
    const id = this.deps.core.rng(HISTORY_TRANSFER_ID_LENGTH);
    const t = this.#add(id, { role: 'sending', deviceId, scope, phase: 'preparing' });
    this.#send({ kind: 'offer', transferId: id, deviceId, scope });
    void this.#export(t).catch(() => undefined);
    return t.view;
  }

  /** Cancels a transfer of this device; the other device is told and the upload deleted. */
  async cancel(transferIdHex: string): Promise<void> {
    const t = this.#transfers.get(transferIdHex);
    if (!t) throw new EngineError('HISTORY_NOT_FOUND', 'no history transfer by that id');
    if (!ACTIVE.has(t.view.phase)) return;
    this.#send({ kind: 'cancel', transferId: t.id, deviceId: t.view.deviceId });
    await this.#end(t, { code: 'HISTORY_CANCELLED', message: 'the history transfer was cancelled on this device' });
  }

  /** A 0x0D message from another device of this account (inbound.ts, after commit). */
  received(fromDeviceId: number, m: HistoryTransferMessage): void {
    const core = this.deps.core;
    if (this.#stopped || m.deviceId !== core.account.deviceId) return;
    const key = toHex(m.transferId);
    const t = this.#transfers.get(key);
    switch (m.kind) {
      case 'offer':
      case 'ready': {
        if (!this.#mayReceive(fromDeviceId)) return;
        if (t && (t.view.role !== 'receiving' || t.view.deviceId !== fromDeviceId || !ACTIVE.has(t.view.phase))) return;
        if (!t && [...this.#transfers.values()].some((x) => x.view.role === 'receiving' && ACTIVE.has(x.view.phase))) return; // one at a time
        // Offer and Ready may arrive in either order (each is its own send): either starts the transfer.
        const transfer = t ?? this.#add(m.transferId, { role: 'receiving', deviceId: fromDeviceId, scope: m.scope, phase: 'preparing' });
        if (m.kind === 'ready' && transfer.view.phase === 'preparing') void this.#import(transfer, m).catch(() => undefined);
        return;
      }
      case 'cancel':
        if (t && t.view.deviceId === fromDeviceId && ACTIVE.has(t.view.phase)) {
          void this.#end(t, { code: 'HISTORY_CANCELLED', message: 'the history transfer was cancelled on the other device' });
        }
        return;
      case 'done':
        if (t && t.view.role === 'sending' && t.view.deviceId === fromDeviceId && ACTIVE.has(t.view.phase)) {
          this.#set(t, { phase: 'done', messages: m.imported });
          t.upload = null; // the new device deleted it
        }
        return;
    }
  }

  /** Stops everything (the engine closes); uploads left at the relay expire there. */
  stop(): void {
    this.#stopped = true;
    for (const t of this.#transfers.values()) t.abort.abort();
  }

  /** Offer and Ready only from the primary, and only while this device is newly linked. */
  #mayReceive(fromDeviceId: number): boolean {
    const core = this.deps.core;
    if (fromDeviceId !== PRIMARY_DEVICE_ID || core.account.deviceId === PRIMARY_DEVICE_ID) return false;
    const self = parsedDeviceList(core.account.deviceList.signed).list.devices.find((d) => d.deviceId === core.account.deviceId);
    return self !== undefined && core.clock() - self.addedAt <= HISTORY_ACCEPT_WINDOW_MS;
  }

  #add(id: Uint8Array, v: Pick<HistoryTransferView, 'role' | 'deviceId' | 'scope' | 'phase'>): Transfer {
    const t: Transfer = {
      id,
      view: { transferId: toHex(id), ...v, bytes: 0, totalBytes: null, messages: 0, totalMessages: null, error: null },
      abort: new AbortController(),
      upload: null,
      files: [],
    };
    this.#transfers.set(t.view.transferId, t);
    this.deps.core.emit('history:status', t.view);
    return t;
  }

  #set(t: Transfer, patch: Partial<HistoryTransferView>): void {
    t.view = { ...t.view, ...patch };
    if (!this.#stopped) this.deps.core.emit('history:status', t.view);
  }

  #send(m: HistoryTransferMessage): void {
    const core = this.deps.core;
    if (this.#stopped || core.stopped) return;
    const content = encodeContent({ type: 'history', messageId: core.rng(16), sentAt: core.clock(), transfer: m });
    const db = core.db.writer;
    db.transaction(() => core.queueSend(db, { kind: 'sync', recipient: core.account.accountId, content, messageRowId: null }));
    this.deps.kick();
  }

  /** Ends a transfer: stops its work, deletes its upload at the relay and its files; cancelled or failed. */
  async #end(t: Transfer, error: ApiError): Promise<void> {
    if (!ACTIVE.has(t.view.phase)) return;
    t.abort.abort();
    this.#set(t, { phase: error.code === 'HISTORY_CANCELLED' ? 'cancelled' : 'failed', error });
    await this.#cleanup(t);
  }

  async #cleanup(t: Transfer): Promise<void> {
    const core = this.deps.core;
    if (t.upload) {
      const store = memoryUploadState(t);
      await cancelUpload({ relayUrl: core.account.relayUrl, state: store, sessionToken: () => core.relay.sessionToken() }).catch(() => undefined);
      t.upload = null;
    }
    for (const f of t.files.splice(0)) await rm(f, { force: true }).catch(() => undefined);
  }

  #file(t: Transfer, suffix: string): string {
    const f = path.join(this.deps.dir, `history-${t.view.transferId}${suffix}`);
    t.files.push(f, `${f}.partial`);
    return f;
  }

  async #export(t: Transfer): Promise<void> {
    const core = this.deps.core;
    const signal = t.abort.signal;
    try {
      const { archive, messages } = await exportHistory(core, t.view.scope, { signal, onProgress: (n) => this.#set(t, { messages: n }) });
      const sealed = await sealHistory(archive, core.rng, signal);
      archive.fill(0);
      const spool = this.#file(t, '.spool');
      await writeFile(spool, sealed.ciphertext, { mode: 0o600 });
      if (signal.aborted) throw new Cancelled('cancelled');
      this.#set(t, { phase: 'uploading', messages, totalMessages: messages, totalBytes: sealed.ciphertext.length });
      const uploaded = await uploadSpool({
        relayUrl: core.account.relayUrl,
        spoolPath: spool,
        length: sealed.ciphertext.length,
        sessionToken: () => core.relay.sessionToken(),
        state: memoryUploadState(t),
        signal,
        onProgress: (bytes) => this.#set(t, { bytes }),
        retry: this.deps.retry,
      });
      if (signal.aborted) throw new Cancelled('cancelled');
      t.upload ??= { uploadUrl: '', attachmentId: toBase64Url(uploaded.attachmentId), offset: sealed.ciphertext.length };
      await rm(spool, { force: true });
      this.#send({ kind: 'ready', transferId: t.id, deviceId: t.view.deviceId, scope: t.view.scope, messageCount: messages, attachmentId: uploaded.attachmentId, descriptor: sealed.descriptor });
      this.#set(t, { phase: 'waiting', bytes: sealed.ciphertext.length });
    } catch (e) {
      // Cancelled meanwhile: #end cleaned up, but an upload or spool made since then goes too.
      if (!ACTIVE.has(t.view.phase)) return this.#cleanup(t);
      this.#send({ kind: 'cancel', transferId: t.id, deviceId: t.view.deviceId });
      await this.#end(t, apiError(e));
    }
  }

  async #import(t: Transfer, ready: Extract<HistoryTransferMessage, { kind: 'ready' }>): Promise<void> {
    const core = this.deps.core;
    const signal = t.abort.signal;
    // Known from here on: this device deletes the upload whatever happens next.
    t.upload = { uploadUrl: '', attachmentId: toBase64Url(ready.attachmentId), offset: 0 };
    try {
      const d = ready.descriptor;
      const length = expectedLayout(d.length, d.paddedLength).ciphertextLength;
      this.#set(t, { phase: 'downloading', totalBytes: length, totalMessages: ready.messageCount });
      const file = this.#file(t, '.download');
      await downloadAttachment({ relayUrl: core.account.relayUrl, attachmentId: ready.attachmentId, length, destination: file, signal, onProgress: (bytes) => this.#set(t, { bytes }), retry: this.deps.retry });
      if (signal.aborted) throw new Cancelled('cancelled');
      const ciphertext = new Uint8Array(await readFile(file));
      const archive = await openHistory(d, ciphertext, signal);
      this.#set(t, { phase: 'importing', bytes: length });
      const conversations: number[] = [];
      const r = await importHistory(core, archive, { signal, onProgress: (n) => this.#set(t, { messages: n }), onConversation: (id) => conversations.push(id) });
      archive.fill(0);
      for (const id of conversations) core.emitConversation(id);
      await this.#cleanup(t);
      this.#send({ kind: 'done', transferId: t.id, deviceId: t.view.deviceId, imported: r.imported });
      this.#set(t, { phase: 'done', messages: r.total, totalMessages: r.total });
    } catch (e) {
      if (!ACTIVE.has(t.view.phase)) return this.#cleanup(t);
      this.#send({ kind: 'cancel', transferId: t.id, deviceId: t.view.deviceId });
      await this.#end(t, apiError(e));
    }
  }
}
