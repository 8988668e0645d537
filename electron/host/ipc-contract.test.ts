/**
 * The validation layer both hosts share: unknown channels and malformed requests never reach a
 * handler; only schema-valid values and well-formed errors come back; a throwing or buggy handler
 * turns into INTERNAL without leaking what it held.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { describeChannels } from './channels.js';
import { createEventEmitter, createInvoker, handlersFromDispatch, type Handlers, type InvokeFault } from './ipc-contract.js';

/** A table shaped like shared/api's CONTRACT, small enough to reason about. */
const TABLE = {
  'account:unlock': {
    method: 'unlock',
    request: z.strictObject({ passphrase: z.string().min(8).max(64) }),
    response: z.strictObject({ locked: z.boolean() }),
  },
  'messages:send': {
    method: 'send',
    request: z.strictObject({ conversationId: z.string().regex(/^[1-9][0-9]*$/), body: z.string().min(1).max(100) }),
    response: z.strictObject({ id: z.string(), status: z.enum(['sending', 'sent']) }),
  },
} as const;

const EVENTS = {
  'message:added': z.strictObject({ id: z.string() }),
  typing: z.strictObject({ typing: z.boolean() }),
} as const;

const ctx = { host: 'browser' } as const;

function setup(overrides: Partial<Handlers<typeof TABLE>> = {}) {
  const unlock = vi.fn<Handlers<typeof TABLE>['account:unlock']>(async () => ({ ok: true, value: { locked: false } }));
  const send = vi.fn<Handlers<typeof TABLE>['messages:send']>(async (request) => ({ ok: true, value: { id: `m-${request.body.length}`, status: 'sending' } }));
  const faults: InvokeFault[] = [];
  const invoker = createInvoker(TABLE, { 'account:unlock': unlock, 'messages:send': send, ...overrides }, { onFault: (f) => faults.push(f) });
  return { invoker, unlock, send, faults };
}

describe('createInvoker: requests', () => {
  it('hands a valid request to its channel handler and returns the validated value', async () => {
    const { invoker, send } = setup();
    const result = await invoker.invoke('messages:send', { conversationId: '7', body: 'hi' }, ctx);
    expect(result).toEqual({ ok: true, value: { id: 'm-2', status: 'sending' } });
    expect(send).toHaveBeenCalledWith({ conversationId: '7', body: 'hi' }, ctx);
  });

  it.each(['nope:nothing', '__proto__', 'constructor', 'toString', 'hasOwnProperty', ''])('refuses the unknown channel %j', async (channel) => {
    const { invoker, unlock, send } = setup();
    const result = await invoker.invoke(channel, {}, ctx);
    expect(result).toEqual({ ok: false, error: { code: 'INVALID_REQUEST', message: 'unknown channel' } });
    expect(unlock).not.toHaveBeenCalled();
    expect(send).not.toHaveBeenCalled();
  });

  it.each([
    ['a missing field', { conversationId: '7' }],
    ['an unknown key', { conversationId: '7', body: 'hi', admin: true }],
    ['a wrong type', { conversationId: 7, body: 'hi' }],
    ['an out-of-range value', { conversationId: '7', body: 'x'.repeat(101) }],
    ['no object at all', 'hi'],
    ['null', null],
    ['a prototype-polluting key', JSON.parse('{"conversationId":"7","body":"hi","__proto__":{"polluted":true}}') as unknown],
  ])('refuses %s before any handler runs', async (_name, request) => {
    const { invoker, send } = setup();
    const result = await invoker.invoke('messages:send', request, ctx);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.code).toBe('INVALID_REQUEST');
    expect(send).not.toHaveBeenCalled();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('names the failing field but never echoes the input (it may be a passphrase)', async () => {
    const { invoker } = setup();
    const secret = 'hunter2'; // too short: fails min(8)
    const result = await invoker.invoke('account:unlock', { passphrase: secret }, ctx);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.message).toContain('passphrase');
      expect(result.error.message).not.toContain(secret);
    }
  });

  it('property: any input gets a Result and reaches the handler only if it matches the schema', async () => {
    const { invoker, send } = setup();
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue(), fc.record({ conversationId: fc.string(), body: fc.string() })), async (request) => {
        send.mockClear();
        const result = await invoker.invoke('messages:send', request, ctx);
        const valid = TABLE['messages:send'].request.safeParse(request).success;
        expect(typeof result.ok).toBe('boolean');
        expect(send.mock.calls.length).toBe(valid ? 1 : 0);
        expect(result.ok).toBe(valid);
      }),
      { numRuns: 300 },
    );
  });
});

describe('createInvoker: what handlers answer', () => {
  it('a throwing handler becomes INTERNAL; the fault names the error class, never its message', async () => {
    const { invoker, faults } = setup({
      'account:unlock': async () => {
        throw new TypeError('key 0xdeadbeef did not decrypt');
      },
    });
    const result = await invoker.invoke('account:unlock', { passphrase: 'correct horse' }, ctx);
    expect(result).toEqual({ ok: false, error: { code: 'INTERNAL', message: 'internal error' } });
    expect(faults).toEqual([{ kind: 'handler-threw', channel: 'account:unlock', errorName: 'TypeError' }]);
    expect(JSON.stringify(faults)).not.toContain('deadbeef');
  });

  it('a value outside the response schema is not sent (no extra fields such as key material)', async () => {
    const { invoker, faults } = setup({
      'account:unlock': async () => ({ ok: true, value: { locked: false, dbKey: 'c2VjcmV0' } as never }),
    });
    const result = await invoker.invoke('account:unlock', { passphrase: 'correct horse' }, ctx);
    expect(result).toEqual({ ok: false, error: { code: 'INTERNAL', message: 'internal error' } });
    expect(faults).toEqual([{ kind: 'invalid-response', channel: 'account:unlock' }]);
  });

  it('passes a well-formed error through and replaces a malformed one', async () => {
    const good = setup({ 'account:unlock': async () => ({ ok: false, error: { code: 'WRONG_PASSPHRASE', message: 'wrong passphrase' } }) });
    expect(await good.invoker.invoke('account:unlock', { passphrase: 'correct horse' }, ctx)).toEqual({
      ok: false,
      error: { code: 'WRONG_PASSPHRASE', message: 'wrong passphrase' },
    });
    for (const error of [{ code: 'lower', message: 'x' }, { code: 'X', message: 'x'.repeat(301) }, { code: 'X', message: 'x', stack: 'at …' }, 'boom']) {
      const bad = setup({ 'account:unlock': async () => ({ ok: false, error: error as never }) });
      expect(await bad.invoker.invoke('account:unlock', { passphrase: 'correct horse' }, ctx)).toEqual({
        ok: false,
        error: { code: 'INTERNAL', message: 'internal error' },
      });
      expect(bad.faults).toEqual([{ kind: 'invalid-error', channel: 'account:unlock' }]);
    }
  });

  it('a closed error-code set (shared/api ApiErrorSchema) is enforced when given', async () => {
    const errorSchema = z.strictObject({ code: z.enum(['LOCKED', 'INTERNAL', 'INVALID_REQUEST']), message: z.string().max(300) });
    const invoker = createInvoker(
      TABLE,
      handlersFromDispatch(TABLE, async () => ({ ok: false, error: { code: 'NOT_IN_THE_SET', message: 'x' } })),
      { errorSchema },
    );
    const result = await invoker.invoke('account:unlock', { passphrase: 'correct horse' }, ctx);
    expect(!result.ok && result.error.code).toBe('INTERNAL');
  });

  it.each([undefined, null, 42, { ok: 'yes' }, { ok: true }, { ok: false }])('a handler answering %j is an INTERNAL fault', async (answer) => {
    const { invoker, faults } = setup({ 'account:unlock': async () => answer as never });
    const result = await invoker.invoke('account:unlock', { passphrase: 'correct horse' }, ctx);
    expect(!result.ok && result.error.code).toBe('INTERNAL');
    expect(faults).toHaveLength(1);
  });
});

describe('channel tables', () => {
  it('lists one descriptor per channel, in table order', () => {
    expect(setup().invoker.channels).toEqual([
      { channel: 'account:unlock', method: 'unlock' },
      { channel: 'messages:send', method: 'send' },
    ]);
  });

  it.each([
    ['a channel without a namespace', { send: { method: 'send' } }],
    ['two channels with one method', { 'a:x': { method: 'same' }, 'b:y': { method: 'same' } }],
    ['a method shadowing `on`', { 'events:on': { method: 'on' } }],
    ['a method shadowing Object.prototype', { 'a:b': { method: 'toString' } }],
    ['a method that is not an identifier', { 'a:b': { method: 'do-it' } }],
  ])('refuses %s at start-up', (_name, table) => {
    expect(() => describeChannels(table)).toThrow(/channel table/);
  });

  it('refuses a table with a channel that has no handler', () => {
    expect(() => createInvoker(TABLE, { 'account:unlock': async () => ({ ok: true, value: { locked: false } }) } as never)).toThrow(
      /no handler for channel messages:send/,
    );
  });

  it('handlersFromDispatch routes every channel to the one dispatcher with its name', async () => {
    const dispatch = vi.fn(async (channel: string) => ({ ok: true as const, value: channel === 'account:unlock' ? { locked: true } : { id: '1', status: 'sent' as const } }));
    const invoker = createInvoker(TABLE, handlersFromDispatch(TABLE, dispatch as never));
    expect(await invoker.invoke('account:unlock', { passphrase: 'correct horse' }, ctx)).toEqual({ ok: true, value: { locked: true } });
    expect(dispatch).toHaveBeenCalledWith('account:unlock', { passphrase: 'correct horse' }, ctx);
  });
});

describe('createEventEmitter', () => {
  it('sends a valid event, framed { event, payload }', () => {
    const sent: unknown[] = [];
    const emitter = createEventEmitter(EVENTS, (m) => sent.push(m));
    expect(emitter.emit('typing', { typing: true })).toBe(true);
    expect(sent).toEqual([{ event: 'typing', payload: { typing: true } }]);
    expect(emitter.names).toEqual(['message:added', 'typing']);
  });

  it('drops an invalid payload or unknown event and reports a fault', () => {
    const sent: unknown[] = [];
    const faults: InvokeFault[] = [];
    const emitter = createEventEmitter(EVENTS, (m) => sent.push(m), { onFault: (f) => faults.push(f) });
    expect(emitter.emit('typing', { typing: 'yes' } as never)).toBe(false);
    expect(emitter.emit('nope' as never, {} as never)).toBe(false);
    expect(emitter.emit('message:added', { id: '1', plaintext: 'leak' } as never)).toBe(false);
    expect(sent).toEqual([]);
    expect(faults.map((f) => f.kind)).toEqual(['invalid-event', 'invalid-event', 'invalid-event']);
  });
});
