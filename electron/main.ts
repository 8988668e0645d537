/**
 * Electron main process (DESIGN §2, §6; issue 5). Owns the window and wires the pieces that are
 * tested elsewhere: the `app://` protocol (app-protocol.ts), every hardening rule (security.ts), the
 * IPC transport of the contract (ipc-main.ts over ipc-contract.ts) and the profile directory
 * (profile.ts). It holds no logic of its own worth a unit test; Playwright's `_electron` project
 * drives it wherever an Electron binary exists.
 *
 * Started by scripts/start.mjs (`npm start`), which checks the binary, builds, and rebuilds the
 * SQLite module for Electron first. Argv: `--profile NAME`.
 */
import path from 'node:path';
import { BrowserWindow, app, dialog, ipcMain, protocol, session, shell } from 'electron';
import { createAppProtocolHandler } from './app-protocol.js';
import { HOST_CONTRACT } from './host-contract.js';
import { createInvoker, type InvokeFault } from './ipc-contract.js';
import { registerIpcHandlers } from './ipc-main.js';
import { LaunchArgsError, dataRoot, parseLaunchArgs, profileDir, type LaunchArgs } from './profile.js';
import {
  APP_ENTRY_URL,
  APP_SCHEME,
  APP_SCHEME_PRIVILEGES,
  createExternalLinkOpener,
  devToolsAllowed,
  hardenSession,
  hardenWebContents,
  secureWebPreferences,
  type RefusedAction,
} from './security.js';

function log(line: string): void {
  console.log(`[parley] ${line}`);
}
const onRefused = (what: RefusedAction) => log(`refused ${JSON.stringify(what)}`);
const onFault = (fault: InvokeFault) => log(`contract fault ${JSON.stringify(fault)}`);

function launchArgs(): LaunchArgs {
  try {
    return parseLaunchArgs(process.argv.slice(1));
  } catch (error) {
    console.error(error instanceof LaunchArgsError ? error.message : 'invalid arguments');
    return process.exit(2);
  }
}

/** Everything that must happen before `ready`, as Electron requires. Returns the profile. */
function beforeReady(): { readonly profile: string; readonly userData: string } | null {
  const { profile } = launchArgs();
  const userData = profileDir(dataRoot(process.env, app.getPath('appData')), profile);
  app.setPath('userData', userData);
  app.enableSandbox();
  protocol.registerSchemesAsPrivileged([APP_SCHEME_PRIVILEGES]);
  // One instance per profile (the lock lives in userData): a second start focuses the first window.
  if (!app.requestSingleInstanceLock({ profile })) return null;
  return { profile, userData };
}

function run(profile: string, userData: string): void {
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

  // TODO(#5): the engine (electron/engine) supplies the handlers once the contract lands
  // (host-contract.ts); it loads the Electron build of better-sqlite3-multiple-ciphers from
  // process.env.PARLEY_NATIVE_BINDING (set by scripts/start.mjs) via `nativeBinding`, and keeps its
  // database in `userData`.
  const invoker = createInvoker(HOST_CONTRACT, {}, { onFault });

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
    // TODO(#5): forward the engine's event stream to this window:
    //   const events = createWebContentsEmitter(HOST_EVENTS, window.webContents, { onFault });
    //   engine.onEvent((event, payload) => events.emit(event, payload));
    window.on('closed', () => {
      if (mainWindow === window) mainWindow = null;
    });
    void window.loadURL(APP_ENTRY_URL);
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
  app.on('activate', () => {
    if (mainWindow === null && app.isReady()) mainWindow = createWindow();
  });

  void app.whenReady().then(() => {
    hardenSession(session.defaultSession, onRefused);
    protocol.handle(APP_SCHEME, createAppProtocolHandler({ rendererDir }));
    registerIpcHandlers({ ipcMain, channels: invoker.channels, invoke: invoker.invoke, onRefused });
    mainWindow = createWindow();
    log(`profile ${profile} (${userData})`);
  });
}

const started = beforeReady();
if (started === null) app.quit();
else run(started.profile, started.userData);
