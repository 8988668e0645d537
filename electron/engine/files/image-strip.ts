/**
 * Runs the image process (image-process.ts) for one outgoing image: a fresh child process per image
 * with nothing of the engine's environment, no keys and a time limit; the engine keeps only its
 * answer (dimensions, thumbnail) and the re-encoded file.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { workerEntry } from '../worker-entry.js';
import type { StripRequest, StripResult } from './image-process.js';

/** A decoder stuck on a crafted file is killed after this long. */
export const IMAGE_PROCESS_TIMEOUT_MS = 60_000;

export type StrippedImage = { readonly width: number; readonly height: number; readonly thumbnail: Uint8Array | null };

export class ImageStripError extends Error {
  override readonly name = 'ImageStripError';
}

/** Re-encodes `input` (an image of `mediaType`) into `output` without metadata; see image-process.ts. */
export function stripImage(req: StripRequest): Promise<StrippedImage> {
  const entry = fileURLToPath(workerEntry(import.meta.url, './image-process'));
  const child = fork(entry, [], {
    // Nothing of the engine's environment (no profile paths, no tokens); Electron's binary runs as Node.
    env: { ELECTRON_RUN_AS_NODE: '1', PATH: process.env.PATH ?? '' },
    execArgv: [],
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    serialization: 'advanced',
  });
  return new Promise<StrippedImage>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(new ImageStripError('the image process did not finish in time'));
    }, IMAGE_PROCESS_TIMEOUT_MS);
    const finish = (outcome: StrippedImage | ImageStripError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (outcome instanceof ImageStripError) reject(outcome);
      else resolve(outcome);
    };
    child.once('message', (m: StripResult) => {
      if (m.ok) finish({ width: m.width, height: m.height, thumbnail: m.thumbnail === null ? null : new Uint8Array(m.thumbnail) });
      else finish(new ImageStripError(m.message));
    });
    child.once('error', () => finish(new ImageStripError('the image process could not start')));
    child.once('exit', () => finish(new ImageStripError('the image process exited without an answer')));
    child.send(req);
  });
}
