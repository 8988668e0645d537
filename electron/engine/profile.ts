/**
 * Profiles (DESIGN §4 "Multi-profile"): `--profile NAME` gives an isolated data directory and its
 * own keychain namespace, so several accounts (and several engines in tests) live side by side.
 * Owns the profile-name rule, the argument parsing and the file layout of one profile; the base
 * directory is injected by the host (Electron's userData, or a dev/test directory).
 */
import { join } from 'node:path';

export const DEFAULT_PROFILE = 'default';
/** Lowercase letters, digits, `-` and `_`; it names a directory and a keychain account. */
export const PROFILE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export class ProfileError extends Error {
  override readonly name = 'ProfileError';
}

export type Profile = {
  readonly name: string;
  readonly dataDir: string;
  readonly databasePath: string;
  /** Exists only for passphrase-protected profiles. */
  readonly keyFilePath: string;
  /** The keychain account of the database key (service `parley`). */
  readonly keychainAccount: string;
};

export function checkProfileName(name: string): string {
  if (!PROFILE_NAME_PATTERN.test(name)) {
    throw new ProfileError('a profile name is 1-32 of a-z, 0-9, "-" and "_", starting with a letter or digit');
  }
  return name;
}

/** The profile named by `--profile NAME` or `--profile=NAME` (the last one wins), else the default. */
export function parseProfileArgument(argv: readonly string[]): string {
  let name = DEFAULT_PROFILE;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--profile') {
      const next = argv[i + 1];
      if (next === undefined) throw new ProfileError('--profile needs a name');
      name = next;
      i++;
    } else if (arg.startsWith('--profile=')) {
      name = arg.slice('--profile='.length);
    }
  }
  return checkProfileName(name);
}

export function resolveProfile(baseDir: string, name: string): Profile {
  checkProfileName(name);
  const dataDir = join(baseDir, 'profiles', name);
  return {
    name,
    dataDir,
    databasePath: join(dataDir, 'parley.db'),
    keyFilePath: join(dataDir, 'parley.key'),
    keychainAccount: `${name}/db`,
  };
}
