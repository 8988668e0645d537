import { describe, expect, it } from 'vitest';
import { utf8, fromUtf8 } from '../crypto/bytes.js';
import { deterministicRng, ManualClock } from '../testing/deterministic-rng.js';
import { makeDevice, Party } from '../testing/protocol-fixtures.js';
import { isProtocolError } from './errors.js';

const T0 = Date.UTC(2026, 10, 1);

function setup(seed: string, opts: { alicePq?: boolean; bobPq?: boolean } = {}) {
  const rng = deterministicRng(seed);
  const clock = new ManualClock(T0);
  const aliceDev = makeDevice(rng, T0, { pq: opts.alicePq ?? true });
  const bobDev = makeDevice(rng, T0, { pq: opts.bobPq ?? true });
  const alice = new Party(aliceDev, rng, clock.now);
  const bob = new Party(bobDev, rng, clock.now);
  return { rng, clock, aliceDev, bobDev, alice, bob };
}

describe('session', () => {
  it('a PQXDH session carries messages both ways and the prekey header stops after the first reply', () => {
    const { aliceDev, bobDev, alice, bob } = setup('basic');
    alice.initiate(bobDev);
    const m1 = alice.encrypt(bobDev, utf8('hello bob'));
    const m2 = alice.encrypt(bobDev, utf8('second'));
    expect(m1[1]).toBe(0x02);
    expect(m2[1]).toBe(0x02);
    const r1 = bob.decrypt(aliceDev, m1);
    expect(fromUtf8(r1.plaintext)).toBe('hello bob');
    expect(r1.newSession).toBe(true);
    const r2 = bob.decrypt(aliceDev, m2);
    expect(fromUtf8(r2.plaintext)).toBe('second');
    expect(r2.newSession).toBe(false);
    const reply = bob.encrypt(aliceDev, utf8('hi alice'));
    expect(reply[1]).toBe(0x01);
    expect(fromUtf8(alice.decrypt(bobDev, reply).plaintext)).toBe('hi alice');
    const m3 = alice.encrypt(bobDev, utf8('third'));
    expect(m3[1]).toBe(0x01);
    expect(fromUtf8(bob.decrypt(aliceDev, m3).plaintext)).toBe('third');
    expect(alice.currentSessionId(bobDev)).toEqual(bob.currentSessionId(aliceDev));
    expect(alice.record(bobDev)!.current!.mode).toBe('pqxdh');
  });

  it('a duplicate is DUPLICATED_MESSAGE and tampering is INVALID_MESSAGE, leaving stores unchanged', () => {
    const { aliceDev, bobDev, alice, bob } = setup('dup');
    alice.initiate(bobDev);
    const m1 = alice.encrypt(bobDev, utf8('one'));
    bob.decrypt(aliceDev, m1);
    const before = bob.snapshot();
    expect(() => bob.decrypt(aliceDev, m1)).toThrowError(expect.objectContaining({ code: 'DUPLICATED_MESSAGE' }));
    const m2 = alice.encrypt(bobDev, utf8('two'));
    const tampered = m2.slice();
    tampered[tampered.length - 1]! ^= 1;
    try {
      bob.decrypt(aliceDev, tampered);
      expect.unreachable();
    } catch (e) {
      expect(isProtocolError(e, 'INVALID_MESSAGE')).toBe(true);
    }
    expect(bob.snapshot()).toBe(before);
    expect(fromUtf8(bob.decrypt(aliceDev, m2).plaintext)).toBe('two');
  });
});
