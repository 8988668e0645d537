#!/usr/bin/env node
// `npm start [-- --profile NAME]`: the desktop app.
//  1. Finds Electron's binary by file path (never by loading the `electron` module, which would
//     start a download). If it is missing, runs Electron's own installer once; if that fails too
//     (offline), says so plainly and names `npm run start:browser`, the same UI in a browser.
//  2. Builds (tsc, preload bundle, renderer).
//  3. Before the first Electron launch, builds better-sqlite3-multiple-ciphers for Electron into
//     .cache/electron-native/ (docs/adr/0001; never in postinstall) and passes its path to the app
//     as PARLEY_NATIVE_BINDING.
//  4. Launches Electron on this directory with the remaining arguments.
//  5. Reuses the local relay or starts one (scripts/lib/local-relay.mjs; PARLEY_RELAY_URL names
//     another) and suggests it in onboarding; a relay started here stops when the app exits.
// `--check-electron` stops after step 1 (exit 0 and the binary path, or exit 1 and the message);
// PARLEY_ELECTRON_DIR points step 1 at another electron package directory (tests).
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { electronVersion, findElectronBinary } from './lib/electron-binary.mjs';
import { ensureElectronNative } from './lib/electron-native.mjs';
import { ensureLocalRelay } from './lib/local-relay.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const electronDir = process.env.PARLEY_ELECTRON_DIR ? path.resolve(process.env.PARLEY_ELECTRON_DIR) : path.join(root, 'node_modules', 'electron');
const args = process.argv.slice(2);
const checkOnly = args.includes('--check-electron');
const appArgs = args.filter((a) => a !== '--check-electron');

let binary = findElectronBinary(electronDir);
if (!binary.found) {
  console.log(`Electron's binary is not installed: ${binary.reason}. Running Electron's installer once…`);
  const install = spawnSync(process.execPath, [path.join(electronDir, 'install.js')], {
    cwd: electronDir,
    stdio: ['ignore', 'inherit', 'pipe'],
    encoding: 'utf8',
    timeout: 10 * 60_000,
  });
  binary = findElectronBinary(electronDir);
  if (!binary.found) {
    // The installer prints a stack trace; its first line says what went wrong.
    const said = (install.stderr ?? '').split('\n').find((line) => line.trim() !== '')?.trim() ?? `exit ${install.status ?? install.signal}`;
    console.log('');
    console.log(`Parley cannot start as a desktop app here: Electron's installer could not download its binary (${said}).`);
    console.log('Run the same app in your browser instead:');
    console.log('');
    console.log('    npm run start:browser');
    console.log('');
    console.log('(With network access, `npm start` retries the download.)');
    process.exit(1);
  }
}
if (checkOnly) {
  console.log(`Electron binary: ${binary.path}`);
  process.exit(0);
}

const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
if (build.status !== 0) {
  console.log('The build failed; fix the errors above and run npm start again.');
  process.exit(1);
}

const native = ensureElectronNative({ root, electronVersion: electronVersion(electronDir) });
if (!native.ok) {
  console.log(`Could not build the SQLite module for Electron: ${native.reason}.`);
  console.log('Run the same app in your browser instead:  npm run start:browser');
  process.exit(1);
}

const env = { ...process.env, PARLEY_NATIVE_BINDING: native.path };
let relay = null;
if (!env.PARLEY_RELAY_URL) {
  // The same base directory the app computes (electron/host/launch-args.ts), so every profile finds this relay.
  const { appDataDir, dataRoot } = await import(pathToFileURL(path.join(root, 'dist', 'electron', 'host', 'launch-args.js')).href);
  try {
    relay = await ensureLocalRelay({ root, dataRoot: dataRoot(env, appDataDir()), log: (line) => console.log(line) });
    env.PARLEY_RELAY_URL = relay.url;
  } catch (error) {
    console.log(`No local relay: ${error instanceof Error ? error.message : String(error)}. Enter a relay address in the app.`);
  }
}

const child = spawn(binary.path, [root, ...appArgs], { cwd: root, stdio: 'inherit', env });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  void (relay?.stop() ?? Promise.resolve()).then(() => process.exit(code ?? (signal ? 1 : 0)));
});
