/**
 * Electron's IPC transport against fakes of ipcMain and webContents: one registration per channel,
 * each checking the sender frame before anything else, and validated events to one window.
 */
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { EVENT_CHANNEL } from '../host/channels.js';
import { createInvoker } from '../host/ipc-contract.js';
import { REFUSED_SENDER_MESSAGE, createWebContentsEmitter, registerIpcHandlers, type IpcMainLike, type InvokeEventLike } from './ipc-main.js';
import { APP_ENTRY_URL, type RefusedAction } from '../host/security.js';

const TABLE = {
  'contacts:add': {
    method: 'addContact',
    request: z.strictObject({ username: z.string().min(1).max(32) }),
    response: z.strictObject({ contactId: z.string() }),
  },
  'settings:get': { method: 'getSettings', request: z.strictObject({}), response: z.strictObject({ receipts: z.boolean() }) },
} as const;

type IpcListener = (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>;

function fakeIpcMain() {
  const handlers = new Map<string, IpcListener>();
  const ipcMain: IpcMainLike = {
    handle: vi.fn((channel: string, listener: IpcListener) => {
      if (handlers.has(channel)) throw new Error(`second handler for ${channel}`); // as Electron does
      handlers.set(channel, listener);
    }),
    removeHandler: vi.fn((channel: string) => void handlers.delete(channel)),
  };
  return { ipcMain, handlers };
}

const appFrame = { senderFrame: { url: APP_ENTRY_URL, parent: null } };

function setup() {
  const addContact = vi.fn(async ({ username }: { username: string }) => ({ ok: true as const, value: { contactId: `id-${username}` } }));
  const getSettings = vi.fn(async () => ({ ok: true as const, value: { receipts: true } }));
  const invoker = createInvoker(TABLE, { 'contacts:add': addContact, 'settings:get': getSettings });
  const { ipcMain, handlers } = fakeIpcMain();
  const refused: RefusedAction[] = [];
  const unregister = registerIpcHandlers({ ipcMain, channels: invoker.channels, invoke: invoker.invoke, onRefused: (r) => refused.push(r) });
  const call = (channel: string, event: InvokeEventLike, ...args: unknown[]) => handlers.get(channel)!(event, ...args);
  return { ipcMain, handlers, addContact, getSettings, refused, unregister, call };
}

describe('registerIpcHandlers', () => {
  it('registers exactly one handler per channel and removes them all again', () => {
    const { ipcMain, handlers, unregister } = setup();
    expect([...handlers.keys()]).toEqual(['contacts:add', 'settings:get']);
    expect(ipcMain.handle).toHaveBeenCalledTimes(2);
    unregister();
    expect(handlers.size).toBe(0);
  });

  it('serves the app frame: request validated, handler answered', async () => {
    const { call, addContact } = setup();
    expect(await call('contacts:add', appFrame, { username: 'bob' })).toEqual({ ok: true, value: { contactId: 'id-bob' } });
    expect(addContact).toHaveBeenCalledWith({ username: 'bob' }, { host: 'electron' });
  });

  it.each([
    ['a foreign page', { senderFrame: { url: 'https://evil.example/', parent: null } }],
    ['a subframe of the app', { senderFrame: { url: APP_ENTRY_URL, parent: { url: APP_ENTRY_URL, parent: null } } }],
    ['a destroyed frame', { senderFrame: null }],
    ['a file:// page', { senderFrame: { url: 'file:///tmp/evil.html', parent: null } }],
  ])('refuses %s before validation or any handler', async (_name, event) => {
    const { call, addContact, refused } = setup();
    await expect(call('contacts:add', event, { username: 'bob' })).rejects.toThrow(REFUSED_SENDER_MESSAGE);
    expect(addContact).not.toHaveBeenCalled();
    expect(refused).toEqual([{ kind: 'ipc-sender', channel: 'contacts:add' }]);
  });

  it('refuses a malformed request from the app frame with INVALID_REQUEST', async () => {
    const { call, addContact } = setup();
    const result = (await call('contacts:add', appFrame, { username: '' })) as { ok: boolean; error?: { code: string } };
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('INVALID_REQUEST');
    expect(addContact).not.toHaveBeenCalled();
  });

  it('refuses calls that do not carry exactly one argument (the preload always sends one)', async () => {
    const { call, getSettings } = setup();
    for (const args of [[], [{}, {}], [{}, 'extra', 3]]) {
      const result = (await call('settings:get', appFrame, ...args)) as { ok: boolean; error?: { code: string } };
      expect(result.error?.code).toBe('INVALID_REQUEST');
    }
    expect(getSettings).not.toHaveBeenCalled();
  });
});

describe('createWebContentsEmitter', () => {
  const EVENTS = { typing: z.strictObject({ conversationId: z.string(), typing: z.boolean() }) } as const;

  function fakeContents(destroyed = false) {
    return { isDestroyed: vi.fn(() => destroyed), send: vi.fn() };
  }

  it('sends validated events on the one event channel', () => {
    const contents = fakeContents();
    const emitter = createWebContentsEmitter(EVENTS, contents);
    emitter.emit('typing', { conversationId: '1', typing: true });
    expect(contents.send).toHaveBeenCalledWith(EVENT_CHANNEL, { event: 'typing', payload: { conversationId: '1', typing: true } });
  });

  it('does not send an invalid payload', () => {
    const contents = fakeContents();
    const faults: unknown[] = [];
    const emitter = createWebContentsEmitter(EVENTS, contents, { onFault: (f) => faults.push(f) });
    expect(emitter.emit('typing', { conversationId: '1', typing: 'maybe' } as never)).toBe(false);
    expect(contents.send).not.toHaveBeenCalled();
    expect(faults).toHaveLength(1);
  });

  it('drops events for a window that is gone', () => {
    const contents = fakeContents(true);
    createWebContentsEmitter(EVENTS, contents).emit('typing', { conversationId: '1', typing: false });
    expect(contents.send).not.toHaveBeenCalled();
  });
});
