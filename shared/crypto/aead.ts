/**
 * AES-256-GCM (NIST SP 800-38D) with a 96-bit nonce and a 128-bit tag, on node:crypto.
 * Output is ciphertext ‖ tag. A failed open raises AEAD_AUTH_FAILED and releases no plaintext.
 * Nonce uniqueness is the caller's job: Parley derives a fresh (key, nonce) per message.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { ownedBytes } from './bytes.js';
import { CryptoError, assertLength } from './errors.js';

export const AES_KEY_LENGTH = 32;
export const GCM_NONCE_LENGTH = 12;
export const GCM_TAG_LENGTH = 16;

export function aesGcmSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(plaintext.length + GCM_TAG_LENGTH);
  aesGcmSealInto(key, nonce, plaintext, ad, out, 0);
  return out;
}

/**
 * aesGcmSeal writing `ciphertext ‖ tag` into `out` at `offset` (plaintext.length + 16 bytes), so a
 * caller that frames the ciphertext (a message header before it) allocates the whole once.
 */
export function aesGcmSealInto(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  assertLength(key, AES_KEY_LENGTH, 'AES-256-GCM key');
  assertLength(nonce, GCM_NONCE_LENGTH, 'GCM nonce');
  if (!Number.isInteger(offset) || offset < 0 || out.length - offset < plaintext.length + GCM_TAG_LENGTH) {
    throw new CryptoError('INVALID_LENGTH', 'AES-256-GCM output does not fit');
  }
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_LENGTH });
  cipher.setAAD(ad);
  const body = cipher.update(plaintext);
  out.set(body, offset);
  const tail = cipher.final();
  out.set(tail, offset + body.length);
  out.set(cipher.getAuthTag(), offset + body.length + tail.length);
}

/**
 * The same AES-256-GCM seal with the ciphertext and the tag returned apart, without copying them
 * into one array: for bulk data written straight to a file (attachment segments of 1 MiB).
 */
export function aesGcmSealDetached(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
): { readonly ciphertext: Uint8Array; readonly tag: Uint8Array } {
  assertLength(key, AES_KEY_LENGTH, 'AES-256-GCM key');
  assertLength(nonce, GCM_NONCE_LENGTH, 'GCM nonce');
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_LENGTH });
  cipher.setAAD(ad);
  const body = cipher.update(plaintext);
  // GCM's final() never yields bytes (a stream mode); should it ever, the two are joined.
  const tail = cipher.final();
  const ciphertext = tail.length === 0 ? ownedBytes(body) : new Uint8Array(Buffer.concat([body, tail]));
  return { ciphertext, tag: ownedBytes(cipher.getAuthTag()) };
}

export function aesGcmOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  ad: Uint8Array,
): Uint8Array {
  assertLength(key, AES_KEY_LENGTH, 'AES-256-GCM key');
  assertLength(nonce, GCM_NONCE_LENGTH, 'GCM nonce');
  if (!(sealed instanceof Uint8Array) || sealed.length < GCM_TAG_LENGTH) {
    throw new CryptoError('AEAD_AUTH_FAILED', 'ciphertext shorter than the tag');
  }
  const bodyLength = sealed.length - GCM_TAG_LENGTH;
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_LENGTH });
  decipher.setAAD(ad);
  decipher.setAuthTag(sealed.subarray(bodyLength));
  // update() yields unauthenticated plaintext; it is released only after final() verified the tag.
  const body = decipher.update(sealed.subarray(0, bodyLength));
  let tail: Uint8Array;
  try {
    tail = decipher.final();
  } catch {
    body.fill(0);
    throw new CryptoError('AEAD_AUTH_FAILED', 'authentication tag mismatch');
  }
  // GCM's final() never yields bytes; the verified body is then returned in place, without a copy
  // (ownedBytes copies only if node:crypto ever hands back a pooled or shared Buffer).
  if (tail.length === 0) {
    const out = ownedBytes(body);
    if (out.buffer !== body.buffer) body.fill(0);
    return out;
  }
  const out = new Uint8Array(bodyLength);
  out.set(body, 0);
  out.set(tail, body.length);
  body.fill(0);
  return out;
}
