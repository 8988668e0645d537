/**
 * The image process (issue 13; DESIGN §3.7): a separate OS process that re-encodes the user's own
 * outgoing images with sharp — orientation applied, EXIF, GPS, XMP, ICC and every other metadata
 * dropped — and makes the thumbnail that travels inside the E2E message. It holds no keys: it is
 * started with a minimal environment and gets only two file paths; an image decoder exploited by a
 * crafted file finds nothing to steal here. Received images are never decoded in the engine (the
 * sandboxed renderer shows them).
 *
 * It also makes profile avatars (avatar-image.ts): an `AvatarRequest` carries the picture's bytes.
 *
 * Protocol: one `StripRequest` (or `AvatarRequest`) by IPC, one `StripResult` (or `AvatarResult`)
 * back, then the process exits (or is killed by its parent). The channel is Node's IPC when started
 * with fork, or Electron's `process.parentPort` when started as a utility process (the packaged app:
 * image-strip.ts `useImageProcessLauncher`).
 */
import sharp from 'sharp';
import { renderAvatar, type AvatarRequest, type AvatarResult } from './avatar-image.js';

export type StripRequest = { readonly input: string; readonly output: string; readonly mediaType: string };
export type StripResult =
  | {
      readonly ok: true;
      readonly width: number;
      readonly height: number;
      /** JPEG, at most maxThumbnailBytes. */
      readonly thumbnail: Uint8Array | null;
    }
  | { readonly ok: false; readonly message: string };

/** The thumbnail's longest side, in pixels, and its size cap (the pointer's limit). */
const THUMBNAIL_SIDE = 320;
const MAX_THUMBNAIL_BYTES = 48 * 1024;

async function strip(req: StripRequest): Promise<StripResult> {
  sharp.cache(false);
  // .rotate() applies the EXIF orientation; without .keepMetadata()/.withMetadata() sharp writes none.
  const image = sharp(req.input, { failOn: 'error', limitInputPixels: 100_000_000 }).rotate();
  const format = req.mediaType === 'image/png' ? 'png' : req.mediaType === 'image/webp' ? 'webp' : 'jpeg';
  const encoded = format === 'png' ? image.png() : format === 'webp' ? image.webp({ quality: 90 }) : image.jpeg({ quality: 90, mozjpeg: true });
  const info = await encoded.toFile(req.output);
  let thumbnail: Uint8Array | null = null;
  for (const quality of [70, 50, 35, 20]) {
    const bytes = await sharp(req.output).resize(THUMBNAIL_SIDE, THUMBNAIL_SIDE, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality }).toBuffer();
    if (bytes.length <= MAX_THUMBNAIL_BYTES) {
      thumbnail = new Uint8Array(bytes);
      break;
    }
  }
  return { ok: true, width: info.width, height: info.height, thumbnail };
}

function handle(req: StripRequest | AvatarRequest): Promise<StripResult | AvatarResult> {
  return 'kind' in req && req.kind === 'avatar'
    ? renderAvatar(req).catch((): AvatarResult => ({ ok: false, problem: 'not-an-image' }))
    : strip(req as StripRequest).catch((): StripResult => ({ ok: false, message: 'the image could not be decoded' }));
}

/** Electron's utility-process channel (absent in a Node child process). */
type ParentPort = { once(event: 'message', handler: (e: { data: unknown }) => void): void; postMessage(message: unknown): void };
const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;

if (parentPort) {
  // The parent kills the process once it has the answer: exiting here could drop the message in flight.
  parentPort.once('message', (e) => {
    handle(e.data as StripRequest | AvatarRequest).then(
      (result) => parentPort.postMessage(result),
      () => process.exit(1),
    );
  });
} else {
  process.once('message', (req: StripRequest | AvatarRequest) => {
    handle(req)
      .then((result) => process.send!(result, () => process.exit(0)))
      .catch(() => process.exit(1));
  });
}
