/**
 * Project Wycheproof vectors (test/vectors/wycheproof/, C2SP/wycheproof testvectors_v1 @ dac1dd4)
 * run through Parley's primitive adapters — the exports of shared/crypto/index.ts, never node:crypto
 * directly — so Parley's own rules are what is tested: X25519 refuses an all-zero shared secret,
 * Ed25519 refuses S ≥ L and small-order or non-canonical public keys, ML-KEM-768 takes explicit
 * randomness. Each describe block pins how many cases it ran, so a truncated file or a filter that
 * silently drops cases fails. What Parley does with `acceptable` cases, and which valid cases it
 * refuses on purpose, is tabled in test/vectors/wycheproof/README.md.
 * Not covered here: the differential tests against @noble (shared/crypto/differential.test.ts).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  aesGcmOpen,
  aesGcmSeal,
  checkEd25519PublicKey,
  concatBytes,
  constantTimeEqual,
  CryptoError,
  decodeEd25519,
  ed25519Verify,
  encodeEd25519,
  fromHex,
  hkdfSha256,
  hmacSha256,
  mlKem768Decapsulate,
  mlKem768Encapsulate,
  mlKem768KeyPairFromSeed,
  MLKEM768_PUBLIC_KEY_LENGTH,
  type Rng,
  x25519,
} from '../../shared/crypto/index.js';

type Result = 'valid' | 'invalid' | 'acceptable';
type CaseBase = { readonly tcId: number; readonly comment?: string; readonly flags?: readonly string[]; readonly result: Result };
type VectorFile<Group, Case> = {
  readonly algorithm: string;
  readonly numberOfTests: number;
  readonly testGroups: readonly (Group & { readonly tests: readonly (Case & CaseBase)[] })[];
};

function load<Group, Case>(name: string): VectorFile<Group, Case> {
  const text = readFileSync(new URL(`./wycheproof/${name}`, import.meta.url), 'utf8');
  return JSON.parse(text) as VectorFile<Group, Case>;
}

/** What an adapter did with one case: its output, or the CryptoError code it raised. Any other
 * exception propagates and fails the test — untrusted input must produce a typed error. */
type Outcome = { readonly ok: true; readonly value: Uint8Array } | { readonly ok: false; readonly code: string };

function attempt(run: () => Uint8Array): Outcome {
  try {
    return { ok: true, value: run() };
  } catch (e) {
    if (e instanceof CryptoError) return { ok: false, code: e.code };
    throw e;
  }
}

const accepted = (value: Uint8Array): Outcome => ({ ok: true, value });
const refused = (code: string): Outcome => ({ ok: false, code });

/** Counts cases per Wycheproof `result`. */
function tally(results: Result[]): Partial<Record<Result, number>> {
  const out: Partial<Record<Result, number>> = {};
  for (const r of results) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/** An Rng that hands out `bytes` exactly once (ML-KEM encapsulation with Wycheproof's explicit m).
 * It returns a copy because the adapter wipes the randomness after use. */
function fixedRng(bytes: Uint8Array): Rng {
  let used = false;
  return (length) => {
    if (used || length !== bytes.length) throw new Error(`fixed Rng: unexpected request for ${length} bytes`);
    used = true;
    return bytes.slice();
  };
}

describe('wycheproof x25519_test.json', () => {
  const file = load<{ curve: string }, { public: string; private: string; shared: string }>('x25519_test.json');

  it('x25519: every valid case agrees, every non-zero acceptable case agrees (non-canonical u included), every zero-output case is refused with ZERO_SHARED_SECRET', () => {
    const results: Result[] = [];
    const refusedZero: number[] = [];
    let acceptedAcceptable = 0;
    let acceptedNonCanonical = 0;
    for (const group of file.testGroups) {
      expect(group.curve).toBe('curve25519');
      for (const t of group.tests) {
        results.push(t.result);
        const out = attempt(() => x25519(fromHex(t.private), fromHex(t.public)));
        const zeroOutput = /^(00)+$/.test(t.shared);
        if (zeroOutput) {
          // Parley's rule (DESIGN §3.1): a low-order peer key is refused, never turned into a key.
          expect(t.result, `tcId ${t.tcId}`).toBe('acceptable');
          expect(t.flags, `tcId ${t.tcId}`).toContain('ZeroSharedSecret');
          expect(out, `tcId ${t.tcId}`).toEqual(refused('ZERO_SHARED_SECRET'));
          refusedZero.push(t.tcId);
        } else if (t.result === 'invalid') {
          expect(out.ok, `tcId ${t.tcId}`).toBe(false);
        } else {
          expect(out, `tcId ${t.tcId} (${t.comment ?? ''})`).toEqual(accepted(fromHex(t.shared)));
          if (t.result === 'acceptable') acceptedAcceptable++;
          if (t.flags?.includes('NonCanonicalPublic')) acceptedNonCanonical++;
        }
      }
    }
    expect(file.numberOfTests).toBe(518);
    expect(results.length).toBe(518);
    expect(tally(results)).toEqual({ valid: 264, acceptable: 254 });
    expect(refusedZero.length).toBe(31);
    expect(acceptedAcceptable).toBe(223);
    // RFC 7748 §5: u ≥ p is reduced and bit 255 is masked, not refused. 19 cases carry the
    // NonCanonicalPublic flag: 13 are accepted and agree, 6 are low-order once reduced and are
    // among the zero-output refusals above.
    expect(acceptedNonCanonical).toBe(13);
  });
});

describe('wycheproof ed25519_test.json', () => {
  const file = load<{ publicKey: { curve: string; pk: string } }, { msg: string; sig: string }>('ed25519_test.json');

  /** tcIds of `valid`/`acceptable` cases Parley refuses on purpose (small-order or non-canonical key).
   * This file has none: every one of its keys is canonical and of large order. */
  const PARLEY_REFUSES_VALID: readonly number[] = [];

  it('ed25519: every valid case verifies, every invalid case is refused, and Parley refuses a valid case only for a small-order or non-canonical key', () => {
    const results: Result[] = [];
    const refusedValid: number[] = [];
    const keys = new Set<string>();
    for (const group of file.testGroups) {
      expect(group.publicKey.curve).toBe('edwards25519');
      const pk = fromHex(group.publicKey.pk);
      keys.add(group.publicKey.pk);
      const keyCheck = attempt(() => {
        checkEd25519PublicKey(pk);
        return decodeEd25519(encodeEd25519(pk)); // the strict import of DESIGN §3.1
      });
      for (const t of group.tests) {
        results.push(t.result);
        const verdict = ed25519Verify(pk, fromHex(t.msg), fromHex(t.sig));
        if (t.result === 'invalid') {
          expect(verdict, `tcId ${t.tcId} (${t.comment ?? ''})`).toBe(false);
          continue;
        }
        if (!verdict) {
          refusedValid.push(t.tcId);
          expect(keyCheck.ok, `tcId ${t.tcId}: refused though its key passes Parley's key checks`).toBe(false);
          expect(['SMALL_ORDER_KEY', 'NON_CANONICAL_KEY'], `tcId ${t.tcId}`).toContain(keyCheck.ok ? '' : keyCheck.code);
        } else {
          // A key Parley refuses at import must never verify a signature either.
          expect(keyCheck, `tcId ${t.tcId}`).toEqual(accepted(pk));
        }
      }
    }
    expect(file.numberOfTests).toBe(151);
    expect(results.length).toBe(151);
    expect(tally(results)).toEqual({ valid: 88, invalid: 63 });
    expect(keys.size).toBe(52);
    expect(refusedValid).toEqual(PARLEY_REFUSES_VALID);
  });
});

describe('wycheproof hkdf_sha256_test.json', () => {
  const file = load<{ keySize: number }, { ikm: string; salt: string; info: string; size: number; okm: string }>(
    'hkdf_sha256_test.json',
  );

  it('hkdf-sha256: every valid case derives the expected okm (empty salt included), every over-long request is refused with INVALID_LENGTH', () => {
    const results: Result[] = [];
    for (const group of file.testGroups) {
      for (const t of group.tests) {
        results.push(t.result);
        const out = attempt(() => hkdfSha256(fromHex(t.ikm), fromHex(t.salt), fromHex(t.info), t.size));
        if (t.result === 'invalid') {
          expect(out, `tcId ${t.tcId} (${t.comment ?? ''})`).toEqual(refused('INVALID_LENGTH'));
        } else {
          expect(out, `tcId ${t.tcId} (${t.comment ?? ''})`).toEqual(accepted(fromHex(t.okm)));
        }
      }
    }
    expect(file.numberOfTests).toBe(86);
    expect(results.length).toBe(86);
    expect(tally(results)).toEqual({ valid: 83, invalid: 3 });
  });
});

describe('wycheproof hmac_sha256_test.json', () => {
  const file = load<{ keySize: number; tagSize: number }, { key: string; msg: string; tag: string }>(
    'hmac_sha256_test.json',
  );

  it('hmac-sha256: the tag prefix matches every valid case (full and 128-bit truncated tags) and no modified tag', () => {
    const results: Result[] = [];
    let truncated = 0;
    for (const group of file.testGroups) {
      const tagBytes = group.tagSize / 8;
      for (const t of group.tests) {
        results.push(t.result);
        const expected = fromHex(t.tag);
        expect(expected.length, `tcId ${t.tcId}`).toBe(tagBytes);
        const mac = hmacSha256(fromHex(t.key), fromHex(t.msg));
        expect(mac.length).toBe(32);
        const match = constantTimeEqual(mac.subarray(0, tagBytes), expected);
        expect(match, `tcId ${t.tcId} (${t.comment ?? ''})`).toBe(t.result === 'valid');
        if (tagBytes < 32) truncated++;
      }
    }
    expect(file.numberOfTests).toBe(174);
    expect(results.length).toBe(174);
    expect(tally(results)).toEqual({ valid: 66, invalid: 108 });
    expect(truncated).toBe(87);
  });
});

describe('wycheproof aes_gcm_test.json (256-bit key, 96-bit IV, 128-bit tag)', () => {
  const file = load<
    { keySize: number; ivSize: number; tagSize: number },
    { key: string; iv: string; aad: string; msg: string; ct: string; tag: string }
  >('aes_gcm_test.json');
  // Parley uses AES-256-GCM with 12-byte nonces and 16-byte tags only; the adapter refuses any other
  // key or nonce length, so the other groups do not apply.
  const groups = file.testGroups.filter((g) => g.keySize === 256 && g.ivSize === 96 && g.tagSize === 128);

  it('aes-256-gcm: every valid case seals to ct‖tag and opens to msg, every modified tag is refused with AEAD_AUTH_FAILED', () => {
    const results: Result[] = [];
    for (const group of groups) {
      for (const t of group.tests) {
        results.push(t.result);
        const key = fromHex(t.key);
        const iv = fromHex(t.iv);
        const aad = fromHex(t.aad);
        const sealed = concatBytes(fromHex(t.ct), fromHex(t.tag));
        const opened = attempt(() => aesGcmOpen(key, iv, sealed, aad));
        if (t.result === 'invalid') {
          expect(opened, `tcId ${t.tcId} (${t.comment ?? ''})`).toEqual(refused('AEAD_AUTH_FAILED'));
        } else {
          expect(opened, `tcId ${t.tcId}`).toEqual(accepted(fromHex(t.msg)));
          expect(aesGcmSeal(key, iv, fromHex(t.msg), aad), `tcId ${t.tcId}`).toEqual(sealed);
        }
      }
    }
    expect(file.numberOfTests).toBe(316);
    expect(groups.length).toBe(1);
    expect(results.length).toBe(66);
    expect(tally(results)).toEqual({ valid: 39, invalid: 27 });
  });
});

describe('wycheproof mlkem_768_test.json (key generation from seed and decapsulation)', () => {
  const file = load<{ parameterSet: string }, { seed: string; ek?: string; c: string; K: string }>('mlkem_768_test.json');

  it('ml-kem-768: every valid seed yields the expected ek and decapsulates c to K (implicit rejection included), every wrong-length seed or ciphertext is refused with INVALID_LENGTH', () => {
    const results: Result[] = [];
    let decapsulated = 0;
    for (const group of file.testGroups) {
      expect(group.parameterSet).toBe('ML-KEM-768');
      for (const t of group.tests) {
        results.push(t.result);
        const seed = fromHex(t.seed);
        const c = fromHex(t.c);
        const keyPair = attempt(() => mlKem768KeyPairFromSeed(seed).publicKey);
        if (t.ek !== undefined) expect(keyPair, `tcId ${t.tcId}`).toEqual(accepted(fromHex(t.ek)));
        else expect(keyPair, `tcId ${t.tcId}`).toEqual(refused('INVALID_LENGTH'));
        const out = attempt(() => mlKem768Decapsulate(seed, c));
        if (t.result === 'invalid') {
          // Every invalid case here is a seed or ciphertext of the wrong length.
          expect(out, `tcId ${t.tcId} (${t.comment ?? ''})`).toEqual(refused('INVALID_LENGTH'));
        } else {
          expect(out, `tcId ${t.tcId} (${t.comment ?? ''})`).toEqual(accepted(fromHex(t.K)));
          decapsulated++;
        }
      }
    }
    expect(file.numberOfTests).toBe(193);
    expect(results.length).toBe(193);
    expect(tally(results)).toEqual({ valid: 153, invalid: 40 });
    expect(decapsulated).toBe(153);
  });
});

describe('wycheproof mlkem_768_encaps_test.json (encapsulation with explicit m)', () => {
  const file = load<{ parameterSet: string }, { ek: string; m: string; c: string; K: string }>(
    'mlkem_768_encaps_test.json',
  );

  it('ml-kem-768: every valid ek and m encapsulate to the expected (c, K), every unreduced ek is refused with INVALID_KEY_TYPE and every wrong-length ek with INVALID_LENGTH', () => {
    const results: Result[] = [];
    let modulusRefused = 0;
    for (const group of file.testGroups) {
      expect(group.parameterSet).toBe('ML-KEM-768');
      for (const t of group.tests) {
        results.push(t.result);
        const ek = fromHex(t.ek);
        let ciphertext: Uint8Array | undefined;
        const out = attempt(() => {
          const r = mlKem768Encapsulate(ek, fixedRng(fromHex(t.m)));
          ciphertext = r.ciphertext;
          return r.sharedSecret;
        });
        if (t.result === 'invalid') {
          // FIPS 203 §7.2: the modulus check refuses an ek whose coefficients are not reduced.
          const code = ek.length === MLKEM768_PUBLIC_KEY_LENGTH ? 'INVALID_KEY_TYPE' : 'INVALID_LENGTH';
          expect(out, `tcId ${t.tcId} (${t.comment ?? ''})`).toEqual(refused(code));
          if (code === 'INVALID_KEY_TYPE') modulusRefused++;
        } else {
          expect(out, `tcId ${t.tcId} (${t.comment ?? ''})`).toEqual(accepted(fromHex(t.K)));
          expect(ciphertext, `tcId ${t.tcId}`).toEqual(fromHex(t.c));
        }
      }
    }
    expect(file.numberOfTests).toBe(265);
    expect(results.length).toBe(265);
    expect(tally(results)).toEqual({ valid: 133, invalid: 132 });
    expect(modulusRefused).toBe(112);
  });
});
