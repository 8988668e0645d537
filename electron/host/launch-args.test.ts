/**
 * Launch arguments and the profile base directory both hosts share. The name rule itself is the
 * engine's (engine/profile.ts, tested there); here it is checked to be applied to `--profile`.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROFILE, LaunchArgsError, ProfileError, appDataDir, dataRoot, parseLaunchArgs, profileDir } from './launch-args.js';

describe('parseLaunchArgs', () => {
  it('defaults to the default profile, no port asked for, opening a browser, and no printed key', () => {
    expect(parseLaunchArgs([])).toEqual({ profile: DEFAULT_PROFILE, port: null, open: true, printUrl: false });
  });

  it('reads --profile, --port, --no-open and --print-url, in both spellings', () => {
    expect(parseLaunchArgs(['--profile', 'bob', '--port', '0', '--no-open', '--print-url'])).toEqual({ profile: 'bob', port: 0, open: false, printUrl: true });
    expect(parseLaunchArgs(['--profile=alice', '--port=8123'])).toEqual({ profile: 'alice', port: 8123, open: true, printUrl: false });
  });

  it('ignores what Electron and Chromium put in argv', () => {
    expect(parseLaunchArgs(['.', '--enable-logging', '--profile', 'carol', '--inspect=0']).profile).toBe('carol');
  });

  it.each([
    [['--profile']],
    [['--profile', '--no-open']],
    [['--port', '70000']],
    [['--port', '-1']],
    [['--port', '80x']],
  ])('refuses %j', (argv) => {
    expect(() => parseLaunchArgs(argv)).toThrow(LaunchArgsError);
  });
});

describe('--profile applies the engine\'s name rule', () => {
  it.each(['default', 'bob', 'e2e-alice_1', '0', 'a'.repeat(32)])('accepts %j', (name) => {
    expect(parseLaunchArgs(['--profile', name]).profile).toBe(name);
  });

  it.each(['../etc', 'a/b', 'Bob', '-x', '_x', '.hidden', 'a'.repeat(33), 'bob\n', 'böb', 'a b'])('refuses %j', (name) => {
    expect(() => parseLaunchArgs([`--profile=${name}`])).toThrow(LaunchArgsError);
  });
});

describe('profile directories', () => {
  it('PARLEY_DATA_DIR overrides the OS location', () => {
    expect(profileDir(dataRoot({ PARLEY_DATA_DIR: '/tmp/parley-test' }), 'bob')).toBe(path.join('/tmp/parley-test', 'profiles', 'bob'));
  });

  it("mirrors Electron's appData per platform", () => {
    expect(appDataDir('linux', {}, '/home/u')).toBe('/home/u/.config');
    expect(appDataDir('linux', { XDG_CONFIG_HOME: '/x/config' }, '/home/u')).toBe('/x/config');
    expect(appDataDir('linux', { XDG_CONFIG_HOME: 'relative' }, '/home/u')).toBe('/home/u/.config');
    expect(appDataDir('darwin', {}, '/Users/u')).toBe('/Users/u/Library/Application Support');
    expect(appDataDir('win32', { APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'C:\\Users\\u')).toBe('C:\\Users\\u\\AppData\\Roaming');
    expect(dataRoot({}, '/home/u/.config')).toBe(path.join('/home/u/.config', 'Parley'));
  });

  it('never builds a directory from an unchecked name', () => {
    expect(() => profileDir('/data', '../../etc')).toThrow(ProfileError);
  });
});
