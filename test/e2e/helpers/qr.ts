/**
 * Reads a QR code the way a phone would: a screenshot of what Chromium drew, decoded to pixels
 * (sharp) and scanned by an independent reader (jsQR), dark on light only.
 */
import { expect, type Locator } from '@playwright/test';
import jsQRModule from 'jsqr';
import sharp from 'sharp';

// jsqr is CommonJS typed as an ES module: under NodeNext its default import is the module object.
const jsQR = jsQRModule.default;

export async function scanQr(code: Locator): Promise<string> {
  const png = await code.screenshot();
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const found = jsQR(new Uint8ClampedArray(data.buffer, data.byteOffset, data.length), info.width, info.height, { inversionAttempts: 'dontInvert' });
  expect(found, 'the QR code on screen scans').not.toBeNull();
  return found!.data;
}
