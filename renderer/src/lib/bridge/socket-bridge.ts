/**
 * The renderer's side of the browser host's WebSocket (frames: shared/api/host-frames.ts; the path,
 * the fragment key and the close codes are mirrored from electron/browser-host/protocol.ts, since
 * the renderer imports only types): reads the per-launch access key from
 * the URL fragment, sends it as the first frame, and on `ready` builds the same object the Electron
 * preload exposes as `window.parley` — one function per channel method plus `on(event, listener)`.
 * State classes (lib/state/*.svelte.ts) are its only users.
 *
 * Close codes: 4401 the key was refused, 4408 the hello came too late; anything else before
 * `ready` means the host is unreachable.
 */
import type { ClientFrame, EventFrame, ReadyFrame, ResponseFrame } from '../../../../shared/api/host-frames.js';

export type BridgeError = { readonly code: string; readonly message: string };
export type BridgeResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: BridgeError };
export type BridgeMethod = (request?: unknown) => Promise<BridgeResult>;
export type Subscribe = (event: string, listener: (payload: unknown) => void) => () => void;

/**
 * The transport-neutral bridge, untyped per channel; state/host.svelte.ts types it as shared/api's
 * `Bridge`, the shape both hosts build from the contract table.
 */
export type HostBridge = { readonly on: Subscribe } & { readonly [method: string]: BridgeMethod | Subscribe };

export const WS_PATH = '/ws';
export const SECRET_FRAGMENT_KEY = 'k';
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** sessionStorage key: a reload of the same tab keeps working after the fragment is removed. */
const STORAGE_KEY = 'parley.accessKey';

export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_AUTH_TIMEOUT = 4408;

/**
 * The access key of this launch: taken from `#k=…` (then removed from the address bar, history and
 * any screenshot, and kept in this tab's sessionStorage for reloads), or from sessionStorage.
 */
export function readAccessKey(
  location: Pick<Location, 'hash' | 'pathname' | 'search'>,
  history: Pick<History, 'replaceState'>,
  storage: Pick<Storage, 'getItem' | 'setItem'>,
): string | null {
  const fromFragment = new URLSearchParams(location.hash.replace(/^#/, '')).get(SECRET_FRAGMENT_KEY);
  if (fromFragment !== null && SECRET_PATTERN.test(fromFragment)) {
    storage.setItem(STORAGE_KEY, fromFragment);
    history.replaceState(null, '', `${location.pathname}${location.search}`);
    return fromFragment;
  }
  const stored = storage.getItem(STORAGE_KEY);
  return stored !== null && SECRET_PATTERN.test(stored) ? stored : null;
}

export type ConnectFailure = 'unauthorized' | 'unreachable';

export type SocketConnection = {
  readonly bridge: HostBridge;
  /** Resolves once the socket is gone (host stopped, network error, page closing). */
  readonly closed: Promise<void>;
  close(): void;
};

export type WebSocketLike = Pick<WebSocket, 'send' | 'close' | 'addEventListener'>;

export function connectSocketBridge(options: {
  readonly url: string;
  readonly secret: string;
  readonly createSocket?: (url: string) => WebSocketLike;
}): Promise<{ ok: true; connection: SocketConnection } | { ok: false; reason: ConnectFailure }> {
  const socket = (options.createSocket ?? ((url) => new WebSocket(url)))(options.url);
  const pending = new Map<number, { resolve: (r: BridgeResult) => void; reject: (e: Error) => void }>();
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  let nextId = 1;
  let ready = false;
  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const sendFrame = (frame: ClientFrame) => socket.send(JSON.stringify(frame));

  return new Promise((resolve) => {
    socket.addEventListener('open', () => sendFrame({ type: 'hello', secret: options.secret }));

    socket.addEventListener('close', (event) => {
      for (const { reject } of pending.values()) reject(new Error('connection to the Parley host lost'));
      pending.clear();
      markClosed();
      if (!ready) {
        resolve({ ok: false, reason: event.code === CLOSE_UNAUTHORIZED || event.code === CLOSE_AUTH_TIMEOUT ? 'unauthorized' : 'unreachable' });
      }
    });

    socket.addEventListener('message', (event) => {
      let frame: ReadyFrame | ResponseFrame | EventFrame;
      try {
        frame = JSON.parse(String(event.data)) as typeof frame;
      } catch {
        return;
      }
      if (frame.type === 'ready' && !ready) {
        ready = true;
        resolve({ ok: true, connection: { bridge: buildBridge(frame), closed, close: () => socket.close(1000) } });
      } else if (frame.type === 'response') {
        pending.get(frame.id)?.resolve(frame.result);
        pending.delete(frame.id);
      } else if (frame.type === 'event') {
        for (const listener of listeners.get(frame.event) ?? []) listener(frame.payload);
      }
    });
  });

  function buildBridge(frame: ReadyFrame): HostBridge {
    const bridge: Record<string, BridgeMethod | Subscribe> = Object.create(null) as Record<string, BridgeMethod | Subscribe>;
    for (const { channel, method } of frame.channels) {
      bridge[method] = (request?: unknown) =>
        new Promise<BridgeResult>((resolve, reject) => {
          const id = nextId++;
          pending.set(id, { resolve, reject });
          sendFrame({ type: 'request', id, channel, request });
        });
    }
    const known = new Set(frame.events);
    bridge.on = (event: string, listener: (payload: unknown) => void) => {
      if (!known.has(event)) throw new TypeError(`unknown event ${event}`);
      let set = listeners.get(event);
      if (set === undefined) listeners.set(event, (set = new Set()));
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    };
    return Object.freeze(bridge) as HostBridge;
  }
}
