/**
 * Electron main process (DESIGN §2, §6; issue 5). Owns the window and wires the pieces that are
 * tested elsewhere: the `app://` protocol (app-protocol.ts), every hardening rule (host/security.ts), the
 * IPC transport of the contract (ipc-main.ts over the engine's dispatcher) and the profile directory
 * (host/launch-args.ts). It holds no logic of its own worth a unit test; Playwright's `_electron` project
 * drives it wherever an Electron binary exists.
 *
 * Started by scripts/start.mjs (`npm start`), which checks the binary, builds, and rebuilds the
 * SQLite module for Electron first. Argv: `--profile NAME`.
 */
import path from 'node:path';
import { BrowserWindow, app, dialog, ipcMain, protocol, session, shell, utilityProcess } from 'electron';
import { createAppProtocolHandler } from './app-protocol.js';
import type { EngineEvent } from '../../shared/api/types.js';
import { relayUrlFromEnv, startEngineHost, withRelayHint } from '../host/engine-host.js';
import type { ContractFault } from '../engine/dispatch.js';
import { useImageProcessLauncher } from '../engine/files/image-strip.js';
import { utilityImageLauncher } from './image-launcher.js';
import { createWebContentsEmitter, registerIpcHandlers } from './ipc-main.js';
import { LaunchArgsError, dataRoot, parseLaunchArgs, profileDir, type LaunchArgs } from '../host/launch-args.js';
import {
  APP_ENTRY_URL,
  APP_SCHEME,
  APP_SCHEME_PRIVILEGES,
  createExternalLinkOpener,
  devToolsAllowed,
  hardenSession,
  hostEnvironment,
  hardenWebContents,
  secureWebPreferences,
  type RefusedAction,
} from '../host/security.js';

function log(line: string): void {
  console.log(`[parley] ${line}`);
}
const onRefused = (what: RefusedAction) => log(`refused ${JSON.stringify(what)}`);
const onFault = (fault: ContractFault) => log(`contract fault ${JSON.stringify(fault)}`);

function launchArgs(): LaunchArgs {
  try {
    return parseLaunchArgs(process.argv.slice(1));
  } catch (error) {
    console.error(error instanceof LaunchArgsError ? error.message : 'invalid arguments');
    return process.exit(2);
  }
}

/** Everything that must happen before `ready`, as Electron requires. Returns the profile. */
function beforeReady(): { readonly profile: string; readonly userData: string; readonly base: string } | null {
  const { profile } = launchArgs();
  const base = dataRoot(process.env, app.getPath('appData'));
  const userData = profileDir(base, profile);
  app.setPath('userData', userData);
  app.enableSandbox();
  protocol.registerSchemesAsPrivileged([APP_SCHEME_PRIVILEGES]);
  // One instance per profile (the lock lives in userData): a second start focuses the first window.
  if (!app.requestSingleInstanceLock({ profile })) return null;
  return { profile, userData, base };
}

function run(profile: string, userData: string, base: string): void {
  const appRoot = app.getAppPath();
  const rendererDir = path.join(appRoot, 'renderer', 'dist');
  const preloadPath = path.join(appRoot, 'dist', 'preload', 'preload.cjs');
  const devTools = devToolsAllowed(app.isPackaged);
  let mainWindow: BrowserWindow | null = null;

  const openExternalLink = createExternalLinkOpener({
    confirm: async (href) => {
      const options = {
        type: 'question' as const,
        buttons: ['Open in browser', 'Cancel'],
        defaultId: 1,
        cancelId: 1,
        noLink: true,
        title: 'Open link',
        message: 'Open this link in your web browser?',
        detail: href,
      };
      const { response } = mainWindow ? await dialog.showMessageBox(mainWindow, options) : await dialog.showMessageBox(options);
      return response === 0;
    },
    openExternal: (href) => shell.openExternal(href),
  });

  // Every webContents, including any the app never meant to create, gets the same rules.
  app.on('web-contents-created', (_event, contents) => {
    hardenWebContents(contents, { devTools, openExternalLink, onRefused });
  });

  // The engine keeps its database in `userData` (= the profile directory) and loads the Electron
  // build of better-sqlite3-multiple-ciphers that scripts/start.mjs made (PARLEY_NATIVE_BINDING).
  // Its dispatcher is the one validation layer; its events go to the window that exists. A packaged
  // build ignores the test-only knobs (native binding, clock file, crash points).
  const env = hostEnvironment(app, process.env);
  // Images are re-encoded in a utility process: the packaged binary cannot run as Node (fuse off).
  useImageProcessLauncher(utilityImageLauncher(utilityProcess));
  let forward: (event: EngineEvent) => void = () => undefined;
  const engineHost = startEngineHost({
    dataRoot: base,
    profile,
    env,
    emit: (event) => forward(event),
    onFault,
    ...(env.PARLEY_NATIVE_BINDING ? { nativeBinding: env.PARLEY_NATIVE_BINDING } : {}),
  });
  const entryUrl = withRelayHint(APP_ENTRY_URL, relayUrlFromEnv(env));

  const createWindow = (): BrowserWindow => {
    const window = new BrowserWindow({
      width: 1100,
      height: 760,
      minWidth: 640,
      minHeight: 480,
      show: false,
      title: profile === 'default' ? 'Parley' : `Parley — ${profile}`,
      webPreferences: secureWebPreferences({ preload: preloadPath, devTools }),
    });
    window.once('ready-to-show', () => window.show());
    const emit = createWebContentsEmitter(window.webContents, { onFault });
    forward = (event) => void emit(event);
    window.on('closed', () => {
      if (mainWindow === window) mainWindow = null;
    });
    void window.loadURL(entryUrl);
    return window;
  };

  app.on('second-instance', () => {
    if (mainWindow === null) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('will-quit', () => {
    void engineHost.then((host) => host.close());
  });
  app.on('activate', () => {
    if (mainWindow === null && app.isReady()) mainWindow = createWindow();
  });

  void Promise.all([app.whenReady(), engineHost]).then(([, host]) => {
    hardenSession(session.defaultSession, onRefused);
    protocol.handle(APP_SCHEME, createAppProtocolHandler({ rendererDir }));
    registerIpcHandlers({ ipcMain, channels: host.channels, invoke: host.invoke, onRefused });
    mainWindow = createWindow();
    log(`profile ${profile} (${userData})`);
  });
}

const started = beforeReady();
if (started === null) app.quit();
else run(started.profile, started.userData, started.base);
