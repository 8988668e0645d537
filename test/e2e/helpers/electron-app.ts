/**
 * Launches the real Electron app through Playwright's `_electron`, where an Electron binary exists.
 * The binary is found by file path (scripts/lib/electron-binary.mjs), never by loading the
 * `electron` module, which would start a download.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { _electron, type ElectronApplication, type Page } from '@playwright/test';
import { findElectronBinary } from '../../../scripts/lib/electron-binary.mjs';
import { ROOT } from './paths.js';

export function electronBinary(): { readonly found: true; readonly path: string } | { readonly found: false; readonly reason: string } {
  return findElectronBinary(path.join(ROOT, 'node_modules', 'electron'));
}

export type ElectronAppHandle = {
  readonly app: ElectronApplication;
  readonly window: Page;
  close(): Promise<void>;
};

export async function launchElectronApp(options: {
  executablePath: string;
  profile: string;
  dataRoot?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<ElectronAppHandle> {
  const ownRoot = options.dataRoot === undefined;
  const dataRoot = options.dataRoot ?? mkdtempSync(path.join(os.tmpdir(), 'parley-e2e-electron-'));
  const app = await _electron.launch({
    executablePath: options.executablePath,
    args: [ROOT, '--profile', options.profile],
    cwd: ROOT,
    env: { ...process.env, ...options.env, PARLEY_DATA_DIR: dataRoot } as Record<string, string>,
  });
  const window = await app.firstWindow();
  return {
    app,
    window,
    close: async () => {
      await app.close();
      if (ownRoot) rmSync(dataRoot, { recursive: true, force: true });
    },
  };
}
