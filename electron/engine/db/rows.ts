/**
 * Row-mapping helpers at the SQLite edge: BLOB columns arrive as Node Buffers and leave as fresh,
 * unpooled Uint8Arrays (secrets never stay in Buffers); booleans are 0/1 integers.
 */
import { copyBytes } from '../../../shared/crypto/bytes.js';

/** A BLOB column as a fresh Uint8Array. */
export function blob(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError('expected a BLOB column');
  return copyBytes(value);
}

export function blobOrNull(value: unknown): Uint8Array | null {
  return value === null || value === undefined ? null : blob(value);
}

export function flag(value: unknown): boolean {
  return value === 1;
}
