import { describe, expect, it } from 'vitest';
import { DEFAULT_PROFILE, parseProfileArgument, ProfileError, resolveProfile } from './profile.js';

describe('profiles', () => {
  it('--profile NAME and --profile=NAME select a profile; none selects the default', () => {
    expect(parseProfileArgument([])).toBe(DEFAULT_PROFILE);
    expect(parseProfileArgument(['--profile', 'alice'])).toBe('alice');
    expect(parseProfileArgument(['x', '--profile=bob-2', '--other'])).toBe('bob-2');
    expect(parseProfileArgument(['--profile', 'a', '--profile', 'b'])).toBe('b');
  });

  it('refuses names that could escape the data directory or the keychain namespace', () => {
    for (const bad of ['', '..', '../x', 'a/b', 'A', '-x', 'a'.repeat(33), 'a b', 'é']) {
      expect(() => parseProfileArgument(['--profile', bad]), bad).toThrow(ProfileError);
    }
    expect(() => parseProfileArgument(['--profile'])).toThrow(ProfileError);
  });

  it('gives each profile its own directory, files and keychain account', () => {
    const a = resolveProfile('/data', 'alice');
    const b = resolveProfile('/data', 'bob');
    expect(a.dataDir).toBe('/data/profiles/alice');
    expect(a.databasePath.startsWith(a.dataDir)).toBe(true);
    expect(a.keyFilePath.startsWith(a.dataDir)).toBe(true);
    expect(a.keychainAccount).toBe('alice/db');
    expect(b.dataDir).not.toBe(a.dataDir);
    expect(b.keychainAccount).toBe('bob/db');
  });
});
