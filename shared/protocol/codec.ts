/**
 * Binary reader and writers for every Parley structure: big-endian fixed-width integers,
 * length-prefixed byte strings, type-byte keys. A Reader over untrusted bytes raises
 * ProtocolError('MALFORMED') on any shortfall, and `end()` refuses trailing bytes. `Writer` sizes
 * its output itself; `SizedWriter` writes straight into an array of a length the caller computed
 * (the per-message session record: no list of fields, one allocation). Both refuse an integer
 * outside its field's range (RangeError) and a key of the wrong length (INVALID_LENGTH).
 */
import { u64be } from '../crypto/bytes.js';
import { CryptoError } from '../crypto/errors.js';
import { decodePublicKey, encodedKeyLength, encodePublicKey, KeyType } from '../crypto/encoding.js';
import { ProtocolError } from './errors.js';

export class Writer {
  // Fields are recorded (integers as numbers with their width, byte strings by reference) and
  // written once into an exactly sized output at finish(): no array per integer, one copy.
  private readonly values: (number | Uint8Array)[] = [];
  private readonly widths: number[] = [];
  private length = 0;
  private int(v: number, width: number): this {
    this.values.push(v);
    this.widths.push(width);
    this.length += width;
    return this;
  }
  u8(v: number): this {
    return this.int(checkU8(v), 1);
  }
  u16(v: number): this {
    return this.int(checkU16(v), 2);
  }
  u32(v: number): this {
    return this.int(checkU32(v), 4);
  }
  u64(v: number): this {
    if (Number.isSafeInteger(v) && v >= 0) return this.int(v, 8);
    return this.bytes(u64be(v)); // the general path, and its RangeError
  }
  bytes(b: Uint8Array): this {
    this.values.push(b);
    this.widths.push(0);
    this.length += b.length;
    return this;
  }
  /** u16 length ‖ bytes */
  var16(b: Uint8Array): this {
    return this.u16(b.length).bytes(b);
  }
  /** u32 length ‖ bytes */
  var32(b: Uint8Array): this {
    return this.u32(b.length).bytes(b);
  }
  key(type: KeyType, raw: Uint8Array): this {
    // encodePublicKey raises INVALID_LENGTH for a wrong-length key; a right one is written in place.
    if (raw.length !== encodedKeyLength(type) - 1) return this.bytes(encodePublicKey(type, raw));
    return this.int(type, 1).bytes(raw);
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (let i = 0; i < this.values.length; i++) {
      const v = this.values[i]!;
      if (typeof v !== 'number') {
        out.set(v, o);
        o += v.length;
        continue;
      }
      const w = this.widths[i]!;
      if (w === 8) {
        writeU32(out, o, Math.floor(v / 0x1_0000_0000));
        writeU32(out, o + 4, v % 0x1_0000_0000);
      } else if (w === 4) writeU32(out, o, v);
      else if (w === 2) {
        out[o] = v >>> 8;
        out[o + 1] = v & 0xff;
      } else out[o] = v;
      o += w;
    }
    return out;
  }
}

function writeU32(out: Uint8Array, o: number, v: number): void {
  out[o] = v >>> 24;
  out[o + 1] = (v >>> 16) & 0xff;
  out[o + 2] = (v >>> 8) & 0xff;
  out[o + 3] = v & 0xff;
}

function checkU8(v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError('u8 out of range');
  return v;
}
function checkU16(v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError('u16 out of range');
  return v;
}
function checkU32(v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError('u32 out of range');
  return v;
}

/**
 * Writes into an array of exactly `length` bytes, allocated once: for structures written per
 * message whose length the caller computes (session records). Same methods and range checks as
 * Writer; writing past the end, or finishing short of it, is a bug in that length (an Error).
 */
export class SizedWriter {
  private readonly out: Uint8Array;
  private readonly start: number;
  private readonly end: number;
  private offset: number;
  /** A fresh array of `length` bytes, or `length` bytes of `into` from `at` (a larger structure around it). */
  constructor(length: number, into?: Uint8Array, at = 0) {
    this.out = into ?? new Uint8Array(length);
    this.start = this.offset = at;
    this.end = at + length;
    if (this.end > this.out.length) throw new Error('SizedWriter: no room for the structure');
  }
  private at(n: number): number {
    const o = this.offset;
    if (o + n > this.end) throw new Error('SizedWriter: structure longer than its computed length');
    this.offset = o + n;
    return o;
  }
  u8(v: number): this {
    this.out[this.at(1)] = checkU8(v);
    return this;
  }
  u16(v: number): this {
    checkU16(v);
    const o = this.at(2);
    this.out[o] = v >>> 8;
    this.out[o + 1] = v & 0xff;
    return this;
  }
  u32(v: number): this {
    writeU32(this.out, this.at(4), checkU32(v));
    return this;
  }
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) return this.bytes(u64be(v)); // its RangeError
    const o = this.at(8);
    writeU32(this.out, o, Math.floor(v / 0x1_0000_0000));
    writeU32(this.out, o + 4, v % 0x1_0000_0000);
    return this;
  }
  bytes(b: Uint8Array): this {
    this.out.set(b, this.at(b.length));
    return this;
  }
  /** u16 length ‖ bytes */
  var16(b: Uint8Array): this {
    return this.u16(b.length).bytes(b);
  }
  key(type: KeyType, raw: Uint8Array): this {
    if (raw.length !== encodedKeyLength(type) - 1) return this.bytes(encodePublicKey(type, raw)); // its INVALID_LENGTH
    this.out[this.at(1)] = type;
    return this.bytes(raw);
  }
  finish(): Uint8Array {
    if (this.offset !== this.end) throw new Error('SizedWriter: structure shorter than its computed length');
    return this.start === 0 && this.end === this.out.length ? this.out : this.out.subarray(this.start, this.end);
  }
}

/** The binary writers: encoders that write the same fields to either take this. */
export type ByteWriter = Writer | SizedWriter;

export class Reader {
  private offset = 0;
  constructor(
    private readonly data: Uint8Array,
    private readonly what = 'structure',
  ) {
    if (!(data instanceof Uint8Array)) throw new ProtocolError('MALFORMED', `${what}: not bytes`);
  }
  get remaining(): number {
    return this.data.length - this.offset;
  }
  get position(): number {
    return this.offset;
  }
  private need(n: number): void {
    if (this.remaining < n) throw new ProtocolError('MALFORMED', `${this.what}: truncated`);
  }
  u8(): number {
    this.need(1);
    return this.data[this.offset++]!;
  }
  u16(): number {
    this.need(2);
    const v = (this.data[this.offset]! << 8) | this.data[this.offset + 1]!;
    this.offset += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const d = this.data;
    const o = this.offset;
    const v = ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
    this.offset += 4;
    return v;
  }
  /** u64 as a number; values above 2^53 − 1 are malformed (timestamps and counters only). */
  u64(): number {
    this.need(8);
    const d = this.data;
    const o = this.offset;
    const hi = ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
    const lo = ((d[o + 4]! << 24) | (d[o + 5]! << 16) | (d[o + 6]! << 8) | d[o + 7]!) >>> 0;
    this.offset += 8;
    // Number.MAX_SAFE_INTEGER = 2^53 − 1: the high word may use 21 bits.
    if (hi > 0x1fffff) throw new ProtocolError('MALFORMED', `${this.what}: integer too large`);
    return hi * 0x1_0000_0000 + lo;
  }
  /** A fresh copy of the next n bytes. */
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.data.slice(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  /**
   * The next n bytes as a view into the input, without a copy: only for bytes the caller reads at
   * once and does not keep (a ciphertext, a header authenticated as AD).
   */
  view(n: number): Uint8Array {
    this.need(n);
    const out = this.data.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  var16(max = 0xffff): Uint8Array {
    const n = this.u16();
    if (n > max) throw new ProtocolError('MALFORMED', `${this.what}: field too long`);
    return this.bytes(n);
  }
  var32(max: number): Uint8Array {
    const n = this.u32();
    if (n > max) throw new ProtocolError('MALFORMED', `${this.what}: field too long`);
    return this.bytes(n);
  }
  /** A type-byte public key, validated at import (wrong type, length or a bad Ed25519 key → MALFORMED/INVALID_KEY). */
  key(type: KeyType): Uint8Array {
    const length = encodedKeyLength(type);
    // X25519 and ML-KEM keys need no check beyond the type byte: copy the raw key out once.
    if (type !== KeyType.Ed25519 && this.remaining >= length && this.data[this.offset] === type) {
      const raw = this.data.slice(this.offset + 1, this.offset + length);
      this.offset += length;
      return raw;
    }
    const encoded = this.bytes(length);
    try {
      return decodePublicKey(type, encoded);
    } catch (e) {
      if (e instanceof CryptoError && (e.code === 'SMALL_ORDER_KEY' || e.code === 'NON_CANONICAL_KEY')) {
        throw new ProtocolError('INVALID_KEY', `${this.what}: ${e.message}`);
      }
      throw new ProtocolError('MALFORMED', `${this.what}: bad key encoding`);
    }
  }
  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }
  end(): void {
    if (this.remaining !== 0) throw new ProtocolError('MALFORMED', `${this.what}: trailing bytes`);
  }
}
