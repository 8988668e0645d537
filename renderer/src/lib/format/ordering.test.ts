import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareConversations, compareMessages, fallsInWindow, upsertMessage, withDaySeparators } from './ordering.js';

type M = { id: string; displayAt: number; body?: string };
const m = (id: number, displayAt: number, body = ''): M => ({ id: String(id), displayAt, body });

describe('message display order', () => {
  it('orders by display time, then by numeric id (not string order)', () => {
    expect(compareMessages(m(2, 10), m(1, 20))).toBeLessThan(0);
    expect(compareMessages(m(9, 10), m(10, 10))).toBeLessThan(0);
    expect(compareMessages(m(10, 10), m(9, 10))).toBeGreaterThan(0);
  });

  it('inserting messages in any arrival order yields display order without duplicates', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 20 })), { maxLength: 60 }), (arrivals) => {
        let list: M[] = [];
        const latest = new Map<string, M>();
        for (const [id, at] of arrivals) {
          const message = m(id, at);
          list = upsertMessage(list, message);
          latest.set(message.id, message);
        }
        const expected = [...latest.values()].sort(compareMessages);
        expect(list).toEqual(expected);
      }),
    );
  });

  it('an update replaces the message in place of the old one', () => {
    const list = [m(1, 1, 'a'), m(2, 2, 'b'), m(3, 3, 'c')];
    expect(upsertMessage(list, m(2, 2, 'B')).map((x) => x.body)).toEqual(['a', 'B', 'c']);
  });

  it('a late arrival slots in by display time', () => {
    const list = [m(1, 100), m(2, 300)];
    expect(upsertMessage(list, m(3, 200)).map((x) => x.id)).toEqual(['1', '3', '2']);
  });
});

describe('fallsInWindow', () => {
  const list = [m(5, 100), m(6, 200)];
  it('accepts anything when the window holds the whole conversation', () => {
    expect(fallsInWindow(list, m(1, 1), { hasOlder: false, hasNewer: false })).toBe(true);
    expect(fallsInWindow(list, m(9, 999), { hasOlder: false, hasNewer: false })).toBe(true);
  });
  it('refuses what belongs beyond an edge with more rows behind it', () => {
    expect(fallsInWindow(list, m(1, 50), { hasOlder: true, hasNewer: false })).toBe(false);
    expect(fallsInWindow(list, m(9, 999), { hasOlder: false, hasNewer: true })).toBe(false);
    expect(fallsInWindow(list, m(9, 150), { hasOlder: true, hasNewer: true })).toBe(true);
  });
});

describe('day separators', () => {
  const day = (ts: number) => Math.floor(ts / 1000);
  it('puts one before the first message of each day, including the first of the window', () => {
    const rows = withDaySeparators([m(1, 100), m(2, 900), m(3, 1100), m(4, 2500)], day);
    expect(rows.map((r) => (r.kind === 'day' ? `day${day(r.at)}` : r.message.id))).toEqual(['day0', '1', '2', 'day1', '3', 'day2', '4']);
  });
  it('an empty window has no rows', () => {
    expect(withDaySeparators([], day)).toEqual([]);
  });
});

describe('conversation order', () => {
  it('is newest activity first, then higher id', () => {
    const list = [
      { id: '1', lastActivityAt: 5 },
      { id: '2', lastActivityAt: 9 },
      { id: '10', lastActivityAt: 5 },
    ].sort(compareConversations);
    expect(list.map((c) => c.id)).toEqual(['2', '10', '1']);
  });
});
