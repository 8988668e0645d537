/**
 * The image process of a packaged app (issue 13): Electron's `utilityProcess` in place of a Node
 * child process. A packaged build flips the `runAsNode` fuse off (electron-builder.yml), so the
 * engine's default launcher (image-strip.ts `forkLauncher`, ELECTRON_RUN_AS_NODE) cannot start
 * there; a utility process runs image-process.js as a Node process the Electron way, with the same
 * minimal environment (only PATH: no profile paths, no tokens, no keys) and no output streams.
 * main.ts installs it with `useImageProcessLauncher` before the engine starts. Owns only the
 * adaptation of Electron's UtilityProcess to the engine's ImageChild; imports no `electron` value
 * (main.ts passes `utilityProcess` in), so it is unit-tested in Node.
 */
import type { ImageChild, ImageProcessLauncher } from '../engine/files/image-strip.js';

/** What this module needs of Electron's `utilityProcess` and the child it forks. */
export type UtilityProcessLike = {
  fork(
    modulePath: string,
    args: string[],
    options: { serviceName: string; env: Record<string, string>; stdio: 'ignore'; execArgv: string[] },
  ): {
    postMessage(message: unknown): void;
    once(event: 'message', listener: (message: unknown) => void): unknown;
    once(event: 'exit', listener: (code: number) => void): unknown;
    kill(): boolean;
  };
};

export const IMAGE_PROCESS_SERVICE_NAME = 'Parley image process';

export function utilityImageLauncher(utilityProcess: UtilityProcessLike, path = process.env.PATH ?? ''): ImageProcessLauncher {
  return (entry: string): ImageChild => {
    const child = utilityProcess.fork(entry, [], { serviceName: IMAGE_PROCESS_SERVICE_NAME, env: { PATH: path }, stdio: 'ignore', execArgv: [] });
    return {
      send: (request) => child.postMessage(request),
      onMessage: (handler) => void child.once('message', handler),
      onGone: (handler) => void child.once('exit', () => handler()),
      kill: () => void child.kill(),
    };
  };
}
