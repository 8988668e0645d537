/**
 * Runs the image process (image-process.ts) for one image: a fresh child process per image with
 * nothing of the engine's environment, no keys and a time limit; the engine keeps only its answer.
 * Two jobs: re-encoding an outgoing image without metadata (stripImage: dimensions, thumbnail and
 * the re-encoded file) and making a profile avatar from a picture (makeAvatar: the WebP bytes).
 *
 * How the process is started is the host's (`useImageProcessLauncher`): by default a Node child
 * process with Electron's binary run as Node (`forkLauncher`: the browser host, tests, `npm start`);
 * a packaged Electron app has the `runAsNode` fuse off, so its shell installs a launcher on
 * Electron's `utilityProcess` instead (electron/shell/image-launcher.ts). Either way the child gets
 * one request and answers once (image-process.ts speaks both channels), and is killed after its
 * answer or its time limit.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { workerEntry } from '../worker-entry.js';
import type { AvatarProblem, AvatarRequest, AvatarResult } from './avatar-image.js';
import type { StripRequest, StripResult } from './image-process.js';

/** A decoder stuck on a crafted file is killed after this long. */
export const IMAGE_PROCESS_TIMEOUT_MS = 60_000;

export type StrippedImage = { readonly width: number; readonly height: number; readonly thumbnail: Uint8Array | null };

export class ImageStripError extends Error {
  override readonly name = 'ImageStripError';
}

/** Why a picture could not become an avatar: its own problem, or the process failing ('failed'). */
export class AvatarImageError extends Error {
  override readonly name = 'AvatarImageError';
  constructor(readonly problem: AvatarProblem | 'failed') {
    super(`the picture could not be made an avatar (${problem})`);
  }
}

/** A started image process, as runImageProcess uses it (whatever started it). */
export type ImageChild = {
  send(request: StripRequest | AvatarRequest): void;
  /** The child's one answer (structured-clone data). */
  onMessage(handler: (message: unknown) => void): void;
  /** The child is gone (exited, killed, or could not start). */
  onGone(handler: () => void): void;
  kill(): void;
};

/** Starts image-process.js (`entry`: its file path) with nothing of the engine's environment. */
export type ImageProcessLauncher = (entry: string) => ImageChild;

/** A Node child process; Electron's binary runs as Node (ELECTRON_RUN_AS_NODE) where the fuse allows it. */
export const forkLauncher: ImageProcessLauncher = (entry) => {
  const child = fork(entry, [], {
    // Nothing of the engine's environment (no profile paths, no tokens).
    env: { ELECTRON_RUN_AS_NODE: '1', PATH: process.env.PATH ?? '' },
    execArgv: [],
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    serialization: 'advanced',
  });
  return {
    send: (request) => void child.send(request),
    onMessage: (handler) => void child.once('message', handler),
    onGone: (handler) => {
      child.once('error', handler);
      child.once('exit', handler);
    },
    kill: () => void child.kill('SIGKILL'),
  };
};

let launcher: ImageProcessLauncher = forkLauncher;

/** The host's way of starting image processes from now on (the Electron shell: utilityProcess). */
export function useImageProcessLauncher(next: ImageProcessLauncher): void {
  launcher = next;
}

/** One request to a fresh image process and its one answer; rejects when the process fails or hangs. */
function runImageProcess<Res>(req: StripRequest | AvatarRequest): Promise<Res> {
  const entry = fileURLToPath(workerEntry(import.meta.url, './image-process'));
  let child: ImageChild;
  try {
    child = launcher(entry);
  } catch {
    return Promise.reject(new ImageStripError('the image process could not start'));
  }
  return new Promise<Res>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => finish(new ImageStripError('the image process did not finish in time')), IMAGE_PROCESS_TIMEOUT_MS);
    const finish = (outcome: { answer: Res } | ImageStripError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // One answer per process: it is stopped whatever happened (a utility process does not exit by itself).
      child.kill();
      if (outcome instanceof ImageStripError) reject(outcome);
      else resolve(outcome.answer);
    };
    child.onMessage((m) => finish({ answer: m as Res }));
    child.onGone(() => finish(new ImageStripError('the image process exited without an answer')));
    child.send(req);
  });
}

/** Re-encodes `input` (an image of `mediaType`) into `output` without metadata; see image-process.ts. */
export async function stripImage(req: StripRequest): Promise<StrippedImage> {
  const m = await runImageProcess<StripResult>(req);
  if (!m.ok) throw new ImageStripError(m.message);
  return { width: m.width, height: m.height, thumbnail: m.thumbnail === null ? null : new Uint8Array(m.thumbnail) };
}

/**
 * A square WebP avatar of at most `maxBytes` from the bytes of a picture the user chose, made in
 * the image process (avatar-image.ts); AvatarImageError says why not.
 */
export async function makeAvatar(input: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  let m: AvatarResult;
  try {
    m = await runImageProcess<AvatarResult>({ kind: 'avatar', input, maxBytes });
  } catch {
    throw new AvatarImageError('failed');
  }
  if (!m.ok) throw new AvatarImageError(m.problem);
  return new Uint8Array(m.bytes);
}
