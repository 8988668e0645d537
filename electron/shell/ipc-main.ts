/**
 * Electron transport of the contract, main-process side: one `ipcMain.handle` registration per
 * channel. Each handler first checks the sender frame (host/security.ts: a live top-level frame on
 * app://parley), then hands the single argument to the engine's dispatcher
 * (electron/engine/dispatch.ts, the one contract layer), which validates request, response and
 * error. Events go to a window's webContents on one channel, EVENT_CHANNEL, framed as
 * { event, payload } after validation (host/events.ts).
 *
 * Imports no `electron` value: ipcMain and the webContents are passed in.
 */
import type { IpcMain, WebContents } from 'electron';
import type { ContractFault, Dispatch } from '../engine/dispatch.js';
import { EVENT_CHANNEL, type ChannelDescriptor } from '../host/channels.js';
import { createEventEmitter, type EmitEvent } from '../host/events.js';
import { isTrustedSenderFrame, type RefusedAction, type SenderFrameLike } from '../host/security.js';

export type InvokeEventLike = { readonly senderFrame: SenderFrameLike | null };

export type IpcMainLike = {
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
};

export type RegisterOptions = {
  readonly ipcMain: IpcMainLike;
  readonly channels: readonly ChannelDescriptor[];
  readonly invoke: Dispatch;
  /** Defaults to host/security.ts's check; injectable for tests only. */
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
        return { ok: false, error: { code: 'INVALID_REQUEST', message: 'expected exactly one argument' } };
      }
      return options.invoke(channel, args[0]);
    });
  }
  return () => {
    for (const { channel } of options.channels) options.ipcMain.removeHandler(channel);
  };
}

export type WebContentsSink = { isDestroyed(): boolean; send(channel: string, ...args: unknown[]): void };

/** An emitter that validates each event and sends it to one window (dropped once it is gone). */
export function createWebContentsEmitter(contents: WebContentsSink, options: { readonly onFault?: (fault: ContractFault) => void } = {}): EmitEvent {
  return createEventEmitter((message) => {
    if (!contents.isDestroyed()) contents.send(EVENT_CHANNEL, message);
  }, options);
}

// Compile-time checks that the structural types fit Electron's.
type Assignable<T extends U, U> = T;
export type __ElectronShapeChecks = [Assignable<IpcMain, IpcMainLike>, Assignable<WebContents, WebContentsSink>];
