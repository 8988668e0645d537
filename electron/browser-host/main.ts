/**
 * `npm run start:browser [-- --profile NAME --port N --no-open]` (scripts/start-browser.mjs calls
 * `runBrowserHost`): starts the browser host for one profile, prints its address, and opens it in
 * the default browser unless `--no-open`. Stops on SIGINT/SIGTERM.
 *
 * Besides the sentence for people it prints one machine-readable line, which the e2e helpers read:
 *   PARLEY_BROWSER_HOST {"url":"http://127.0.0.1:PORT/#k=…","origin":…,"port":…,"profile":…,"dataDir":…}
 * The URL holds the per-launch secret: it is printed to this terminal only, never logged elsewhere.
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
import { startBrowserHost } from './server.js';

export const READY_PREFIX = 'PARLEY_BROWSER_HOST ';

/** dist/electron/browser-host/main.js → the repository (or unpacked app) root. */
const defaultRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Opens a URL in the OS default browser without a shell (the URL is never interpreted). */
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
  const host = await startBrowserHost({
    rendererDir,
    port: args.port,
    channels: engineHost.channels,
    invoke: engineHost.invoke,
    log,
  });
  forward = (event) => void host.emit(event);
  const url = withRelayHint(host.url, relayUrlFromEnv(env));
  if (env[RELAY_URL_ENV] && relayUrlFromEnv(env) === null) console.log(`${RELAY_URL_ENV} is not suggested: a relay address is https, or plain http on 127.0.0.1 or [::1].`);

  console.log(`Parley (profile ${args.profile}) is running at ${url}`);
  console.log('That address contains this launch\'s access key: open it only in your own browser. Ctrl+C stops Parley.');
  console.log(`${READY_PREFIX}${JSON.stringify({ url, origin: host.origin, port: host.port, profile: args.profile, dataDir })}`);

  if (args.open && !(await openInBrowser(url))) {
    console.log('Could not open a browser here; open the address above yourself.');
  }

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void host
        .close()
        .then(() => engineHost.close())
        .then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
