/**
 * HKDF-SHA-256 (RFC 5869) on node:crypto. `salt` defaults to 32 zero bytes as the RFC specifies for
 * an absent salt; `info` is the Parley label (and any context) as bytes.
 */
import { hkdfSync } from 'node:crypto';
import { CryptoError } from './errors.js';

export const HKDF_MAX_LENGTH = 255 * 32;
const ZERO_SALT = new Uint8Array(32);

export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array | undefined,
  info: Uint8Array,
  length: number,
): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > HKDF_MAX_LENGTH) {
    throw new CryptoError('INVALID_LENGTH', 'HKDF output length out of range');
  }
  return new Uint8Array(hkdfSync('sha256', ikm, salt ?? ZERO_SALT, info, length));
}
