import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appendHits, groupByConversation, snippetParts } from './search.js';
import type { SearchHit } from '../../../../shared/api/types.js';

describe('snippetParts', () => {
  it('splits the text into marked and unmarked parts at the ranges', () => {
    expect(snippetParts({ text: 'Meet in Zürich today', ranges: [{ start: 8, end: 14 }] })).toEqual([
      { text: 'Meet in ', mark: false },
      { text: 'Zürich', mark: true },
      { text: ' today', mark: false },
    ]);
    expect(snippetParts({ text: 'abc', ranges: [] })).toEqual([{ text: 'abc', mark: false }]);
    expect(snippetParts({ text: 'abcabc', ranges: [{ start: 0, end: 3 }, { start: 3, end: 6 }] })).toEqual([
      { text: 'abc', mark: true },
      { text: 'abc', mark: true },
    ]);
  });

  it('keeps markup in a message as text (parts are text, never HTML)', () => {
    const parts = snippetParts({ text: '<img src=x onerror=alert(1)> hi', ranges: [{ start: 29, end: 31 }] });
    expect(parts.map((p) => p.text).join('')).toBe('<img src=x onerror=alert(1)> hi');
    expect(parts.at(-1)).toEqual({ text: 'hi', mark: true });
  });

  it('survives nonsense ranges: clamped, merged when overlapping, never splitting a surrogate pair', () => {
    expect(snippetParts({ text: 'a😀b', ranges: [{ start: 2, end: 9 }, { start: -3, end: 1 }, { start: 1, end: 2 }] })).toEqual([
      { text: 'a', mark: true },
      { text: '😀b', mark: true },
    ]);
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 60 }),
        fc.array(fc.record({ start: fc.integer({ min: -5, max: 80 }), end: fc.integer({ min: -5, max: 80 }) }), { maxLength: 6 }),
        (text, ranges) => {
          const parts = snippetParts({ text, ranges });
          expect(parts.map((p) => p.text).join('')).toBe(text);
          for (const p of parts) expect(p.text.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('groupByConversation', () => {
  const hit = (messageId: string, conversationId: string): SearchHit => ({
    messageId,
    conversationId,
    direction: 'incoming',
    senderId: null,
    displayAt: 0,
    snippet: { text: messageId, ranges: [], truncatedStart: false, truncatedEnd: false },
  });

  it('keeps newest-first order inside each group and orders groups by their newest result', () => {
    const groups = groupByConversation([hit('9', 'a'), hit('8', 'b'), hit('7', 'a'), hit('6', 'c'), hit('5', 'b')]);
    expect(groups.map((g) => [g.conversationId, g.hits.map((h) => h.messageId)])).toEqual([
      ['a', ['9', '7']],
      ['b', ['8', '5']],
      ['c', ['6']],
    ]);
  });

  it('appends a next page without repeating a result', () => {
    expect(appendHits([hit('3', 'a'), hit('2', 'a')], [hit('2', 'a'), hit('1', 'b')]).map((h) => h.messageId)).toEqual(['3', '2', '1']);
  });
});
