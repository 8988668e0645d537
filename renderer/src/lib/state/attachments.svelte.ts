/**
 * Files in the renderer (issue 13): handing a picked, dropped or pasted file to the engine in pieces
 * (attachments:stage / write / send), the progress of every transfer (bytes, percent, speed, from
 * `attachment:progress` events), and fetching an attachment's verified bytes (attachments:open /
 * read) into a Blob — for an inline image, the lightbox or "Save as…". Images are decoded only here,
 * in the sandboxed renderer; the engine never decodes a received image.
 */
import { SvelteMap } from 'svelte/reactivity';
import type { ApiError, Bridge, MessageView } from '../../../../shared/api/types.js';
import { describeError } from '../format/labels.js';
import { settle } from './call.js';

/** Bytes per attachments:write (the contract's limit is 1 MiB). */
export const CHUNK_BYTES = 1024 * 1024;

export type Progress = { readonly transferred: number; readonly total: number; readonly bytesPerSecond: number };

export type Fetched = { readonly blob: Blob; readonly fileName: string; readonly mediaType: string; readonly risky: boolean };

export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** "1.5 MB", "320 KB", "12 B". */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = n / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value >= 100 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

export class AttachmentsState {
  readonly #bridge: Bridge;
  readonly #progress = new SvelteMap<string, Progress>();

  constructor(bridge: Bridge) {
    this.#bridge = bridge;
  }

  /** The latest progress of a message's transfer, if any arrived. */
  progressOf(messageId: string): Progress | undefined {
    return this.#progress.get(messageId);
  }

  onProgress(messageId: string, p: Progress): void {
    this.#progress.set(messageId, p);
  }

  /**
   * Hands `file` to the engine and sends it. Resolves with the message, or with the error to show
   * (a file above the relay's limit is refused before any byte moves).
   */
  async send(conversationId: string, file: File, caption: string, asFile: boolean): Promise<{ ok: true; message: MessageView } | { ok: false; error: string }> {
    const fail = (error: ApiError) => ({ ok: false as const, error: describeError(error) });
    const staged = await settle(this.#bridge.stageAttachment({ name: file.name, size: file.size }));
    if (!staged.ok) return fail(staged.error);
    const { stageId } = staged.value;
    for (let offset = 0; offset < file.size; offset += CHUNK_BYTES) {
      const bytes = new Uint8Array(await file.slice(offset, offset + CHUNK_BYTES).arrayBuffer());
      const written = await settle(this.#bridge.writeAttachment({ stageId, offset, data: toBase64(bytes) }));
      if (!written.ok) return fail(written.error);
    }
    const sent = await settle(this.#bridge.sendAttachment({ conversationId, stageId, caption, asFile }));
    return sent.ok ? { ok: true, message: sent.value } : fail(sent.error);
  }

  /** Downloads if needed, verifies and reads the attachment whole. */
  async fetch(messageId: string): Promise<{ ok: true; value: Fetched } | { ok: false; error: string }> {
    const opened = await settle(this.#bridge.openAttachment({ messageId }));
    if (!opened.ok) return { ok: false, error: describeError(opened.error) };
    const parts: Uint8Array<ArrayBuffer>[] = [];
    for (let offset = 0; ; ) {
      const read = await settle(this.#bridge.readAttachment({ messageId, offset, length: CHUNK_BYTES }));
      if (!read.ok) return { ok: false, error: describeError(read.error) };
      const part = fromBase64(read.value.data);
      parts.push(part);
      offset += part.length;
      if (read.value.eof) break;
    }
    const { mediaType, fileName, risky } = opened.value;
    return { ok: true, value: { blob: new Blob(parts, { type: mediaType }), fileName, mediaType, risky } };
  }

  async cancel(messageId: string): Promise<string | null> {
    const r = await settle(this.#bridge.cancelAttachment({ messageId }));
    return r.ok ? null : describeError(r.error);
  }

  async retry(messageId: string): Promise<string | null> {
    const r = await settle(this.#bridge.retryAttachment({ messageId }));
    return r.ok ? null : describeError(r.error);
  }

  /** Asks the engine for a message request's held-back image (the view arrives as message:updated). */
  async reveal(messageId: string): Promise<string | null> {
    const r = await settle(this.#bridge.revealAttachment({ messageId }));
    return r.ok ? null : describeError(r.error);
  }
}
