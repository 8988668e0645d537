import { describe, expect, it } from 'vitest';
import { deterministicRng } from '../testing/deterministic-rng.js';
import {
  aesGcmOpen,
  aesGcmSeal,
  aesGcmSealInto,
  CryptoError,
  decodeEd25519,
  decodeX25519,
  ed25519GenerateKeyPair,
  ed25519Sign,
  ed25519Verify,
  encodeEd25519,
  encodeX25519,
  fromBase64Url,
  mlKem768Decapsulate,
  mlKem768Encapsulate,
  mlKem768GenerateKeyPair,
  toBase64Url,
  x25519,
  x25519GenerateKeyPair,
} from './index.js';

const rng = deterministicRng('adapters');

describe('x25519', () => {
  it('both sides derive the same secret', () => {
    const a = x25519GenerateKeyPair(rng);
    const b = x25519GenerateKeyPair(rng);
    expect(x25519(a.privateKey, b.publicKey)).toEqual(x25519(b.privateKey, a.publicKey));
  });
  it('rejects a low-order public key with ZERO_SHARED_SECRET', () => {
    const a = x25519GenerateKeyPair(rng);
    expect(() => x25519(a.privateKey, new Uint8Array(32))).toThrow(CryptoError);
    try {
      x25519(a.privateKey, new Uint8Array(32));
    } catch (e) {
      expect((e as CryptoError).code).toBe('ZERO_SHARED_SECRET');
    }
  });
});

describe('ed25519', () => {
  it('verifies its own signatures and rejects a flipped bit', () => {
    const k = ed25519GenerateKeyPair(rng);
    const msg = new TextEncoder().encode('hello');
    const sig = ed25519Sign(k.privateKey, msg);
    expect(ed25519Verify(k.publicKey, msg, sig)).toBe(true);
    sig[5]! ^= 1;
    expect(ed25519Verify(k.publicKey, msg, sig)).toBe(false);
  });
  it('rejects the identity key with S = 0, which node:crypto alone accepts', () => {
    const identity = Uint8Array.of(1, ...new Uint8Array(31));
    const sig = new Uint8Array(64);
    sig[0] = 1; // R = identity, S = 0
    expect(ed25519Verify(identity, new Uint8Array(0), sig)).toBe(false);
    expect(() => decodeEd25519(encodeEd25519(identity))).toThrow(/small order/);
  });
  it('rejects S ≥ L (malleated signature)', () => {
    const k = ed25519GenerateKeyPair(rng);
    const msg = Uint8Array.of(1, 2, 3);
    const sig = ed25519Sign(k.privateKey, msg);
    // S + L
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i]!);
    let t = s + L;
    const mal = sig.slice();
    for (let i = 0; i < 32; i++) {
      mal[32 + i] = Number(t & 0xffn);
      t >>= 8n;
    }
    expect(ed25519Verify(k.publicKey, msg, mal)).toBe(false);
  });
});

describe('encodings', () => {
  it('round trips type-byte keys and refuses the wrong type byte', () => {
    const x = x25519GenerateKeyPair(rng).publicKey;
    expect(decodeX25519(encodeX25519(x))).toEqual(x);
    const e = ed25519GenerateKeyPair(rng).publicKey;
    expect(() => decodeX25519(encodeEd25519(e))).toThrow(CryptoError);
  });
  it('base64url is strict', () => {
    expect(fromBase64Url(toBase64Url(Uint8Array.of(1, 2, 3, 4)))).toEqual(Uint8Array.of(1, 2, 3, 4));
    expect(() => fromBase64Url('AQID+A==')).toThrow(CryptoError);
    expect(() => fromBase64Url('AR')).toThrow(CryptoError); // non-canonical trailing bits
  });
});

describe('aes-256-gcm', () => {
  it('round trips and refuses a wrong AD without releasing plaintext', () => {
    const key = rng(32);
    const nonce = rng(12);
    const ct = aesGcmSeal(key, nonce, Uint8Array.of(9, 9, 9), Uint8Array.of(1));
    expect(aesGcmOpen(key, nonce, ct, Uint8Array.of(1))).toEqual(Uint8Array.of(9, 9, 9));
    expect(() => aesGcmOpen(key, nonce, ct, Uint8Array.of(2))).toThrow(/authentication/);
  });
  it('sealing into a larger array writes the same ciphertext and tag there and nothing around it; too small is refused', () => {
    const key = rng(32);
    const nonce = rng(12);
    const plaintext = rng(100);
    const out = new Uint8Array(5 + 116 + 3).fill(0xee);
    aesGcmSealInto(key, nonce, plaintext, Uint8Array.of(1), out, 5);
    expect(out.subarray(5, 121)).toEqual(aesGcmSeal(key, nonce, plaintext, Uint8Array.of(1)));
    expect([...out.subarray(0, 5), ...out.subarray(121)].every((b) => b === 0xee)).toBe(true);
    expect(() => aesGcmSealInto(key, nonce, plaintext, Uint8Array.of(1), new Uint8Array(116), 1)).toThrow(CryptoError);
    expect(() => aesGcmSealInto(key, nonce, plaintext, Uint8Array.of(1), new Uint8Array(200), -1)).toThrow(CryptoError);
  });
});

describe('ml-kem-768', () => {
  it('encapsulation and decapsulation agree; a flipped ciphertext yields another secret', () => {
    const kp = mlKem768GenerateKeyPair(rng);
    const { ciphertext, sharedSecret } = mlKem768Encapsulate(kp.publicKey, rng);
    expect(mlKem768Decapsulate(kp.seed, ciphertext)).toEqual(sharedSecret);
    const bad = ciphertext.slice();
    bad[0]! ^= 1;
    expect(mlKem768Decapsulate(kp.seed, bad)).not.toEqual(sharedSecret);
  });
});
