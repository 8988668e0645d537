/**
 * The renderer's half of the browser host protocol against a scripted socket: the access key moves
 * from the fragment to sessionStorage and out of the address bar; the hello goes first; the bridge
 * built from `ready` has one function per method; close codes map to what the person is told.
 * (Both halves run against each other in test/e2e.)
 */
import { describe, expect, it, vi } from 'vitest';
import { connectSocketBridge, readAccessKey, type WebSocketLike } from './socket-bridge.js';

const KEY = 'x'.repeat(43);

function storage(initial: Record<string, string> = {}) {
  const map = new Map(Object.entries(initial));
  return { getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v), map };
}

describe('readAccessKey', () => {
  it('takes the key from the fragment, keeps it for reloads and strips it from the address bar', () => {
    const store = storage();
    const history = { replaceState: vi.fn() };
    expect(readAccessKey({ hash: `#k=${KEY}`, pathname: '/', search: '' }, history, store)).toBe(KEY);
    expect(history.replaceState).toHaveBeenCalledWith(null, '', '/');
    expect(store.map.get('parley.accessKey')).toBe(KEY);
  });

  it('falls back to this tab’s stored key after a reload', () => {
    const history = { replaceState: vi.fn() };
    expect(readAccessKey({ hash: '', pathname: '/', search: '' }, history, storage({ 'parley.accessKey': KEY }))).toBe(KEY);
    expect(history.replaceState).not.toHaveBeenCalled();
  });

  it.each(['', '#', '#k=', '#k=short', `#k=${KEY}!`, `#key=${KEY}`])('has no key for the fragment %j', (hash) => {
    expect(readAccessKey({ hash, pathname: '/', search: '' }, { replaceState: vi.fn() }, storage())).toBeNull();
  });
});

/** A socket the test drives: it records what the page sends and fires open/message/close. */
class ScriptedSocket extends EventTarget implements WebSocketLike {
  sent: unknown[] = [];
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close = vi.fn();
  open() {
    this.dispatchEvent(new Event('open'));
  }
  receive(frame: unknown) {
    this.dispatchEvent(Object.assign(new Event('message'), { data: JSON.stringify(frame) }));
  }
  closeWith(code: number) {
    this.dispatchEvent(Object.assign(new Event('close'), { code }));
  }
}

function connect() {
  const socket = new ScriptedSocket();
  const result = connectSocketBridge({ url: 'ws://127.0.0.1:1/ws', secret: KEY, createSocket: () => socket });
  return { socket, result };
}

describe('connectSocketBridge', () => {
  it('sends the hello first, then builds one function per method from `ready`', async () => {
    const { socket, result } = connect();
    socket.open();
    expect(socket.sent).toEqual([{ type: 'hello', secret: KEY }]);
    socket.receive({ type: 'ready', channels: [{ channel: 'messages:send', method: 'send' }], events: ['typing'] });
    const connected = await result;
    if (!connected.ok) throw new Error('not connected');
    const { bridge } = connected.connection;
    expect(Object.keys(bridge).sort()).toEqual(['on', 'send']);

    const reply = (bridge.send as (r: unknown) => Promise<unknown>)({ body: 'hi' });
    expect(socket.sent[1]).toEqual({ type: 'request', id: 1, channel: 'messages:send', request: { body: 'hi' } });
    socket.receive({ type: 'response', id: 1, result: { ok: true, value: { id: '9' } } });
    expect(await reply).toEqual({ ok: true, value: { id: '9' } });
  });

  it('delivers events to subscribers and refuses unknown events', async () => {
    const { socket, result } = connect();
    socket.open();
    socket.receive({ type: 'ready', channels: [], events: ['typing'] });
    const connected = await result;
    if (!connected.ok) throw new Error('not connected');
    const listener = vi.fn();
    const off = connected.connection.bridge.on('typing', listener);
    socket.receive({ type: 'event', event: 'typing', payload: { typing: true } });
    off();
    socket.receive({ type: 'event', event: 'typing', payload: { typing: false } });
    expect(listener).toHaveBeenCalledExactlyOnceWith({ typing: true });
    expect(() => connected.connection.bridge.on('nope', listener)).toThrow(TypeError);
  });

  it.each([
    [4401, 'unauthorized'],
    [4408, 'unauthorized'],
    [1006, 'unreachable'],
    [1001, 'unreachable'],
  ])('a close with %i before ready means %s', async (code, reason) => {
    const { socket, result } = connect();
    socket.open();
    socket.closeWith(code);
    expect(await result).toEqual({ ok: false, reason });
  });

  it('a lost connection fails pending calls and resolves `closed`', async () => {
    const { socket, result } = connect();
    socket.open();
    socket.receive({ type: 'ready', channels: [{ channel: 'settings:get', method: 'getSettings' }], events: [] });
    const connected = await result;
    if (!connected.ok) throw new Error('not connected');
    const pending = (connected.connection.bridge.getSettings as (r: unknown) => Promise<unknown>)({});
    socket.closeWith(1006);
    await expect(pending).rejects.toThrow(/connection to the Parley host lost/);
    await expect(connected.connection.closed).resolves.toBeUndefined();
  });
});
