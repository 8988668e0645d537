import { describe, expect, it } from 'vitest';
import { deterministicRng } from '../testing/deterministic-rng.js';
import { makeAccount, makeDevice } from '../testing/protocol-fixtures.js';
import { compareQrPayload, deviceFingerprint, formatSafetyNumber, safetyNumber } from './safety-number.js';

describe('safety numbers', () => {
  const rng = deterministicRng('safety');
  const alice = makeAccount(rng);
  const bob = makeAccount(rng);
  const a = { accountId: alice.accountId, accountKey: alice.accountKey.publicKey };
  const b = { accountId: bob.accountId, accountKey: bob.accountKey.publicKey };

  it('both sides compute the same 60 digits', () => {
    const fromAlice = safetyNumber(a, b);
    const fromBob = safetyNumber(b, a);
    expect(fromAlice.digits).toMatch(/^\d{60}$/);
    expect(fromAlice.digits).toBe(fromBob.digits);
    expect(formatSafetyNumber(fromAlice.digits)).toHaveLength(12);
  });

  it('scanning the peer QR code says match, and mismatch after the peer account key changes', () => {
    const fromAlice = safetyNumber(a, b);
    expect(compareQrPayload(fromAlice, safetyNumber(b, a).qrPayload)).toBe('match');
    const mallory = makeAccount(rng);
    const bobReplaced = { accountId: bob.accountId, accountKey: mallory.accountKey.publicKey };
    expect(safetyNumber(a, bobReplaced).digits).not.toBe(fromAlice.digits);
    expect(compareQrPayload(fromAlice, safetyNumber(bobReplaced, a).qrPayload)).toBe('mismatch');
    // our own code scanned back is not a match (it is not the peer's view)
    expect(compareQrPayload(fromAlice, fromAlice.qrPayload)).toBe('mismatch');
    expect(() => compareQrPayload(fromAlice, Uint8Array.of(0, 9))).toThrowError(expect.objectContaining({ code: 'MALFORMED' }));
  });

  it('per-device fingerprints differ between devices', () => {
    const d1 = makeDevice(rng, 0, { account: alice, deviceId: 1 });
    const d2 = makeDevice(rng, 0, { account: alice, deviceId: 2 });
    expect(deviceFingerprint(d1.entry)).toMatch(/^([0-9a-f]{4} ){4}[0-9a-f]{4}$/);
    expect(deviceFingerprint(d1.entry)).not.toBe(deviceFingerprint(d2.entry));
  });
});
