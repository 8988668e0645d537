/**
 * `npm run start:browser [-- --profile NAME --port N --no-open --print-url]` (scripts/start-browser.mjs
 * calls `runBrowserHost`): starts the browser host for one profile and opens it in the default
 * browser unless `--no-open` (docs/adr/0020-browser-host-launch.md). Stops on SIGINT/SIGTERM.
 *
 * The launch's access key travels only through the profile's owner-only launch page
 * (launch-state.ts): the browser is opened on that file, so the opener's command line (readable by
 * every local user) carries a file path and no key, and the terminal shows the bare address and the
 * page's path. `--print-url` prints the full address with the key, for a person who asks for it.
 * Without `--port` the host takes the port this profile used last when it is free.
 *
 * Besides the sentences for people it prints one machine-readable line, which the e2e helpers read:
 *   PARLEY_BROWSER_HOST {"origin":…,"port":…,"profile":…,"dataDir":…,"launchFile":…}
 * (plus "url", the address with the key, only with `--print-url`). No log line carries the key.
 * The engine for the profile (host/engine-host.ts) serves the contract; $PARLEY_RELAY_URL, when set, is
 * handed to onboarding as the suggested relay address (`?relay=` in the URL).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EngineEvent } from '../../shared/api/types.js';
import { RELAY_URL_ENV, relayUrlFromEnv, startEngineHost, withRelayHint } from '../host/engine-host.js';
import { LaunchArgsError, dataRoot, parseLaunchArgs, profileDir } from '../host/launch-args.js';
import { launchFileUrl, rememberedPort, rememberPort, removeLaunchFile, writeLaunchFile } from './launch-state.js';
import { startBrowserHost, type BrowserHost, type BrowserHostOptions } from './server.js';

export const READY_PREFIX = 'PARLEY_BROWSER_HOST ';

/** dist/electron/browser-host/main.js → the repository (or unpacked app) root. */
const defaultRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * Opens a URL in the OS default browser without a shell (the URL is never interpreted). Whatever is
 * passed here is on a command line every local user can read: never a URL with the key.
 */
function openInBrowser(url: string): Promise<boolean> {
  const [command, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['rundll32', ['url.dll,FileProtocolHandler', url]]
        : ['xdg-open', [url]];
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'ignore', detached: true });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
}

export async function runBrowserHost(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, root = defaultRoot): Promise<void> {
  let args;
  try {
    args = parseLaunchArgs(argv);
  } catch (error) {
    console.error(error instanceof LaunchArgsError ? error.message : 'invalid arguments');
    process.exitCode = 2;
    return;
  }
  const rendererDir = path.join(root, 'renderer', 'dist');
  if (!existsSync(path.join(rendererDir, 'index.html'))) {
    console.error(`The renderer is not built (${rendererDir} has no index.html). Run: npm run build`);
    process.exitCode = 1;
    return;
  }
  const base = dataRoot(env);
  const dataDir = profileDir(base, args.profile);

  const log = (line: string) => console.error(`[browser-host] ${line}`);
  // Events pushed before the socket server listens have no one to reach; the renderer re-reads state.
  let forward: (event: EngineEvent) => void = () => undefined;
  const engineHost = await startEngineHost({
    dataRoot: base,
    profile: args.profile,
    env,
    emit: (event) => forward(event),
    onFault: (fault) => log(`contract fault ${JSON.stringify(fault)}`),
  });
  const hostOptions = { rendererDir, channels: engineHost.channels, invoke: engineHost.invoke, log };
  let host: BrowserHost;
  try {
    host = await listen(hostOptions, args.port, dataDir);
  } catch (error) {
    await engineHost.close();
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    console.error(`Port ${args.port} is in use; choose another with --port N, or --port 0 for any free port.`);
    process.exitCode = 1;
    return;
  }
  forward = (event) => void host.emit(event);
  const url = withRelayHint(host.url, relayUrlFromEnv(env));
  if (env[RELAY_URL_ENV] && relayUrlFromEnv(env) === null) console.log(`${RELAY_URL_ENV} is not suggested: a relay address is https, or plain http on 127.0.0.1 or [::1].`);
  const launchFile = await writeLaunchFile(dataDir, url);
  await rememberPort(dataDir, host.port);

  console.log(`Parley (profile ${args.profile}) is running at ${host.origin}/`);
  console.log(`To open it (again): ${launchFileUrl(dataDir)} — a page only you can read, with this launch's access key. Ctrl+C stops Parley.`);
  if (args.printUrl) {
    console.log(`The address with this launch's access key (open it only in your own browser): ${url}`);
  }
  const ready = { origin: host.origin, port: host.port, profile: args.profile, dataDir, launchFile, ...(args.printUrl ? { url } : {}) };
  console.log(`${READY_PREFIX}${JSON.stringify(ready)}`);

  if (args.open && !(await openInBrowser(launchFileUrl(dataDir)))) {
    console.log('Could not open a browser here; open the page above yourself.');
  }

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void host
        .close()
        .then(() => removeLaunchFile(dataDir))
        .then(() => engineHost.close())
        .then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * Listens on the port asked for; without one, on the profile's last port when it is free, else on
 * any free port. An explicitly requested port that is taken is an error (EADDRINUSE).
 */
async function listen(options: Omit<BrowserHostOptions, 'port'>, asked: number | null, dataDir: string): Promise<BrowserHost> {
  if (asked !== null) return startBrowserHost({ ...options, port: asked });
  const last = await rememberedPort(dataDir);
  if (last !== null) {
    try {
      return await startBrowserHost({ ...options, port: last });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
  return startBrowserHost({ ...options, port: 0 });
}
