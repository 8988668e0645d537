import { describe, expect, it } from 'vitest';
import { COLLAPSE_CHARS, COLLAPSE_LINES, collapsedText, isLongText, PREVIEW_CHARS, PREVIEW_LINES } from './long-text.js';

describe('long messages (Read more)', () => {
  it('ordinary messages are shown whole', () => {
    expect(isLongText('hello')).toBe(false);
    expect(collapsedText('hello')).toBeNull();
    expect(collapsedText('x'.repeat(COLLAPSE_CHARS))).toBeNull();
    expect(collapsedText(Array(COLLAPSE_LINES).fill('line').join('\n'))).toBeNull();
  });

  it('a 10,000-character message is cut at a word boundary before the preview length', () => {
    const words = Array.from({ length: 2_000 }, (_, i) => `w${i % 100}`).join(' ');
    const body = words.slice(0, 10_000);
    const cut = collapsedText(body)!;
    expect(cut.length).toBeLessThanOrEqual(PREVIEW_CHARS + 1);
    expect(cut.length).toBeGreaterThan(PREVIEW_CHARS - 90);
    expect(cut.endsWith('…')).toBe(true);
    const shown = cut.slice(0, -1);
    expect(body.startsWith(shown)).toBe(true);
    // It ends with a whole word: the next character of the body is white space.
    expect(body[shown.length]).toMatch(/\s/);
  });

  it('many short lines are cut after PREVIEW_LINES lines', () => {
    const body = Array.from({ length: 40 }, (_, i) => `line ${i}`).join('\n');
    expect(isLongText(body)).toBe(true);
    const cut = collapsedText(body)!;
    expect(cut.slice(0, -1).split('\n')).toHaveLength(PREVIEW_LINES);
    expect(cut).toBe(`${Array.from({ length: PREVIEW_LINES }, (_, i) => `line ${i}`).join('\n')}…`);
  });

  it('text without spaces is cut between graphemes, never inside an emoji sequence or a surrogate pair', () => {
    const family = '👨‍👩‍👧‍👦'; // 11 code units, one grapheme
    const body = family.repeat(500);
    const cut = collapsedText(body)!.slice(0, -1);
    expect(cut.length % family.length).toBe(0);
    expect(cut.length).toBeLessThanOrEqual(PREVIEW_CHARS);
    expect(cut.length).toBeGreaterThan(PREVIEW_CHARS - family.length - 1);
    const accents = 'e\u0301'.repeat(1_000); // é as e + combining acute
    const cutAccents = collapsedText(accents)!.slice(0, -1);
    expect(cutAccents.length % 2).toBe(0);
  });

  it('right-to-left text is cut the same way', () => {
    const body = 'שלום עולם '.repeat(300);
    const cut = collapsedText(body)!;
    expect(cut.endsWith('…')).toBe(true);
    expect(body.startsWith(cut.slice(0, -1))).toBe(true);
  });
});
