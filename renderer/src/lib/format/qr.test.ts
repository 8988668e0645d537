/**
 * The QR encoder against published values (ISO/IEC 18004 tables, the standard "HELLO WORLD" 1-M
 * Reed–Solomon example) and against a reader written here from the standard's placement rules,
 * which decodes every generated symbol back to its payload and checks every block's error
 * correction. A symbol was also checked once with a real scanner (zbarimg) when this was written.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  alignmentPatternPositions,
  dataCodewords,
  encodeQr,
  formatBits,
  maskApplies,
  QrCapacityError,
  reedSolomonDivisor,
  reedSolomonRemainder,
  versionBits,
  type ErrorCorrectionLevel,
  type QrCode,
} from './qr.js';

describe('tables and codes', () => {
  it('Reed–Solomon: the "HELLO WORLD" 1-M example', () => {
    const data = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17];
    expect(reedSolomonRemainder(data, reedSolomonDivisor(10))).toEqual([196, 35, 39, 119, 235, 215, 231, 226, 93, 23]);
  });

  it('format information matches the standard table', () => {
    expect(formatBits('L', 0)).toBe(0b111011111000100);
    expect(formatBits('L', 4)).toBe(0b110011000101111);
    expect(formatBits('M', 0)).toBe(0b101010000010010);
    expect(formatBits('Q', 0)).toBe(0b011010101011111);
    expect(formatBits('H', 0)).toBe(0b001011010001001);
  });

  it('version information matches the standard table', () => {
    expect(versionBits(7)).toBe(0x07c94);
    expect(versionBits(21)).toBe(0x15683);
    expect(versionBits(40)).toBe(0x28c69);
  });

  it('alignment pattern centres match the standard table', () => {
    expect(alignmentPatternPositions(1)).toEqual([]);
    expect(alignmentPatternPositions(2)).toEqual([6, 18]);
    expect(alignmentPatternPositions(7)).toEqual([6, 22, 38]);
    expect(alignmentPatternPositions(32)).toEqual([6, 34, 60, 86, 112, 138]);
    expect(alignmentPatternPositions(40)).toEqual([6, 30, 58, 86, 114, 142, 170]);
  });

  it('data capacities match the standard (byte mode: codewords minus mode and length)', () => {
    expect(dataCodewords(1, 'M')).toBe(16);
    expect(dataCodewords(5, 'M')).toBe(86);
    expect(dataCodewords(10, 'H')).toBe(122);
    expect(dataCodewords(40, 'L')).toBe(2956);
  });

  it('picks the smallest version that fits and refuses what fits none', () => {
    expect(encodeQr('x'.repeat(14), 'M').version).toBe(1);
    expect(encodeQr('x'.repeat(15), 'M').version).toBe(2);
    expect(encodeQr('x'.repeat(2953), 'L').version).toBe(40);
    expect(() => encodeQr('x'.repeat(2954), 'L')).toThrow(QrCapacityError);
  });
});

// ── An independent reader ───────────────────────────────────────────────────

const FORMAT_ECL: Record<number, ErrorCorrectionLevel> = { 1: 'L', 0: 'M', 3: 'Q', 2: 'H' };
// Table 9, blocks per level (L, M, Q, H) for the versions the property test uses (1-12).
const BLOCKS: Record<ErrorCorrectionLevel, number[]> = {
  L: [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4],
  M: [0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8],
  Q: [0, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10],
  H: [0, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11],
};

function reserved(version: number): boolean[][] {
  const size = version * 4 + 17;
  const r = Array.from({ length: size }, () => new Array<boolean>(size).fill(false));
  const mark = (x: number, y: number) => {
    if (x >= 0 && y >= 0 && x < size && y < size) r[y]![x] = true;
  };
  for (let i = 0; i < size; i++) {
    mark(6, i);
    mark(i, 6);
  }
  for (let y = 0; y < 9; y++) for (let x = 0; x < 9; x++) mark(x, y); // finder + separator + format
  for (let y = 0; y < 9; y++) for (let x = size - 8; x < size; x++) mark(x, y);
  for (let y = size - 8; y < size; y++) for (let x = 0; x < 9; x++) mark(x, y);
  const p = alignmentPatternPositions(version);
  for (const cy of p) {
    for (const cx of p) {
      if (r[cy]![cx]) continue; // overlaps a finder
      for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) mark(cx + dx, cy + dy);
    }
  }
  if (version >= 7) {
    for (let i = 0; i < 18; i++) {
      mark(size - 11 + (i % 3), Math.floor(i / 3));
      mark(Math.floor(i / 3), size - 11 + (i % 3));
    }
  }
  return r;
}

function read(code: QrCode): { payload: Uint8Array; ecl: ErrorCorrectionLevel; mask: number } {
  const { modules, size, version } = code;
  // Format bits, first copy (around the top-left finder), bit 14 first.
  const positions: [number, number][] = [
    [8, 0], [8, 1], [8, 2], [8, 3], [8, 4], [8, 5], [8, 7], [8, 8], [7, 8], [5, 8], [4, 8], [3, 8], [2, 8], [1, 8], [0, 8],
  ];
  let bits = 0;
  positions.forEach(([x, y], i) => (bits |= (modules[y]![x] ? 1 : 0) << i));
  const raw = bits ^ 0x5412;
  const ecl = FORMAT_ECL[raw >>> 13]!;
  const mask = (raw >>> 10) & 7;
  expect(formatBits(ecl, mask)).toBe(bits);
  // Second copy agrees.
  let second = 0;
  for (let i = 0; i < 8; i++) second |= (modules[8]![size - 1 - i] ? 1 : 0) << i;
  for (let i = 8; i < 15; i++) second |= (modules[size - 15 + i]![8] ? 1 : 0) << i;
  expect(second).toBe(bits);
  expect(modules[size - 8]![8]).toBe(true); // dark module

  const res = reserved(version);
  const stream: number[] = [];
  let upward = true;
  for (let right = size - 1; right > 0; right -= 2) {
    if (right === 6) right--;
    for (let k = 0; k < size; k++) {
      const y = upward ? size - 1 - k : k;
      for (const x of [right, right - 1]) {
        if (!res[y]![x]) stream.push(modules[y]![x] !== maskApplies(mask, x, y) ? 1 : 0);
      }
    }
    upward = !upward;
  }
  const total = Math.floor(stream.length / 8);
  const codewords = Array.from({ length: total }, (_, i) => stream.slice(i * 8, i * 8 + 8).reduce((a, b) => (a << 1) | b, 0));
  const numBlocks = BLOCKS[ecl][version]!;
  const dataTotal = dataCodewords(version, ecl);
  const eccLen = (total - dataTotal) / numBlocks;
  const shortData = Math.floor(dataTotal / numBlocks);
  const longBlocks = dataTotal % numBlocks;
  const blocks = Array.from({ length: numBlocks }, (_, i) => ({ data: [] as number[], ecc: [] as number[], len: shortData + (i >= numBlocks - longBlocks ? 1 : 0) }));
  let k = 0;
  for (let i = 0; i < shortData + 1; i++) for (const b of blocks) if (i < b.len) b.data.push(codewords[k++]!);
  for (let i = 0; i < eccLen; i++) for (const b of blocks) b.ecc.push(codewords[k++]!);
  for (const b of blocks) expect(reedSolomonRemainder(b.data, reedSolomonDivisor(eccLen))).toEqual(b.ecc);
  const data = blocks.flatMap((b) => b.data);
  const bitAt = (i: number) => (data[i >>> 3]! >>> (7 - (i & 7))) & 1;
  const take = (from: number, n: number) => Array.from({ length: n }, (_, i) => bitAt(from + i)).reduce((a, b) => (a << 1) | b, 0);
  expect(take(0, 4)).toBe(0b0100);
  const countBits = version <= 9 ? 8 : 16;
  const length = take(4, countBits);
  const payload = Uint8Array.from({ length }, (_, i) => take(4 + countBits + i * 8, 8));
  return { payload, ecl, mask };
}

describe('encodeQr round trip', () => {
  it('decodes back to the payload at every level, with valid error correction in every block', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.constantFrom<ErrorCorrectionLevel>('L', 'M', 'Q', 'H'), (bytes, ecl) => {
        const code = encodeQr(bytes, ecl);
        fc.pre(code.version <= 12);
        const decoded = read(code);
        expect(decoded.ecl).toBe(ecl);
        expect(decoded.mask).toBe(code.mask);
        expect([...decoded.payload]).toEqual([...bytes]);
      }),
      { numRuns: 150 },
    );
  });

  it('a safety-number payload (88 base64url characters) is a version 6-M symbol', () => {
    const payload = 'A'.repeat(88);
    const code = encodeQr(payload, 'M');
    expect(code.version).toBe(6);
    expect(new TextDecoder().decode(read(code).payload)).toBe(payload);
  });
});
