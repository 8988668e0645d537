/**
 * `npm run start:browser`'s host as a child process (the built dist/, started through
 * scripts/start-browser.mjs like the e2e helpers do), with a stand-in `xdg-open` first on PATH that
 * records the command line it was given — what every local user can read in /proc (issue 10,
 * item 8). Every token in that command line and in every line the host printed is tried as the
 * access key against the host's own socket: none may open it. The key does reach the owner, through
 * the launch page (mode 0600), and `--print-url` prints it on request. Also the remembered port
 * (issue 12): the same port from launch to launch while it is free, another when it is taken.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const READY_PREFIX = 'PARLEY_BROWSER_HOST ';
type Ready = { origin: string; port: number; dataDir: string; launchFile: string; url?: string };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A directory with an `xdg-open` that writes each argument it gets on a line of `argvFile`. */
function recordingOpener() {
  const bin = tempDir('parley-opener-');
  const argvFile = path.join(bin, 'argv');
  writeFileSync(path.join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$@" > ${JSON.stringify(argvFile)}.tmp && mv ${JSON.stringify(argvFile)}.tmp ${JSON.stringify(argvFile)}\n`);
  chmodSync(path.join(bin, 'xdg-open'), 0o755);
  return { bin, argvFile };
}

type Launched = { child: ChildProcess; ready: Ready; output: string[]; stop(): Promise<void> };

async function launch(dataRoot: string, args: string[], pathPrefix?: string): Promise<Launched> {
  const env: NodeJS.ProcessEnv = { ...process.env, PARLEY_DATA_DIR: dataRoot, PARLEY_RELAY_URL: 'http://127.0.0.1:9' };
  if (pathPrefix) env.PATH = `${pathPrefix}${path.delimiter}${env.PATH ?? ''}`;
  const child = spawn(process.execPath, [path.join(root, 'scripts', 'start-browser.mjs'), '--profile', 'launch', ...args], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  cleanups.push(stop);
  const ready = await new Promise<Ready>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      if (line.startsWith(READY_PREFIX)) resolve(JSON.parse(line.slice(READY_PREFIX.length)) as Ready);
    });
    child.once('close', (code) => reject(new Error(`the host exited (${code}) before it was ready:\n${output.join('\n')}`)));
  });
  return { child, ready, output, stop };
}

async function waitForFile(file: string): Promise<string> {
  for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 50));
  return readFileSync(file, 'utf8');
}

/** Whether `key` opens the host's socket (a hello with the right Origin answered by `ready`). */
function keyOpens(origin: string, key: string): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${origin.replace('http:', 'ws:')}/ws`, { origin });
    let ready = false;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', secret: key })));
    ws.on('message', (data) => {
      if (String(data).includes('"type":"ready"')) {
        ready = true;
        ws.close();
      }
    });
    ws.on('close', () => resolve(ready));
    ws.on('error', () => resolve(false));
  });
}

/** Every 43-character window of every base64url run of at least 43 characters (a key is 43). */
function keyCandidates(text: string): string[] {
  const out = new Set<string>();
  for (const [run] of text.matchAll(/[A-Za-z0-9_-]{43,}/g)) for (let i = 0; i + 43 <= run.length; i++) out.add(run.slice(i, i + 43));
  return [...out];
}

const keyInLaunchPage = (file: string) => /#k=([A-Za-z0-9_-]{43})/.exec(readFileSync(file, 'utf8'))?.[1];

describe('the browser host keeps its access key off command lines and out of its output (issue 10, item 8)', () => {
  it('opens the browser on a file path, prints no usable key, and gives the key to the owner in a 0600 page', async () => {
    const opener = recordingOpener();
    const host = await launch(tempDir('parley-launch-data-'), [], opener.bin);
    const argv = await waitForFile(opener.argvFile);

    // What every local user could read: the opener's command line and the host's output.
    const exposed = `${argv}\n${host.output.join('\n')}`;
    const candidates = keyCandidates(exposed);
    for (const candidate of candidates) expect(await keyOpens(host.ready.origin, candidate), `a key in: ${exposed}`).toBe(false);
    expect(argv.trim().split('\n')).toEqual([pathToFileURL(host.ready.launchFile).href]);

    // The owner's channel: the launch page, readable by the owner only, holds a key that works.
    expect(statSync(host.ready.launchFile).mode & 0o777).toBe(0o600);
    const key = keyInLaunchPage(host.ready.launchFile);
    expect(key).toBeDefined();
    expect(await keyOpens(host.ready.origin, key!)).toBe(true);
    expect(exposed).not.toContain(key!);
    expect(host.ready.url).toBeUndefined();

    await host.stop();
    expect(existsSync(host.ready.launchFile)).toBe(false);
  });

  it('prints the address with the key when asked with --print-url', async () => {
    const host = await launch(tempDir('parley-launch-data-'), ['--no-open', '--print-url']);
    const key = keyInLaunchPage(host.ready.launchFile)!;
    expect(host.ready.url).toMatch(new RegExp(`^${host.ready.origin}/.*#k=${key}$`));
    expect(host.output.some((line) => !line.startsWith(READY_PREFIX) && line.includes(host.ready.url!))).toBe(true);
    expect(await keyOpens(host.ready.origin, key)).toBe(true);
  });
});

describe('the browser host keeps its port per profile (issue 12)', () => {
  it('reuses the last port while it is free, and takes (and remembers) another when it is not', async () => {
    const dataRoot = tempDir('parley-launch-data-');
    const first = await launch(dataRoot, ['--no-open']);
    await first.stop();
    const second = await launch(dataRoot, ['--no-open']);
    expect(second.ready.port).toBe(first.ready.port);
    await second.stop();

    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(first.ready.port, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
    const third = await launch(dataRoot, ['--no-open']);
    expect(third.ready.port).not.toBe(first.ready.port);
    await third.stop();
    const fourth = await launch(dataRoot, ['--no-open']);
    expect(fourth.ready.port).toBe(third.ready.port);
  });

  it('says so, and exits, when an explicitly asked port is taken', async () => {
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
    const port = (squatter.address() as { port: number }).port;
    await expect(launch(tempDir('parley-launch-data-'), ['--no-open', '--port', String(port)])).rejects.toThrow(
      new RegExp(`exited \\(1\\)[\\s\\S]*Port ${port} is in use`),
    );
  });
});
