/**
 * The packaged app's image process (issue 13): image-launcher.ts adapts Electron's utilityProcess to
 * the engine's launcher. Electron cannot run here, so a stand-in `utilityProcess` forks the real
 * image-process entry with a `process.parentPort` like a utility process's (messages as `{ data }`,
 * answers by `postMessage`, no exit of its own) — the channel the packaged app uses. A photo with
 * GPS and other EXIF goes through that path and comes back re-encoded without them; the launcher
 * passes only PATH to the child, names the service and kills the child after its answer.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { forkLauncher, makeAvatar, stripImage, useImageProcessLauncher } from '../engine/files/image-strip.js';
import { IMAGE_PROCESS_SERVICE_NAME, utilityImageLauncher, type UtilityProcessLike } from './image-launcher.js';

const dir = mkdtempSync(path.join(tmpdir(), 'parley-image-launcher-'));
// What Electron gives a utility process: process.parentPort (messages arrive as { data }).
const shim = path.join(dir, 'parent-port.mjs');
writeFileSync(
  shim,
  `process.parentPort = {
  once(event, handler) { process.once('message', (data) => handler({ data })); },
  postMessage(message) { process.send({ viaParentPort: message }); },
};
process.channel?.unref();
`,
);

type ForkCall = { modulePath: string; args: string[]; options: Parameters<UtilityProcessLike['fork']>[2] };
const calls: ForkCall[] = [];
const children: ChildProcess[] = [];

/** A stand-in for Electron's utilityProcess: the entry runs in a Node child with a parentPort. */
const standIn: UtilityProcessLike = {
  fork(modulePath, args, options) {
    calls.push({ modulePath, args, options });
    const child = fork(modulePath, args, {
      env: options.env,
      execArgv: ['--import', pathToFileURL(shim).href],
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      serialization: 'advanced',
    });
    children.push(child);
    return {
      postMessage: (message) => void child.send(message as never),
      // Only answers posted on parentPort count (a plain process.send would be the fork channel's).
      once: (event: 'message' | 'exit', listener: (x: never) => void) =>
        event === 'message'
          ? child.once('message', (m: { viaParentPort?: unknown }) => {
              if (m && typeof m === 'object' && 'viaParentPort' in m) (listener as (x: unknown) => void)(m.viaParentPort);
            })
          : child.once('exit', listener as (code: number | null) => void),
      kill: () => child.kill('SIGKILL'),
    } as ReturnType<UtilityProcessLike['fork']>;
  },
};

afterEach(() => useImageProcessLauncher(forkLauncher));
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function photoWithGps(): Promise<Buffer> {
  return sharp({ create: { width: 64, height: 32, channels: 3, background: { r: 20, g: 120, b: 200 } } })
    .jpeg()
    .withExifMerge({ IFD0: { Make: 'ParleyCam' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2400/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 21/1 300/100' } })
    .withMetadata({ orientation: 6 })
    .toBuffer();
}

describe('the image process started as a utility process', () => {
  it('re-encodes a photo without its EXIF and GPS, through parentPort, with only PATH in its environment', async () => {
    useImageProcessLauncher(utilityImageLauncher(standIn, '/usr/bin:/bin'));
    const input = path.join(dir, 'in.jpg');
    const output = path.join(dir, 'out.jpg');
    const photo = await photoWithGps();
    expect((await sharp(photo).metadata()).exif?.includes(Buffer.from('ParleyCam'))).toBe(true);
    writeFileSync(input, photo);
    const stripped = await stripImage({ input, output, mediaType: 'image/jpeg' });
    expect({ width: stripped.width, height: stripped.height }).toEqual({ width: 32, height: 64 });
    expect(stripped.thumbnail?.length).toBeGreaterThan(0);
    const after = await sharp(readFileSync(output)).metadata();
    expect(after.exif).toBeUndefined();
    expect(after.orientation).toBeUndefined();
    expect(readFileSync(output).includes(Buffer.from('ParleyCam'))).toBe(false);

    const call = calls.at(-1)!;
    expect(path.basename(call.modulePath)).toMatch(/^image-process/);
    expect(call.args).toEqual([]);
    expect(call.options).toEqual({ serviceName: IMAGE_PROCESS_SERVICE_NAME, env: { PATH: '/usr/bin:/bin' }, stdio: 'ignore', execArgv: [] });
    // Killed after its answer (a utility process does not exit by itself).
    const child = children.at(-1)!;
    await new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
    expect(child.signalCode ?? child.exitCode).not.toBeNull();
  });

  it('makes an avatar the same way, and a picture that is not an image is the typed refusal, not a crash', async () => {
    useImageProcessLauncher(utilityImageLauncher(standIn));
    const avatar = await makeAvatar(new Uint8Array(await photoWithGps()), 64 * 1024);
    expect((await sharp(Buffer.from(avatar)).metadata()).format).toBe('webp');
    await expect(makeAvatar(new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"/>'), 64 * 1024)).rejects.toMatchObject({ name: 'AvatarImageError' });
  });

  it('a child that cannot start, or dies without answering, is a typed error', async () => {
    useImageProcessLauncher(() => {
      throw new Error('no such service');
    });
    await expect(stripImage({ input: '/nonexistent', output: path.join(dir, 'x.jpg'), mediaType: 'image/jpeg' })).rejects.toMatchObject({ name: 'ImageStripError' });
    const dying: UtilityProcessLike = {
      fork: (modulePath, args, options) => standIn.fork(path.join(dir, 'parent-port.mjs'), args, options),
    };
    useImageProcessLauncher(utilityImageLauncher(dying));
    await expect(stripImage({ input: '/nonexistent', output: path.join(dir, 'y.jpg'), mediaType: 'image/jpeg' })).rejects.toThrow(/exited without an answer/);
  });
});
