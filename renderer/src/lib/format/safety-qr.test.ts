import { describe, expect, it } from 'vitest';
import { compareSafetyQr } from './safety-qr.js';

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const fp = (fill: number) => new Uint8Array(32).fill(fill);
function payload(local: Uint8Array, remote: Uint8Array, version = 1): string {
  return b64(Uint8Array.from([version >> 8, version & 0xff, ...local, ...remote]));
}

describe('compareSafetyQr', () => {
  const alice = fp(0xa1);
  const bob = fp(0xb0);
  const carol = fp(0xc4);
  const aliceSees = payload(alice, bob); // what Alice's screen shows for Bob

  it('the other person’s code for this conversation matches (their halves crosswise)', () => {
    expect(compareSafetyQr(aliceSees, payload(bob, alice))).toBe('match');
    expect(compareSafetyQr(aliceSees, `  ${payload(bob, alice)}\n`)).toBe('match');
  });

  it('another person’s code, or a changed key, does not match', () => {
    expect(compareSafetyQr(aliceSees, payload(carol, alice))).toBe('mismatch');
    expect(compareSafetyQr(aliceSees, payload(bob, carol))).toBe('mismatch');
    const changed = fp(0xb0);
    changed[31] = 0;
    expect(compareSafetyQr(aliceSees, payload(changed, alice))).toBe('mismatch');
  });

  it('one’s own code is told apart', () => {
    expect(compareSafetyQr(aliceSees, aliceSees)).toBe('own');
  });

  it('links, other versions, wrong lengths and other text are not safety-number codes', () => {
    for (const text of ['https://example.com/', '', 'not base64!', payload(bob, alice, 2), b64(new Uint8Array(65)), b64(new Uint8Array(67)), `${payload(bob, alice)}A`]) {
      expect(compareSafetyQr(aliceSees, text)).toBe('not-safety-number');
    }
  });
});
