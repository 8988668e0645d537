/**
 * Electron transport of the contract, preload side: builds the object the preload exposes as
 * `window.parley` — one function per channel, named by the channel's `method`, each forwarding
 * exactly one argument to `ipcRenderer.invoke(channel, request)`; plus `on(event, listener)` for
 * pushed events, which returns its unsubscribe function. Never a generic `send(channel, ...args)`
 * (STYLE "IPC"). The object is frozen and null-prototyped; contextBridge copies it into the page.
 *
 * Runs in the sandboxed preload (bundled into one CommonJS file): imports types only.
 */
import type { IpcRenderer } from 'electron';
import type { ChannelDescriptor } from '../host/channels.js';

export type IpcRendererLike = {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
};

export type EventListener = (payload: unknown) => void;

export type PreloadBridge = {
  readonly [method: string]: ((request?: unknown) => Promise<unknown>) | ((event: string, listener: EventListener) => () => void);
};

export function buildPreloadBridge(options: {
  readonly channels: readonly ChannelDescriptor[];
  readonly eventNames: readonly string[];
  readonly eventChannel: string;
  readonly ipcRenderer: IpcRendererLike;
}): PreloadBridge {
  const { ipcRenderer } = options;
  const bridge: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const { channel, method } of options.channels) {
    // Exactly one argument travels, whatever the page passed; main validates it.
    bridge[method] = (request?: unknown) => ipcRenderer.invoke(channel, request);
  }

  const known = new Set(options.eventNames);
  const listeners = new Map<string, Set<EventListener>>();
  ipcRenderer.on(options.eventChannel, (_event, message) => {
    if (typeof message !== 'object' || message === null) return;
    const { event, payload } = message as { event?: unknown; payload?: unknown };
    if (typeof event !== 'string') return;
    for (const listener of listeners.get(event) ?? []) {
      try {
        listener(payload);
      } catch {
        // one faulty subscriber must not starve the others
      }
    }
  });

  bridge.on = (event: string, listener: EventListener) => {
    if (!known.has(event)) throw new TypeError(`unknown event ${String(event)}`);
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    let set = listeners.get(event);
    if (set === undefined) listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  };
  return Object.freeze(bridge) as PreloadBridge;
}

type Assignable<T extends U, U> = T;
export type __ElectronShapeChecks = [Assignable<IpcRenderer, IpcRendererLike>];
