/**
 * Binary reader and writer for every Parley structure: big-endian fixed-width integers,
 * length-prefixed byte strings, type-byte keys. A Reader over untrusted bytes raises
 * ProtocolError('MALFORMED') on any shortfall, and `end()` refuses trailing bytes.
 */
import { concatBytes, u16be, u32be, u64be, u8 } from '../crypto/bytes.js';
import { CryptoError } from '../crypto/errors.js';
import { decodePublicKey, encodedKeyLength, encodePublicKey, type KeyType } from '../crypto/encoding.js';
import { ProtocolError } from './errors.js';

export class Writer {
  private readonly parts: Uint8Array[] = [];
  u8(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError('u8 out of range');
    this.parts.push(u8(v));
    return this;
  }
  u16(v: number): this {
    this.parts.push(u16be(v));
    return this;
  }
  u32(v: number): this {
    this.parts.push(u32be(v));
    return this;
  }
  u64(v: number): this {
    this.parts.push(u64be(v));
    return this;
  }
  bytes(b: Uint8Array): this {
    this.parts.push(b);
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
    return this.bytes(encodePublicKey(type, raw));
  }
  finish(): Uint8Array {
    return concatBytes(...this.parts);
  }
}

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
    const v = new DataView(this.data.buffer, this.data.byteOffset + this.offset, 4).getUint32(0, false);
    this.offset += 4;
    return v;
  }
  /** u64 as a number; values above 2^53 − 1 are malformed (timestamps and counters only). */
  u64(): number {
    this.need(8);
    const v = new DataView(this.data.buffer, this.data.byteOffset + this.offset, 8).getBigUint64(0, false);
    this.offset += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError('MALFORMED', `${this.what}: integer too large`);
    return Number(v);
  }
  /** A fresh copy of the next n bytes. */
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.data.slice(this.offset, this.offset + n);
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
    const encoded = this.bytes(encodedKeyLength(type));
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
