/**
 * Electron transport of the contract, main-process side: one `ipcMain.handle` registration per
 * channel of the table. Each handler first checks the sender frame (security.ts: a live top-level
 * frame on app://parley), then hands the single argument to the shared invoker (ipc-contract.ts),
 * which validates request and response. Events go to a window's webContents on one channel,
 * EVENT_CHANNEL, framed as { event, payload } after validation.
 *
 * Imports no `electron` value: ipcMain and the webContents are passed in.
 */
import type { IpcMain, WebContents } from 'electron';
import { EVENT_CHANNEL, HOST_ERROR_CODES, type ChannelDescriptor, type EventTable } from '../host/channels.js';
import { createEventEmitter, type EventEmitter, type Invoke, type InvokerOptions } from '../host/ipc-contract.js';
import { isTrustedSenderFrame, type RefusedAction, type SenderFrameLike } from '../host/security.js';

export type InvokeEventLike = { readonly senderFrame: SenderFrameLike | null };

export type IpcMainLike = {
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
};

export type RegisterOptions = {
  readonly ipcMain: IpcMainLike;
  readonly channels: readonly ChannelDescriptor[];
  readonly invoke: Invoke;
  /** Defaults to security.ts's check; injectable for tests only. */
  readonly isTrustedSender?: (frame: SenderFrameLike | null) => boolean;
  readonly onRefused?: (what: RefusedAction) => void;
};

/** Error text a refused sender sees; it learns nothing about the channel or the app state. */
export const REFUSED_SENDER_MESSAGE = 'refused';

/** Registers every channel; returns a function that removes them all (window teardown, tests). */
export function registerIpcHandlers(options: RegisterOptions): () => void {
  const trusted = options.isTrustedSender ?? isTrustedSenderFrame;
  for (const { channel } of options.channels) {
    options.ipcMain.handle(channel, async (event, ...args) => {
      if (!trusted(event.senderFrame)) {
        options.onRefused?.({ kind: 'ipc-sender', channel });
        // A rejected promise, not a Result: an untrusted frame is not a caller to answer.
        throw new Error(REFUSED_SENDER_MESSAGE);
      }
      // The preload forwards exactly one argument; anything else did not come from it.
      if (args.length !== 1) {
        return { ok: false, error: { code: HOST_ERROR_CODES.invalidRequest, message: 'expected exactly one argument' } };
      }
      return options.invoke(channel, args[0], { host: 'electron' });
    });
  }
  return () => {
    for (const { channel } of options.channels) options.ipcMain.removeHandler(channel);
  };
}

export type WebContentsSink = { isDestroyed(): boolean; send(channel: string, ...args: unknown[]): void };

/** An emitter that validates each event and sends it to one window (dropped once it is gone). */
export function createWebContentsEmitter<E extends EventTable>(
  events: E,
  contents: WebContentsSink,
  options: Pick<InvokerOptions, 'onFault'> = {},
): EventEmitter<E> {
  return createEventEmitter(
    events,
    (message) => {
      if (!contents.isDestroyed()) contents.send(EVENT_CHANNEL, message);
    },
    options,
  );
}

// Compile-time checks that the structural types fit Electron's.
type Assignable<T extends U, U> = T;
export type __ElectronShapeChecks = [Assignable<IpcMain, IpcMainLike>, Assignable<WebContents, WebContentsSink>];
