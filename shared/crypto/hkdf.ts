/**
 * HKDF-SHA-256 (RFC 5869) on node:crypto. `salt` defaults to 32 zero bytes as the RFC specifies for
 * an absent salt; `info` is the Parley label (and any context) as bytes.
 *
 * Extract and expand are written out over node:crypto's HMAC rather than calling `hkdfSync`: for the
 * short outputs Parley derives (32, 44, 64 bytes) hkdfSync's per-call KeyObject and job setup cost
 * more than the two or three HMACs themselves (bench/protocol: ~9 µs against ~7 µs for L = 44).
 * Same function, same output (Wycheproof and the @noble differential tests pin it).
 */
import { createHmac } from 'node:crypto';
import { CryptoError } from './errors.js';

export const HKDF_MAX_LENGTH = 255 * 32;
const HASH_LENGTH = 32;
const ZERO_SALT = new Uint8Array(HASH_LENGTH);

export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array | undefined,
  info: Uint8Array,
  length: number,
): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > HKDF_MAX_LENGTH) {
    throw new CryptoError('INVALID_LENGTH', 'HKDF output length out of range');
  }
  // Extract: PRK = HMAC(salt, IKM). Expand: T(i) = HMAC(PRK, T(i-1) ‖ info ‖ i), OKM = T(1) ‖ T(2) ‖ …
  const prk = createHmac('sha256', salt ?? ZERO_SALT).update(ikm).digest();
  const out = new Uint8Array(length);
  const counter = new Uint8Array(1);
  let previous: Uint8Array | undefined;
  try {
    for (let offset = 0, i = 1; offset < length; offset += HASH_LENGTH, i++) {
      const hmac = createHmac('sha256', prk);
      if (previous) hmac.update(previous);
      counter[0] = i;
      const block = hmac.update(info).update(counter).digest();
      out.set(length - offset >= HASH_LENGTH ? block : block.subarray(0, length - offset), offset);
      previous?.fill(0);
      previous = block;
    }
  } finally {
    previous?.fill(0);
    prk.fill(0);
  }
  return out;
}
