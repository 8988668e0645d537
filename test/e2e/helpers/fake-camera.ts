/**
 * A camera for the e2e specs: Chromium's fake capture device (`--use-fake-device-for-media-stream
 * --use-file-for-fake-video-capture=FILE`) plays a Y4M file, written here at test time from what the
 * camera should see — a screenshot of the other person's QR code on their screen, or a QR code drawn
 * from a text with the `qrcode` package — centred on a white 640×480 picture. The browser with that
 * camera is launched per file (Chromium reads the switch at start-up).
 */
import { writeFileSync } from 'node:fs';
import type { Browser, Locator, PlaywrightWorkerArgs } from '@playwright/test';
import QRCode from 'qrcode';
import sharp from 'sharp';
import { CHROMIUM_ARGS, CHROMIUM_EXECUTABLE } from './chromium.js';

const WIDTH = 640;
const HEIGHT = 480;

/**
 * One 4:2:0 frame of a grey picture (luma from the RGBA pixels, chroma neutral), as a Y4M file:
 * "YUV4MPEG2 W H F1:1 Ip A1:1 C420jpeg", then "FRAME" and the Y, U and V planes.
 */
export function writeY4m(file: string, rgba: Uint8Array, width: number, height: number): void {
  if (width % 2 !== 0 || height % 2 !== 0) throw new RangeError('Y4M 4:2:0 needs even dimensions');
  const luma = new Uint8Array(width * height);
  for (let i = 0; i < luma.length; i++) {
    const [r, g, b] = [rgba[i * 4]!, rgba[i * 4 + 1]!, rgba[i * 4 + 2]!];
    // BT.601 full-range luma (the "jpeg" chroma siting is full range too).
    luma[i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
  }
  const chroma = new Uint8Array((width / 2) * (height / 2)).fill(128);
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F1:1 Ip A1:1 C420jpeg\nFRAME\n`, 'ascii');
  writeFileSync(file, Buffer.concat([header, luma, chroma, chroma]));
}

/** A white WIDTH×HEIGHT RGBA picture with `image` (side × side, RGBA) in the middle. */
function centred(image: Uint8Array, side: number): Uint8Array {
  const out = new Uint8Array(WIDTH * HEIGHT * 4).fill(255);
  const left = Math.floor((WIDTH - side) / 2);
  const top = Math.floor((HEIGHT - side) / 2);
  for (let y = 0; y < side; y++) out.set(image.subarray(y * side * 4, (y + 1) * side * 4), ((top + y) * WIDTH + left) * 4);
  return out;
}

/** The camera sees what is on screen at `code` (a QR code), scaled to fit. */
export async function cameraFileFromScreen(code: Locator, file: string): Promise<void> {
  const side = 360;
  const png = await code.screenshot();
  const { data } = await sharp(png).resize(side, side, { fit: 'contain', background: '#ffffff' }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  writeY4m(file, centred(new Uint8Array(data.buffer, data.byteOffset, data.length), side), WIDTH, HEIGHT);
}

/** The camera sees a QR code of `text`, drawn by the `qrcode` package with a quiet zone of 4. */
export function cameraFileFromText(text: string, file: string): void {
  const symbol = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const modules = symbol.modules.size;
  const scale = Math.floor(360 / (modules + 8));
  const side = (modules + 8) * scale;
  const image = new Uint8Array(side * side * 4).fill(255);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const mx = Math.floor(x / scale) - 4;
      const my = Math.floor(y / scale) - 4;
      const dark = mx >= 0 && my >= 0 && mx < modules && my < modules && symbol.modules.get(my, mx) === 1;
      if (dark) image.fill(0, (y * side + x) * 4, (y * side + x) * 4 + 3);
    }
  }
  writeY4m(file, centred(image, side), WIDTH, HEIGHT);
}

/** Debian's Chromium with a fake camera playing `file`. */
export function launchWithCamera(playwright: PlaywrightWorkerArgs['playwright'], file: string): Promise<Browser> {
  return playwright.chromium.launch({
    executablePath: CHROMIUM_EXECUTABLE,
    args: [...CHROMIUM_ARGS, '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${file}`],
  });
}
