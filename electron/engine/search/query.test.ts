import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_SEARCH_TERMS, parseQuery } from './query.js';
import { makeSnippet, matchRanges, MAX_SNIPPET_LENGTH } from './snippet.js';
import { fold, segmentCjk, trigramIndexText, wordIndexText } from './text.js';

describe('folding (index text and queries alike)', () => {
  it('removes case, Latin accents and compatibility forms, keeps kana voicing and Hangul', () => {
    expect(fold('Zürich')).toBe('zurich');
    expect(fold('ZU\u0308RICH')).toBe('zurich'); // decomposed input folds the same
    expect(fold('Łódź Straße Ærø ΟΔΟΣ')).toBe('lodz strasse aero οδοσ');
    expect(fold('ＡＢＣ ｶﾞ ﬁne')).toBe('abc ガ fine');
    expect(fold('がぎ 서울')).toBe('がぎ 서울');
  });

  it('sets every CJK letter apart in the word index text, and leaves the trigram text whole', () => {
    expect(segmentCjk('東京タワーに行く abc')).toBe(' 東  京  タ  ワ  ー  に  行  く  abc');
    expect(wordIndexText('서울에서 Zürich')).toBe(' 서  울  에  서  zurich');
    expect(trigramIndexText('東京 Zürich')).toBe('東京 zurich');
  });
});

describe('query parsing', () => {
  it('routes 3+ character terms to the trigram index and shorter ones to the word index', () => {
    expect(parseQuery('Zürich')).toEqual({ terms: [{ kind: 'substring', text: 'zurich' }], words: null, trigrams: '"zurich"' });
    expect(parseQuery('zu')).toEqual({ terms: [{ kind: 'word', tokens: ['zu'], prefix: true }], words: '"zu"*', trigrams: null });
    expect(parseQuery('東京')).toEqual({ terms: [{ kind: 'word', tokens: ['東', '京'], prefix: false }], words: '"東 京"', trigrams: null });
    expect(parseQuery('東京タ').trigrams).toBe('"東京タ"');
    expect(parseQuery('  meet   zu 東 ').words).toBe('"zu"* AND "東"');
    expect(parseQuery('  meet   zu 東 ').trigrams).toBe('"meet"');
  });

  it('keeps FTS5 syntax typed by the user inside string literals (quotes doubled), never as operators', () => {
    expect(parseQuery('"hi" OR NOT x').trigrams).toBe('"""hi""" AND "not"');
    expect(parseQuery('"hi" OR NOT x').words).toBe('"or"* AND "x"*');
    expect(parseQuery('NEAR(a b) col:val a*b ^x (AND)').trigrams).toBe('"near(a" AND "col:val" AND "a*b" AND "(and)"');
    expect(parseQuery('NEAR(a b) col:val a*b ^x (AND)').words).toBe('"b"* AND "x"*');
    // Short terms without letters or digits cannot be searched and are dropped.
    expect(parseQuery('* ^ " ( ) : -').terms).toEqual([]);
    expect(parseQuery('').terms).toEqual([]);
  });

  it('drops duplicate terms and keeps at most MAX_SEARCH_TERMS', () => {
    expect(parseQuery('abc ABC Abc').terms).toHaveLength(1);
    const many = Array.from({ length: 40 }, (_, i) => `term${i}`).join(' ');
    expect(parseQuery(many).terms).toHaveLength(MAX_SEARCH_TERMS);
  });

  it('every MATCH expression is a conjunction of well-formed string literals, whatever the input', () => {
    const literal = /^"(?:[^"]|"")*"\*?$/;
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (input) => {
        const q = parseQuery(input);
        for (const expr of [q.words, q.trigrams]) {
          if (expr === null) continue;
          for (const part of expr.split(' AND ')) expect(part).toMatch(literal);
        }
      }),
      { numRuns: 500 },
    );
  });
});

/** No lone surrogate (String.prototype.isWellFormed is ES2024; the project targets ES2023). */
function wellFormed(s: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

describe('snippets', () => {
  const q = (text: string) => parseQuery(text).terms;

  it('maps matches on the folded text back to the original characters', () => {
    const body = 'Meeting in Zürich, then ZURICH again';
    expect(matchRanges(body, q('zurich'))).toEqual([
      { start: 11, end: 17 },
      { start: 24, end: 30 },
    ]);
    expect(matchRanges('Straße', q('ss'))).toEqual([]); // "ss" is not a word start
    expect(matchRanges('Straße', q('strasse'))).toEqual([{ start: 0, end: 6 }]);
    expect(matchRanges('kazuo zug', q('zu'))).toEqual([{ start: 6, end: 8 }]); // word starts only
    expect(matchRanges('東京タワー', q('京'))).toEqual([{ start: 1, end: 2 }]); // CJK: anywhere
  });

  it('shows short bodies whole and long ones as a window at the first match, never splitting a surrogate pair', () => {
    expect(makeSnippet('hello world', q('wor'))).toEqual({
      text: 'hello world',
      ranges: [{ start: 6, end: 9 }],
      truncatedStart: false,
      truncatedEnd: false,
    });
    const long = `${'😀 filler '.repeat(30)}the needle is here ${'and more text '.repeat(30)}`;
    const s = makeSnippet(long, q('needle'));
    expect(s.text.length).toBeLessThanOrEqual(MAX_SNIPPET_LENGTH);
    expect(s.truncatedStart && s.truncatedEnd).toBe(true);
    expect(s.text.slice(s.ranges[0]!.start, s.ranges[0]!.end)).toBe('needle');
    expect(wellFormed(s.text)).toBe(true);
  });

  it('ranges are sorted, disjoint and inside the snippet for any body and query', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 400 }), fc.string({ maxLength: 12 }), (body, query) => {
        const s = makeSnippet(body, parseQuery(query).terms);
        let end = 0;
        for (const r of s.ranges) {
          expect(r.start).toBeGreaterThanOrEqual(end);
          expect(r.end).toBeGreaterThan(r.start);
          expect(r.end).toBeLessThanOrEqual(s.text.length);
          end = r.end;
        }
        expect(s.text.length).toBeLessThanOrEqual(Math.max(body.length, 0));
        expect(wellFormed(s.text)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
