import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deterministicRng } from '../testing/deterministic-rng.js';
import { makeDevice } from '../testing/protocol-fixtures.js';
import { deriveSharedSecret, pqxdhInitiate, pqxdhRespond, type AgreementTranscript } from './pqxdh.js';
import { verifyBundle } from './prekeys.js';

const T0 = Date.UTC(2026, 10, 1);

describe('PQXDH', () => {
  it('property: initiator and responder derive the same SK for any valid keys, with or without a one-time prekey, PQ or classical', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.boolean(), fc.boolean(), (seed, withOneTime, pq) => {
        const rng = deterministicRng(seed);
        const alice = makeDevice(rng, T0);
        const bob = makeDevice(rng, T0, { pq, oneTimePrekeys: withOneTime ? 1 : 0 });
        const bundle = verifyBundle(bob.prekeys.takeBundle(bob), bob.entry, bob.account.accountId, T0);
        const a = pqxdhInitiate(alice.identityDh, bundle, rng);
        expect(a.transcript.mode).toBe(pq ? 'pqxdh' : 'x3dh');
        expect(a.oneTimePrekeyId !== undefined).toBe(withOneTime);
        const b = pqxdhRespond(
          {
            identity: bob.identityDh,
            signedPrekey: bob.prekeys.signedPrekey(a.signedPrekeyId)!,
            oneTimePrekey: a.oneTimePrekeyId !== undefined ? bob.prekeys.oneTimePrekey(a.oneTimePrekeyId) : undefined,
            kemPrekey: a.kemPrekeyId !== undefined ? bob.prekeys.kemPrekey(a.kemPrekeyId) : undefined,
          },
          { mode: a.transcript.mode, initiatorIdentity: alice.identityDh.publicKey, baseKey: a.transcript.baseKey, kemCiphertext: a.transcript.kemCiphertext },
        );
        expect(b.sharedSecret).toEqual(a.sharedSecret);
        expect(b.sharedSecret.length).toBe(32);
      }),
      { numRuns: 40 },
    );
  });

  it('property: the hybrid SK changes when only one DH output or only the KEM secret changes (either input unknown keeps SK unknown)', () => {
    const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
    fc.assert(
      fc.property(
        fc.array(key, { minLength: 3, maxLength: 4 }),
        key,
        fc.nat(3),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 1, max: 255 }),
        (dh, kemSecret, which, at, flip) => {
          const transcript: AgreementTranscript = {
            mode: 'pqxdh',
            initiatorIdentity: new Uint8Array(32).fill(1),
            responderIdentity: new Uint8Array(32).fill(2),
            signedPrekey: new Uint8Array(32).fill(3),
            kemPrekey: new Uint8Array(1184).fill(4),
            baseKey: new Uint8Array(32).fill(5),
            kemCiphertext: new Uint8Array(1088).fill(6),
          };
          const sk = deriveSharedSecret(transcript, dh, kemSecret);
          const otherDh = dh.map((d) => d.slice());
          otherDh[which % dh.length]![at % 32]! ^= flip;
          const otherKem = kemSecret.slice();
          otherKem[at % 32]! ^= flip;
          // The classical part alone changed: the KEM secret (unknown to a DH-breaking attacker) is the same.
          expect(deriveSharedSecret(transcript, otherDh, kemSecret)).not.toEqual(sk);
          // The KEM secret alone changed: the DH outputs (unknown to a KEM-breaking attacker) are the same.
          expect(deriveSharedSecret(transcript, dh, otherKem)).not.toEqual(sk);
          // And the inputs are what they were (the derivation wipes only its own copy).
          expect(deriveSharedSecret(transcript, dh, kemSecret)).toEqual(sk);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a different KEM ciphertext gives a different SK (implicit rejection shows only at the AEAD)', () => {
    const rng = deterministicRng('kem-tamper');
    const alice = makeDevice(rng, T0);
    const bob = makeDevice(rng, T0);
    const bundle = verifyBundle(bob.prekeys.takeBundle(bob), bob.entry, bob.account.accountId, T0);
    const a = pqxdhInitiate(alice.identityDh, bundle, rng);
    const ct = a.transcript.kemCiphertext!.slice();
    ct[10]! ^= 1;
    const b = pqxdhRespond(
      {
        identity: bob.identityDh,
        signedPrekey: bob.prekeys.signedPrekey(a.signedPrekeyId)!,
        oneTimePrekey: bob.prekeys.oneTimePrekey(a.oneTimePrekeyId!),
        kemPrekey: bob.prekeys.kemPrekey(a.kemPrekeyId!),
      },
      { mode: 'pqxdh', initiatorIdentity: alice.identityDh.publicKey, baseKey: a.transcript.baseKey, kemCiphertext: ct },
    );
    expect(b.sharedSecret).not.toEqual(a.sharedSecret);
  });

  it('a low-order base key is refused with INVALID_KEY', () => {
    const rng = deterministicRng('low-order');
    const alice = makeDevice(rng, T0);
    const bob = makeDevice(rng, T0);
    expect(() =>
      pqxdhRespond(
        { identity: bob.identityDh, signedPrekey: bob.prekeys.signedPrekey(1)! },
        { mode: 'x3dh', initiatorIdentity: alice.identityDh.publicKey, baseKey: new Uint8Array(32) },
      ),
    ).toThrowError(expect.objectContaining({ code: 'INVALID_KEY' }));
  });
});
