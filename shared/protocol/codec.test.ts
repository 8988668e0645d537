import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CryptoError } from '../crypto/errors.js';
import { KeyType } from '../crypto/encoding.js';
import { SizedWriter, Writer, type ByteWriter } from './codec.js';

type Field =
  | { readonly kind: 'u8' | 'u16' | 'u32' | 'u64'; readonly value: number }
  | { readonly kind: 'bytes' | 'var16'; readonly value: Uint8Array }
  | { readonly kind: 'key'; readonly value: Uint8Array };

const field: fc.Arbitrary<Field> = fc.oneof(
  fc.record({ kind: fc.constant('u8' as const), value: fc.integer({ min: 0, max: 0xff }) }),
  fc.record({ kind: fc.constant('u16' as const), value: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ kind: fc.constant('u32' as const), value: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ kind: fc.constant('u64' as const), value: fc.maxSafeNat() }),
  fc.record({ kind: fc.constant('bytes' as const), value: fc.uint8Array({ maxLength: 80 }) }),
  fc.record({ kind: fc.constant('var16' as const), value: fc.uint8Array({ maxLength: 80 }) }),
  fc.record({ kind: fc.constant('key' as const), value: fc.uint8Array({ minLength: 32, maxLength: 32 }) }),
);

function write(w: ByteWriter, f: Field): void {
  switch (f.kind) {
    case 'bytes':
      w.bytes(f.value);
      break;
    case 'var16':
      w.var16(f.value);
      break;
    case 'key':
      w.key(KeyType.X25519, f.value);
      break;
    default:
      w[f.kind](f.value);
  }
}

function lengthOf(f: Field): number {
  switch (f.kind) {
    case 'u8':
      return 1;
    case 'u16':
      return 2;
    case 'u32':
      return 4;
    case 'u64':
      return 8;
    case 'key':
      return 33;
    case 'var16':
      return 2 + f.value.length;
    case 'bytes':
      return f.value.length;
  }
}

describe('codec writers', () => {
  it('property: SizedWriter writes exactly the bytes Writer writes, alone or inside a larger array', () => {
    fc.assert(
      fc.property(fc.array(field, { maxLength: 30 }), fc.nat({ max: 20 }), (fields, at) => {
        const w = new Writer();
        for (const f of fields) write(w, f);
        const expected = w.finish();
        const length = fields.reduce((n, f) => n + lengthOf(f), 0);
        const sized = new SizedWriter(length);
        for (const f of fields) write(sized, f);
        expect(sized.finish()).toEqual(expected);
        const around = new Uint8Array(at + length + 3).fill(0xee);
        const inner = new SizedWriter(length, around, at);
        for (const f of fields) write(inner, f);
        expect(inner.finish()).toEqual(expected);
        expect([...around.subarray(0, at), ...around.subarray(at + length)].every((b) => b === 0xee)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('SizedWriter refuses integers out of range and wrong key lengths as Writer does, and a length that does not match', () => {
    for (const w of [new Writer(), new SizedWriter(64)]) {
      expect(() => w.u8(256)).toThrow(RangeError);
      expect(() => w.u16(-1)).toThrow(RangeError);
      expect(() => w.u32(2 ** 32)).toThrow(RangeError);
      expect(() => w.u32(1.5)).toThrow(RangeError);
      expect(() => w.u64(-1)).toThrow(RangeError);
      expect(() => w.key(KeyType.X25519, new Uint8Array(31))).toThrow(CryptoError);
    }
    expect(() => new SizedWriter(4).u32(1).u8(1)).toThrow(/longer than its computed length/);
    expect(() => new SizedWriter(4).u16(1).finish()).toThrow(/shorter than its computed length/);
    expect(() => new SizedWriter(8, new Uint8Array(10), 3)).toThrow(/no room/);
  });
});
