/**
 * Replay matrix (DESIGN §3.4) for the 1:1 layer: each replayable item is replayed and must be
 * refused with its typed error (or be idempotent), leaving every store byte-identical.
 * Relay-auth, sender-key and sealed-envelope replays are covered where those layers live: sender
 * keys in shared/protocol/sender-key.test.ts (a redelivered group message is DUPLICATED_MESSAGE,
 * an old distribution SENDER_KEY_ROLLBACK, iterations never go back) and
 * test/protocol/groups.property.test.ts (replayed distributions under random interleavings).
 */
import { describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from '../../shared/crypto/bytes.js';
import { isProtocolError, type ProtocolErrorCode } from '../../shared/protocol/errors.js';
import { parsePrekeyMessage } from '../../shared/protocol/messages.js';
import { serializeSessionRecord } from '../../shared/protocol/session-record.js';
import { deterministicRng, ManualClock } from '../../shared/testing/deterministic-rng.js';
import { makeDevice, Party } from '../../shared/testing/protocol-fixtures.js';

const T0 = Date.UTC(2026, 10, 1);

function setup(seed: string, bobOneTime = 5) {
  const rng = deterministicRng(seed);
  const clock = new ManualClock(T0);
  const aliceDev = makeDevice(rng, T0);
  const bobDev = makeDevice(rng, T0, { oneTimePrekeys: bobOneTime });
  return { rng, clock, aliceDev, bobDev, alice: new Party(aliceDev, rng, clock.now), bob: new Party(bobDev, rng, clock.now) };
}

function replayFails(party: Party, fn: () => unknown, code: ProtocolErrorCode): void {
  const before = party.snapshot();
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(isProtocolError(error) ? error.code : error).toBe(code);
  expect(party.snapshot()).toBe(before);
}

describe('replay matrix', () => {
  it('ratchet message replayed → DUPLICATED_MESSAGE (also after later messages and a DH step)', () => {
    const { aliceDev, bobDev, alice, bob } = setup('r-ratchet');
    alice.initiate(bobDev);
    bob.decrypt(aliceDev, alice.encrypt(bobDev, utf8('p')));
    alice.decrypt(bobDev, bob.encrypt(aliceDev, utf8('q')));
    const m = alice.encrypt(bobDev, utf8('r'));
    bob.decrypt(aliceDev, m);
    replayFails(bob, () => bob.decrypt(aliceDev, m), 'DUPLICATED_MESSAGE');
    alice.decrypt(bobDev, bob.encrypt(aliceDev, utf8('s')));
    bob.decrypt(aliceDev, alice.encrypt(bobDev, utf8('t')));
    replayFails(bob, () => bob.decrypt(aliceDev, m), 'DUPLICATED_MESSAGE');
  });

  it('prekey message replayed while its session exists → handled by that session → DUPLICATED_MESSAGE', () => {
    const { aliceDev, bobDev, alice, bob } = setup('r-prekey-live');
    alice.initiate(bobDev);
    const m = alice.encrypt(bobDev, utf8('first'));
    bob.decrypt(aliceDev, m);
    replayFails(bob, () => bob.decrypt(aliceDev, m), 'DUPLICATED_MESSAGE');
  });

  it('prekey message without a one-time prekey replayed after the session is gone → REPLAYED_BASE_KEY', () => {
    const { aliceDev, bobDev, alice, bob } = setup('r-basekey', 0);
    alice.initiate(bobDev);
    const m = alice.encrypt(bobDev, utf8('first'));
    expect(parsePrekeyMessage(m).oneTimePrekeyId).toBeUndefined();
    expect(fromUtf8(bob.decrypt(aliceDev, m).plaintext)).toBe('first');
    bob.records.clear(); // the session is gone (archived away, reset, or a restored backup)
    replayFails(bob, () => bob.decrypt(aliceDev, m), 'REPLAYED_BASE_KEY');
  });

  it('prekey message with a one-time prekey replayed after the session is gone → INVALID_PREKEY_ID (the key was erased)', () => {
    const { aliceDev, bobDev, alice, bob } = setup('r-opk');
    alice.initiate(bobDev);
    const m = alice.encrypt(bobDev, utf8('first'));
    bob.decrypt(aliceDev, m);
    bob.records.clear();
    replayFails(bob, () => bob.decrypt(aliceDev, m), 'INVALID_PREKEY_ID');
  });

  it('after the signed prekey is erased its seen-set goes with it and a replay is INVALID_PREKEY_ID', () => {
    const { aliceDev, bobDev, alice, bob } = setup('r-rotated', 0);
    alice.initiate(bobDev);
    const m = alice.encrypt(bobDev, utf8('first'));
    const spkId = parsePrekeyMessage(m).signedPrekeyId;
    bob.decrypt(aliceDev, m);
    bob.records.clear();
    bobDev.prekeys.dropSignedPrekey(spkId);
    replayFails(bob, () => bob.decrypt(aliceDev, m), 'INVALID_PREKEY_ID');
  });

  it('decryption-error control message replayed → idempotent: one rebuild, then no change', () => {
    const { aliceDev, bobDev, alice, bob } = setup('r-control');
    alice.initiate(bobDev);
    bob.decrypt(aliceDev, alice.encrypt(bobDev, utf8('1')));
    alice.decrypt(bobDev, bob.encrypt(aliceDev, utf8('2')));
    const failed = alice.encrypt(bobDev, utf8('3'));
    const report = bob.reportDecryptionError(aliceDev, failed, 42);
    const first = alice.handleDecryptionError(bobDev, report);
    expect(first.rebuild).toBe(true);
    const before = alice.snapshot();
    const second = alice.handleDecryptionError(bobDev, report);
    expect(second.rebuild).toBe(false);
    expect(serializeSessionRecord(second.record)).toEqual(serializeSessionRecord(first.record));
    expect(alice.snapshot()).toBe(before);
  });
});
