/**
 * The attachment pointer (docs/protocol.md §17.9): what an E2E message carries so its receiver can
 * fetch, check and show one file — the relay's attachment id, the file's descriptor (§17.5: key,
 * lengths, ciphertext digest, plaintext SHA-256), the sender's media type and sanitised file name,
 * the image's dimensions and a small thumbnail. The relay sees none of it.
 *
 * Parsing is strict and runs only on plaintext a session authenticated; everything in a pointer is
 * still the peer's claim: the name is sanitised again before display or saving, the media type is
 * re-sniffed from the decrypted bytes, and the thumbnail is decoded only by the sandboxed renderer.
 * Owns the byte layout and its bounds; not the content header around it
 * (electron/engine/messaging/content.ts) nor what the engine does with it.
 */
import { fromUtf8, utf8 } from '../crypto/bytes.js';
import type { Reader, Writer } from './codec.js';
import { padmeLength, type AttachmentDescriptor } from './attachment-cipher.js';
import { ATTACHMENT_KEY_LENGTH, ATTACHMENT_MAX_PADDED_LENGTH } from './constants.js';
import { ProtocolError } from './errors.js';

/** The relay's attachment id (shared/wire ATTACHMENT_ID_LENGTH). */
export const POINTER_ATTACHMENT_ID_LENGTH = 16;
/** Media type: 0 … this many bytes of `type/subtype` in lower case (RFC 6838 characters). */
export const MAX_POINTER_MEDIA_TYPE_BYTES = 127;
/** File name: 0 … this many UTF-8 bytes (the sender cuts longer names). */
export const MAX_POINTER_FILE_NAME_BYTES = 255;
/**
 * Thumbnail: 1 … this many bytes (a JPEG or WebP). With the caption's maximum and the rest of the
 * pointer, the content stays well below the relay's 96 KiB envelope even as a prekey message.
 */
export const MAX_POINTER_THUMBNAIL_BYTES = 48 * 1024;
/** Largest width or height a pointer states. */
export const MAX_POINTER_DIMENSION = 65_535;

const FLAG_DIMENSIONS = 0x01;
const FLAG_THUMBNAIL = 0x02;
const FLAG_ORIGINAL = 0x04;
/** A disappearing-message timer (u32 seconds, 1 … 2³² − 1) ends the pointer (docs/protocol.md §23.1). */
const FLAG_TIMER = 0x08;
const KNOWN_FLAGS = FLAG_DIMENSIONS | FLAG_THUMBNAIL | FLAG_ORIGINAL | FLAG_TIMER;

const MEDIA_TYPE = /^(?:[a-z0-9][a-z0-9!#$&^_.+-]{0,62}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,62})?$/;

export type AttachmentPointer = {
  readonly attachmentId: Uint8Array;
  readonly descriptor: AttachmentDescriptor;
  /** The sender's sniffed media type ('' when unknown); a hint only. */
  readonly mediaType: string;
  /** The sender's sanitised file name ('' when none); sanitised again by the receiver. */
  readonly fileName: string;
  readonly dimensions: { readonly width: number; readonly height: number } | null;
  readonly thumbnail: Uint8Array | null;
  /** Sent as a file: the original bytes, metadata kept (no re-encoding). */
  readonly original: boolean;
  /**
   * The message's disappearing timer in seconds (§23.1); absent or null: none. Carried in the
   * pointer (flag 0x08, the last field) so an untimed pointer is byte for byte what v1 wrote.
   */
  readonly expireTimerSeconds?: number | null;
};

function malformed(what: string): ProtocolError {
  return new ProtocolError('MALFORMED', `attachment pointer: ${what}`);
}

function checkDimension(v: number): void {
  if (!Number.isInteger(v) || v < 1 || v > MAX_POINTER_DIMENSION) throw new RangeError('dimension out of range');
}

/** Appends the pointer's bytes to `w` (the content encoder's writer). Throws RangeError on values out of bounds. */
export function writeAttachmentPointer(w: Writer, p: AttachmentPointer): void {
  const d = p.descriptor;
  if (p.attachmentId.length !== POINTER_ATTACHMENT_ID_LENGTH) throw new RangeError('an attachment id is 16 bytes');
  if (d.key.length !== ATTACHMENT_KEY_LENGTH || d.ciphertextDigest.length !== 32 || d.plaintextSha256.length !== 32) {
    throw new RangeError('descriptor field of the wrong length');
  }
  if (!Number.isSafeInteger(d.length) || d.length < 0 || d.paddedLength !== padmeLength(d.length) || d.paddedLength > ATTACHMENT_MAX_PADDED_LENGTH) {
    throw new RangeError('descriptor lengths out of range');
  }
  const mediaType = utf8(p.mediaType);
  if (mediaType.length > MAX_POINTER_MEDIA_TYPE_BYTES || !MEDIA_TYPE.test(p.mediaType)) throw new RangeError('media type');
  const fileName = utf8(p.fileName);
  if (fileName.length > MAX_POINTER_FILE_NAME_BYTES) throw new RangeError('file name too long');
  if (p.thumbnail !== null && (p.thumbnail.length === 0 || p.thumbnail.length > MAX_POINTER_THUMBNAIL_BYTES)) throw new RangeError('thumbnail size');
  if (p.dimensions) {
    checkDimension(p.dimensions.width);
    checkDimension(p.dimensions.height);
  }
  const timer = p.expireTimerSeconds ?? null;
  if (timer !== null && (!Number.isInteger(timer) || timer < 1 || timer > 0xffffffff)) throw new RangeError('timer out of range');
  const flags = (p.dimensions ? FLAG_DIMENSIONS : 0) | (p.thumbnail ? FLAG_THUMBNAIL : 0) | (p.original ? FLAG_ORIGINAL : 0) | (timer !== null ? FLAG_TIMER : 0);
  w.u8(flags)
    .bytes(p.attachmentId)
    .bytes(d.key)
    .u64(d.length)
    .u64(d.paddedLength)
    .bytes(d.ciphertextDigest)
    .bytes(d.plaintextSha256)
    .u8(mediaType.length)
    .bytes(mediaType)
    .var16(fileName);
  if (p.dimensions) w.u16(p.dimensions.width).u16(p.dimensions.height);
  if (p.thumbnail) w.var32(p.thumbnail);
  if (timer !== null) w.u32(timer);
}

/** Reads a pointer from `r` (the content decoder's reader). Throws ProtocolError MALFORMED. */
export function readAttachmentPointer(r: Reader): AttachmentPointer {
  const flags = r.u8();
  if ((flags & ~KNOWN_FLAGS) !== 0) throw malformed('unknown flags');
  const attachmentId = r.bytes(POINTER_ATTACHMENT_ID_LENGTH);
  const key = r.bytes(ATTACHMENT_KEY_LENGTH);
  const length = r.u64();
  const paddedLength = r.u64();
  if (paddedLength !== padmeLength(length) || paddedLength > ATTACHMENT_MAX_PADDED_LENGTH) throw malformed('padded length is not Padmé(length)');
  const ciphertextDigest = r.bytes(32);
  const plaintextSha256 = r.bytes(32);
  const typeLength = r.u8();
  if (typeLength > MAX_POINTER_MEDIA_TYPE_BYTES) throw malformed('media type too long');
  const typeBytes = r.bytes(typeLength);
  let mediaType: string;
  let fileName: string;
  try {
    mediaType = fromUtf8(typeBytes);
    fileName = fromUtf8(r.var16(MAX_POINTER_FILE_NAME_BYTES));
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw malformed('invalid UTF-8');
  }
  if (!MEDIA_TYPE.test(mediaType)) throw malformed('media type');
  let dimensions: AttachmentPointer['dimensions'] = null;
  if (flags & FLAG_DIMENSIONS) {
    const width = r.u16();
    const height = r.u16();
    if (width === 0 || height === 0) throw malformed('zero dimension');
    dimensions = { width, height };
  }
  let thumbnail: Uint8Array | null = null;
  if (flags & FLAG_THUMBNAIL) {
    thumbnail = r.var32(MAX_POINTER_THUMBNAIL_BYTES);
    if (thumbnail.length === 0) throw malformed('empty thumbnail');
  }
  let timer: number | null = null;
  if (flags & FLAG_TIMER) {
    timer = r.u32();
    if (timer === 0) throw malformed('zero timer');
  }
  return {
    attachmentId,
    descriptor: { key, length, paddedLength, ciphertextDigest, plaintextSha256 },
    mediaType,
    fileName,
    dimensions,
    thumbnail,
    original: (flags & FLAG_ORIGINAL) !== 0,
    ...(timer !== null && { expireTimerSeconds: timer }),
  };
}
