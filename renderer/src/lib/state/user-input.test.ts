import { describe, expect, it } from 'vitest';
import { ManualTimers } from '../../../../test/support/timers.js';
import { ACTIVITY_REPORT_INTERVAL_MS, INPUT_EVENTS, UserInputReporter, type InputSource } from './user-input.js';

type Listener = (event: { readonly isTrusted: boolean }) => void;

function setup() {
  const listeners = new Map<string, Listener>();
  const source: InputSource = { addEventListener: (type, listener) => void listeners.set(type, listener) };
  const timers = new ManualTimers(1_000_000);
  let reports = 0;
  new UserInputReporter(source, () => reports++, timers);
  const fire = (type: string, isTrusted = true) => listeners.get(type)!({ isTrusted });
  return { listeners, timers, fire, reports: () => reports };
}

describe('UserInputReporter', () => {
  it('listens to keyboard, pointer, touch and focus input', () => {
    expect([...setup().listeners.keys()].sort()).toEqual([...INPUT_EVENTS].sort());
  });

  it('reports trusted input at once, then at most once per interval, the last input never more than one interval late', () => {
    const { timers, fire, reports } = setup();
    fire('keydown');
    expect(reports()).toBe(1);
    timers.advance(1_000);
    fire('pointermove');
    fire('keydown');
    expect(reports()).toBe(1);
    timers.advance(ACTIVITY_REPORT_INTERVAL_MS - 1_000);
    expect(reports()).toBe(2); // the input during the interval, at its end
    timers.advance(ACTIVITY_REPORT_INTERVAL_MS * 10);
    expect(reports()).toBe(2); // nothing since: nothing reported
    fire('focus');
    expect(reports()).toBe(3);
  });

  it('ignores events a script made up (not trusted)', () => {
    const { timers, fire, reports } = setup();
    for (const type of INPUT_EVENTS) fire(type, false);
    timers.advance(ACTIVITY_REPORT_INTERVAL_MS * 2);
    expect(reports()).toBe(0);
  });
});
