/**
 * The channel and event lists both hosts build at start-up: shared/api's CONTRACT and EVENTS pass
 * the naming rules, and a table that breaks them (a bridge method shadowing `on` or
 * Object.prototype, two channels on one method) is refused before any transport starts.
 */
import { describe, expect, it } from 'vitest';
import { CONTRACT } from '../../shared/api/contract.js';
import { EVENTS } from '../../shared/api/events.js';
import { describeChannels, describeEvents } from './channels.js';

describe('channel tables', () => {
  it("shared/api's CONTRACT and EVENTS pass the rules, listed in table order", () => {
    expect(describeChannels(CONTRACT)).toEqual(Object.entries(CONTRACT).map(([channel, { method }]) => ({ channel, method })));
    expect(describeEvents(EVENTS)).toEqual(Object.keys(EVENTS));
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

  it.each(['Typing', 'message:', 'a:b:c', 'has space'])('refuses the event name %j', (name) => {
    expect(() => describeEvents({ [name]: null })).toThrow(/event table/);
  });
});
