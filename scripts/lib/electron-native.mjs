// The Electron build of better-sqlite3-multiple-ciphers (DESIGN §4, docs/adr/0001): node-gyp against
// Electron's headers on a copy of the module, result in .cache/electron-native/<electron-abi key>/,
// loaded by the engine through `nativeBinding`. Run by `npm start` before the first Electron launch,
// never in postinstall. This is what @electron/rebuild does internally, without its GitHub dependency.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

export const NATIVE_MODULE = 'better-sqlite3-multiple-ciphers';
export const NATIVE_FILE = 'better_sqlite3.node';

/** The directory of one Electron build: a new Electron version or arch gets its own. */
export function electronNativeDir(root, electronVersion, platform = process.platform, arch = process.arch) {
  return path.join(root, '.cache', 'electron-native', `${NATIVE_MODULE}-electron-v${electronVersion}-${platform}-${arch}`);
}

/** npm's own node-gyp when run under npm, else the one in node_modules. */
export function findNodeGyp(env = process.env) {
  if (env.npm_execpath) {
    const bundled = path.join(path.dirname(env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(bundled)) return bundled;
  }
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return null;
  }
}

/** The node-gyp arguments for an Electron build (the headers come from electronjs.org once). */
export function nodeGypArgs({ electronVersion, arch = process.arch, devdir }) {
  return [
    'rebuild',
    '--release',
    '--runtime=electron',
    `--target=${electronVersion}`,
    `--arch=${arch}`,
    '--dist-url=https://electronjs.org/headers',
    `--devdir=${devdir}`,
  ];
}

/**
 * Returns the path of the Electron build, building it first if missing.
 * @param {{ root: string, electronVersion: string, log?: (line: string) => void,
 *           run?: (cmd: string, args: string[], cwd: string) => number }} options
 * @returns {{ ok: true, path: string, built: boolean } | { ok: false, reason: string }}
 */
export function ensureElectronNative({ root, electronVersion, log = console.log, run = defaultRun }) {
  const outDir = electronNativeDir(root, electronVersion);
  const target = path.join(outDir, NATIVE_FILE);
  if (existsSync(target)) return { ok: true, path: target, built: false };

  const nodeGyp = findNodeGyp();
  if (nodeGyp === null) return { ok: false, reason: 'node-gyp was not found (it ships with npm)' };
  let source;
  try {
    source = path.dirname(require.resolve(`${NATIVE_MODULE}/package.json`, { paths: [root] }));
  } catch {
    return { ok: false, reason: `${NATIVE_MODULE} is not installed (run npm install)` };
  }

  // Build in a scratch copy so the Node build in node_modules (tests, relay) stays untouched.
  const work = path.join(root, '.cache', 'electron-native', `build-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  const nodeBuild = path.join(source, 'build');
  cpSync(source, work, { recursive: true, filter: (src) => src !== nodeBuild && !src.startsWith(nodeBuild + path.sep) });
  log(`Building ${NATIVE_MODULE} for Electron ${electronVersion} (first start only; this takes a minute)…`);
  const status = run(process.execPath, [nodeGyp, ...nodeGypArgs({ electronVersion, devdir: path.join(root, '.cache', 'electron-gyp') })], work);
  const built = path.join(work, 'build', 'Release', NATIVE_FILE);
  if (status !== 0 || !existsSync(built)) {
    rmSync(work, { recursive: true, force: true });
    return { ok: false, reason: `node-gyp failed (exit ${status}); it needs Electron's headers from electronjs.org, python3, make and a C++ compiler` };
  }
  mkdirSync(outDir, { recursive: true });
  // rename, not copy: a half-written file never sits at the path the engine loads.
  renameSync(built, target);
  rmSync(work, { recursive: true, force: true });
  return { ok: true, path: target, built: true };
}

function defaultRun(cmd, args, cwd) {
  const result = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  return result.status ?? 1;
}
