/**
 * QR codes for the verification screen's safety number (and, later, device linking), made by the
 * maintained `qrcode` package (ISO/IEC 18004: segment modes, versions 1-40, Reed–Solomon, masking)
 * rather than an encoder of our own. This module only picks the options, turns the symbol into a
 * square matrix of booleans (true = dark, no quiet zone) and draws it as one SVG path, which
 * QrCode.svelte shows (no images, no script: it fits the CSP). docs/adr has the decision.
 */
import { create } from 'qrcode';

export type ErrorCorrectionLevel = 'L' | 'M' | 'Q' | 'H';

export type QrCode = {
  readonly version: number;
  /** Modules per side (version * 4 + 17). */
  readonly size: number;
  /** modules[y][x], true = dark. */
  readonly modules: readonly (readonly boolean[])[];
};

/** The payload does not fit any QR version at this level. */
export class QrCapacityError extends RangeError {
  override readonly name = 'QrCapacityError';
}

/** Encodes `text` at the smallest version that fits. */
export function encodeQr(text: string, ecl: ErrorCorrectionLevel = 'M'): QrCode {
  let symbol;
  try {
    symbol = create(text, { errorCorrectionLevel: ecl });
  } catch (e) {
    // The package says so only in its message.
    if (e instanceof Error && /too big/.test(e.message)) throw new QrCapacityError(`${text.length} characters do not fit a QR code at level ${ecl}`);
    throw e;
  }
  const { size } = symbol.modules;
  const modules = Array.from({ length: size }, (_, y) => Array.from({ length: size }, (_, x) => symbol.modules.get(y, x) === 1));
  return { version: symbol.version, size, modules };
}

/** An SVG path ("M x y h1 v1 h-1 z …") drawing every dark module, offset by a quiet zone. */
export function qrSvgPath(code: QrCode, quietZone = 4): string {
  const parts: string[] = [];
  code.modules.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) parts.push(`M${x + quietZone} ${y + quietZone}h1v1h-1z`);
    }),
  );
  return parts.join('');
}
