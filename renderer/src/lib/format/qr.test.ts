/**
 * What the verification screen draws is a QR code a scanner reads back: the SVG path of qrSvgPath is
 * rasterised here (one pixel per module unit, times a scale) and decoded with jsQR, an independent
 * reader; the decoded text must be the payload. Also: the smallest version is chosen, the quiet
 * zone is kept, and a payload that fits no version is refused with a typed error.
 */
import fc from 'fast-check';
import jsQR from 'jsqr';
import { describe, expect, it } from 'vitest';
import { encodeQr, qrSvgPath, QrCapacityError, type ErrorCorrectionLevel } from './qr.js';

/** Rasterises the path ("M x y h1v1h-1z" squares) on white, `scale` pixels per module, as RGBA. */
function rasterise(path: string, extent: number, scale = 4): { data: Uint8ClampedArray; width: number } {
  const width = extent * scale;
  const data = new Uint8ClampedArray(width * width * 4).fill(255);
  for (const [, x, y] of path.matchAll(/M(\d+) (\d+)h1v1h-1z/g)) {
    for (let dy = 0; dy < scale; dy++) {
      for (let dx = 0; dx < scale; dx++) {
        const at = ((Number(y) * scale + dy) * width + Number(x) * scale + dx) * 4;
        data[at] = data[at + 1] = data[at + 2] = 0;
      }
    }
  }
  return { data, width };
}

function scan(text: string, ecl: ErrorCorrectionLevel, quietZone = 4): string | null {
  const code = encodeQr(text, ecl);
  const { data, width } = rasterise(qrSvgPath(code, quietZone), code.size + 2 * quietZone);
  return jsQR(data, width, width, { inversionAttempts: 'dontInvert' })?.data ?? null;
}

/** A safety-number payload as the engine sends it: base64url of 2 + 2 × 32 bytes. */
const SAFETY_NUMBER_PAYLOAD = Buffer.from(Uint8Array.from({ length: 66 }, (_, i) => (i * 37 + 11) & 0xff)).toString('base64url');

describe('QR codes as drawn', () => {
  it('a safety-number payload scans back to itself', () => {
    expect(scan(SAFETY_NUMBER_PAYLOAD, 'M')).toBe(SAFETY_NUMBER_PAYLOAD);
  });

  it('property: any base64url payload up to 400 characters scans back at every level', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{1,400}$/), fc.constantFrom<ErrorCorrectionLevel>('L', 'M', 'Q', 'H'), (text, ecl) => {
        expect(scan(text, ecl)).toBe(text);
      }),
      { numRuns: 40 },
    );
  });

  it('every module lies inside the quiet zone, and the symbol is square (version * 4 + 17)', () => {
    const code = encodeQr(SAFETY_NUMBER_PAYLOAD, 'M');
    expect(code.size).toBe(code.version * 4 + 17);
    expect(code.modules).toHaveLength(code.size);
    for (const [, x, y] of qrSvgPath(code, 4).matchAll(/M(\d+) (\d+)/g)) {
      for (const v of [Number(x), Number(y)]) expect(v >= 4 && v < code.size + 4).toBe(true);
    }
  });

  it('picks the smallest version that fits, and more text never needs a smaller one', () => {
    expect(encodeQr('a', 'M').version).toBe(1);
    let previous = 1;
    for (let n = 1; n <= 1200; n += 37) {
      const { version } = encodeQr('x'.repeat(n), 'M');
      expect(version).toBeGreaterThanOrEqual(previous);
      previous = version;
    }
  });

  it('refuses a payload that fits no version with QrCapacityError', () => {
    expect(() => encodeQr('x'.repeat(3000), 'H')).toThrow(QrCapacityError);
  });
});
