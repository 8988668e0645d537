/**
 * Every hostile input of issue 5 "Security" is fed to fakes of the Electron objects and refused:
 * a foreign frame, file:// and javascript: navigation, window.open, a microphone, framed or foreign
 * camera request, a non-http(s) link. No test loads the `electron` module.
 */
import { describe, expect, it, vi } from 'vitest';
import {
  APP_ENTRY_URL,
  APP_ORIGIN,
  APP_SCHEME_PRIVILEGES,
  CONTENT_SECURITY_POLICY,
  CSP_DIRECTIVES,
  SECURITY_HEADERS,
  createExternalLinkOpener,
  devToolsAllowed,
  externalLinkTarget,
  hardenSession,
  hardenWebContents,
  hostEnvironment,
  isAppUrl,
  isTrustedSenderFrame,
  secureWebPreferences,
  type HardenableSession,
  type HardenableWebContents,
  type NavigationEventLike,
  type RefusedAction,
} from './security.js';

type Listener = (...args: never[]) => unknown;

/** A WebContents fake that records listeners and lets a test fire them. */
function fakeWebContents() {
  const listeners = new Map<string, Listener[]>();
  let windowOpenHandler: ((details: { url: string }) => { action: 'deny' }) | undefined;
  const closeDevTools = vi.fn();
  const contents: HardenableWebContents = {
    on(event: string, listener: Listener) {
      listeners.set(event, [...(listeners.get(event) ?? []), listener]);
      return contents;
    },
    setWindowOpenHandler(handler) {
      windowOpenHandler = handler;
    },
    closeDevTools,
  } as HardenableWebContents;
  return {
    contents,
    closeDevTools,
    listenerCount: (event: string) => listeners.get(event)?.length ?? 0,
    fire(event: string, ...args: unknown[]) {
      for (const listener of listeners.get(event) ?? []) (listener as (...a: unknown[]) => unknown)(...args);
    },
    openWindow(url: string) {
      if (windowOpenHandler === undefined) throw new Error('no window open handler installed');
      return windowOpenHandler({ url });
    },
  };
}

function navigationEvent(url: string): NavigationEventLike & { prevented: boolean } {
  const event = {
    url,
    prevented: false,
    preventDefault() {
      event.prevented = true;
    },
  };
  return event;
}

/** The opener's collaborators, answering the confirmation with `answer`. */
function linkDeps(answer = true) {
  return {
    confirm: vi.fn(async (_href: string) => answer),
    openExternal: vi.fn(async (_href: string) => undefined),
  };
}

/** Lets the fire-and-forget external-link promise chains settle. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

function hardened(options: { devTools?: boolean; answer?: boolean } = {}) {
  const fake = fakeWebContents();
  const deps = linkDeps(options.answer ?? true);
  const refused: RefusedAction[] = [];
  hardenWebContents(fake.contents, {
    devTools: options.devTools ?? false,
    openExternalLink: createExternalLinkOpener(deps),
    onRefused: (what) => refused.push(what),
  });
  return { ...fake, deps, refused };
}

describe('web preferences', () => {
  it('isolate the renderer: contextIsolation, sandbox, no Node anywhere, no webview', () => {
    const prefs = secureWebPreferences({ preload: '/app/dist/preload/preload.cjs', devTools: false });
    expect(prefs).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      devTools: false,
      preload: '/app/dist/preload/preload.cjs',
    });
  });

  it('DevTools are off in a packaged (production) build', () => {
    expect(devToolsAllowed(true)).toBe(false);
    expect(devToolsAllowed(false)).toBe(true);
    expect(secureWebPreferences({ preload: 'p', devTools: devToolsAllowed(true) }).devTools).toBe(false);
  });
});

describe('test-only environment knobs', () => {
  const env = {
    PARLEY_NATIVE_BINDING: '/tmp/anything.node',
    PARLEY_TEST_CLOCK_FILE: '/tmp/clock',
    PARLEY_TEST_CRASH_AT: 'after-outbox-commit',
    PARLEY_RELAY_URL: 'https://relay.example',
    HOME: '/home/someone',
  };

  it('a packaged build ignores PARLEY_NATIVE_BINDING, PARLEY_TEST_CLOCK_FILE and PARLEY_TEST_CRASH_AT (the injected app says isPackaged)', () => {
    expect(hostEnvironment({ isPackaged: true }, env)).toEqual({ PARLEY_RELAY_URL: 'https://relay.example', HOME: '/home/someone' });
    expect(env.PARLEY_TEST_CRASH_AT).toBe('after-outbox-commit'); // the caller's object is left alone
  });

  it('development (npm start, the e2e specs) keeps them', () => {
    expect(hostEnvironment({ isPackaged: false }, env)).toEqual(env);
  });
});

describe('Content-Security-Policy', () => {
  it("allows scripts only from 'self': no inline, no eval, no other origin", () => {
    expect(CSP_DIRECTIVES['script-src']).toEqual(["'self'"]);
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self';");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval|unsafe-hashes|strict-dynamic|\*|https?:/);
  });

  it('denies by default and shuts plugins, framing, <base> and forms', () => {
    expect(CSP_DIRECTIVES['default-src']).toEqual(["'none'"]);
    for (const directive of ['object-src', 'frame-src', 'frame-ancestors', 'base-uri', 'form-action']) {
      expect(CSP_DIRECTIVES[directive], directive).toEqual(["'none'"]);
    }
  });

  it('is sent with the other hardening headers by both hosts', () => {
    expect(SECURITY_HEADERS['Content-Security-Policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(SECURITY_HEADERS['X-Content-Type-Options']).toBe('nosniff');
    expect(SECURITY_HEADERS['Cross-Origin-Resource-Policy']).toBe('same-origin');
  });
});

describe('the app:// origin', () => {
  it('is a standard, secure scheme that does not bypass the CSP', () => {
    expect(APP_SCHEME_PRIVILEGES.privileges).toMatchObject({ standard: true, secure: true });
    expect(APP_SCHEME_PRIVILEGES.privileges?.bypassCSP).toBeUndefined();
    expect(APP_ENTRY_URL.startsWith(`${APP_ORIGIN}/`)).toBe(true);
  });

  it('recognises only app://parley', () => {
    expect(isAppUrl('app://parley/index.html')).toBe(true);
    for (const url of ['app://parley.evil/index.html', 'app://evil/', 'app://user@parley/', 'file:///app/parley', 'https://parley/', 'not a url']) {
      expect(isAppUrl(url), url).toBe(false);
    }
  });
});

describe('navigation', () => {
  it.each([
    ['file://', 'file:///etc/passwd'],
    ['javascript:', 'javascript:alert(document.domain)'],
    ['data:', 'data:text/html,<script>alert(1)</script>'],
    ['https:', 'https://evil.example/phish'],
    ['http: to loopback', 'http://127.0.0.1:8080/'],
    ['another app:// host', 'app://other/index.html'],
  ])('refuses a %s navigation in every frame and on redirect', (_name, url) => {
    const { fire } = hardened();
    for (const event of ['will-navigate', 'will-frame-navigate', 'will-redirect']) {
      const nav = navigationEvent(url);
      fire(event, nav);
      expect(nav.prevented, `${event} ${url}`).toBe(true);
    }
  });

  it('allows reloading the app itself', () => {
    const { fire } = hardened();
    const nav = navigationEvent(APP_ENTRY_URL);
    fire('will-navigate', nav);
    expect(nav.prevented).toBe(false);
  });

  it('never offers to open file:// or javascript: targets externally', async () => {
    const { fire, deps, refused } = hardened();
    fire('will-navigate', navigationEvent('file:///etc/passwd'));
    fire('will-navigate', navigationEvent('javascript:alert(1)'));
    await settle();
    expect(deps.confirm).not.toHaveBeenCalled();
    expect(deps.openExternal).not.toHaveBeenCalled();
    expect(refused).toEqual([
      { kind: 'navigation', scheme: 'file:' },
      { kind: 'navigation', scheme: 'javascript:' },
    ]);
  });

  it('a clicked https link leaves the app only through the confirmation', async () => {
    const { fire, deps } = hardened();
    const nav = navigationEvent('https://example.org/a?b=c');
    fire('will-navigate', nav);
    await settle();
    expect(nav.prevented).toBe(true);
    expect(deps.confirm).toHaveBeenCalledWith('https://example.org/a?b=c');
    expect(deps.openExternal).toHaveBeenCalledWith('https://example.org/a?b=c');
  });
});

describe('window.open', () => {
  it.each(['https://example.org/', 'javascript:alert(1)', 'file:///etc/passwd', 'app://parley/index.html', 'about:blank', ''])(
    'denies a new window for %j',
    (url) => {
      const { openWindow } = hardened();
      expect(openWindow(url)).toEqual({ action: 'deny' });
    },
  );

  it('opens an https target in the OS browser only after the person confirms', async () => {
    const yes = hardened({ answer: true });
    yes.openWindow('https://example.org/');
    await settle();
    expect(yes.deps.openExternal).toHaveBeenCalledWith('https://example.org/');

    const no = hardened({ answer: false });
    no.openWindow('https://example.org/');
    await settle();
    expect(no.deps.confirm).toHaveBeenCalledOnce();
    expect(no.deps.openExternal).not.toHaveBeenCalled();
  });
});

describe('external links', () => {
  it.each([
    'javascript:alert(1)',
    'file:///home/user/.ssh/id_ed25519',
    'mailto:someone@example.org',
    'smb://attacker.example/share',
    'ftp://example.org/',
    'data:text/html,hi',
    'app://parley/index.html',
    'https://bank.example@evil.example/',
    'https://user:pass@example.org/',
    `https://example.org/${'a'.repeat(3000)}`,
    'not a url',
  ])('refuses the non-http(s) or deceptive link %s without asking', async (url) => {
    const deps = linkDeps();
    expect(await createExternalLinkOpener(deps)(url)).toBe('refused');
    expect(deps.confirm).not.toHaveBeenCalled();
    expect(deps.openExternal).not.toHaveBeenCalled();
  });

  it('hands the OS the normalised URL, not the raw string', () => {
    expect(externalLinkTarget('HTTPS://Example.ORG/a b')).toBe('https://example.org/a%20b');
  });

  it('asks once at a time: a second link while a dialog is open is dropped', async () => {
    let answer: (yes: boolean) => void = () => undefined;
    const deps = {
      confirm: vi.fn(() => new Promise<boolean>((resolve) => (answer = resolve))),
      openExternal: vi.fn(async () => undefined),
    };
    const open = createExternalLinkOpener(deps);
    const first = open('https://example.org/1');
    expect(await open('https://example.org/2')).toBe('busy');
    answer(true);
    expect(await first).toBe('opened');
    expect(deps.openExternal).toHaveBeenCalledTimes(1);
    expect(deps.openExternal).toHaveBeenCalledWith('https://example.org/1');
  });
});

describe('webviews and DevTools', () => {
  it('refuses to attach a <webview>', () => {
    const { fire, refused } = hardened();
    const event = navigationEvent('');
    fire('will-attach-webview', event, {}, {});
    expect(event.prevented).toBe(true);
    expect(refused).toContainEqual({ kind: 'webview' });
  });

  it('closes DevTools that open in production', () => {
    const prod = hardened({ devTools: false });
    prod.fire('devtools-opened');
    expect(prod.closeDevTools).toHaveBeenCalledOnce();
    const dev = hardened({ devTools: true });
    expect(dev.listenerCount('devtools-opened')).toBe(0);
  });
});

describe('permissions', () => {
  function hardenedSession() {
    let request:
      | ((wc: unknown, permission: string, callback: (granted: boolean) => void, details: { requestingUrl: string; isMainFrame?: boolean; mediaTypes?: readonly string[] }) => void)
      | undefined;
    let check: ((wc: unknown, permission: string, origin: string, details?: { isMainFrame?: boolean; mediaType?: string }) => boolean) | undefined;
    let device: (() => boolean) | undefined;
    const downloads: Listener[] = [];
    const session: HardenableSession = {
      setPermissionRequestHandler: (handler) => void (request = handler),
      setPermissionCheckHandler: (handler) => void (check = handler),
      setDevicePermissionHandler: (handler) => void (device = handler),
      on: (_event: 'will-download', listener: Listener) => downloads.push(listener),
    };
    const refused: RefusedAction[] = [];
    hardenSession(session, (what) => refused.push(what));
    const ask = (permission: string, requestingUrl: string, more: { isMainFrame?: boolean; mediaTypes?: readonly string[] } = {}) => {
      const callback = vi.fn();
      request!(null, permission, callback, { requestingUrl, isMainFrame: true, ...more });
      expect(callback).toHaveBeenCalledOnce();
      return callback.mock.calls[0]![0] as boolean;
    };
    return { ask, check: check!, device: device!, downloads, refused };
  }

  it('grants the camera alone to the app’s main frame (QR scanning); refuses the microphone, unknown media, frames and other origins', () => {
    const { ask, check, refused } = hardenedSession();
    expect(ask('media', APP_ENTRY_URL, { mediaTypes: ['video'] })).toBe(true);
    expect(refused).toEqual([]);
    expect(ask('media', APP_ENTRY_URL, { mediaTypes: ['audio'] })).toBe(false);
    expect(ask('media', APP_ENTRY_URL, { mediaTypes: ['video', 'audio'] })).toBe(false);
    expect(ask('media', APP_ENTRY_URL, { mediaTypes: [] })).toBe(false);
    expect(ask('media', APP_ENTRY_URL)).toBe(false);
    expect(ask('media', APP_ENTRY_URL, { mediaTypes: ['video'], isMainFrame: false })).toBe(false);
    expect(ask('media', 'https://evil.example/', { mediaTypes: ['video'] })).toBe(false);
    expect(ask('display-capture', APP_ENTRY_URL, { mediaTypes: ['video'] })).toBe(false);
    expect(refused).toHaveLength(7);
    expect(refused.every((r) => r.kind === 'permission')).toBe(true);
    expect(check(null, 'media', APP_ORIGIN, { isMainFrame: true, mediaType: 'video' })).toBe(true);
    expect(check(null, 'media', APP_ORIGIN, { isMainFrame: true, mediaType: 'audio' })).toBe(false);
    expect(check(null, 'media', 'https://evil.example', { isMainFrame: true, mediaType: 'video' })).toBe(false);
  });

  it('lets the app write text to the clipboard, never read it', () => {
    const { ask } = hardenedSession();
    expect(ask('clipboard-sanitized-write', APP_ENTRY_URL)).toBe(true);
    expect(ask('clipboard-sanitized-write', 'https://evil.example/')).toBe(false);
    expect(ask('clipboard-read', APP_ENTRY_URL)).toBe(false);
  });

  it.each(['geolocation', 'clipboard-read', 'display-capture', 'midiSysex', 'openExternal', 'fullscreen', 'hid', 'serial', 'usb', 'unknown'])(
    'refuses %s',
    (permission) => {
      expect(hardenedSession().ask(permission, APP_ENTRY_URL)).toBe(false);
    },
  );

  it('grants notifications to the app origin only', () => {
    const { ask, check } = hardenedSession();
    expect(ask('notifications', APP_ENTRY_URL)).toBe(true);
    expect(ask('notifications', 'https://evil.example/')).toBe(false);
    expect(check(null, 'notifications', APP_ORIGIN)).toBe(true);
    expect(check(null, 'notifications', 'https://evil.example')).toBe(false);
    expect(check(null, 'media', APP_ORIGIN)).toBe(false);
  });

  it('grants no USB/HID/serial device and cancels every download', () => {
    const { device, downloads, refused } = hardenedSession();
    expect(device()).toBe(false);
    const event = navigationEvent('');
    for (const listener of downloads) (listener as (e: unknown) => void)(event);
    expect(event.prevented).toBe(true);
    expect(refused).toContainEqual({ kind: 'download' });
  });
});

describe('IPC sender frame', () => {
  const top = (url: string) => ({ url, parent: null });

  it('accepts only the live top-level frame of app://parley', () => {
    expect(isTrustedSenderFrame(top(APP_ENTRY_URL))).toBe(true);
  });

  it.each([
    ['a destroyed frame (null)', null],
    ['a subframe of the app', { url: APP_ENTRY_URL, parent: top(APP_ENTRY_URL) }],
    ['a foreign https page', top('https://evil.example/')],
    ['a file:// page', top('file:///tmp/x.html')],
    ['another app:// host', top('app://evil/index.html')],
    ['about:blank', top('about:blank')],
  ])('refuses %s', (_name, frame) => {
    expect(isTrustedSenderFrame(frame)).toBe(false);
  });
});
