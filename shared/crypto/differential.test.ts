/**
 * Differential tests: Parley's adapters (node:crypto underneath) against the pure-JS @noble
 * libraries on random inputs (fast-check) and on every small-order and non-canonical encoding.
 * DESIGN §3.1 names @noble/curves the test oracle for the native curves, with `{ zip215: false }`.
 *
 * Where the two verifiers legitimately differ it is asserted, not skipped: @noble/curves 2.x checks
 * the cofactored equation [8][S]B = [8]R + [8][k]A, Parley (OpenSSL) the cofactorless one
 * [S]B = R + [k]A that DESIGN §3.1 prescribes. They agree on every signature an honest signer makes
 * and on every small-order key (both refuse those); they differ only when R or A carries a torsion
 * component, and there Parley is the stricter one.
 * Not covered here: the external vectors (test/vectors/wycheproof.test.ts).
 */
import { ed25519, x25519 as nobleX25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { gcm } from '@noble/ciphers/aes.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256, sha512 as nobleSha512 } from '@noble/hashes/sha2.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  aesGcmOpen,
  aesGcmSeal,
  checkEd25519PublicKey,
  concatBytes,
  CryptoError,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  hkdfSha256,
  HKDF_MAX_LENGTH,
  hmacSha256,
  mlKem768Decapsulate,
  mlKem768DecapsulateExpanded,
  mlKem768Encapsulate,
  mlKem768KeyPairFromSeed,
  sha256,
  sha512,
  toHex,
  validateEd25519PublicKey,
  x25519,
  x25519PublicKey,
} from './index.js';

const RUNS = 300;
const SLOW_RUNS = 200; // ML-KEM and hand-built Ed25519 signatures

const bytes = (length: number) => fc.uint8Array({ minLength: length, maxLength: length });
const anyBytes = (maxLength: number) => fc.uint8Array({ minLength: 0, maxLength });

/** The CryptoError code `run` raises, or undefined if it returns. Other exceptions propagate. */
function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (e) {
    if (e instanceof CryptoError) return e.code;
    throw e;
  }
}

function throws(run: () => unknown): boolean {
  try {
    run();
    return false;
  } catch {
    return true;
  }
}

function flipBit(data: Uint8Array, bit: number): Uint8Array {
  const out = data.slice();
  const i = bit % (out.length * 8);
  out[i >> 3]! ^= 1 << (i & 7);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Curve25519 torsion, generated rather than copied from a blocklist.

const { Point } = ed25519;
type EdPoint = ReturnType<typeof Point.fromBytes>;
const { n: L, p: P } = Point.CURVE();
const TWO_255 = 1n << 255n;

/** The eight points of the torsion subgroup: [i]T for T = [L]Q, Q the first decodable y = 2, 3, …
 * whose torsion component has order 8. */
function torsionPoints(): EdPoint[] {
  for (let y = 2n; ; y++) {
    let q: EdPoint;
    try {
      q = Point.fromBytes(numberToBytesLE(y, 32), false);
    } catch {
      continue; // y is not on the curve
    }
    const t = q.multiplyUnsafe(L - 1n).add(q); // [L]Q kills the prime-order part
    if (t.double().double().is0()) continue; // order < 8
    const points = [Point.ZERO];
    for (let i = 1; i < 8; i++) points.push(points[i - 1]!.add(t));
    return points;
  }
}

const TORSION = torsionPoints();

function withSignBit(encoding: Uint8Array, sign: number): Uint8Array {
  const out = encoding.slice();
  out[31] = (out[31]! & 0x7f) | (sign << 7);
  return out;
}

function uniqueByHex(list: Uint8Array[]): Uint8Array[] {
  return [...new Map(list.map((b) => [toHex(b), b])).values()];
}

/** Every 32-byte encoding whose y is the y of a torsion point: canonical with both sign bits, and
 * the y + p aliases where y + p < 2^255 (only y = 0 and y = 1), again with both sign bits. */
const SMALL_ORDER_ED25519 = uniqueByHex(
  TORSION.flatMap((t) => {
    const canonical = t.toBytes();
    const y = bytesToNumberLE(withSignBit(canonical, 0));
    const encodings = [withSignBit(canonical, 0), withSignBit(canonical, 1)];
    if (y + P < TWO_255) {
      const alias = numberToBytesLE(y + P, 32);
      encodings.push(withSignBit(alias, 0), withSignBit(alias, 1));
    }
    return encodings;
  }),
);

/** Every encoding with y in [p, 2^255), both sign bits. */
const NON_CANONICAL_ED25519 = Array.from({ length: 19 }, (_, i) => [0, 1].map((s) => withSignBit(numberToBytesLE(P + BigInt(i), 32), s))).flat();

/** Montgomery u of the curve's low-order points, u = (1 + y) / (1 − y) of the Edwards torsion (the
 * identity maps to ∞, which the ladder treats as u = 0), plus u = −1, the order-4 point of the twist.
 * Each also as u + p where that stays below 2^255, and each with bit 255 set (RFC 7748 masks it). */
const LOW_ORDER_X25519 = (() => {
  const { Fp } = Point;
  const us = new Set<bigint>([P - 1n]);
  for (const t of TORSION) {
    const { y } = t.toAffine();
    if (y !== 1n) us.add(Fp.div(Fp.add(1n, y), Fp.sub(1n, y)));
  }
  const values = [...us].flatMap((u) => (u + P < TWO_255 ? [u, u + P] : [u]));
  return uniqueByHex(values.flatMap((u) => [numberToBytesLE(u, 32), numberToBytesLE(u + TWO_255, 32)]));
})();

type NobleKeyVerdict = 'ok' | 'small-order' | 'undecodable';

/** @noble/curves' strict decode (RFC 8032 §5.1.3, y < p) followed by its small-order test. */
function nobleKeyVerdict(publicKey: Uint8Array): NobleKeyVerdict {
  let point: EdPoint;
  try {
    point = Point.fromBytes(publicKey, false);
  } catch {
    return 'undecodable';
  }
  return point.isSmallOrder() ? 'small-order' : 'ok';
}

function nobleVerify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  return ed25519.verify(signature, message, publicKey, { zip215: false });
}

/** An Ed25519 signature built by hand from a scalar, so R and A may carry a torsion component. */
function signWithScalar(a: bigint, publicKey: Uint8Array, r: bigint, rTorsion: EdPoint, message: Uint8Array) {
  const R = Point.BASE.multiply(r).add(rTorsion).toBytes();
  const k = bytesToNumberLE(nobleSha512(concatBytes(R, publicKey, message))) % L;
  const s = (r + k * a) % L;
  return { signature: concatBytes(R, numberToBytesLE(s, 32)), k };
}

const scalar = fc.bigInt({ min: 1n, max: L - 1n });

describe('generated small-order encodings', () => {
  it('there are 14 small-order Ed25519 encodings and 14 low-order X25519 encodings', () => {
    expect(TORSION.map((t) => t.isSmallOrder())).toEqual(Array(8).fill(true));
    expect(new Set(TORSION.map((t) => t.toHex())).size).toBe(8);
    // 5 distinct y (0, 1, −1, two of order 8) × 2 sign bits, + aliases of y = 0 and y = 1 × 2.
    expect(SMALL_ORDER_ED25519.length).toBe(14);
    // u ∈ {0, 1, −1, two of order 8} × bit 255, + aliases of 0 and 1 × bit 255.
    expect(LOW_ORDER_X25519.length).toBe(14);
  });
});

// ---------------------------------------------------------------------------------------------

describe('x25519 against @noble/curves', () => {
  it('public keys agree for every private key', () => {
    fc.assert(
      fc.property(bytes(32), (priv) => {
        expect(x25519PublicKey(priv)).toEqual(nobleX25519.getPublicKey(priv));
      }),
      { numRuns: RUNS },
    );
  });

  it('shared secrets agree; where noble refuses (all-zero output) Parley raises ZERO_SHARED_SECRET', () => {
    const nonCanonicalU = fc
      .tuple(fc.integer({ min: 0, max: 18 }), fc.boolean())
      .map(([i, high]) => numberToBytesLE(P + BigInt(i) + (high ? TWO_255 : 0n), 32));
    const peer = fc.oneof(bytes(32), fc.constantFrom(...LOW_ORDER_X25519), nonCanonicalU);
    let refusedCount = 0;
    fc.assert(
      fc.property(bytes(32), peer, (priv, pub) => {
        let expected: Uint8Array | undefined;
        try {
          expected = nobleX25519.getSharedSecret(priv, pub);
        } catch {
          expected = undefined;
        }
        if (expected === undefined) {
          refusedCount++;
          expect(codeOf(() => x25519(priv, pub))).toBe('ZERO_SHARED_SECRET');
        } else {
          expect(x25519(priv, pub)).toEqual(expected);
        }
      }),
      { numRuns: RUNS },
    );
    expect(refusedCount).toBeGreaterThan(0);
  });

  it('every generated low-order u is refused by both, for any private key', () => {
    fc.assert(
      fc.property(bytes(32), (priv) => {
        for (const u of LOW_ORDER_X25519) {
          expect(throws(() => nobleX25519.getSharedSecret(priv, u)), toHex(u)).toBe(true);
          expect(codeOf(() => x25519(priv, u)), toHex(u)).toBe('ZERO_SHARED_SECRET');
        }
      }),
      { numRuns: 20 },
    );
  });
});

describe('ed25519 against @noble/curves', () => {
  it('public keys and (deterministic) signatures agree byte for byte, and both accept them', () => {
    fc.assert(
      fc.property(bytes(32), anyBytes(256), (seed, message) => {
        const pub = ed25519PublicKey(seed);
        expect(pub).toEqual(ed25519.getPublicKey(seed));
        const sig = ed25519Sign(seed, message);
        expect(sig).toEqual(ed25519.sign(message, seed));
        expect(ed25519Verify(pub, message, sig)).toBe(true);
        expect(nobleVerify(sig, message, pub)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('verification decisions agree on a single flipped bit of the signature, the message or the key (both refuse)', () => {
    fc.assert(
      fc.property(
        bytes(32),
        fc.uint8Array({ minLength: 1, maxLength: 128 }),
        fc.constantFrom('signature', 'message', 'key'),
        fc.nat(),
        (seed, message, part, bit) => {
          let pub = ed25519PublicKey(seed);
          let sig = ed25519Sign(seed, message);
          let msg: Uint8Array = message;
          if (part === 'signature') sig = flipBit(sig, bit);
          else if (part === 'message') msg = flipBit(msg, bit);
          else pub = flipBit(pub, bit);
          const parley = ed25519Verify(pub, msg, sig);
          expect(parley).toBe(nobleVerify(sig, msg, pub));
          expect(parley).toBe(false);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('verification decisions agree for random 32-byte public keys, with random or foreign signatures', () => {
    const signature = fc.oneof(
      bytes(64),
      fc.tuple(bytes(32), anyBytes(64)).map(([seed, msg]) => ed25519Sign(seed, msg)),
    );
    fc.assert(
      fc.property(bytes(32), anyBytes(64), signature, (pub, msg, sig) => {
        expect(ed25519Verify(pub, msg, sig)).toBe(nobleVerify(sig, msg, pub));
      }),
      { numRuns: RUNS },
    );
  });

  it('both refuse every small-order or non-canonical key, even with the signature (R = identity, S = 0) that satisfies the equation for the identity key', () => {
    const identitySig = concatBytes(TORSION[0]!.toBytes(), new Uint8Array(32));
    fc.assert(
      fc.property(anyBytes(64), (msg) => {
        for (const pub of [...SMALL_ORDER_ED25519, ...NON_CANONICAL_ED25519]) {
          expect(ed25519Verify(pub, msg, identitySig), toHex(pub)).toBe(false);
          expect(nobleVerify(identitySig, msg, pub), toHex(pub)).toBe(false);
        }
      }),
      { numRuns: 20 },
    );
  });

  // The two places where cofactored (noble) and cofactorless (Parley, DESIGN §3.1) differ.
  it('a key with a torsion component: noble (cofactored) accepts every honest signature, Parley (cofactorless) exactly those with [k]T = 0', () => {
    let stricter = 0;
    fc.assert(
      fc.property(scalar, scalar, fc.integer({ min: 1, max: 7 }), anyBytes(64), (a, r, i, msg) => {
        const torsion = TORSION[i]!;
        const pub = Point.BASE.multiply(a).add(torsion).toBytes();
        expect(nobleKeyVerdict(pub)).toBe('ok'); // mixed order is not small order: Parley imports it too
        expect(codeOf(() => validateEd25519PublicKey(pub))).toBeUndefined();
        const { signature, k } = signWithScalar(a, pub, r, Point.ZERO, msg);
        expect(nobleVerify(signature, msg, pub)).toBe(true);
        const cofactorlessHolds = torsion.multiplyUnsafe(k).is0();
        expect(ed25519Verify(pub, msg, signature)).toBe(cofactorlessHolds);
        if (!cofactorlessHolds) stricter++;
      }),
      { numRuns: SLOW_RUNS },
    );
    expect(stricter).toBeGreaterThan(0);
  });

  it('a signature whose R carries a torsion component: noble (cofactored) accepts, Parley (cofactorless) refuses', () => {
    fc.assert(
      fc.property(scalar, scalar, fc.integer({ min: 1, max: 7 }), anyBytes(64), (a, r, i, msg) => {
        const pub = Point.BASE.multiply(a).toBytes();
        const { signature } = signWithScalar(a, pub, r, TORSION[i]!, msg);
        expect(nobleVerify(signature, msg, pub)).toBe(true);
        expect(ed25519Verify(pub, msg, signature)).toBe(false);
      }),
      { numRuns: SLOW_RUNS },
    );
  });
});

describe('checkEd25519PublicKey against noble Point.fromBytes(bytes, false) + isSmallOrder()', () => {
  it('every small-order encoding is refused by both: SMALL_ORDER_KEY when y < p, NON_CANONICAL_KEY for the y + p aliases', () => {
    for (const pub of SMALL_ORDER_ED25519) {
      expect(nobleKeyVerdict(pub), toHex(pub)).not.toBe('ok');
      const canonicalY = bytesToNumberLE(withSignBit(pub, 0)) < P;
      expect(codeOf(() => checkEd25519PublicKey(pub)), toHex(pub)).toBe(canonicalY ? 'SMALL_ORDER_KEY' : 'NON_CANONICAL_KEY');
      expect(codeOf(() => validateEd25519PublicKey(pub)), toHex(pub)).toBeDefined();
    }
    // noble decodes 8 of them (the torsion points themselves) and calls each small order; the others
    // are x = 0 with the sign bit set, or y ≥ p, which its strict decode refuses.
    expect(SMALL_ORDER_ED25519.filter((pub) => nobleKeyVerdict(pub) === 'small-order').length).toBe(8);
  });

  it('every encoding with y ≥ p is refused by both (NON_CANONICAL_KEY)', () => {
    expect(NON_CANONICAL_ED25519.length).toBe(38);
    for (const pub of NON_CANONICAL_ED25519) {
      expect(nobleKeyVerdict(pub), toHex(pub)).toBe('undecodable');
      expect(codeOf(() => checkEd25519PublicKey(pub)), toHex(pub)).toBe('NON_CANONICAL_KEY');
    }
  });

  it('on random and near-boundary inputs: the O(1) check refuses only what noble refuses, passes what noble accepts, and the full validation refuses exactly what noble refuses', () => {
    const nearP = fc
      .tuple(fc.integer({ min: 0, max: 40 }), fc.boolean())
      .map(([i, sign]) => withSignBit(numberToBytesLE(TWO_255 - 1n - BigInt(i), 32), sign ? 1 : 0));
    const input = fc.oneof(bytes(32), nearP, fc.constantFrom(...SMALL_ORDER_ED25519));
    fc.assert(
      fc.property(input, (pub) => {
        const noble = nobleKeyVerdict(pub);
        const quick = codeOf(() => checkEd25519PublicKey(pub));
        const full = codeOf(() => validateEd25519PublicKey(pub));
        if (noble === 'ok') {
          expect(quick).toBeUndefined();
          expect(full).toBeUndefined();
        } else {
          // Off-curve points pass the O(1) check; the on-curve decode at import catches them.
          expect(full).toBeDefined();
          if (noble === 'small-order') expect(quick).toBe('SMALL_ORDER_KEY');
        }
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('hashes, HMAC and HKDF against @noble/hashes', () => {
  it('sha256 and sha512 of the concatenated parts agree', () => {
    fc.assert(
      fc.property(fc.array(anyBytes(200), { maxLength: 4 }), (parts) => {
        const joined = concatBytes(...parts);
        expect(sha256(...parts)).toEqual(nobleSha256(joined));
        expect(sha512(...parts)).toEqual(nobleSha512(joined));
      }),
      { numRuns: RUNS },
    );
  });

  it('hmac-sha256 agrees for keys shorter and longer than the block', () => {
    fc.assert(
      fc.property(anyBytes(200), anyBytes(300), (key, data) => {
        expect(hmacSha256(key, data)).toEqual(hmac(nobleSha256, key, data));
      }),
      { numRuns: RUNS },
    );
  });

  it('hkdf-sha256 agrees for any salt (absent = 32 zero bytes), info and length 1…8160', () => {
    const length = fc.oneof(
      { arbitrary: fc.integer({ min: 1, max: 200 }), weight: 9 },
      { arbitrary: fc.constant(HKDF_MAX_LENGTH), weight: 1 },
    );
    fc.assert(
      fc.property(anyBytes(80), fc.option(anyBytes(80), { nil: undefined }), anyBytes(80), length, (ikm, salt, info, len) => {
        expect(hkdfSha256(ikm, salt, info, len)).toEqual(hkdf(nobleSha256, ikm, salt, info, len));
      }),
      { numRuns: RUNS },
    );
  });

  it('hkdf-sha256 refuses lengths 0 and 8161 with INVALID_LENGTH; noble refuses 8161 too (L = 0 it answers with empty output)', () => {
    const ikm = new Uint8Array(32);
    const info = new Uint8Array(0);
    expect(codeOf(() => hkdfSha256(ikm, undefined, info, HKDF_MAX_LENGTH + 1))).toBe('INVALID_LENGTH');
    expect(throws(() => hkdf(nobleSha256, ikm, undefined, info, HKDF_MAX_LENGTH + 1))).toBe(true);
    // Parley is stricter here on purpose: asking for no key material is a caller bug.
    expect(codeOf(() => hkdfSha256(ikm, undefined, info, 0))).toBe('INVALID_LENGTH');
    expect(hkdf(nobleSha256, ikm, undefined, info, 0)).toEqual(new Uint8Array(0));
  });
});

describe('aes-256-gcm against @noble/ciphers', () => {
  it('sealing agrees byte for byte and each side opens the other’s output', () => {
    fc.assert(
      fc.property(bytes(32), bytes(12), anyBytes(300), anyBytes(64), (key, nonce, plaintext, ad) => {
        const sealed = aesGcmSeal(key, nonce, plaintext, ad);
        expect(sealed).toEqual(gcm(key, nonce, ad).encrypt(plaintext));
        expect(aesGcmOpen(key, nonce, sealed, ad)).toEqual(plaintext);
        expect(gcm(key, nonce, ad).decrypt(sealed)).toEqual(plaintext);
      }),
      { numRuns: RUNS },
    );
  });

  it('a flipped bit of ciphertext or tag is refused by both (AEAD_AUTH_FAILED)', () => {
    fc.assert(
      fc.property(bytes(32), bytes(12), anyBytes(100), anyBytes(32), fc.nat(), (key, nonce, plaintext, ad, bit) => {
        const tampered = flipBit(aesGcmSeal(key, nonce, plaintext, ad), bit);
        expect(codeOf(() => aesGcmOpen(key, nonce, tampered, ad))).toBe('AEAD_AUTH_FAILED');
        expect(throws(() => gcm(key, nonce, ad).decrypt(tampered))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('ml-kem-768 against @noble/post-quantum', () => {
  it('the same seed gives the same public key, the same (pk, m) the same (ct, ss), and decapsulation agrees, on honest and flipped ciphertexts', () => {
    fc.assert(
      fc.property(bytes(64), bytes(32), fc.nat(), (seed, m, bit) => {
        const ours = mlKem768KeyPairFromSeed(seed);
        const theirs = ml_kem768.keygen(seed);
        expect(ours.publicKey).toEqual(theirs.publicKey);
        const enc = mlKem768Encapsulate(ours.publicKey, () => m.slice());
        const ref = ml_kem768.encapsulate(theirs.publicKey, m);
        expect(enc.ciphertext).toEqual(ref.cipherText);
        expect(enc.sharedSecret).toEqual(ref.sharedSecret);
        for (const ct of [enc.ciphertext, flipBit(enc.ciphertext, bit)]) {
          const expected = ml_kem768.decapsulate(ct, theirs.secretKey);
          expect(mlKem768Decapsulate(seed, ct)).toEqual(expected);
          expect(mlKem768DecapsulateExpanded(theirs.secretKey, ct)).toEqual(expected);
        }
      }),
      { numRuns: SLOW_RUNS },
    );
  });
});
