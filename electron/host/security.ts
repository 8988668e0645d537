/**
 * Every hardening rule of the desktop shell in one place (DESIGN §6, issue 5 "Security"): the
 * `app://` origin the renderer is served from, the Content-Security-Policy and response headers
 * both hosts send, the BrowserWindow web preferences, navigation and window.open refusal, external
 * links (http(s) only, after confirmation), permission refusal (notifications, clipboard writes and the
 * camera — video only, for scanning QR codes — excepted, on the app's own main frame), the IPC
 * sender-frame check, DevTools in production, and the test-only environment knobs a packaged build
 * ignores.
 *
 * This module imports no `electron` value: every Electron object is passed in, typed by the narrow
 * structural types below (shell/main.ts passes the real ones, and the assignability checks at the end of
 * this file keep those types honest against electron.d.ts). Unit tests feed hostile input to fakes;
 * the browser host imports the CSP and headers from here so both hosts send the same policy.
 *
 * Not here: serving files (static-assets.ts, shell/app-protocol.ts), request validation
 * (electron/engine/dispatch.ts), the fuses (electron-builder.yml).
 */
import type { CustomScheme, IpcMainInvokeEvent, Session, WebContents, WebPreferences } from 'electron';

/** The renderer's origin: a standard, secure custom scheme, never `file://`. */
export const APP_SCHEME = 'app';
export const APP_HOST = 'parley';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;

/**
 * Registered before `app.ready`. `standard` gives the scheme real origins and relative URLs,
 * `secure` makes it a secure context (Notifications, crypto.subtle); it does NOT bypass the CSP.
 */
export const APP_SCHEME_PRIVILEGES: CustomScheme = {
  scheme: APP_SCHEME,
  // corsEnabled: module scripts are fetched in CORS mode; no response carries Access-Control-Allow-Origin,
  // so no other origin can read app:// content.
  privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true, codeCache: true },
};

/**
 * The Content-Security-Policy of both hosts. Scripts only from the app's own origin (no inline
 * script, no eval, no inline event handlers); no plugins, frames, forms or <base>. `connect-src
 * 'self'` also covers the browser host's same-origin WebSocket (CSP3 matches ws: to http: 'self').
 * Styles are 'self' only, which forbids <style> elements injected at run time: components keep their
 * CSS in compiled stylesheets (Svelte emits them at build time) and avoid CSS-animation transitions.
 */
export const CSP_DIRECTIVES: Readonly<Record<string, readonly string[]>> = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'blob:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'media-src': ["'self'", 'blob:'],
  'worker-src': ["'self'"],
  'manifest-src': ["'self'"],
  'object-src': ["'none'"],
  'frame-src': ["'none'"],
  'frame-ancestors': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
};

export const CONTENT_SECURITY_POLICY = Object.entries(CSP_DIRECTIVES)
  .map(([directive, sources]) => `${directive} ${sources.join(' ')}`)
  .join('; ');

/** Headers on every response of both hosts (app:// protocol handler and browser host). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  // The camera for the app's own origin only (QR scanning, issue 12); everything else off for everyone.
  'Permissions-Policy': 'camera=(self), microphone=(), geolocation=(), usb=(), serial=(), hid=(), bluetooth=(), payment=(), display-capture=()',
  'Cache-Control': 'no-cache',
};

/** True only for URLs on the renderer's own origin (`app://parley/...`). */
export function isAppUrl(url: string): boolean {
  const parsed = parseUrl(url);
  return parsed !== null && parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST && parsed.username === '' && parsed.password === '';
}

/** Whether DevTools may open: never in a packaged (production) build. */
export function devToolsAllowed(isPackaged: boolean): boolean {
  return !isPackaged;
}

/**
 * Environment variables only development and tests may set: a native module loaded into the main
 * process (PARLEY_NATIVE_BINDING, the Electron build `npm start` makes), the engine's clock moved
 * by a file (PARLEY_TEST_CLOCK_FILE) and a self-kill at a named point (PARLEY_TEST_CRASH_AT).
 */
export const TEST_ONLY_ENV = ['PARLEY_NATIVE_BINDING', 'PARLEY_TEST_CLOCK_FILE', 'PARLEY_TEST_CRASH_AT'] as const;

/**
 * The environment the host reads its knobs from: as given in development, without TEST_ONLY_ENV in
 * a packaged build (anyone who can set a variable for the app must not load a module into it, move
 * its clock or kill it mid-write). `app` is Electron's (only `isPackaged` is read).
 */
export function hostEnvironment(app: { readonly isPackaged: boolean }, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (!app.isPackaged) return { ...env };
  const copy = { ...env };
  for (const name of TEST_ONLY_ENV) delete copy[name];
  return copy;
}

/** The web preferences of every Parley window. */
export function secureWebPreferences(options: { readonly preload: string; readonly devTools: boolean }): WebPreferences {
  return {
    preload: options.preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    safeDialogs: true,
    spellcheck: true,
    devTools: options.devTools,
  };
}

// ── External links ────────────────────────────────────────────────────────────────────────────

export const MAX_EXTERNAL_URL_LENGTH = 2048;

/**
 * The URL to hand to the OS if `url` may be opened outside the app: http(s) only, no credentials
 * (`https://bank.example@evil.example` reads as the wrong host), bounded length. Returns the
 * normalised href, or null when refused.
 */
export function externalLinkTarget(url: string): string | null {
  if (url.length > MAX_EXTERNAL_URL_LENGTH) return null;
  const parsed = parseUrl(url);
  if (parsed === null) return null;
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return null;
  if (parsed.username !== '' || parsed.password !== '' || parsed.hostname === '') return null;
  return parsed.href;
}

export type ExternalLinkDeps = {
  /** Asks the person (a modal dialog showing the URL); resolves true to open. */
  readonly confirm: (href: string) => Promise<boolean>;
  /** Opens the URL in the OS default browser (`shell.openExternal`). */
  readonly openExternal: (href: string) => Promise<void>;
};

export type ExternalLinkOutcome = 'opened' | 'cancelled' | 'refused' | 'busy';

export type ExternalLinkOpener = (url: string) => Promise<ExternalLinkOutcome>;

/**
 * Opens http(s) links in the OS browser after confirmation. One confirmation at a time: requests
 * arriving while a dialog is open are dropped ('busy'), so a page cannot stack dialogs.
 */
export function createExternalLinkOpener(deps: ExternalLinkDeps): ExternalLinkOpener {
  let pending = false;
  return async (url) => {
    const href = externalLinkTarget(url);
    if (href === null) return 'refused';
    if (pending) return 'busy';
    pending = true;
    try {
      if (!(await deps.confirm(href))) return 'cancelled';
      await deps.openExternal(href);
      return 'opened';
    } finally {
      pending = false;
    }
  };
}

// ── WebContents: navigation, new windows, webviews, DevTools ─────────────────────────────────

/** What a navigation event carries (Electron's `Event<WebContentsWillNavigateEventParams>`). */
export type NavigationEventLike = { readonly url: string; preventDefault(): void };

/** The part of `WebContents` that hardening touches. */
export type HardenableWebContents = {
  on(event: 'will-navigate' | 'will-frame-navigate' | 'will-redirect', listener: (event: NavigationEventLike) => void): unknown;
  on(event: 'will-attach-webview', listener: (event: { preventDefault(): void }) => void): unknown;
  on(event: 'devtools-opened', listener: () => void): unknown;
  setWindowOpenHandler(handler: (details: { readonly url: string }) => { action: 'deny' }): void;
  closeDevTools(): void;
};

export type WebContentsPolicy = {
  readonly devTools: boolean;
  /** Called with every link the page tried to navigate to or open; it filters and confirms. */
  readonly openExternalLink: ExternalLinkOpener;
  /** Told about each refusal (for a redacted log line); never told page content. */
  readonly onRefused?: (what: RefusedAction) => void;
};

export type RefusedAction =
  | { readonly kind: 'navigation'; readonly scheme: string }
  | { readonly kind: 'window-open'; readonly scheme: string }
  | { readonly kind: 'webview' }
  | { readonly kind: 'devtools' }
  | { readonly kind: 'permission'; readonly permission: string }
  | { readonly kind: 'ipc-sender'; readonly channel: string }
  | { readonly kind: 'download' };

/**
 * Navigation is allowed only within the app's own origin (a reload of the entry page); anything
 * else (file:, javascript:, data:, http(s):, another app host) is refused. A refused http(s)
 * target goes to the external-link opener, which asks first.
 */
export function isNavigationAllowed(url: string): boolean {
  return isAppUrl(url);
}

export function hardenWebContents(contents: HardenableWebContents, policy: WebContentsPolicy): void {
  const refuse = (kind: 'navigation' | 'window-open', url: string) => {
    policy.onRefused?.({ kind, scheme: schemeOf(url) });
    // Fire and forget: the opener filters non-http(s) itself and never throws past its promise.
    void policy.openExternalLink(url).catch(() => undefined);
  };
  const guardNavigation = (event: NavigationEventLike) => {
    if (isNavigationAllowed(event.url)) return;
    event.preventDefault();
    refuse('navigation', event.url);
  };
  contents.on('will-navigate', guardNavigation);
  contents.on('will-frame-navigate', guardNavigation);
  contents.on('will-redirect', guardNavigation);

  contents.setWindowOpenHandler(({ url }) => {
    refuse('window-open', url);
    return { action: 'deny' };
  });

  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
    policy.onRefused?.({ kind: 'webview' });
  });

  if (!policy.devTools) {
    contents.on('devtools-opened', () => {
      contents.closeDevTools();
      policy.onRefused?.({ kind: 'devtools' });
    });
  }
}

// ── Session: permissions and downloads ────────────────────────────────────────────────────────

/**
 * What the renderer may hold, and only on its own origin's main frame: notifications, writing text to
 * the clipboard (a message's "Copy text"; reading it stays refused), and `media` for the camera alone
 * (below). Every request is decided anew: nothing is remembered between requests.
 */
export const ALLOWED_PERMISSIONS: ReadonlySet<string> = new Set(['notifications', 'clipboard-sanitized-write']);

/** What Electron says about a request or check beyond its URL (media types for `media`). */
export type PermissionDetails = { readonly isMainFrame?: boolean; readonly mediaTypes?: readonly string[] };

/**
 * The camera, for scanning a QR code (issue 12): `media` with video and nothing else — never the
 * microphone, never a request whose media types are unknown. The renderer asks only when the person
 * presses "Scan" (QrScanner.svelte) and releases the camera as soon as a code is read.
 */
function isCameraOnly(mediaTypes: readonly string[] | undefined): boolean {
  return mediaTypes !== undefined && mediaTypes.length > 0 && mediaTypes.every((t) => t === 'video');
}

export function isPermissionAllowed(permission: string, requestingUrl: string, details: PermissionDetails = {}): boolean {
  if (!isAppUrl(requestingUrl) || details.isMainFrame === false) return false;
  if (permission === 'media') return isCameraOnly(details.mediaTypes);
  return ALLOWED_PERMISSIONS.has(permission);
}

/** The part of `Session` that hardening touches. */
export type HardenableSession = {
  setPermissionRequestHandler(
    handler: (
      webContents: unknown,
      permission: string,
      callback: (granted: boolean) => void,
      details: { readonly requestingUrl: string; readonly isMainFrame?: boolean; readonly mediaTypes?: readonly string[] },
    ) => void,
  ): void;
  setPermissionCheckHandler(
    handler: (
      webContents: unknown,
      permission: string,
      requestingOrigin: string,
      details?: { readonly isMainFrame?: boolean; readonly mediaType?: string },
    ) => boolean,
  ): void;
  setDevicePermissionHandler(handler: () => boolean): void;
  on(event: 'will-download', listener: (event: { preventDefault(): void }) => void): unknown;
};

export function hardenSession(session: HardenableSession, onRefused?: (what: RefusedAction) => void): void {
  session.setPermissionRequestHandler((_webContents, permission, callback, details) => {
    const granted = isPermissionAllowed(permission, details.requestingUrl, details);
    if (!granted) onRefused?.({ kind: 'permission', permission });
    callback(granted);
  });
  session.setPermissionCheckHandler((_webContents, permission, requestingOrigin, details) =>
    isPermissionAllowed(permission, requestingOrigin, {
      ...(details?.isMainFrame === undefined ? {} : { isMainFrame: details.isMainFrame }),
      ...(details?.mediaType === undefined ? {} : { mediaTypes: [details.mediaType] }),
    }),
  );
  // WebHID / WebUSB / Web Serial device grants: none.
  session.setDevicePermissionHandler(() => false);
  // Attachments are saved by the engine after decryption, never by Chromium's download manager.
  session.on('will-download', (event) => {
    event.preventDefault();
    onRefused?.({ kind: 'download' });
  });
}

// ── IPC sender check ──────────────────────────────────────────────────────────────────────────

/** The part of `WebFrameMain` the sender check reads. */
export type SenderFrameLike = { readonly url: string; readonly parent: unknown };

/**
 * An IPC request is served only if it comes from a live top-level frame on the app's origin: not
 * from a subframe (there should be none: frame-src 'none'), not from a page that navigated away,
 * not from a frame that is gone (`senderFrame` is null once the frame is destroyed).
 */
export function isTrustedSenderFrame(frame: SenderFrameLike | null | undefined): boolean {
  if (frame === null || frame === undefined) return false;
  if (frame.parent !== null) return false;
  return isAppUrl(frame.url);
}

// ── helpers ───────────────────────────────────────────────────────────────────────────────────

function parseUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** The scheme of a URL for log lines (never the rest: it may carry personal data). */
function schemeOf(url: string): string {
  return parseUrl(url)?.protocol ?? 'invalid';
}

// ── compile-time checks that the structural types above fit the real Electron objects ─────────
type Assignable<T extends U, U> = T;
export type __ElectronShapeChecks = [
  Assignable<WebContents, HardenableWebContents>,
  Assignable<Session, HardenableSession>,
  Assignable<NonNullable<IpcMainInvokeEvent['senderFrame']>, SenderFrameLike>,
];
