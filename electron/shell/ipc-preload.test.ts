/**
 * The preload's bridge: one function per channel method and `on`, nothing generic; and the real
 * bundle (scripts/lib/preload-bundle.mjs) is one CommonJS file that requires only `electron`,
 * holds the bridge and the contract's names but no schema (issue 10 item 14: it was 777 KB, all
 * but 26 KB of it zod), stays under its byte budget, and exposes exactly one function per contract
 * channel when run against a fake `electron` module.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { describe, expect, it, vi } from 'vitest';
import { bundlePreload, bundlePreloadWithInputs, PRELOAD_BUDGET_BYTES, PRELOAD_SOURCES } from '../../scripts/lib/preload-bundle.mjs';
import { CONTRACT } from '../../shared/api/contract.js';
import { EVENTS } from '../../shared/api/events.js';
import { describeChannels, EVENT_CHANNEL } from '../host/channels.js';
import { buildPreloadBridge, type IpcRendererLike } from './ipc-preload.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function fakeIpcRenderer() {
  let eventListener: ((event: unknown, ...args: unknown[]) => void) | undefined;
  const ipcRenderer = {
    invoke: vi.fn(async (..._args: unknown[]) => ({ ok: true, value: null })),
    on: vi.fn((channel: string, listener: (event: unknown, ...args: unknown[]) => void) => {
      expect(channel).toBe(EVENT_CHANNEL);
      eventListener = listener;
    }),
  } satisfies IpcRendererLike;
  return { ipcRenderer, push: (message: unknown) => eventListener?.({ sender: 'main' }, message) };
}

function bridgeFor() {
  const fake = fakeIpcRenderer();
  const bridge = buildPreloadBridge({
    channels: [
      { channel: 'messages:send', method: 'send' },
      { channel: 'settings:get', method: 'getSettings' },
    ],
    eventNames: ['typing', 'message:added'],
    eventChannel: EVENT_CHANNEL,
    ipcRenderer: fake.ipcRenderer,
  });
  return { ...fake, bridge: bridge as Record<string, (...args: unknown[]) => unknown> };
}

describe('buildPreloadBridge', () => {
  it('exposes one function per channel method plus `on`, and nothing generic', () => {
    const { bridge } = bridgeFor();
    expect(Object.keys(bridge).sort()).toEqual(['getSettings', 'on', 'send']);
    for (const generic of ['invoke', 'send_', 'ipcRenderer', 'emit', 'request']) expect(generic in bridge).toBe(false);
    expect(Object.getPrototypeOf(bridge)).toBeNull();
    expect(Object.isFrozen(bridge)).toBe(true);
  });

  it('forwards exactly one argument to its own channel, whatever the page passes', async () => {
    const { bridge, ipcRenderer } = bridgeFor();
    await bridge.send!({ conversationId: '1', body: 'hi' }, 'smuggled', { extra: true });
    expect(ipcRenderer.invoke).toHaveBeenCalledWith('messages:send', { conversationId: '1', body: 'hi' });
    await bridge.getSettings!({});
    expect(ipcRenderer.invoke).toHaveBeenLastCalledWith('settings:get', {});
  });

  it('delivers pushed events to the listeners of that event until they unsubscribe', () => {
    const { bridge, push } = bridgeFor();
    const typing = vi.fn();
    const added = vi.fn();
    const off = bridge.on!('typing', typing) as () => void;
    bridge.on!('message:added', added);
    push({ event: 'typing', payload: { typing: true } });
    expect(typing).toHaveBeenCalledWith({ typing: true });
    expect(added).not.toHaveBeenCalled();
    off();
    push({ event: 'typing', payload: { typing: false } });
    expect(typing).toHaveBeenCalledTimes(1);
  });

  it('a throwing listener does not starve the others; malformed pushes are ignored', () => {
    const { bridge, push } = bridgeFor();
    const second = vi.fn();
    bridge.on!('typing', () => {
      throw new Error('bug in one subscriber');
    });
    bridge.on!('typing', second);
    push('garbage');
    push({ event: 42 });
    push({ event: 'typing', payload: 1 });
    expect(second).toHaveBeenCalledExactlyOnceWith(1);
  });

  it('refuses to subscribe to an unknown event or with a non-function', () => {
    const { bridge } = bridgeFor();
    expect(() => bridge.on!('anything', () => undefined)).toThrow(TypeError);
    expect(() => bridge.on!('typing', 'not a function')).toThrow(TypeError);
  });
});

describe('the preload bundle', () => {
  it('is one CommonJS file whose only require is electron', async () => {
    const code = await bundlePreload(root);
    const required = [...code.matchAll(/\brequire\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map((m) => m[1]);
    expect(required).toEqual(['electron']);
    expect(code).not.toMatch(/^\s*(import|export)\s/m);
  });

  it('holds the bridge and the contract names only (no zod, no shared/api module) and stays under its budget', async () => {
    const { code, inputs } = await bundlePreloadWithInputs(root);
    expect(inputs.filter((input) => !PRELOAD_SOURCES.has(input))).toEqual([]);
    expect(code.length).toBeLessThanOrEqual(PRELOAD_BUDGET_BYTES);
  });

  it('exposes window.parley through contextBridge, and only that, when run as a sandboxed preload', async () => {
    const code = await bundlePreload(root);
    const exposed: [string, unknown][] = [];
    const { ipcRenderer } = fakeIpcRenderer();
    const electron = { contextBridge: { exposeInMainWorld: (key: string, api: unknown) => exposed.push([key, api]) }, ipcRenderer };
    const sandboxRequire = (name: string) => {
      if (name !== 'electron') throw new Error(`a sandboxed preload cannot require ${name}`);
      return electron;
    };
    const module = { exports: {} };
    vm.runInNewContext(code, { require: sandboxRequire, module, exports: module.exports }, { filename: 'preload.cjs' });
    expect(exposed).toHaveLength(1);
    expect(exposed[0]![0]).toBe('parley');
    const api = exposed[0]![1] as Record<string, (...args: unknown[]) => unknown>;
    expect(typeof api.on).toBe('function');
    expect(ipcRenderer.on).toHaveBeenCalledWith(EVENT_CHANNEL, expect.any(Function));
    // One function per contract channel, each carrying its own channel; events by the contract's names.
    const channels = describeChannels(CONTRACT);
    expect(Object.keys(api).sort()).toEqual([...channels.map((c) => c.method), 'on'].sort());
    for (const { channel, method } of channels) {
      await api[method]!({ probe: channel });
      expect(ipcRenderer.invoke).toHaveBeenLastCalledWith(channel, { probe: channel });
    }
    for (const event of Object.keys(EVENTS)) expect(typeof api.on!(event, () => undefined)).toBe('function');
    expect(() => api.on!('not:anEvent', () => undefined)).toThrow(/unknown event/);
  });
});
