/**
 * The attachment cipher (DESIGN §3.7, docs/protocol.md §17): a fresh random 32-byte key per
 * attachment, STREAM-segmented AES-256-GCM over a Padmé-padded plaintext, behind a header that
 * commits to the key.
 *
 *   ciphertext = header ‖ sealed₀ ‖ … ‖ sealedₙ₋₁
 *   header     = u8 version ‖ u32 segment size (2²⁰) ‖ file id (16) ‖ SHA-256("Parley_v1_FileKeyCommit" ‖ key)
 *   nonceᵢ     = 0x00⁷ ‖ u32be(i) ‖ (last ? 0x01 : 0x00),   ADᵢ = SHA-256(header)
 *
 * Every segment but the last holds exactly 2²⁰ plaintext bytes, the last 0…2²⁰, and only an empty
 * file has an empty (final) segment. The nonce's last flag makes truncation at a segment boundary
 * and data after the final segment detectable; the AD binds every segment to this header (and its
 * random file id); the index in the nonce pins each segment's position; the key commitment makes a
 * wrong key fail at the header rather than as a forged segment (GCM alone is not key-committing).
 *
 * Owns: Padmé, the layout arithmetic, the header, `sealSegment`/`openSegment`, the ciphertext
 * digest, and whole-buffer `sealAttachment`/`openAttachment` for small files, tests and vectors.
 * Does not own: streams, files, workers or spools (electron/engine/files/), the E2E message that
 * carries the key and digests, the relay. Synchronous and sans-I/O like the rest of shared/protocol:
 * randomness comes from the injected `Rng`; nothing here logs or awaits.
 *
 * Sharp edges: a key encrypts exactly one plaintext (re-encoding needs a new key), so the engine
 * encrypts a file once into a spool and every upload or resume reads the spool. `openSegment`
 * releases a segment's plaintext after its tag verified, but the file as a whole is authentic only
 * after the final segment and the digests check out: callers must hold output back until then.
 */
import { aesGcmOpen, aesGcmSeal, aesGcmSealDetached, GCM_NONCE_LENGTH } from '../crypto/aead.js';
import { constantTimeEqual, wipe } from '../crypto/bytes.js';
import { assertLength, CryptoError } from '../crypto/errors.js';
import type { Rng } from '../crypto/random.js';
import { sha256, sha256Stream, type Sha256Stream } from '../crypto/sha256.js';
import {
  ATTACHMENT_FILE_ID_LENGTH,
  ATTACHMENT_HEADER_LENGTH,
  ATTACHMENT_KEY_LENGTH,
  ATTACHMENT_MAX_PADDED_LENGTH,
  ATTACHMENT_MAX_SEGMENTS,
  ATTACHMENT_SEGMENT_SIZE,
  ATTACHMENT_TAG_LENGTH,
  ATTACHMENT_VERSION,
  label,
} from './constants.js';
import { ProtocolError } from './errors.js';

const SEGMENT = ATTACHMENT_SEGMENT_SIZE;
const SEALED_SEGMENT = ATTACHMENT_SEGMENT_SIZE + ATTACHMENT_TAG_LENGTH;
const DIGEST_LENGTH = 32;

// ── Padmé ────────────────────────────────────────────────────────────────────

/** ⌊log₂ n⌋ for a positive safe integer, exactly (Math.log2 rounds near powers of two). */
function floorLog2(n: number): number {
  let e = 0;
  while (2 ** (e + 1) <= n) e++;
  return e;
}

/**
 * Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and Communication with
 * PURBs", 2019): the padded length of a plaintext of `length` bytes. With E = ⌊log₂ L⌋ and
 * S = ⌊log₂ E⌋ + 1, L is rounded up to a multiple of 2^(E−S); at most 12 % overhead, and only
 * O(log log L) bits of the length remain visible. Lengths 0 and 1 are their own bucket.
 */
export function padmeLength(length: number): number {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError('attachment length out of range');
  if (length < 2) return length;
  const e = floorLog2(length);
  const unit = 2 ** (e - (floorLog2(e) + 1));
  return Math.ceil(length / unit) * unit;
}

// ── Layout ───────────────────────────────────────────────────────────────────

export type AttachmentLayout = {
  /** The true plaintext length. */
  readonly length: number;
  /** Padmé(length): the plaintext that is encrypted, zero-padded. */
  readonly paddedLength: number;
  /** max(1, ⌈paddedLength / 2²⁰⌉). */
  readonly segments: number;
  /** Plaintext bytes in the final segment (0 only for an empty file). */
  readonly lastSegmentLength: number;
  /** header + paddedLength + 16 · segments. */
  readonly ciphertextLength: number;
};

/** The layout of a plaintext of `length` bytes. RangeError beyond the format's 2⁵²-byte limit. */
export function attachmentLayout(length: number): AttachmentLayout {
  const paddedLength = padmeLength(length);
  if (paddedLength > ATTACHMENT_MAX_PADDED_LENGTH) throw new RangeError('attachment too large for the format');
  const segments = paddedLength === 0 ? 1 : Math.ceil(paddedLength / SEGMENT);
  return {
    length,
    paddedLength,
    segments,
    lastSegmentLength: paddedLength - (segments - 1) * SEGMENT,
    ciphertextLength: ATTACHMENT_HEADER_LENGTH + paddedLength + ATTACHMENT_TAG_LENGTH * segments,
  };
}

/**
 * The layout a receiver expects from the lengths its message announced: MALFORMED unless
 * `paddedLength` is Padmé(`length`), so a sender cannot pick its own padding.
 */
export function expectedLayout(length: number, paddedLength: number): AttachmentLayout {
  if (!Number.isSafeInteger(length) || length < 0 || !Number.isSafeInteger(paddedLength) || paddedLength < 0) {
    throw new ProtocolError('MALFORMED', 'attachment lengths out of range');
  }
  if (padmeLength(length) !== paddedLength || paddedLength > ATTACHMENT_MAX_PADDED_LENGTH) {
    throw new ProtocolError('MALFORMED', 'padded length is not the Padmé bucket of the length');
  }
  return attachmentLayout(length);
}

/**
 * The layout of a ciphertext of `ciphertextLength` bytes, or undefined if no plaintext has a
 * ciphertext of that length (a relay refuses such an upload before storing a byte). The true length
 * is not recoverable from it (Padmé): `length` is reported as the padded length.
 */
export function layoutFromCiphertextLength(ciphertextLength: number): AttachmentLayout | undefined {
  if (!Number.isSafeInteger(ciphertextLength)) return undefined;
  const body = ciphertextLength - ATTACHMENT_HEADER_LENGTH;
  if (body < ATTACHMENT_TAG_LENGTH) return undefined;
  const segments = Math.ceil(body / SEALED_SEGMENT);
  const paddedLength = body - ATTACHMENT_TAG_LENGTH * segments;
  if (paddedLength < 0 || paddedLength > ATTACHMENT_MAX_PADDED_LENGTH) return undefined;
  if ((paddedLength === 0 ? 1 : Math.ceil(paddedLength / SEGMENT)) !== segments) return undefined;
  // Padmé is idempotent: a length is a bucket exactly when it pads to itself.
  if (padmeLength(paddedLength) !== paddedLength) return undefined;
  return attachmentLayout(paddedLength);
}

/** Byte offset of sealed segment `index` in the ciphertext. */
export function sealedSegmentOffset(index: number): number {
  return ATTACHMENT_HEADER_LENGTH + index * SEALED_SEGMENT;
}

/** Plaintext bytes held by segment `index` of `layout`. */
export function segmentPlaintextLength(layout: AttachmentLayout, index: number): number {
  return index === layout.segments - 1 ? layout.lastSegmentLength : SEGMENT;
}

// ── Header ───────────────────────────────────────────────────────────────────

export type AttachmentHeader = {
  /** The 53 header bytes, as they start the ciphertext. */
  readonly bytes: Uint8Array;
  readonly fileId: Uint8Array;
  /** SHA-256(header): the AD of every segment. */
  readonly ad: Uint8Array;
};

/** SHA-256("Parley_v1_FileKeyCommit" ‖ key). */
export function fileKeyCommitment(key: Uint8Array): Uint8Array {
  assertLength(key, ATTACHMENT_KEY_LENGTH, 'attachment key');
  return sha256(label('FileKeyCommit'), key);
}

export function encodeAttachmentHeader(key: Uint8Array, fileId: Uint8Array): AttachmentHeader {
  assertLength(fileId, ATTACHMENT_FILE_ID_LENGTH, 'attachment file id');
  const bytes = new Uint8Array(ATTACHMENT_HEADER_LENGTH);
  const view = new DataView(bytes.buffer);
  bytes[0] = ATTACHMENT_VERSION;
  view.setUint32(1, SEGMENT, false);
  bytes.set(fileId, 5);
  bytes.set(fileKeyCommitment(key), 5 + ATTACHMENT_FILE_ID_LENGTH);
  return { bytes, fileId: fileId.slice(), ad: sha256(bytes) };
}

/**
 * Parses the first ATTACHMENT_HEADER_LENGTH bytes of a ciphertext and checks the key against its
 * commitment: TRUNCATED if fewer bytes exist, MALFORMED for another version or segment size,
 * KEY_COMMITMENT_MISMATCH for a wrong key (checked before any segment is touched).
 */
export function parseAttachmentHeader(bytes: Uint8Array, key: Uint8Array): AttachmentHeader {
  assertLength(key, ATTACHMENT_KEY_LENGTH, 'attachment key');
  if (bytes.length < ATTACHMENT_HEADER_LENGTH) throw new ProtocolError('TRUNCATED', 'attachment shorter than its header');
  if (bytes.length > ATTACHMENT_HEADER_LENGTH) throw new ProtocolError('MALFORMED', 'attachment header has trailing bytes');
  if (bytes[0] !== ATTACHMENT_VERSION) throw new ProtocolError('MALFORMED', 'unknown attachment version');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(1, false) !== SEGMENT) throw new ProtocolError('MALFORMED', 'unsupported attachment segment size');
  const commitment = bytes.subarray(5 + ATTACHMENT_FILE_ID_LENGTH);
  if (!constantTimeEqual(commitment, fileKeyCommitment(key))) {
    throw new ProtocolError('KEY_COMMITMENT_MISMATCH', 'the key does not match the attachment header');
  }
  const copy = bytes.slice();
  return { bytes: copy, fileId: copy.slice(5, 5 + ATTACHMENT_FILE_ID_LENGTH), ad: sha256(copy) };
}

/** A fresh attachment key and file id, in that draw order (32 then 16 bytes). */
export function newAttachmentKey(deps: { readonly rng: Rng }): { key: Uint8Array; fileId: Uint8Array } {
  const key = deps.rng(ATTACHMENT_KEY_LENGTH);
  const fileId = deps.rng(ATTACHMENT_FILE_ID_LENGTH);
  return { key, fileId };
}

// ── Segments ─────────────────────────────────────────────────────────────────

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= ATTACHMENT_MAX_SEGMENTS) throw new RangeError('segment index out of range');
}

/** 0x00⁷ ‖ u32be(index) ‖ (last ? 0x01 : 0x00). */
export function segmentNonce(index: number, last: boolean): Uint8Array {
  checkIndex(index);
  const nonce = new Uint8Array(GCM_NONCE_LENGTH);
  new DataView(nonce.buffer).setUint32(7, index, false);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/**
 * Seals segment `index` of a padded plaintext. Bugs, not input errors, throw here (RangeError): a
 * non-final segment that is not exactly 2²⁰ bytes, a final one above 2²⁰, an empty final segment
 * after others.
 */
export function sealSegment(key: Uint8Array, ad: Uint8Array, index: number, last: boolean, plaintext: Uint8Array): Uint8Array {
  checkSegmentPlaintext(index, last, plaintext);
  return aesGcmSeal(key, segmentNonce(index, last), plaintext, ad);
}

/**
 * `sealSegment` with the ciphertext and the tag apart (sealed = ciphertext ‖ tag), saving a copy of
 * the segment: what the engine writes to its spool.
 */
export function sealSegmentDetached(
  key: Uint8Array,
  ad: Uint8Array,
  index: number,
  last: boolean,
  plaintext: Uint8Array,
): { readonly ciphertext: Uint8Array; readonly tag: Uint8Array } {
  checkSegmentPlaintext(index, last, plaintext);
  return aesGcmSealDetached(key, segmentNonce(index, last), plaintext, ad);
}

function checkSegmentPlaintext(index: number, last: boolean, plaintext: Uint8Array): void {
  checkIndex(index);
  if (last ? plaintext.length > SEGMENT : plaintext.length !== SEGMENT) throw new RangeError('segment has the wrong length');
  if (last && index > 0 && plaintext.length === 0) throw new RangeError('only an empty file has an empty segment');
}

function tryOpen(key: Uint8Array, ad: Uint8Array, index: number, last: boolean, sealed: Uint8Array): Uint8Array | null {
  try {
    return aesGcmOpen(key, segmentNonce(index, last), sealed, ad);
  } catch (e) {
    if (e instanceof CryptoError && e.code === 'AEAD_AUTH_FAILED') return null;
    throw e;
  }
}

/**
 * Opens sealed segment `index`; `last` says whether the caller found it at the end of the
 * ciphertext. Errors: MALFORMED (a size no segment at that position can have), TRUNCATED (the
 * caller's last segment is a full non-final one: the ciphertext was cut at a segment boundary),
 * TRAILING_DATA (a segment the caller took for non-final is the final one: bytes follow the end),
 * SEGMENT_AUTH_FAILED (anything else: a tampered, reordered, or swapped-in segment). Returns the
 * segment's plaintext only after its tag verified.
 */
export function openSegment(key: Uint8Array, ad: Uint8Array, index: number, last: boolean, sealed: Uint8Array): Uint8Array {
  checkIndex(index);
  if (last) {
    if (sealed.length < ATTACHMENT_TAG_LENGTH) throw new ProtocolError('TRUNCATED', 'final segment shorter than its tag');
    if (sealed.length > SEALED_SEGMENT) throw new ProtocolError('MALFORMED', 'segment longer than the segment size');
    if (index > 0 && sealed.length === ATTACHMENT_TAG_LENGTH) {
      throw new ProtocolError('MALFORMED', 'empty final segment after other segments');
    }
  } else if (sealed.length !== SEALED_SEGMENT) {
    throw new ProtocolError('MALFORMED', 'non-final segment is not the segment size');
  }
  const plaintext = tryOpen(key, ad, index, last, sealed);
  if (plaintext !== null) return plaintext;
  // A full segment that authenticates with the other flag is in the right place and intact, but
  // the ciphertext around it was cut short or extended: say which, rather than "tampered".
  if (sealed.length === SEALED_SEGMENT) {
    const other = tryOpen(key, ad, index, !last, sealed);
    if (other !== null) {
      wipe(other);
      throw last
        ? new ProtocolError('TRUNCATED', `attachment ends after non-final segment ${index}`)
        : new ProtocolError('TRAILING_DATA', `data follows final segment ${index}`);
    }
  }
  throw new ProtocolError('SEGMENT_AUTH_FAILED', `segment ${index} does not authenticate`);
}

// ── Digests ──────────────────────────────────────────────────────────────────

/**
 * The ciphertext digest: SHA-256("Parley_v1_FileCiphertextDigest" ‖ header ‖ tag₀ ‖ … ‖ tagₙ₋₁).
 * Over the header and every segment's tag rather than every byte (docs/adr: attachments): under the
 * committed key each tag authenticates its segment, so the digest names one ciphertext for anyone
 * without the key, and the plaintext SHA-256 pins the content for the key holder; a third full
 * pass over the data would add no binding.
 */
export class CiphertextDigest {
  readonly #hash: Sha256Stream = sha256Stream();
  #segments = 0;
  constructor(header: Uint8Array) {
    if (header.length !== ATTACHMENT_HEADER_LENGTH) throw new RangeError('attachment header has the wrong length');
    this.#hash.update(label('FileCiphertextDigest'));
    this.#hash.update(header);
  }
  /** Adds the next sealed segment (only its tag is hashed). */
  addSealedSegment(sealed: Uint8Array): void {
    if (sealed.length < ATTACHMENT_TAG_LENGTH) throw new RangeError('sealed segment shorter than a tag');
    this.addTag(sealed.subarray(sealed.length - ATTACHMENT_TAG_LENGTH));
  }
  /** Adds the next segment's tag. */
  addTag(tag: Uint8Array): void {
    if (tag.length !== ATTACHMENT_TAG_LENGTH) throw new RangeError('a tag is 16 bytes');
    this.#hash.update(tag);
    this.#segments++;
  }
  get segments(): number {
    return this.#segments;
  }
  digest(): Uint8Array {
    return this.#hash.digest();
  }
}

/** True if every byte is zero (the padding after the true length). Not constant-time: padding is public. */
export function isZeroPadding(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

// ── Whole buffers ────────────────────────────────────────────────────────────

/** What the sender puts in the E2E message besides the relay's attachment id (docs/protocol.md §17.5). */
export type AttachmentDescriptor = {
  readonly key: Uint8Array;
  readonly length: number;
  readonly paddedLength: number;
  readonly ciphertextDigest: Uint8Array;
  readonly plaintextSha256: Uint8Array;
};

export type SealedAttachment = { readonly descriptor: AttachmentDescriptor; readonly fileId: Uint8Array; readonly ciphertext: Uint8Array };

/**
 * Encrypts a whole plaintext held in memory (small files, tests, vectors; the engine streams
 * large files through the same per-segment functions). Draws the key and file id from `deps.rng`.
 */
export function sealAttachment(plaintext: Uint8Array, deps: { readonly rng: Rng }): SealedAttachment {
  return runSteps(sealAttachmentSteps(plaintext, deps));
}

/** Runs a stepwise seal or open to its end. */
function runSteps<T>(steps: Generator<number, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * sealAttachment one segment at a time: yields each sealed segment's index, returns the sealed
 * attachment. Synchronous like every protocol step; a caller that must not block for a whole large
 * plaintext (the engine's history archive) resumes it between turns of its event loop.
 */
export function* sealAttachmentSteps(plaintext: Uint8Array, deps: { readonly rng: Rng }): Generator<number, SealedAttachment> {
  const layout = attachmentLayout(plaintext.length);
  const { key, fileId } = newAttachmentKey(deps);
  const header = encodeAttachmentHeader(key, fileId);
  const ciphertext = new Uint8Array(layout.ciphertextLength);
  ciphertext.set(header.bytes, 0);
  const digest = new CiphertextDigest(header.bytes);
  // The plaintext SHA-256 segment by segment, so no step hashes the whole plaintext at once.
  const plainHash = sha256Stream();
  const segment = new Uint8Array(SEGMENT);
  for (let i = 0; i < layout.segments; i++) {
    const length = segmentPlaintextLength(layout, i);
    const chunk = segment.subarray(0, length);
    chunk.fill(0);
    const part = plaintext.subarray(Math.min(i * SEGMENT, plaintext.length), Math.min(i * SEGMENT + length, plaintext.length));
    chunk.set(part);
    plainHash.update(part);
    const sealed = sealSegment(key, header.ad, i, i === layout.segments - 1, chunk);
    ciphertext.set(sealed, sealedSegmentOffset(i));
    digest.addSealedSegment(sealed);
    if (i < layout.segments - 1) yield i;
  }
  wipe(segment);
  return {
    descriptor: {
      key,
      length: layout.length,
      paddedLength: layout.paddedLength,
      ciphertextDigest: digest.digest(),
      plaintextSha256: plainHash.digest(),
    },
    fileId: header.fileId,
    ciphertext,
  };
}

/**
 * Decrypts a whole ciphertext against the descriptor its message carried, in the order of
 * docs/protocol.md §17.6: lengths (MALFORMED), header and key commitment, ciphertext length
 * (TRUNCATED / TRAILING_DATA), every segment in order, the ciphertext digest, the zero padding,
 * the plaintext SHA-256 (DIGEST_MISMATCH). Returns the true plaintext only if all of it checks out;
 * on any failure nothing decrypted is returned and the working buffer is wiped.
 */
export function openAttachment(descriptor: AttachmentDescriptor, ciphertext: Uint8Array): Uint8Array {
  return runSteps(openAttachmentSteps(descriptor, ciphertext));
}

/** openAttachment one segment at a time (see sealAttachmentSteps); the same checks in the same order. */
export function* openAttachmentSteps(descriptor: AttachmentDescriptor, ciphertext: Uint8Array): Generator<number, Uint8Array> {
  const layout = expectedLayout(descriptor.length, descriptor.paddedLength);
  if (descriptor.ciphertextDigest.length !== DIGEST_LENGTH || descriptor.plaintextSha256.length !== DIGEST_LENGTH) {
    throw new ProtocolError('MALFORMED', 'attachment digests must be 32 bytes');
  }
  const header = parseAttachmentHeader(ciphertext.subarray(0, Math.min(ciphertext.length, ATTACHMENT_HEADER_LENGTH)), descriptor.key);
  if (ciphertext.length < layout.ciphertextLength) throw new ProtocolError('TRUNCATED', 'attachment shorter than announced');
  if (ciphertext.length > layout.ciphertextLength) throw new ProtocolError('TRAILING_DATA', 'attachment longer than announced');
  const padded = new Uint8Array(layout.paddedLength);
  try {
    const digest = new CiphertextDigest(header.bytes);
    // Hashed as the segments open (nothing is released before every check below has passed).
    const plainHash = sha256Stream();
    for (let i = 0; i < layout.segments; i++) {
      const offset = sealedSegmentOffset(i);
      const sealed = ciphertext.subarray(offset, offset + segmentPlaintextLength(layout, i) + ATTACHMENT_TAG_LENGTH);
      const plain = openSegment(descriptor.key, header.ad, i, i === layout.segments - 1, sealed);
      padded.set(plain, i * SEGMENT);
      plainHash.update(plain.subarray(0, Math.max(0, Math.min(plain.length, layout.length - i * SEGMENT))));
      wipe(plain);
      digest.addSealedSegment(sealed);
      if (i < layout.segments - 1) yield i;
    }
    if (!constantTimeEqual(digest.digest(), descriptor.ciphertextDigest)) {
      throw new ProtocolError('DIGEST_MISMATCH', 'ciphertext digest differs from the announced one');
    }
    if (!isZeroPadding(padded.subarray(layout.length))) throw new ProtocolError('MALFORMED', 'attachment padding is not zero');
    if (!constantTimeEqual(plainHash.digest(), descriptor.plaintextSha256)) {
      throw new ProtocolError('DIGEST_MISMATCH', 'plaintext SHA-256 differs from the announced one');
    }
    return padded.slice(0, layout.length);
  } finally {
    wipe(padded);
  }
}
