/**
 * Pushed events pass shared/api's EVENTS before any transport sends them: a valid event goes out as
 * parsed; an unknown event or a payload that breaks its schema (an extra field such as plaintext) is
 * dropped and reported as a fault by name only.
 */
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../shared/api/types.js';
import type { ContractFault } from '../engine/dispatch.js';
import { createEventEmitter } from './events.js';

const TYPING = { event: 'typing', payload: { conversationId: '1', contactId: 'ab'.repeat(16), typing: true } } as const satisfies EngineEvent;

describe('createEventEmitter', () => {
  it('sends a valid event, framed { event, payload }', () => {
    const sent: EngineEvent[] = [];
    const emit = createEventEmitter((m) => sent.push(m));
    expect(emit(TYPING)).toBe(true);
    expect(sent).toEqual([TYPING]);
  });

  it.each([
    ['a payload of the wrong type', { event: 'typing', payload: { ...TYPING.payload, typing: 'yes' } }],
    ['a payload with an extra field', { event: 'typing', payload: { ...TYPING.payload, plaintext: 'leak' } }],
    ['an unknown event', { event: 'nope', payload: {} }],
    ['an inherited name', { event: '__proto__', payload: {} }],
  ])('drops %s and reports a fault', (_name, event) => {
    const sent: EngineEvent[] = [];
    const faults: ContractFault[] = [];
    const emit = createEventEmitter((m) => sent.push(m), { onFault: (f) => faults.push(f) });
    expect(emit(event as never)).toBe(false);
    expect(sent).toEqual([]);
    expect(faults).toEqual([{ kind: 'invalid-event', event: event.event }]);
    expect(JSON.stringify(faults)).not.toContain('leak');
  });
});
