/**
 * The attachment pointer (docs/protocol.md §17.9): the committed vectors round-trip through the
 * codec; parsing is strict — unknown flags, a padded length that is not Padmé(length), a media type
 * outside the token grammar, a zero dimension, an empty or oversized thumbnail, bad UTF-8, every
 * truncation — all MALFORMED; the encoder refuses values a reader would refuse.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../crypto/bytes.js';
import { padmeLength } from './attachment-cipher.js';
import { MAX_POINTER_THUMBNAIL_BYTES, readAttachmentPointer, writeAttachmentPointer, type AttachmentPointer } from './attachment-pointer.js';
import { Reader, Writer } from './codec.js';
import { isProtocolError } from './errors.js';

type Case = { name: string; pointer: string };
const vectors = JSON.parse(readFileSync(new URL('../../test/vectors/parley/attachment-pointer.json', import.meta.url), 'utf8')) as { cases: Case[] };

function parse(bytes: Uint8Array): AttachmentPointer {
  const r = new Reader(bytes, 'pointer');
  const p = readAttachmentPointer(r);
  r.end();
  return p;
}

function code(bytes: Uint8Array): string {
  try {
    parse(bytes);
    return 'ok';
  } catch (e) {
    return isProtocolError(e) ? e.code : String(e);
  }
}

function encode(p: AttachmentPointer): Uint8Array {
  const w = new Writer();
  writeAttachmentPointer(w, p);
  return w.finish();
}

const base: AttachmentPointer = {
  attachmentId: new Uint8Array(16).fill(1),
  descriptor: { key: new Uint8Array(32).fill(2), length: 1000, paddedLength: padmeLength(1000), ciphertextDigest: new Uint8Array(32).fill(3), plaintextSha256: new Uint8Array(32).fill(4) },
  mediaType: 'image/jpeg',
  fileName: 'a.jpg',
  dimensions: { width: 10, height: 20 },
  thumbnail: Uint8Array.of(1, 2, 3),
  original: false,
};

describe('attachment pointer', () => {
  it('the vectors parse and encode back to the same bytes', () => {
    for (const c of vectors.cases) expect(toHex(encode(parse(fromHex(c.pointer)))), c.name).toBe(c.pointer);
    expect(vectors.cases).toHaveLength(3);
  });

  it('a disappearing timer (flag 0x08, docs/protocol.md §23.1) ends the pointer; zero or cut off is MALFORMED', () => {
    const plain = encode(base);
    const timed = encode({ ...base, expireTimerSeconds: 30 });
    expect(timed[0]).toBe(plain[0]! | 0x08);
    expect(Buffer.from(timed.subarray(1, plain.length)).equals(Buffer.from(plain.subarray(1)))).toBe(true);
    expect(Buffer.from(timed.subarray(plain.length)).toString('hex')).toBe('0000001e');
    for (let n = plain.length; n < timed.length; n++) expect(code(timed.slice(0, n)), `${n} bytes`).toBe('MALFORMED');
    const zero = timed.slice();
    zero.set([0, 0, 0, 0], plain.length);
    expect(code(zero)).toBe('MALFORMED');
  });

  it('every truncation and every extra byte is MALFORMED', () => {
    const bytes = encode(base);
    expect(code(bytes)).toBe('ok');
    for (let n = 0; n < bytes.length; n++) expect(code(bytes.slice(0, n)), `${n} bytes`).toBe('MALFORMED');
    expect(code(Uint8Array.from([...bytes, 0]))).toBe('MALFORMED');
  });

  it('refuses unknown flags, a padded length that is not Padmé(length), bad media types, zero dimensions, bad thumbnails, bad UTF-8', () => {
    const ok = encode(base);
    const at = (offset: number, value: number): Uint8Array => {
      const b = ok.slice();
      b[offset] = value;
      return b;
    };
    expect(code(at(0, 0x10 | 0x03))).toBe('MALFORMED');
    // paddedLength is the u64 at 1 + 16 + 32 + 8: its last byte.
    expect(code(at(1 + 16 + 32 + 8 + 7, (ok[1 + 16 + 32 + 8 + 7]! + 1) & 0xff))).toBe('MALFORMED');
    for (const mediaType of ['IMAGE/JPEG', 'image', 'image/jpeg; charset=x', '/x', 'a b/c']) {
      const w = encode({ ...base, mediaType: 'x/y' });
      const typeAt = 1 + 16 + 32 + 8 + 8 + 32 + 32;
      const bytes = new Writer().bytes(w.subarray(0, typeAt)).u8(mediaType.length).bytes(new TextEncoder().encode(mediaType)).bytes(w.subarray(typeAt + 1 + 3)).finish();
      expect(code(bytes), mediaType).toBe('MALFORMED');
    }
    const dims = encode({ ...base, thumbnail: null });
    const zeroWidth = dims.slice();
    zeroWidth[dims.length - 4] = 0;
    zeroWidth[dims.length - 3] = 0;
    expect(code(zeroWidth)).toBe('MALFORMED');
    const emptyThumb = new Writer().bytes(encode({ ...base, thumbnail: null, dimensions: null })).finish();
    emptyThumb[0] = 0x02;
    expect(code(new Writer().bytes(emptyThumb).u32(0).finish())).toBe('MALFORMED');
    expect(code(new Writer().bytes(emptyThumb).u32(MAX_POINTER_THUMBNAIL_BYTES + 1).bytes(new Uint8Array(MAX_POINTER_THUMBNAIL_BYTES + 1)).finish())).toBe('MALFORMED');
    const badName = encode({ ...base, fileName: 'ab', dimensions: null, thumbnail: null });
    badName[badName.length - 1] = 0xff;
    expect(code(badName)).toBe('MALFORMED');
  });

  it('the encoder refuses what a reader would refuse', () => {
    expect(() => encode({ ...base, attachmentId: new Uint8Array(15) })).toThrow(RangeError);
    expect(() => encode({ ...base, descriptor: { ...base.descriptor, paddedLength: 1001 } })).toThrow(RangeError);
    expect(() => encode({ ...base, mediaType: 'Image/JPEG' })).toThrow(RangeError);
    expect(() => encode({ ...base, fileName: 'n'.repeat(256) })).toThrow(RangeError);
    expect(() => encode({ ...base, thumbnail: new Uint8Array(0) })).toThrow(RangeError);
    expect(() => encode({ ...base, thumbnail: new Uint8Array(MAX_POINTER_THUMBNAIL_BYTES + 1) })).toThrow(RangeError);
    expect(() => encode({ ...base, dimensions: { width: 0, height: 1 } })).toThrow(RangeError);
    expect(() => encode({ ...base, dimensions: { width: 65_536, height: 1 } })).toThrow(RangeError);
  });
});
