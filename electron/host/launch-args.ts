/**
 * Where a profile lives and how the hosts read their command line (DESIGN §4 "Multi-profile").
 * The profile-name rule and the layout inside a profile belong to the engine (engine/profile.ts);
 * this module adds the base directory both hosts share, so a profile started with `npm start` and
 * with `npm run start:browser` is the same profile:
 *   $PARLEY_DATA_DIR/profiles/NAME, or <OS app-data dir>/Parley/profiles/NAME
 * where the OS app-data dir is what Electron's app.getPath('appData') returns.
 */
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_PROFILE, ProfileError, checkProfileName, resolveProfile } from '../engine/profile.js';

export { DEFAULT_PROFILE, ProfileError };

/** A bad command line: a flag without its value, a port out of range, or a bad profile name. */
export class LaunchArgsError extends Error {
  override readonly name = 'LaunchArgsError';
}

/** Electron's appData directory, computed without Electron (the browser host runs in plain Node). */
export function appDataDir(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env, home = os.homedir()): string {
  if (platform === 'win32') return env.APPDATA ?? path.join(home, 'AppData', 'Roaming');
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support');
  return env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, '.config');
}

/** The base directory of all profiles. */
export function dataRoot(env: NodeJS.ProcessEnv = process.env, appData: string = appDataDir(process.platform, env)): string {
  return env.PARLEY_DATA_DIR ? path.resolve(env.PARLEY_DATA_DIR) : path.join(appData, 'Parley');
}

/** The data directory of one profile (Electron's userData; the engine's profile directory). */
export function profileDir(root: string, profile: string): string {
  return resolveProfile(root, profile).dataDir;
}

export type LaunchArgs = {
  readonly profile: string;
  /** `--port N` (0: any free port); null when not given (the browser host reuses the profile's last port). */
  readonly port: number | null;
  readonly open: boolean;
  /** `--print-url`: print the address with its access key (browser host; off by default). */
  readonly printUrl: boolean;
};

/**
 * Reads `--profile NAME`, `--port N`, `--no-open` and `--print-url` (also `--flag=value`). Other
 * arguments are ignored: Electron's argv also carries the app path and Chromium switches.
 */
export function parseLaunchArgs(argv: readonly string[]): LaunchArgs {
  let profile = DEFAULT_PROFILE;
  let port: number | null = null;
  let open = true;
  let printUrl = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    const value = () => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new LaunchArgsError(`${flag} needs a value`);
      i++;
      return next;
    };
    if (flag === '--profile') {
      const name = value();
      try {
        profile = checkProfileName(name);
      } catch (error) {
        if (error instanceof ProfileError) throw new LaunchArgsError(`invalid profile name ${JSON.stringify(name)}: ${error.message}`);
        throw error;
      }
    } else if (flag === '--port') {
      const text = value();
      if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new LaunchArgsError(`invalid port ${JSON.stringify(text)}`);
      port = Number(text);
    } else if (flag === '--no-open') open = false;
    else if (flag === '--print-url') printUrl = true;
  }
  return { profile, port, open, printUrl };
}
