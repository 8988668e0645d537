/**
 * Byte helpers shared by every layer: concatenation, fixed-width big-endian integers, constant-time
 * comparison, hex and base64url. Everything is `Uint8Array` in and out; results never share memory
 * with Node's Buffer pool.
 */
import { timingSafeEqual } from 'node:crypto';
import { CryptoError } from './errors.js';

/** Concatenates byte arrays into one fresh array. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (let i = 0; i < parts.length; i++) length += parts[i]!.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    // Tiny parts (type bytes, integers) are copied by hand: set() costs more than the copy.
    if (part.length <= 8) for (let j = 0; j < part.length; j++) out[offset + j] = part[j]!;
    else out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Copies any byte view (including a Node Buffer) into a fresh, unpooled Uint8Array. */
export function copyBytes(bytes: Uint8Array | ArrayBuffer): Uint8Array {
  return bytes instanceof ArrayBuffer ? new Uint8Array(bytes.slice(0)) : new Uint8Array(bytes);
}

/**
 * A plain Uint8Array over a Buffer that node:crypto returned, without a copy when the Buffer owns
 * its whole ArrayBuffer (digests, tags and cipher output are allocated that way, never from the
 * pool); anything else — a pooled or shared slice — is copied, so the result never shares memory
 * with Node's Buffer pool.
 */
export function ownedBytes(buffer: Uint8Array): Uint8Array {
  const backing = buffer.buffer;
  if (backing instanceof ArrayBuffer && buffer.byteOffset === 0 && backing.byteLength === buffer.byteLength) {
    return new Uint8Array(backing);
  }
  return new Uint8Array(buffer);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 encodes a (public) string such as a label. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Strict UTF-8 decode; malformed input raises INVALID_ENCODING. */
export function fromUtf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new CryptoError('INVALID_ENCODING', 'invalid UTF-8');
  }
}

export function u8(value: number): Uint8Array {
  const out = new Uint8Array(1);
  out[0] = value & 0xff;
  return out;
}

export function u16be(value: number): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new RangeError('u16 out of range');
  const out = new Uint8Array(2);
  out[0] = value >>> 8;
  out[1] = value & 0xff;
  return out;
}

// Integers are written byte by byte: a DataView per call (or a BigInt) costs more than the write.
function writeU32be(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value >>> 24;
  out[offset + 1] = (value >>> 16) & 0xff;
  out[offset + 2] = (value >>> 8) & 0xff;
  out[offset + 3] = value & 0xff;
}

export function u32be(value: number): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError('u32 out of range');
  const out = new Uint8Array(4);
  writeU32be(out, 0, value);
  return out;
}

const TWO_POW_32 = 0x1_0000_0000;

/** Unsigned 64-bit big-endian; accepts any safe non-negative integer (timestamps in ms). */
export function u64be(value: number | bigint): Uint8Array {
  const out = new Uint8Array(8);
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
    writeU32be(out, 0, Math.floor(value / TWO_POW_32));
    writeU32be(out, 4, value % TWO_POW_32);
    return out;
  }
  const big = typeof value === 'bigint' ? value : BigInt(value);
  if (big < 0n || big > 0xffffffffffffffffn) throw new RangeError('u64 out of range');
  new DataView(out.buffer).setBigUint64(0, big, false);
  return out;
}

/** Constant-time equality; arrays of different length compare unequal (length is not secret). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/** Non-constant-time equality for public data (ids, public keys). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic comparison of public byte strings (for canonical orderings). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

const HEX_PAIRS = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** Hex of public data (ids, hashes, public keys) — never call on secrets. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX_PAIRS[bytes[i]!]!;
  return out;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new CryptoError('INVALID_ENCODING', 'invalid hex');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** base64url without padding (RFC 4648 §5), the encoding JSON wire fields use. */
export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Strict base64url decode: rejects padding, foreign characters and non-canonical trailing bits. */
export function fromBase64Url(text: string): Uint8Array {
  if (!BASE64URL.test(text) || text.length % 4 === 1) {
    throw new CryptoError('INVALID_ENCODING', 'invalid base64url');
  }
  const out = copyBytes(Buffer.from(text, 'base64url'));
  if (toBase64Url(out) !== text) throw new CryptoError('INVALID_ENCODING', 'non-canonical base64url');
  return out;
}

/** Overwrites a secret buffer with zeros (best effort; see threat-model.md on memory). */
export function wipe(...buffers: Uint8Array[]): void {
  for (const b of buffers) b.fill(0);
}
