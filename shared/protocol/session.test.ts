import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from '../crypto/bytes.js';
import { deterministicRng, ManualClock } from '../testing/deterministic-rng.js';
import { localDevice, makeDevice, Party, peerDevice } from '../testing/protocol-fixtures.js';
import { MAX_ARCHIVED_SESSIONS, MAX_PREKEY_AGE_MS } from './constants.js';
import { isProtocolError, type ProtocolErrorCode } from './errors.js';
import { parsePrekeyMessage } from './messages.js';
import { initiateSession } from './session.js';
import { deserializeSessionRecord, isQuantumResistant, serializeSessionRecord } from './session-record.js';

const T0 = Date.UTC(2026, 10, 1);

function setup(seed: string, opts: { alicePq?: boolean; bobPq?: boolean; bobOneTime?: number } = {}) {
  const rng = deterministicRng(seed);
  const clock = new ManualClock(T0);
  const aliceDev = makeDevice(rng, T0, { pq: opts.alicePq ?? true });
  const bobDev = makeDevice(rng, T0, { pq: opts.bobPq ?? true, oneTimePrekeys: opts.bobOneTime ?? 5 });
  const alice = new Party(aliceDev, rng, clock.now);
  const bob = new Party(bobDev, rng, clock.now);
  return { rng, clock, aliceDev, bobDev, alice, bob };
}

function expectCode(fn: () => unknown, code: ProtocolErrorCode): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(isProtocolError(error) ? error.code : error).toBe(code);
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
    expect(isQuantumResistant(alice.record(bobDev)!)).toBe(true);
  });

  it('property: any plaintext, empty or across padding blocks, round trips both ways, in the prekey stage and after it', () => {
    const plaintext = fc.uint8Array({ maxLength: 700 });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), plaintext), { minLength: 1, maxLength: 8 }), fc.string({ maxLength: 6 }), (sends, seed) => {
        const { aliceDev, bobDev, alice, bob } = setup(`roundtrip-${seed}`);
        alice.initiate(bobDev);
        const first = new Uint8Array([1, 2, 3]);
        expect(bob.decrypt(aliceDev, alice.encrypt(bobDev, first)).plaintext).toEqual(first);
        for (const [fromAlice, bytes] of sends) {
          const [me, peer, meDev, peerDev] = fromAlice ? [alice, bob, aliceDev, bobDev] : [bob, alice, bobDev, aliceDev];
          const sent = bytes.slice();
          expect(peer.decrypt(meDev, me.encrypt(peerDev, bytes)).plaintext).toEqual(sent);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('results share no memory with later calls or with the caller: plaintexts, messages and records stay as returned', () => {
    const { aliceDev, bobDev, alice, bob } = setup('no-sharing');
    alice.initiate(bobDev);
    bob.decrypt(aliceDev, alice.encrypt(bobDev, utf8('hello')));
    alice.decrypt(bobDev, bob.encrypt(aliceDev, utf8('hi')));
    const got: { sent: Uint8Array; copy: Uint8Array; plaintext: Uint8Array; text: string }[] = [];
    for (const text of ['a', 'a much longer text '.repeat(30), '', 'b'.repeat(159), 'c'.repeat(160), 'after a long one']) {
      const sent = alice.encrypt(bobDev, utf8(text));
      got.push({ sent, copy: sent.slice(), plaintext: bob.decrypt(aliceDev, sent).plaintext, text });
    }
    for (const g of got) {
      expect(g.sent).toEqual(g.copy);
      expect(fromUtf8(g.plaintext)).toBe(g.text);
    }
    // A record read from bytes does not depend on them afterwards.
    const bytes = serializeSessionRecord(bob.record(aliceDev)!);
    const record = deserializeSessionRecord(bytes);
    bytes.fill(0);
    expect(serializeSessionRecord(record)).toEqual(serializeSessionRecord(bob.record(aliceDev)!));
  });

  it('every message is padded to a multiple of 160 bytes, so a receipt and a short text have the same length', () => {
    const { aliceDev, bobDev, alice, bob } = setup('padding');
    alice.initiate(bobDev);
    bob.decrypt(aliceDev, alice.encrypt(bobDev, utf8('x')));
    const receipt = bob.encrypt(aliceDev, Uint8Array.of(1, 2, 3));
    const text = bob.encrypt(aliceDev, utf8('see you at 8, bring the maps'));
    expect(receipt.length).toBe(text.length);
    const long = bob.encrypt(aliceDev, new Uint8Array(160));
    expect(long.length).toBe(text.length + 160);
  });

  it('a duplicate is DUPLICATED_MESSAGE and tampering is INVALID_MESSAGE, leaving stores unchanged', () => {
    const { aliceDev, bobDev, alice, bob } = setup('dup');
    alice.initiate(bobDev);
    const m1 = alice.encrypt(bobDev, utf8('one'));
    bob.decrypt(aliceDev, m1);
    const before = bob.snapshot();
    expectCode(() => bob.decrypt(aliceDev, m1), 'DUPLICATED_MESSAGE');
    const m2 = alice.encrypt(bobDev, utf8('two'));
    const tampered = m2.slice();
    tampered[tampered.length - 1]! ^= 1;
    expectCode(() => bob.decrypt(aliceDev, tampered), 'INVALID_MESSAGE');
    expect(bob.snapshot()).toBe(before);
    expect(fromUtf8(bob.decrypt(aliceDev, m2).plaintext)).toBe('two');
  });

  it('property: any corruption of a prekey or ratchet message fails with a typed error and leaves every store byte-identical', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('append' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
      fc.record({ kind: fc.constant('garbage' as const), bytes: fc.uint8Array({ maxLength: 300 }) }),
    );
    fc.assert(
      fc.property(fc.boolean(), mutation, fc.string({ maxLength: 5 }), (prekeyStage, m, seed) => {
        const { aliceDev, bobDev, alice, bob } = setup(`mut-${seed}`);
        alice.initiate(bobDev);
        let message = alice.encrypt(bobDev, utf8('payload'));
        if (!prekeyStage) {
          bob.decrypt(aliceDev, message);
          alice.decrypt(bobDev, bob.encrypt(aliceDev, utf8('ack')));
          message = alice.encrypt(bobDev, utf8('payload'));
        }
        let bad: Uint8Array;
        switch (m.kind) {
          case 'flip':
            bad = message.slice();
            bad[m.at % bad.length]! ^= 1 << m.bit;
            break;
          case 'truncate':
            bad = message.slice(0, m.at % message.length);
            break;
          case 'append':
            bad = new Uint8Array([...message, ...m.extra]);
            break;
          case 'garbage':
            bad = m.bytes;
            break;
        }
        const before = bob.snapshot();
        let error: unknown;
        try {
          bob.decrypt(aliceDev, bad);
        } catch (e) {
          error = e;
        }
        expect(isProtocolError(error)).toBe(true);
        expect(bob.snapshot()).toBe(before);
        // the genuine message still decrypts afterwards
        expect(fromUtf8(bob.decrypt(aliceDev, message).plaintext)).toBe('payload');
      }),
      { numRuns: 150 },
    );
  });

  it('property: simultaneous initiation converges on one session after a round trip, and no message is lost', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('send' as const), from: fc.constantFrom('a', 'b') }),
      fc.record({ kind: fc.constant('deliver' as const), to: fc.constantFrom('a', 'b'), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), fc.string({ maxLength: 5 }), (steps, seed) => {
        const { aliceDev, bobDev, alice, bob } = setup(`simul-${seed}`);
        alice.initiate(bobDev);
        bob.initiate(aliceDev);
        const sides = { a: { me: alice, dev: aliceDev }, b: { me: bob, dev: bobDev } };
        const queues: Record<'a' | 'b', { bytes: Uint8Array; text: string }[]> = { a: [], b: [] };
        let n = 0;
        const send = (from: 'a' | 'b') => {
          const to = from === 'a' ? 'b' : 'a';
          const text = `m${n++}`;
          queues[to].push({ bytes: sides[from].me.encrypt(sides[to].dev, utf8(text)), text });
        };
        const deliver = (to: 'a' | 'b', pick: number) => {
          const q = queues[to];
          if (!q.length) return;
          const [m] = q.splice(pick % q.length, 1);
          const from = to === 'a' ? 'b' : 'a';
          expect(fromUtf8(sides[to].me.decrypt(sides[from].dev, m!.bytes).plaintext)).toBe(m!.text);
        };
        send('a');
        send('b');
        for (const s of steps) {
          if (s.kind === 'send') send(s.from);
          else deliver(s.to, s.pick);
        }
        while (queues.a.length || queues.b.length) {
          deliver('a', 0);
          deliver('b', 0);
        }
        send('a');
        deliver('b', 0);
        send('b');
        deliver('a', 0);
        expect(alice.currentSessionId(bobDev)).toEqual(bob.currentSessionId(aliceDev));
      }),
      { numRuns: 60 },
    );
  });

  it('X3DH is used only for a device whose signed entry lacks pq, and is marked not quantum-resistant', () => {
    const { aliceDev, bobDev, alice, bob } = setup('classical', { bobPq: false });
    alice.initiate(bobDev);
    expect(alice.record(bobDev)!.current!.mode).toBe('x3dh');
    expect(isQuantumResistant(alice.record(bobDev)!)).toBe(false);
    const m = alice.encrypt(bobDev, utf8('classical'));
    expect(parsePrekeyMessage(m).kem).toBeUndefined();
    expect(fromUtf8(bob.decrypt(aliceDev, m).plaintext)).toBe('classical');
  });

  it('a pq device refuses a classical prekey message (no downgrade by a stripping relay)', () => {
    const { rng, clock, aliceDev, bobDev, bob } = setup('downgrade');
    // an attacker-initiator that pretends Bob has no pq capability
    const fakeEntry = { ...bobDev.entry, capabilities: 0 };
    const { record } = initiateSession(
      undefined,
      { local: localDevice(aliceDev), peer: { accountId: bobDev.account.accountId, entry: fakeEntry }, bundle: bobDev.prekeys.takeBundle(bobDev) },
      { rng, now: clock.now },
    );
    const attacker = new Party(aliceDev, rng, clock.now);
    attacker.store(bobDev, record);
    const m = attacker.encrypt(bobDev, utf8('downgraded'));
    const before = bob.snapshot();
    expectCode(() => bob.decrypt(aliceDev, m), 'MISSING_KEM_PREKEY');
    expect(bob.snapshot()).toBe(before);
  });

  it('bundle checks: stripped KEM key, bad signature, foreign identity and a 60-day-old prekey are refused before any DH', () => {
    const { rng, clock, aliceDev, bobDev } = setup('bundle');
    const start = (bundle: ReturnType<typeof bobDev.prekeys.takeBundle>) =>
      initiateSession(undefined, { local: localDevice(aliceDev), peer: peerDevice(bobDev), bundle }, { rng, now: clock.now });
    const good = bobDev.prekeys.takeBundle(bobDev);
    expectCode(() => start({ ...good, kemPrekey: undefined }), 'MISSING_KEM_PREKEY');
    const badKemSig = { ...good.kemPrekey!, signature: good.kemPrekey!.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) };
    expectCode(() => start({ ...good, kemPrekey: badKemSig }), 'MISSING_KEM_PREKEY');
    const badSpk = { ...good.signedPrekey, signature: good.signedPrekey.signature.map((b, i) => (i === 3 ? b ^ 1 : b)) };
    expectCode(() => start({ ...good, signedPrekey: badSpk }), 'BAD_SIGNATURE');
    expectCode(() => start({ ...good, identityDhKey: aliceDev.identityDh.publicKey }), 'UNTRUSTED_IDENTITY');
    expectCode(() => start({ ...good, deviceId: 9 }), 'UNTRUSTED_IDENTITY');
    clock.advance(MAX_PREKEY_AGE_MS + 1);
    expectCode(() => start(good), 'DEVICE_INACTIVE');
  });

  it('a prekey message whose identity key is not the listed one is UNTRUSTED_IDENTITY', () => {
    const { rng, clock, bobDev, bob } = setup('impostor');
    const mallory = makeDevice(rng, T0, { account: bobDev.account, deviceId: 1 });
    const aliceLike = makeDevice(rng, T0);
    const m = new Party(mallory, rng, clock.now);
    m.initiate(bobDev);
    const bytes = m.encrypt(bobDev, utf8('i am alice'));
    expectCode(() => bob.decrypt(aliceLike, bytes), 'UNTRUSTED_IDENTITY');
  });

  it('one-time prekeys are consumed only when the session commits; a forged prekey message consumes nothing', () => {
    const { aliceDev, bobDev, alice, bob } = setup('opk');
    alice.initiate(bobDev);
    const m = alice.encrypt(bobDev, utf8('x'));
    const parsed = parsePrekeyMessage(m);
    expect(parsed.oneTimePrekeyId).toBeDefined();
    const forged = m.slice();
    forged[forged.length - 5]! ^= 0x40; // corrupt the AEAD ciphertext
    const kemBefore = bobDev.prekeys.kem.size;
    expectCode(() => bob.decrypt(aliceDev, forged), 'INVALID_MESSAGE');
    expect(bobDev.prekeys.oneTime.has(parsed.oneTimePrekeyId!)).toBe(true);
    expect(bobDev.prekeys.kem.size).toBe(kemBefore);
    bob.decrypt(aliceDev, m);
    expect(bobDev.prekeys.oneTime.has(parsed.oneTimePrekeyId!)).toBe(false);
    expect(bobDev.prekeys.kem.has(parsed.kem!.prekeyId)).toBe(false);
  });

  it('the last-resort KEM prekey is used when one-time KEM keys run out and is never consumed', () => {
    const { aliceDev, bobDev, alice, bob } = setup('last-resort');
    alice.initiate(bobDev, bobDev.prekeys.takeBundle(bobDev, { kemOneTime: false }));
    const m = alice.encrypt(bobDev, utf8('x'));
    const kemId = parsePrekeyMessage(m).kem!.prekeyId;
    expect(bobDev.prekeys.kem.get(kemId)!.lastResort).toBe(true);
    bob.decrypt(aliceDev, m);
    expect(bobDev.prekeys.kem.has(kemId)).toBe(true);
  });

  it('records keep at most 40 archived sessions and report the ones dropped', () => {
    const { aliceDev, bobDev, alice } = setup('archive', { bobOneTime: 0 });
    void aliceDev;
    for (let i = 0; i < MAX_ARCHIVED_SESSIONS + 3; i++) alice.initiate(bobDev, bobDev.prekeys.takeBundle(bobDev, { oneTime: false }));
    const record = alice.record(bobDev)!;
    expect(record.archived.length).toBe(MAX_ARCHIVED_SESSIONS);
    expect(deserializeSessionRecord(serializeSessionRecord(record))).toEqual(record);
  });

  it('a decryption error about the current chain archives the session once; a replay of it changes nothing', () => {
    const { aliceDev, bobDev, alice, bob } = setup('desync');
    alice.initiate(bobDev);
    bob.decrypt(aliceDev, alice.encrypt(bobDev, utf8('1')));
    alice.decrypt(bobDev, bob.encrypt(aliceDev, utf8('2')));
    const lost = alice.encrypt(bobDev, utf8('3'));
    // Bob cannot decrypt (e.g. his state was restored from an old copy): he reports it
    const report = bob.reportDecryptionError(aliceDev, lost, 1234);
    expect(report.length).toBe(2 + 160); // padded to the 160-byte bucket
    const first = alice.handleDecryptionError(bobDev, report);
    expect(first.rebuild).toBe(true);
    expect(first.resendAfter).toBe(1234);
    expect(first.record.current).toBeNull();
    alice.initiate(bobDev);
    const before = alice.snapshot();
    const again = alice.handleDecryptionError(bobDev, report);
    expect(again.rebuild).toBe(false);
    expect(alice.snapshot()).toBe(before);
    const resent = alice.encrypt(bobDev, utf8('3 again'));
    expect(fromUtf8(bob.decrypt(aliceDev, resent).plaintext)).toBe('3 again');
  });

  it('a decryption error for garbage carries only the timestamp and triggers no rebuild', () => {
    const { aliceDev, bobDev, alice } = setup('garbage-error');
    void aliceDev;
    alice.initiate(bobDev);
    const bob = new Party(bobDev, deterministicRng('b'), () => T0);
    const report = bob.reportDecryptionError(aliceDev, Uint8Array.of(9, 9, 9), 77);
    const r = alice.handleDecryptionError(bobDev, report);
    expect(r.rebuild).toBe(false);
    expect(r.error.ratchetKey).toBeUndefined();
  });

  it('a decryption error not signed by the listed device (e.g. forged by the relay) is BAD_SIGNATURE and changes nothing', () => {
    const { rng, aliceDev, bobDev, alice, bob } = setup('forged-error');
    alice.initiate(bobDev);
    bob.decrypt(aliceDev, alice.encrypt(bobDev, utf8('1')));
    alice.decrypt(bobDev, bob.encrypt(aliceDev, utf8('2')));
    const failed = alice.encrypt(bobDev, utf8('3'));
    const mallory = makeDevice(rng, T0, { account: bobDev.account, deviceId: bobDev.deviceId });
    const forged = new Party(mallory, rng, () => T0).reportDecryptionError(aliceDev, failed, 5);
    const before = alice.snapshot();
    expectCode(() => alice.handleDecryptionError(bobDev, forged), 'BAD_SIGNATURE');
    const genuine = bob.reportDecryptionError(aliceDev, failed, 5);
    const tampered = genuine.slice();
    tampered[10]! ^= 1;
    expectCode(() => alice.handleDecryptionError(bobDev, tampered), 'BAD_SIGNATURE');
    expect(alice.snapshot()).toBe(before);
  });
});
