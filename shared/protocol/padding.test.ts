import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isProtocolError } from './errors.js';
import { pad, padInto, paddedLength, unpad, unpaddedLength } from './padding.js';

describe('padding', () => {
  it('property: padding into a reused, dirty buffer gives the bytes of pad(), and unpadding gives the plaintext back', () => {
    const reused = new Uint8Array(640);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 639 }), fc.integer({ min: 0, max: 255 }), (plaintext, dirt) => {
        reused.fill(dirt);
        const padded = padInto(plaintext, reused);
        expect(padded).toEqual(pad(plaintext));
        expect(padded.length).toBe(paddedLength(plaintext.length));
        expect(unpaddedLength(padded)).toBe(plaintext.length);
        expect(unpad(padded)).toEqual(plaintext);
      }),
      { numRuns: 300 },
    );
    expect(() => padInto(new Uint8Array(640), reused)).toThrow(RangeError);
  });

  it('a padding without its 0x80 marker in the last block, or a length off the block size, is MALFORMED', () => {
    const bad = [new Uint8Array(160), new Uint8Array(0), pad(new Uint8Array(10)).subarray(0, 150), Uint8Array.from([...pad(Uint8Array.of(1)), ...new Uint8Array(160)])];
    for (const b of bad) {
      let code: unknown;
      try {
        unpaddedLength(b);
      } catch (e) {
        code = isProtocolError(e) ? e.code : e;
      }
      expect(code).toBe('MALFORMED');
    }
  });
});
