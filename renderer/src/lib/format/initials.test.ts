import { describe, expect, it } from 'vitest';
import { hueOf, initialsOf } from './initials.js';

describe('initials', () => {
  it('take the first and last words, whole graphemes, upper-cased', () => {
    expect(initialsOf('Alice Liddell')).toBe('AL');
    expect(initialsOf('alice pleasance liddell')).toBe('AL');
    expect(initialsOf('bob')).toBe('B');
    expect(initialsOf('  émile   zola ')).toBe('ÉZ');
    expect(initialsOf('👩🏽‍🚀 Sally')).toBe('👩🏽‍🚀S');
    expect(initialsOf('   ')).toBe('?');
  });

  it('a hue per contact id, stable and in range', () => {
    const a = hueOf('00112233445566778899aabbccddeeff');
    expect(hueOf('00112233445566778899aabbccddeeff')).toBe(a);
    expect(a).toBeGreaterThanOrEqual(0);
    expect(a).toBeLessThan(360);
    expect(hueOf('ffeeddccbbaa99887766554433221100')).not.toBe(a);
  });
});
