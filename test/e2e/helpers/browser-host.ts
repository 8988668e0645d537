/**
 * Starts a real browser host (`node scripts/start-browser.mjs --profile NAME --port 0 --no-open`) as a
 * child process, one per profile, with its data under a temporary PARLEY_DATA_DIR, and reads the
 * machine-readable ready line. The access key comes the way it reaches a person's browser: from the
 * profile's owner-only launch page (electron/browser-host/launch-state.ts), never from the host's
 * output. The e2e specs open `url` (or `launchFile`) in Chromium like a person would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from './paths.js';

/** Must match electron/browser-host/main.ts READY_PREFIX. */
const READY_PREFIX = 'PARLEY_BROWSER_HOST ';
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

export type BrowserHostProcess = {
  /** `http://127.0.0.1:PORT/#k=SECRET` (read from the launch page) */
  readonly url: string;
  /** The launch page the host opens in a browser (mode 0600, in the profile directory). */
  readonly launchFile: string;
  readonly origin: string;
  readonly port: number;
  /** The access key of this launch (the fragment's value). */
  readonly secret: string;
  readonly profile: string;
  readonly dataDir: string;
  /** stderr lines of the host (its refusal log). */
  readonly log: readonly string[];
  stop(): Promise<void>;
};

export async function launchBrowserHost(options: { profile: string; dataRoot?: string; env?: NodeJS.ProcessEnv }): Promise<BrowserHostProcess> {
  const ownRoot = options.dataRoot === undefined;
  const dataRoot = options.dataRoot ?? mkdtempSync(path.join(os.tmpdir(), 'parley-e2e-'));
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start-browser.mjs'), '--profile', options.profile, '--port', '0', '--no-open'], {
    cwd: ROOT,
    env: { ...process.env, ...options.env, PARLEY_DATA_DIR: dataRoot },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => log.push(line));

  const ready = await new Promise<{ origin: string; port: number; dataDir: string; launchFile: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`browser host did not start in ${START_TIMEOUT_MS} ms:\n${log.join('\n')}`)), START_TIMEOUT_MS);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith(READY_PREFIX)) return;
      clearTimeout(timer);
      resolve(JSON.parse(line.slice(READY_PREFIX.length)) as { origin: string; port: number; dataDir: string; launchFile: string });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`browser host exited (${code}) before it was ready:\n${log.join('\n')}`));
    });
  });

  const url = urlInLaunchPage(readFileSync(ready.launchFile, 'utf8'));
  return {
    ...ready,
    url,
    secret: new URL(url).hash.replace(/^#k=/, ''),
    profile: options.profile,
    log,
    stop: () => stopChild(child).finally(() => ownRoot && rmSync(dataRoot, { recursive: true, force: true })),
  };
}

/** The address with the key that the launch page's link points at. */
export function urlInLaunchPage(html: string): string {
  const href = /<a href="([^"]+)"/.exec(html)?.[1];
  if (href === undefined) throw new Error('the launch page has no link');
  return href.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
