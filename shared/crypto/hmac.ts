/** HMAC-SHA-256 (RFC 2104) on node:crypto. Keys of any length; 32-byte output. */
import { createHmac } from 'node:crypto';
import { ownedBytes } from './bytes.js';

export const HMAC_SHA256_LENGTH = 32;

export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return ownedBytes(createHmac('sha256', key).update(data).digest());
}
