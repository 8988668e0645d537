/**
 * Avatars inside the image process (issue 12, docs/adr/0022-avatars-and-unblock.md): the picture
 * the user chose becomes a square WebP of at most AVATAR_SIDE pixels and at most the profile's
 * avatar size (docs/protocol.md §18.2), with orientation applied and no metadata (sharp writes none
 * unless asked). Runs only in the keyless image process (image-process.ts), never in the engine.
 *
 * Bad input is an answer, not a crash: a file that is not an image of a readable format, a header
 * promising more than AVATAR_MAX_INPUT_PIXELS (a decompression bomb is refused before any pixel
 * is decoded), a damaged image, or one that cannot get under the size cap. Only the first frame of
 * an animation is kept. Does not own the process (image-process.ts) or the time limit
 * (image-strip.ts).
 */
import sharp from 'sharp';

/** The longest side of an avatar, in pixels (smaller pictures are not enlarged). */
export const AVATAR_SIDE = 512;
/** Pictures with more pixels than this are refused from their header (a 64-megapixel photo passes). */
export const AVATAR_MAX_INPUT_PIXELS = 8192 * 8192;
/** What sharp reads here; anything else (SVG, PDF, TIFF, raw pixel data…) is refused unread. */
const READABLE_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'heif']);

export type AvatarRequest = { readonly kind: 'avatar'; readonly input: Uint8Array; readonly maxBytes: number };
export type AvatarProblem = 'not-an-image' | 'too-many-pixels' | 'too-large';
export type AvatarResult = { readonly ok: true; readonly bytes: Uint8Array; readonly side: number } | { readonly ok: false; readonly problem: AvatarProblem };

/** Smaller sides and lower qualities are tried in this order until the WebP fits. */
const ATTEMPTS: readonly (readonly [side: number, quality: number])[] = [
  [AVATAR_SIDE, 82],
  [AVATAR_SIDE, 65],
  [AVATAR_SIDE, 50],
  [384, 50],
  [256, 45],
  [192, 35],
];

export async function renderAvatar(req: AvatarRequest): Promise<AvatarResult> {
  sharp.cache(false);
  const options = { failOn: 'error', limitInputPixels: AVATAR_MAX_INPUT_PIXELS, pages: 1 } as const;
  let width: number;
  let height: number;
  try {
    const meta = await sharp(req.input, options).metadata();
    if (!meta.format || !READABLE_FORMATS.has(meta.format) || !meta.width || !meta.height) return { ok: false, problem: 'not-an-image' };
    width = meta.width;
    height = meta.height;
  } catch (e) {
    return { ok: false, problem: tooManyPixels(e) ? 'too-many-pixels' : 'not-an-image' };
  }
  if (width * height > AVATAR_MAX_INPUT_PIXELS) return { ok: false, problem: 'too-many-pixels' };
  const natural = Math.min(width, height);
  try {
    for (const [maxSide, quality] of ATTEMPTS) {
      const side = Math.min(natural, maxSide);
      const out = await sharp(req.input, options)
        .rotate()
        .resize(side, side, { fit: 'cover', position: 'centre' })
        .webp({ quality, effort: 4 })
        .toBuffer();
      if (out.length <= req.maxBytes) return { ok: true, bytes: new Uint8Array(out.buffer, out.byteOffset, out.length), side };
    }
  } catch (e) {
    return { ok: false, problem: tooManyPixels(e) ? 'too-many-pixels' : 'not-an-image' };
  }
  return { ok: false, problem: 'too-large' };
}

/** sharp's refusal of a header over limitInputPixels (its only signal is the message). */
function tooManyPixels(e: unknown): boolean {
  return e instanceof Error && /pixel limit/i.test(e.message);
}
