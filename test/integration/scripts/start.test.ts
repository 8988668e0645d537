/**
 * `npm start`'s first step against a stand-in electron package (PARLEY_ELECTRON_DIR): the binary is
 * found by path, a missing one triggers Electron's installer exactly once, and a failed install ends
 * in a plain message naming `npm run start:browser`. Also the Electron-native build's bookkeeping
 * (the node-gyp build itself needs Electron's headers, which cannot be downloaded here).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { findElectronBinary } from '../../../scripts/lib/electron-binary.mjs';
import { electronNativeDir, ensureElectronNative, NATIVE_FILE, nodeGypArgs } from '../../../scripts/lib/electron-native.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

/** A stand-in node_modules/electron whose install.js counts its runs and then succeeds or fails. */
function fakeElectronPackage(installer: 'fails' | 'installs', preinstalled = false) {
  const dir = tempDir('parley-electron-');
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'electron', version: '45.5.0' }));
  const install = `
    const fs = require('fs'), path = require('path');
    fs.appendFileSync(path.join(__dirname, 'runs'), 'x');
    if (${JSON.stringify(installer)} === 'fails') { console.error('TypeError: fetch failed\\n    at stack frame'); process.exit(1); }
    fs.mkdirSync(path.join(__dirname, 'dist'), { recursive: true });
    fs.writeFileSync(path.join(__dirname, 'dist', 'electron'), '');
    fs.writeFileSync(path.join(__dirname, 'path.txt'), 'electron');
  `;
  writeFileSync(path.join(dir, 'install.js'), install);
  if (preinstalled) {
    mkdirSync(path.join(dir, 'dist'));
    writeFileSync(path.join(dir, 'dist', 'electron'), '');
    writeFileSync(path.join(dir, 'path.txt'), 'electron');
  }
  const runs = () => (existsSync(path.join(dir, 'runs')) ? readFileSync(path.join(dir, 'runs'), 'utf8').length : 0);
  return { dir, runs };
}

function start(electronDir: string) {
  return spawnSync(process.execPath, [path.join(root, 'scripts', 'start.mjs'), '--check-electron'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, PARLEY_ELECTRON_DIR: electronDir, ELECTRON_OVERRIDE_DIST_PATH: '' },
    timeout: 30_000,
  });
}

describe('npm start: the Electron binary', () => {
  it('runs the installer once and, when it fails, names npm run start:browser', () => {
    const electron = fakeElectronPackage('fails');
    const result = start(electron.dir);
    expect(result.status).toBe(1);
    expect(electron.runs()).toBe(1);
    expect(result.stdout).toContain("Electron's installer could not download its binary (TypeError: fetch failed)");
    expect(result.stdout).toContain('npm run start:browser');
    expect(result.stdout).not.toContain('at stack frame');
  });

  it('goes on once the installer has put the binary in place', () => {
    const electron = fakeElectronPackage('installs');
    const result = start(electron.dir);
    expect(result.status).toBe(0);
    expect(electron.runs()).toBe(1);
    expect(result.stdout).toContain(`Electron binary: ${path.join(electron.dir, 'dist', 'electron')}`);
  });

  it('does not run the installer when the binary exists', () => {
    const electron = fakeElectronPackage('fails', true);
    expect(start(electron.dir).status).toBe(0);
    expect(electron.runs()).toBe(0);
  });

  it('finds the binary by path.txt + dist/, or ELECTRON_OVERRIDE_DIST_PATH', () => {
    const electron = fakeElectronPackage('fails', true);
    expect(findElectronBinary(electron.dir, {})).toEqual({ found: true, path: path.join(electron.dir, 'dist', 'electron') });
    const elsewhere = tempDir('parley-electron-dist-');
    expect(findElectronBinary(electron.dir, { ELECTRON_OVERRIDE_DIST_PATH: elsewhere }).found).toBe(false);
    writeFileSync(path.join(elsewhere, 'electron'), '');
    expect(findElectronBinary(electron.dir, { ELECTRON_OVERRIDE_DIST_PATH: elsewhere })).toEqual({ found: true, path: path.join(elsewhere, 'electron') });
    expect(findElectronBinary(tempDir('parley-empty-'), {}).found).toBe(false);
  });
});

describe('npm start: the Electron build of the SQLite module', () => {
  it('keys the cache by Electron version, platform and arch, under .cache/electron-native', () => {
    expect(electronNativeDir('/r', '45.5.0', 'linux', 'x64')).toBe('/r/.cache/electron-native/better-sqlite3-multiple-ciphers-electron-v45.5.0-linux-x64');
  });

  it('builds against Electron headers, for the runtime electron and the given version', () => {
    expect(nodeGypArgs({ electronVersion: '45.5.0', arch: 'arm64', devdir: '/d' })).toEqual([
      'rebuild',
      '--release',
      '--runtime=electron',
      '--target=45.5.0',
      '--arch=arm64',
      '--dist-url=https://electronjs.org/headers',
      '--devdir=/d',
    ]);
  });

  it('reuses an existing build without running node-gyp', () => {
    const fakeRoot = tempDir('parley-native-');
    const dir = electronNativeDir(fakeRoot, '45.5.0');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, NATIVE_FILE), '');
    const run = vi.fn(() => 0);
    expect(ensureElectronNative({ root: fakeRoot, electronVersion: '45.5.0', run, log: () => undefined })).toEqual({
      ok: true,
      path: path.join(dir, NATIVE_FILE),
      built: false,
    });
    expect(run).not.toHaveBeenCalled();
  });

  it('builds in a scratch copy, and on failure leaves neither a binary nor the copy behind', () => {
    const fakeRoot = tempDir('parley-native-');
    symlinkNodeModules(fakeRoot);
    const run = vi.fn((_cmd: string, args: string[], cwd: string) => {
      expect(args).toContain('--runtime=electron');
      expect(existsSync(path.join(cwd, 'binding.gyp'))).toBe(true);
      // the Node build in node_modules is not copied (and so not overwritten)
      expect(existsSync(path.join(cwd, 'build'))).toBe(false);
      return 1;
    });
    const result = ensureElectronNative({ root: fakeRoot, electronVersion: '45.5.0', run, log: () => undefined });
    expect(result.ok).toBe(false);
    expect(run).toHaveBeenCalledOnce();
    expect(existsSync(path.join(electronNativeDir(fakeRoot, '45.5.0'), NATIVE_FILE))).toBe(false);
    expect(readdir(path.join(fakeRoot, '.cache', 'electron-native'))).toEqual([]);
  });

  it('moves a successful build into place', () => {
    const fakeRoot = tempDir('parley-native-');
    symlinkNodeModules(fakeRoot);
    const run = (_cmd: string, _args: string[], cwd: string) => {
      mkdirSync(path.join(cwd, 'build', 'Release'), { recursive: true });
      writeFileSync(path.join(cwd, 'build', 'Release', NATIVE_FILE), 'elf');
      return 0;
    };
    const result = ensureElectronNative({ root: fakeRoot, electronVersion: '45.5.0', run, log: () => undefined });
    expect(result).toEqual({ ok: true, path: path.join(electronNativeDir(fakeRoot, '45.5.0'), NATIVE_FILE), built: true });
    expect(readdir(path.join(fakeRoot, '.cache', 'electron-native'))).toEqual([path.basename(electronNativeDir(fakeRoot, '45.5.0'))]);
  });
});

/** The module is resolved from the root, as in the real repository. */
function symlinkNodeModules(dir: string) {
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
}

function readdir(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}
