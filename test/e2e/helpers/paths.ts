/** Repository paths the e2e helpers need (specs run from the compiled app in dist/ and renderer/dist/). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** What must be built before any spec runs (`npm run build`). */
export const BUILD_OUTPUTS: readonly string[] = [
  path.join(ROOT, 'dist', 'electron', 'browser-host', 'main.js'),
  path.join(ROOT, 'dist', 'electron', 'shell', 'main.js'),
  path.join(ROOT, 'dist', 'preload', 'preload.cjs'),
  path.join(ROOT, 'renderer', 'dist', 'index.html'),
];

/** Screenshots of main screens, kept after the run (issue 5 "Tests"). */
export const SCREENS_DIR = path.join(ROOT, 'test-results', 'screens');
