// Where the Electron binary is, decided by file path only: loading the `electron` module would
// start a download (electron 45's index.js), so neither `npm start` nor a test ever imports it.
// Mirrors electron/index.js + install.js: node_modules/electron/path.txt names the executable
// inside node_modules/electron/dist/ (or ELECTRON_OVERRIDE_DIST_PATH holds it).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * @param {string} electronDir node_modules/electron
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {{ found: true, path: string } | { found: false, reason: string }}
 */
export function findElectronBinary(electronDir, env = process.env) {
  let relative;
  try {
    relative = readFileSync(path.join(electronDir, 'path.txt'), 'utf8').trim();
  } catch {
    return { found: false, reason: `${path.join(electronDir, 'path.txt')} does not exist, so the binary was never downloaded` };
  }
  const dist = env.ELECTRON_OVERRIDE_DIST_PATH || path.join(electronDir, 'dist');
  const binary = path.join(dist, relative);
  if (!existsSync(binary)) return { found: false, reason: `${binary} does not exist` };
  return { found: true, path: binary };
}

/** The installed Electron version (package.json of node_modules/electron). */
export function electronVersion(electronDir) {
  return JSON.parse(readFileSync(path.join(electronDir, 'package.json'), 'utf8')).version;
}
