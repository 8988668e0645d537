import { describe, expect, it } from 'vitest';
import { releaseBuffer } from './release.js';

describe('releaseBuffer', () => {
  it('detaches a buffer owned whole (its memory is gone, not waiting for the collector)', () => {
    const bytes = new Uint8Array(1 << 20).fill(7);
    releaseBuffer(bytes);
    expect(bytes.buffer.byteLength).toBe(0);
    expect(bytes.length).toBe(0);
  });

  it('leaves a view over part of a buffer, and shared memory, alone', () => {
    const whole = new Uint8Array(64).fill(1);
    const part = whole.subarray(8, 16);
    releaseBuffer(part);
    expect(whole.length).toBe(64);
    const shared = new Uint8Array(new SharedArrayBuffer(16));
    releaseBuffer(shared);
    expect(shared.length).toBe(16);
  });
});
