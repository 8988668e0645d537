/**
 * Electron's IPC transport against fakes of ipcMain and webContents: one registration per channel,
 * each checking the sender frame before anything else, and validated events to one window.
 */
import { describe, expect, it, vi } from 'vitest';
import { CHANNELS, CONTRACT } from '../../shared/api/contract.js';
import type { ContactView } from '../../shared/api/view-models.js';
import { createDispatcher, type Handlers } from '../engine/dispatch.js';
import { EVENT_CHANNEL, describeChannels } from '../host/channels.js';
import { REFUSED_SENDER_MESSAGE, createWebContentsEmitter, registerIpcHandlers, type IpcMainLike, type InvokeEventLike } from './ipc-main.js';
import { APP_ENTRY_URL, type RefusedAction } from '../host/security.js';

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

const BOB: ContactView = {
  id: 'b0'.repeat(16),
  username: 'bob',
  displayName: 'Bob',
  about: null,
  avatarId: null,
  accepted: true,
  blocked: false,
  verified: false,
  keyChangePending: false,
  quantumResistant: true,
  deviceListStale: false,
  deviceCount: 1,
  addedAt: 1_700_000_000_000,
};

function setup() {
  const addContact = vi.fn<Handlers['contacts:add']>(async ({ username }) => ({ ...BOB, username }));
  const getSettings = vi.fn<Handlers['settings:get']>(() => {
    throw new Error('not under test');
  });
  const unexpected = () => {
    throw new Error('not under test');
  };
  const invoke = createDispatcher({
    ...(Object.fromEntries(CHANNELS.map((c) => [c, unexpected])) as unknown as Handlers),
    'contacts:add': addContact,
    'settings:get': getSettings,
  });
  const { ipcMain, handlers } = fakeIpcMain();
  const refused: RefusedAction[] = [];
  const unregister = registerIpcHandlers({ ipcMain, channels: describeChannels(CONTRACT), invoke, onRefused: (r) => refused.push(r) });
  const call = (channel: string, event: InvokeEventLike, ...args: unknown[]) => handlers.get(channel)!(event, ...args);
  return { ipcMain, handlers, addContact, getSettings, refused, unregister, call };
}

describe('registerIpcHandlers', () => {
  it('registers exactly one handler per channel and removes them all again', () => {
    const { ipcMain, handlers, unregister } = setup();
    expect([...handlers.keys()]).toEqual(CHANNELS);
    expect(ipcMain.handle).toHaveBeenCalledTimes(CHANNELS.length);
    unregister();
    expect(handlers.size).toBe(0);
  });

  it('serves the app frame: request validated, handler answered', async () => {
    const { call, addContact } = setup();
    expect(await call('contacts:add', appFrame, { username: 'bob' })).toEqual({ ok: true, value: BOB });
    expect(addContact).toHaveBeenCalledWith({ username: 'bob' });
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
  const TYPING = { event: 'typing', payload: { conversationId: '1', contactId: BOB.id, typing: true } } as const;

  function fakeContents(destroyed = false) {
    return { isDestroyed: vi.fn(() => destroyed), send: vi.fn() };
  }

  it('sends validated events on the one event channel', () => {
    const contents = fakeContents();
    expect(createWebContentsEmitter(contents)(TYPING)).toBe(true);
    expect(contents.send).toHaveBeenCalledWith(EVENT_CHANNEL, TYPING);
  });

  it('does not send an invalid payload', () => {
    const contents = fakeContents();
    const faults: unknown[] = [];
    const emit = createWebContentsEmitter(contents, { onFault: (f) => faults.push(f) });
    expect(emit({ event: 'typing', payload: { ...TYPING.payload, typing: 'maybe' } } as never)).toBe(false);
    expect(contents.send).not.toHaveBeenCalled();
    expect(faults).toHaveLength(1);
  });

  it('drops events for a window that is gone', () => {
    const contents = fakeContents(true);
    createWebContentsEmitter(contents)(TYPING);
    expect(contents.send).not.toHaveBeenCalled();
  });
});
