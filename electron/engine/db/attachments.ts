/**
 * The attachments table (migration 0006): one row per message of kind 'attachment', holding its
 * pointer (docs/protocol.md §17.9), its transfer state and, for an upload in progress, the tus
 * upload at the relay with the last offset it confirmed. Rows go with their message (ON DELETE
 * CASCADE); the ciphertext files are the caller's (electron/engine/files/attachments.ts).
 */
import type { AttachmentError, AttachmentState } from '../../../shared/api/view-models.js';
import type { AttachmentPointer } from '../../../shared/protocol/attachment-pointer.js';
import type { ReadDb, WriteDb } from './database.js';
import { blob, blobOrNull, flag } from './rows.js';
import { sql } from './sql.js';

export type AttachmentRecord = {
  readonly messageRowId: number;
  readonly state: AttachmentState;
  readonly error: AttachmentError | null;
  /** The relay's id once uploaded (outgoing) or as the pointer named it (incoming). */
  readonly attachmentId: Uint8Array | null;
  /** The descriptor; null only while an outgoing file is being prepared. */
  readonly key: Uint8Array | null;
  readonly length: number;
  readonly paddedLength: number;
  readonly ciphertextDigest: Uint8Array | null;
  readonly plaintextSha256: Uint8Array | null;
  readonly mediaType: string;
  readonly fileName: string;
  readonly width: number | null;
  readonly height: number | null;
  readonly thumbnail: Uint8Array | null;
  readonly original: boolean;
  readonly transferred: number;
  readonly uploadId: Uint8Array | null;
  readonly uploadOffset: number | null;
  /** The person asked to see this image while its conversation was a message request (migration 0011). */
  readonly revealed: boolean;
};

type Row = {
  message_row_id: number;
  state: AttachmentState;
  error: AttachmentError | null;
  attachment_id: Uint8Array | null;
  file_key: Uint8Array | null;
  length: number;
  padded_length: number;
  ciphertext_digest: Uint8Array | null;
  plaintext_sha256: Uint8Array | null;
  media_type: string;
  file_name: string;
  width: number | null;
  height: number | null;
  thumbnail: Uint8Array | null;
  original: number;
  transferred: number;
  upload_id: Uint8Array | null;
  upload_offset: number | null;
  revealed: number;
};

function toRecord(r: Row): AttachmentRecord {
  return {
    messageRowId: r.message_row_id,
    state: r.state,
    error: r.error,
    attachmentId: blobOrNull(r.attachment_id),
    key: blobOrNull(r.file_key),
    length: r.length,
    paddedLength: r.padded_length,
    ciphertextDigest: blobOrNull(r.ciphertext_digest),
    plaintextSha256: blobOrNull(r.plaintext_sha256),
    mediaType: r.media_type,
    fileName: r.file_name,
    width: r.width,
    height: r.height,
    thumbnail: r.thumbnail === null ? null : blob(r.thumbnail),
    original: flag(r.original),
    transferred: r.transferred,
    uploadId: blobOrNull(r.upload_id),
    uploadOffset: r.upload_offset,
    revealed: flag(r.revealed),
  };
}

/** An incoming attachment, as its pointer describes it (state 'available'). */
export function insertIncomingAttachment(db: WriteDb, messageRowId: number, p: AttachmentPointer, fileName: string): void {
  const d = p.descriptor;
  db.run(sql`
    INSERT INTO attachments (message_row_id, state, attachment_id, file_key, length, padded_length, ciphertext_digest,
      plaintext_sha256, media_type, file_name, width, height, thumbnail, original)
    VALUES (${messageRowId}, 'available', ${p.attachmentId}, ${d.key}, ${d.length}, ${d.paddedLength}, ${d.ciphertextDigest},
      ${d.plaintextSha256}, ${p.mediaType}, ${fileName}, ${p.dimensions?.width ?? null}, ${p.dimensions?.height ?? null},
      ${p.thumbnail}, ${p.original ? 1 : 0})`);
}

/** An outgoing attachment encrypted into its spool, about to upload. */
export function insertOutgoingAttachment(
  db: WriteDb,
  messageRowId: number,
  a: Omit<AttachmentPointer, 'attachmentId'>,
): void {
  const d = a.descriptor;
  db.run(sql`
    INSERT INTO attachments (message_row_id, state, file_key, length, padded_length, ciphertext_digest, plaintext_sha256,
      media_type, file_name, width, height, thumbnail, original)
    VALUES (${messageRowId}, 'uploading', ${d.key}, ${d.length}, ${d.paddedLength}, ${d.ciphertextDigest}, ${d.plaintextSha256},
      ${a.mediaType}, ${a.fileName}, ${a.dimensions?.width ?? null}, ${a.dimensions?.height ?? null}, ${a.thumbnail}, ${a.original ? 1 : 0})`);
}

export function getAttachment(db: ReadDb, messageRowId: number): AttachmentRecord | undefined {
  const r = db.get<Row>(sql`SELECT * FROM attachments WHERE message_row_id = ${messageRowId}`);
  return r && toRecord(r);
}

/** The attachments of the given messages (a page), by message row id. */
export function attachmentsOf(db: ReadDb, messageRowIds: readonly number[]): Map<number, AttachmentRecord> {
  const out = new Map<number, AttachmentRecord>();
  if (messageRowIds.length === 0) return out;
  const rows = db.all<Row>(sql`SELECT * FROM attachments WHERE message_row_id IN (SELECT value FROM json_each(${JSON.stringify(messageRowIds)}))`);
  for (const r of rows) out.set(r.message_row_id, toRecord(r));
  return out;
}

/** Transfers to take up again at start: uploads and downloads that were running. */
export function attachmentsInTransfer(db: ReadDb): AttachmentRecord[] {
  return db.all<Row>(sql`SELECT * FROM attachments WHERE state IN ('uploading', 'downloading') ORDER BY message_row_id`).map(toRecord);
}

export function setAttachmentState(db: WriteDb, messageRowId: number, state: AttachmentState, error: AttachmentError | null = null): void {
  db.run(sql`UPDATE attachments SET state = ${state}, error = ${error} WHERE message_row_id = ${messageRowId}`);
}

export function setAttachmentTransferred(db: WriteDb, messageRowId: number, transferred: number): void {
  db.run(sql`UPDATE attachments SET transferred = ${transferred} WHERE message_row_id = ${messageRowId}`);
}

/** The tus upload in progress (or none): its id at the relay and the last offset the relay confirmed. */
export function setUploadState(db: WriteDb, messageRowId: number, upload: { readonly id: Uint8Array; readonly offset: number } | null): void {
  db.run(sql`
    UPDATE attachments SET upload_id = ${upload?.id ?? null}, upload_offset = ${upload?.offset ?? null}
    WHERE message_row_id = ${messageRowId}`);
}

/** The upload completed: the relay's id goes into the pointer. */
export function setUploaded(db: WriteDb, messageRowId: number, attachmentId: Uint8Array): void {
  db.run(sql`
    UPDATE attachments SET state = 'sent', error = NULL, attachment_id = ${attachmentId}, upload_id = NULL, upload_offset = NULL
    WHERE message_row_id = ${messageRowId}`);
}

/** Every attachment's message row id (the files to keep when the folder is cleaned at start). */
export function attachmentRowIds(db: ReadDb): Set<number> {
  return new Set(db.all<{ message_row_id: number }>(sql`SELECT message_row_id FROM attachments`).map((r) => r.message_row_id));
}

/** The person asked to see a message request's image (attachments:reveal). */
export function setRevealed(db: WriteDb, messageRowId: number): void {
  db.run(sql`UPDATE attachments SET revealed = 1 WHERE message_row_id = ${messageRowId}`);
}

/** The attachments of a conversation's messages, oldest message first. */
export function attachmentsOfConversation(db: ReadDb, conversationId: number): AttachmentRecord[] {
  return db
    .all<Row>(sql`
      SELECT a.* FROM attachments a JOIN messages m ON m.id = a.message_row_id
      WHERE m.conversation_id = ${conversationId} ORDER BY a.message_row_id`)
    .map(toRecord);
}

/** Unfinished uploads whose attachment row was deleted (migration 0014's trigger fills the table): to terminate at the relay. */
export function abandonedUploads(db: ReadDb): Uint8Array[] {
  return db.all<{ upload_id: Uint8Array }>(sql`SELECT upload_id FROM abandoned_uploads`).map((r) => blob(r.upload_id));
}

/** The relay deleted (or no longer has) this upload. */
export function forgetAbandonedUpload(db: WriteDb, uploadId: Uint8Array): void {
  db.run(sql`DELETE FROM abandoned_uploads WHERE upload_id = ${uploadId}`);
}
