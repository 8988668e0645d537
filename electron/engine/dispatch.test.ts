/**
 * The one contract layer, over shared/api's real CONTRACT: unknown channels and malformed requests
 * never reach a handler; only schema-valid values and closed-set errors come back; a throwing or
 * buggy handler turns into INTERNAL, reported as a fault by name, without leaking what it held.
 * engine.test.ts drives the same layer over the real engine's handlers.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { CHANNELS, CONTRACT } from '../../shared/api/contract.js';
import type { EngineState } from '../../shared/api/view-models.js';
import { createDispatcher, type ContractFault, type Handlers } from './dispatch.js';
import { EngineError } from './errors.js';

const LOCKED: EngineState = { state: 'locked', profile: 'default', keychainAvailable: false, keyProtection: 'passphrase', account: null };

/** Every channel answers "not under test" unless a test gives it a handler. */
function setup(overrides: Partial<Handlers> = {}) {
  const unexpected = () => {
    throw new Error('not under test');
  };
  const unlock = vi.fn<Handlers['account:unlock']>(async () => LOCKED);
  const setTyping = vi.fn<Handlers['conversations:setTyping']>(() => null);
  const handlers = {
    ...(Object.fromEntries(CHANNELS.map((c) => [c, unexpected])) as unknown as Handlers),
    'account:unlock': unlock,
    'conversations:setTyping': setTyping,
    ...overrides,
  };
  const faults: ContractFault[] = [];
  const dispatch = createDispatcher(handlers, { onFault: (f) => faults.push(f) });
  return { dispatch, unlock, setTyping, faults };
}

describe('createDispatcher: requests', () => {
  it('hands a valid request to its channel handler and returns the validated value', async () => {
    const { dispatch, setTyping } = setup();
    expect(await dispatch('conversations:setTyping', { conversationId: '7', typing: true })).toEqual({ ok: true, value: null });
    expect(setTyping).toHaveBeenCalledWith({ conversationId: '7', typing: true });
  });

  it.each(['nope:nothing', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 42, null])('refuses the unknown channel %j', async (channel) => {
    const { dispatch, unlock, setTyping } = setup();
    expect(await dispatch(channel, {})).toEqual({ ok: false, error: { code: 'INVALID_REQUEST', message: 'unknown channel' } });
    expect(unlock).not.toHaveBeenCalled();
    expect(setTyping).not.toHaveBeenCalled();
  });

  it.each([
    ['a missing field', { conversationId: '7' }],
    ['an unknown key', { conversationId: '7', typing: true, admin: true }],
    ['a wrong type', { conversationId: 7, typing: true }],
    ['an out-of-range value', { conversationId: '0'.repeat(40), typing: true }],
    ['no object at all', 'hi'],
    ['null', null],
    ['a prototype-polluting key', JSON.parse('{"conversationId":"7","typing":true,"__proto__":{"polluted":true}}') as unknown],
  ])('refuses %s before any handler runs', async (_name, request) => {
    const { dispatch, setTyping } = setup();
    const result = await dispatch('conversations:setTyping', request);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.code).toBe('INVALID_REQUEST');
    expect(setTyping).not.toHaveBeenCalled();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('names the failing fields by path but never echoes the input (it may be a passphrase)', async () => {
    const { dispatch } = setup();
    const secret = 'correct horse battery staple';
    const result = await dispatch('account:setPassphrase', { passphrase: secret, currentPassphrase: 7 });
    expect(result).toEqual({ ok: false, error: { code: 'INVALID_REQUEST', message: 'invalid request for account:setPassphrase: currentPassphrase' } });
    const long = await dispatch('account:unlock', { passphrase: secret.repeat(100) });
    expect(!long.ok && long.error.message).toBe('invalid request for account:unlock: passphrase');
    expect(JSON.stringify(long)).not.toContain('horse');
  });

  it('property: any input gets a Result and reaches the handler only if it matches the schema', async () => {
    const { dispatch, setTyping } = setup();
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue(), fc.record({ conversationId: fc.stringMatching(/^[0-9]{0,17}$/), typing: fc.boolean() })), async (request) => {
        setTyping.mockClear();
        const result = await dispatch('conversations:setTyping', request);
        const valid = CONTRACT['conversations:setTyping'].request.safeParse(request).success;
        expect(setTyping.mock.calls.length).toBe(valid ? 1 : 0);
        expect(result.ok).toBe(valid);
        if (!result.ok) expect(result.error.message.length).toBeLessThanOrEqual(300);
      }),
      { numRuns: 300 },
    );
  });
});

describe('createDispatcher: what handlers answer', () => {
  it('a thrown engine error becomes its error value, and is no fault', async () => {
    const { dispatch, faults } = setup({
      'account:unlock': () => {
        throw new EngineError('WRONG_PASSPHRASE', 'wrong passphrase');
      },
    });
    expect(await dispatch('account:unlock', { passphrase: 'correct horse' })).toEqual({ ok: false, error: { code: 'WRONG_PASSPHRASE', message: 'wrong passphrase' } });
    expect(faults).toEqual([]);
  });

  it('an engine error message is cut to the schema bound', async () => {
    const { dispatch } = setup({
      'account:unlock': () => {
        throw new EngineError('NOT_FOUND', 'x'.repeat(5000));
      },
    });
    const result = await dispatch('account:unlock', { passphrase: 'correct horse' });
    expect(!result.ok && result.error.code).toBe('NOT_FOUND');
    expect(!result.ok && result.error.message.length).toBe(300);
  });

  it('an unexpected throw becomes INTERNAL; the fault names the error class, never its message', async () => {
    const { dispatch, faults } = setup({
      'account:unlock': async () => {
        throw new TypeError('key 0xdeadbeef did not decrypt at /home/user/secret');
      },
    });
    const result = await dispatch('account:unlock', { passphrase: 'correct horse' });
    expect(result).toEqual({ ok: false, error: { code: 'INTERNAL', message: 'internal error' } });
    expect(faults).toEqual([{ kind: 'handler-threw', channel: 'account:unlock', errorName: 'TypeError' }]);
    expect(JSON.stringify(faults)).not.toContain('deadbeef');
  });

  it('a thrown non-error is INTERNAL too, named by its type', async () => {
    const { dispatch, faults } = setup({
      'account:unlock': () => {
        throw 'secret string';
      },
    });
    expect(await dispatch('account:unlock', { passphrase: 'correct horse' })).toEqual({ ok: false, error: { code: 'INTERNAL', message: 'internal error' } });
    expect(faults).toEqual([{ kind: 'handler-threw', channel: 'account:unlock', errorName: 'string' }]);
  });

  it('an error code outside the closed set is replaced by INTERNAL and reported', async () => {
    const { dispatch, faults } = setup({
      'account:unlock': () => {
        throw new EngineError('NOT_IN_THE_SET' as never, 'x');
      },
    });
    expect(await dispatch('account:unlock', { passphrase: 'correct horse' })).toEqual({ ok: false, error: { code: 'INTERNAL', message: 'internal error' } });
    expect(faults).toEqual([{ kind: 'invalid-error', channel: 'account:unlock' }]);
  });

  it('a value outside the response schema is not sent (no extra fields such as key material)', async () => {
    const { dispatch, faults } = setup({ 'account:unlock': async () => ({ ...LOCKED, dbKey: 'c2VjcmV0' }) as never });
    expect(await dispatch('account:unlock', { passphrase: 'correct horse' })).toEqual({ ok: false, error: { code: 'INTERNAL', message: 'internal error' } });
    expect(faults).toEqual([{ kind: 'invalid-response', channel: 'account:unlock' }]);
  });

  it.each([undefined, 42, { ok: true }, 'locked'])('a handler answering %j is an invalid-response fault', async (answer) => {
    const { dispatch, faults } = setup({ 'account:unlock': async () => answer as never });
    const result = await dispatch('account:unlock', { passphrase: 'correct horse' });
    expect(!result.ok && result.error.code).toBe('INTERNAL');
    expect(faults).toEqual([{ kind: 'invalid-response', channel: 'account:unlock' }]);
  });
});

describe('handlers cover the contract', () => {
  it('a handler table missing a channel does not compile', () => {
    // @ts-expect-error -- every channel of CONTRACT needs a handler
    const make = () => createDispatcher({ 'app:getState': () => LOCKED });
    expect(typeof make).toBe('function');
  });
});
