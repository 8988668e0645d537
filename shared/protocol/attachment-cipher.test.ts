import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aesGcmSeal } from '../crypto/aead.js';
import { sha256 } from '../crypto/sha256.js';
import { deterministicRng, pseudoRandomBytes } from '../testing/deterministic-rng.js';
import {
  attachmentLayout,
  CiphertextDigest,
  encodeAttachmentHeader,
  expectedLayout,
  layoutFromCiphertextLength,
  newAttachmentKey,
  openAttachment,
  openSegment,
  padmeLength,
  parseAttachmentHeader,
  sealAttachment,
  sealedSegmentOffset,
  sealSegment,
  sealSegmentDetached,
  segmentNonce,
  type AttachmentDescriptor,
  type SealedAttachment,
} from './attachment-cipher.js';
import { ATTACHMENT_HEADER_LENGTH, ATTACHMENT_SEGMENT_SIZE, ATTACHMENT_TAG_LENGTH } from './constants.js';
import { isProtocolError, type ProtocolErrorCode } from './errors.js';

const SEG = ATTACHMENT_SEGMENT_SIZE;
const SEALED = SEG + ATTACHMENT_TAG_LENGTH;

function codeOf(fn: () => unknown): ProtocolErrorCode | 'no error' | unknown {
  try {
    fn();
  } catch (e) {
    return isProtocolError(e) ? e.code : e;
  }
  return 'no error';
}

/** Byte equality for large arrays (toEqual walks a MiB element by element). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function plaintextOf(length: number, seed = 'plaintext'): Uint8Array {
  return pseudoRandomBytes(`attachment-cipher.test/${seed}`, length);
}

function seal(length: number, seed = 'file'): { plaintext: Uint8Array; sealed: SealedAttachment } {
  const plaintext = plaintextOf(length, seed);
  return { plaintext, sealed: sealAttachment(plaintext, { rng: deterministicRng(`attachment-cipher.test/key/${seed}`) }) };
}

/** Re-seals a hand-made list of segment plaintexts under a descriptor's key (what a dishonest sender can do). */
function sealByHand(
  key: Uint8Array,
  segments: readonly { plaintext: Uint8Array; last: boolean }[],
): { ciphertext: Uint8Array; digest: Uint8Array } {
  const header = encodeAttachmentHeader(key, new Uint8Array(16).fill(9));
  const digest = new CiphertextDigest(header.bytes);
  const parts = [header.bytes];
  segments.forEach(({ plaintext, last }, i) => {
    const sealed = aesGcmSeal(key, segmentNonce(i, last), plaintext, header.ad);
    digest.addSealedSegment(sealed);
    parts.push(sealed);
  });
  const ciphertext = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    ciphertext.set(p, o);
    o += p.length;
  }
  return { ciphertext, digest: digest.digest() };
}

describe('Padmé', () => {
  it('pads the documented lengths to their buckets', () => {
    const cases: [number, number][] = [
      [0, 0],
      [1, 1],
      [2, 2],
      [7, 7],
      [9, 10],
      [100, 104],
      [1000, 1024],
      [1025, 1088],
      [SEG, SEG],
      [SEG + 1, SEG + 32_768],
      [3 * SEG + 12_345, 3 * SEG + 65_536],
      [2 ** 31, 2 ** 31],
      [2 ** 31 + 1, 2 ** 31 + 2 ** 26],
    ];
    for (const [length, padded] of cases) expect(padmeLength(length), `Padmé(${length})`).toBe(padded);
  });

  it('never shrinks, adds at most 12 %, is idempotent and monotonic', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 45 }), fc.integer({ min: 0, max: 2 ** 20 }), (length, delta) => {
        const padded = padmeLength(length);
        expect(padded).toBeGreaterThanOrEqual(length);
        expect(padded - length).toBeLessThanOrEqual(Math.max(0, length * 0.12));
        expect(padmeLength(padded)).toBe(padded);
        expect(padmeLength(length + delta)).toBeGreaterThanOrEqual(padded);
      }),
      { numRuns: 2_000 },
    );
  });

  it('refuses negative and fractional lengths', () => {
    expect(() => padmeLength(-1)).toThrow(RangeError);
    expect(() => padmeLength(1.5)).toThrow(RangeError);
  });
});

describe('attachment layout', () => {
  it('an empty file is one empty final segment; exactly 2²⁰ bytes is one full final segment; one more byte makes two', () => {
    expect(attachmentLayout(0)).toEqual({ length: 0, paddedLength: 0, segments: 1, lastSegmentLength: 0, ciphertextLength: 53 + 16 });
    expect(attachmentLayout(1)).toMatchObject({ segments: 1, lastSegmentLength: 1, ciphertextLength: 53 + 1 + 16 });
    expect(attachmentLayout(SEG)).toMatchObject({ segments: 1, lastSegmentLength: SEG, ciphertextLength: 53 + SEG + 16 });
    expect(attachmentLayout(SEG + 1)).toMatchObject({ segments: 2, lastSegmentLength: 32_768, paddedLength: SEG + 32_768 });
    expect(attachmentLayout(2 * 2 ** 30)).toMatchObject({ segments: 2048, lastSegmentLength: SEG });
  });

  it('a ciphertext length maps back to its layout exactly when some plaintext has it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 34 }), (length) => {
        const layout = attachmentLayout(length);
        const back = layoutFromCiphertextLength(layout.ciphertextLength);
        expect(back?.paddedLength).toBe(layout.paddedLength);
        expect(back?.segments).toBe(layout.segments);
      }),
      { numRuns: 500 },
    );
    for (const bad of [0, 52, 53, 68, 53 + 16 + SEG + 1, 53 + SEG + 16 + 5, 53 + 1000 + 16, -1, 1.5]) {
      expect(layoutFromCiphertextLength(bad), String(bad)).toBeUndefined();
    }
    expect(layoutFromCiphertextLength(53 + 16)?.segments).toBe(1);
    expect(layoutFromCiphertextLength(53 + SEG + 16)?.segments).toBe(1);
    expect(layoutFromCiphertextLength(53 + 2 * (SEG + 16))?.paddedLength).toBe(2 * SEG);
  });

  it('a padded length that is not the Padmé bucket of the length is MALFORMED', () => {
    expect(codeOf(() => expectedLayout(1000, 1000))).toBe('MALFORMED');
    expect(codeOf(() => expectedLayout(1000, 1008))).toBe('MALFORMED');
    expect(codeOf(() => expectedLayout(-1, 0))).toBe('MALFORMED');
    expect(expectedLayout(1000, 1024).segments).toBe(1);
  });
});

describe('attachment header', () => {
  const { key, fileId } = newAttachmentKey({ rng: deterministicRng('header') });
  const header = encodeAttachmentHeader(key, fileId);

  it('is version, segment size, file id and the key commitment; its AD is its SHA-256', () => {
    expect(header.bytes.length).toBe(ATTACHMENT_HEADER_LENGTH);
    expect(header.bytes[0]).toBe(1);
    expect([...header.bytes.subarray(1, 5)]).toEqual([0x00, 0x10, 0x00, 0x00]);
    expect(header.bytes.subarray(5, 21)).toEqual(fileId);
    expect(header.bytes.subarray(21)).toEqual(sha256(new TextEncoder().encode('Parley_v1_FileKeyCommit'), key));
    expect(header.ad).toEqual(sha256(header.bytes));
    expect(parseAttachmentHeader(header.bytes, key)).toEqual(header);
  });

  it('a wrong key fails at the header with KEY_COMMITMENT_MISMATCH', () => {
    const other = key.slice();
    other[0]! ^= 1;
    expect(codeOf(() => parseAttachmentHeader(header.bytes, other))).toBe('KEY_COMMITMENT_MISMATCH');
  });

  it('another version or segment size is MALFORMED, a short header TRUNCATED, trailing bytes MALFORMED', () => {
    const version = header.bytes.slice();
    version[0] = 2;
    expect(codeOf(() => parseAttachmentHeader(version, key))).toBe('MALFORMED');
    const size = header.bytes.slice();
    size[2] = 0x20;
    expect(codeOf(() => parseAttachmentHeader(size, key))).toBe('MALFORMED');
    expect(codeOf(() => parseAttachmentHeader(header.bytes.subarray(0, 52), key))).toBe('TRUNCATED');
    expect(codeOf(() => parseAttachmentHeader(new Uint8Array(54), key))).toBe('MALFORMED');
  });
});

describe('segments', () => {
  const { key, fileId } = newAttachmentKey({ rng: deterministicRng('segments') });
  const { ad } = encodeAttachmentHeader(key, fileId);
  const full = plaintextOf(SEG, 'full');

  it('the nonce is seven zero bytes, the u32 index and the last flag', () => {
    expect([...segmentNonce(0x01020304, true)]).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 1]);
    expect([...segmentNonce(0, false)]).toEqual(new Array(12).fill(0));
    expect(() => segmentNonce(2 ** 32, false)).toThrow(RangeError);
  });

  it('a segment opens only at its own index, with its own flag, under its own AD', () => {
    const sealed = sealSegment(key, ad, 3, false, full);
    expect(same(openSegment(key, ad, 3, false, sealed), full)).toBe(true);
    expect(codeOf(() => openSegment(key, ad, 4, false, sealed))).toBe('SEGMENT_AUTH_FAILED');
    expect(codeOf(() => openSegment(key, sha256(ad), 3, false, sealed))).toBe('SEGMENT_AUTH_FAILED');
  });

  it('a full non-final segment taken as the last one is TRUNCATED; a full final one taken as non-final is TRAILING_DATA', () => {
    const middle = sealSegment(key, ad, 1, false, full);
    expect(codeOf(() => openSegment(key, ad, 1, true, middle))).toBe('TRUNCATED');
    const end = sealSegment(key, ad, 1, true, full);
    expect(codeOf(() => openSegment(key, ad, 1, false, end))).toBe('TRAILING_DATA');
  });

  it('sizes no segment can have are refused before any decryption', () => {
    expect(codeOf(() => openSegment(key, ad, 0, false, new Uint8Array(SEALED - 1)))).toBe('MALFORMED');
    expect(codeOf(() => openSegment(key, ad, 0, true, new Uint8Array(SEALED + 1)))).toBe('MALFORMED');
    expect(codeOf(() => openSegment(key, ad, 0, true, new Uint8Array(15)))).toBe('TRUNCATED');
    const emptyLast = aesGcmSeal(key, segmentNonce(2, true), new Uint8Array(0), ad);
    expect(codeOf(() => openSegment(key, ad, 2, true, emptyLast))).toBe('MALFORMED');
  });

  it('the detached seal is the same ciphertext and tag, and the digest takes tags either way', () => {
    const whole = sealSegment(key, ad, 5, true, full.subarray(0, 1234));
    const { ciphertext, tag } = sealSegmentDetached(key, ad, 5, true, full.subarray(0, 1234));
    expect(same(whole, new Uint8Array([...ciphertext, ...tag]))).toBe(true);
    const header = encodeAttachmentHeader(key, fileId).bytes;
    const a = new CiphertextDigest(header);
    a.addSealedSegment(whole);
    const b = new CiphertextDigest(header);
    b.addTag(tag);
    expect(a.digest()).toEqual(b.digest());
    expect(() => sealSegmentDetached(key, ad, 0, false, new Uint8Array(5))).toThrow(RangeError);
  });

  it('sealing refuses wrong segment sizes as bugs', () => {
    expect(() => sealSegment(key, ad, 0, false, new Uint8Array(SEG - 1))).toThrow(RangeError);
    expect(() => sealSegment(key, ad, 0, true, new Uint8Array(SEG + 1))).toThrow(RangeError);
    expect(() => sealSegment(key, ad, 1, true, new Uint8Array(0))).toThrow(RangeError);
    expect(sealSegment(key, ad, 0, true, new Uint8Array(0)).length).toBe(16);
  });
});

describe('whole attachments', () => {
  it('round trip: any plaintext comes back byte for byte, with the layout its length predicts', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 5_000 }), fc.integer(), (plaintext, seed) => {
        const sealed = sealAttachment(plaintext, { rng: deterministicRng(`rt/${seed}`) });
        expect(sealed.ciphertext.length).toBe(attachmentLayout(plaintext.length).ciphertextLength);
        expect(openAttachment(sealed.descriptor, sealed.ciphertext)).toEqual(plaintext);
      }),
      { numRuns: 200 },
    );
  });

  it('round trip across segment boundaries (0, 1, 2²⁰ − 1, 2²⁰, 2²⁰ + 1, 3·2²⁰ + 12,345 bytes)', () => {
    for (const length of [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG + 12_345]) {
      const { plaintext, sealed } = seal(length, `boundary-${length}`);
      expect(sealed.descriptor.paddedLength).toBe(padmeLength(length));
      expect(sealed.descriptor.plaintextSha256).toEqual(sha256(plaintext));
      expect(same(openAttachment(sealed.descriptor, sealed.ciphertext), plaintext)).toBe(true);
    }
  });

  it('the same plaintext under two keys gives unrelated ciphertexts (fresh key and file id per file)', () => {
    const plaintext = plaintextOf(1000);
    const a = sealAttachment(plaintext, { rng: deterministicRng('a') });
    const b = sealAttachment(plaintext, { rng: deterministicRng('b') });
    expect(a.fileId).not.toEqual(b.fileId);
    expect(a.ciphertext.subarray(53)).not.toEqual(b.ciphertext.subarray(53));
  });

  describe('tampering', () => {
    const { sealed } = seal(2 * SEG + 5_000, 'tamper'); // three segments, the last one short
    const expectedAt = (offset: number): ProtocolErrorCode => {
      if (offset === 0 || (offset >= 1 && offset < 5)) return 'MALFORMED'; // version, segment size
      if (offset >= 21 && offset < 53) return 'KEY_COMMITMENT_MISMATCH'; // the commitment
      return 'SEGMENT_AUTH_FAILED'; // file id (changes the AD) or any segment byte
    };

    it('flipping any bit of any byte makes opening fail with the code for that place, releasing nothing', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: sealed.ciphertext.length - 1 }), fc.integer({ min: 0, max: 7 }), (offset, bit) => {
          const ciphertext = sealed.ciphertext.slice();
          ciphertext[offset]! ^= 1 << bit;
          let released: Uint8Array | undefined;
          const code = codeOf(() => (released = openAttachment(sealed.descriptor, ciphertext)));
          expect(released).toBeUndefined();
          expect(code).toBe(expectedAt(offset));
        }),
        { numRuns: 60 },
      );
    });

    it('every segment tag and the first and last byte of every segment is covered (deterministic sweep)', () => {
      const offsets = [0, 3, 5, 20, 21, 52];
      for (let i = 0; i < 3; i++) {
        const start = sealedSegmentOffset(i);
        const end = Math.min(start + SEALED, sealed.ciphertext.length);
        offsets.push(start, end - 17, end - 16, end - 1);
      }
      for (const offset of offsets) {
        const ciphertext = sealed.ciphertext.slice();
        ciphertext[offset]! ^= 0x80;
        expect(codeOf(() => openAttachment(sealed.descriptor, ciphertext)), `offset ${offset}`).toBe(expectedAt(offset));
      }
    });

    it('two segments swapped (reordered) fail with SEGMENT_AUTH_FAILED', () => {
      const { sealed: four } = seal(4 * SEG, 'reorder');
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), (i, j) => {
          fc.pre(i !== j);
          const ciphertext = four.ciphertext.slice();
          ciphertext.set(four.ciphertext.subarray(sealedSegmentOffset(i), sealedSegmentOffset(i) + SEALED), sealedSegmentOffset(j));
          ciphertext.set(four.ciphertext.subarray(sealedSegmentOffset(j), sealedSegmentOffset(j) + SEALED), sealedSegmentOffset(i));
          expect(codeOf(() => openAttachment(four.descriptor, ciphertext))).toBe('SEGMENT_AUTH_FAILED');
        }),
        { numRuns: 12 },
      );
    });

    it('a segment swapped in from another file under the same key fails (the file id is in the AD)', () => {
      const plaintext = plaintextOf(2 * SEG, 'swap');
      const key = new Uint8Array(32).fill(7);
      const rngFor = (fileIdByte: number) => {
        let draws = 0;
        return (n: number): Uint8Array => (draws++ === 0 ? key.slice() : new Uint8Array(n).fill(fileIdByte));
      };
      const a = sealAttachment(plaintext, { rng: rngFor(1) });
      const b = sealAttachment(plaintext, { rng: rngFor(2) });
      const mixed = a.ciphertext.slice();
      mixed.set(b.ciphertext.subarray(sealedSegmentOffset(1)), sealedSegmentOffset(1));
      expect(codeOf(() => openAttachment(a.descriptor, mixed))).toBe('SEGMENT_AUTH_FAILED');
      const otherHeader = a.ciphertext.slice();
      otherHeader.set(b.ciphertext.subarray(0, 53), 0);
      expect(codeOf(() => openAttachment(a.descriptor, otherHeader))).toBe('SEGMENT_AUTH_FAILED');
    });

    it('the header of another file (another key) fails with KEY_COMMITMENT_MISMATCH', () => {
      const { sealed: other } = seal(2 * SEG + 5_000, 'other');
      const ciphertext = sealed.ciphertext.slice();
      ciphertext.set(other.ciphertext.subarray(0, 53), 0);
      expect(codeOf(() => openAttachment(sealed.descriptor, ciphertext))).toBe('KEY_COMMITMENT_MISMATCH');
    });

    it('a wrong key fails with KEY_COMMITMENT_MISMATCH', () => {
      const key = sealed.descriptor.key.slice();
      key[31]! ^= 1;
      expect(codeOf(() => openAttachment({ ...sealed.descriptor, key }, sealed.ciphertext))).toBe('KEY_COMMITMENT_MISMATCH');
    });

    it('truncation anywhere is TRUNCATED', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: sealed.ciphertext.length - 1 }), (cut) => {
          expect(codeOf(() => openAttachment(sealed.descriptor, sealed.ciphertext.subarray(0, cut)))).toBe('TRUNCATED');
        }),
        { numRuns: 40 },
      );
      expect(codeOf(() => openAttachment(sealed.descriptor, sealed.ciphertext.subarray(0, sealedSegmentOffset(2))))).toBe('TRUNCATED');
    });

    it('bytes after the final segment are TRAILING_DATA', () => {
      const longer = new Uint8Array(sealed.ciphertext.length + 1);
      longer.set(sealed.ciphertext);
      expect(codeOf(() => openAttachment(sealed.descriptor, longer))).toBe('TRAILING_DATA');
    });

    it('a dropped final segment of a segment-aligned file reads as TRUNCATED even without the announced length', () => {
      const { sealed: two } = seal(2 * SEG, 'aligned');
      const header = parseAttachmentHeader(two.ciphertext.subarray(0, 53), two.descriptor.key);
      const first = two.ciphertext.subarray(sealedSegmentOffset(0), sealedSegmentOffset(1));
      expect(codeOf(() => openSegment(two.descriptor.key, header.ad, 0, true, first))).toBe('TRUNCATED');
    });

    it('a ciphertext digest or plaintext SHA-256 other than the announced one is DIGEST_MISMATCH', () => {
      const digest = sealed.descriptor.ciphertextDigest.slice();
      digest[0]! ^= 1;
      expect(codeOf(() => openAttachment({ ...sealed.descriptor, ciphertextDigest: digest }, sealed.ciphertext))).toBe('DIGEST_MISMATCH');
      const hash = sealed.descriptor.plaintextSha256.slice();
      hash[0]! ^= 1;
      expect(codeOf(() => openAttachment({ ...sealed.descriptor, plaintextSha256: hash }, sealed.ciphertext))).toBe('DIGEST_MISMATCH');
    });

    it('announced lengths that do not match the ciphertext are refused before decrypting', () => {
      const descriptor: AttachmentDescriptor = { ...sealed.descriptor, length: 2 * SEG, paddedLength: 2 * SEG };
      expect(codeOf(() => openAttachment(descriptor, sealed.ciphertext))).toBe('TRAILING_DATA');
      expect(codeOf(() => openAttachment({ ...sealed.descriptor, paddedLength: sealed.descriptor.paddedLength + 1 }, sealed.ciphertext))).toBe('MALFORMED');
    });
  });

  describe('dishonest senders (holding the key)', () => {
    const key = new Uint8Array(32).fill(3);

    it('non-zero padding is MALFORMED', () => {
      const padded = new Uint8Array(1024).fill(0x41); // Padmé(1000) = 1024; the last 24 bytes should be zero
      const { ciphertext, digest } = sealByHand(key, [{ plaintext: padded, last: true }]);
      const descriptor = { key, length: 1000, paddedLength: 1024, ciphertextDigest: digest, plaintextSha256: sha256(padded.subarray(0, 1000)) };
      expect(codeOf(() => openAttachment(descriptor, ciphertext))).toBe('MALFORMED');
      padded.fill(0, 1000);
      const honest = sealByHand(key, [{ plaintext: padded, last: true }]);
      expect(openAttachment({ ...descriptor, ciphertextDigest: honest.digest }, honest.ciphertext)).toEqual(padded.subarray(0, 1000));
    });

    it('an empty final segment after a full one (a second encoding of 2²⁰ bytes) is MALFORMED', () => {
      const full = plaintextOf(SEG, 'second-encoding');
      const { ciphertext, digest } = sealByHand(key, [
        { plaintext: full, last: false },
        { plaintext: new Uint8Array(0), last: true },
      ]);
      const descriptor = { key, length: SEG, paddedLength: SEG, ciphertextDigest: digest, plaintextSha256: sha256(full) };
      // Its length is not the announced one, and segment by segment it is refused as well.
      expect(codeOf(() => openAttachment(descriptor, ciphertext))).toBe('TRAILING_DATA');
      const ad = parseAttachmentHeader(ciphertext.subarray(0, 53), key).ad;
      expect(codeOf(() => openSegment(key, ad, 1, true, ciphertext.subarray(sealedSegmentOffset(1))))).toBe('MALFORMED');
    });
  });
});
