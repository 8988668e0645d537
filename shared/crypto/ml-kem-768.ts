/**
 * ML-KEM-768 (FIPS 203) on @noble/post-quantum, always with explicit randomness so protocol runs are
 * reproducible: `keygen(seed64)`, `encapsulate(pk, m32)`. A secret key is stored as its 64-byte seed
 * (d ‖ z) and expanded only for decapsulation. Encapsulation checks the public key (FIPS 203 §7.2
 * modulus check) and raises INVALID_KEY_TYPE for a malformed one. Decapsulation never fails on a bad
 * ciphertext (implicit rejection): it yields an unrelated secret, which only the AEAD later reveals.
 */
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { CryptoError, assertLength } from './errors.js';
import type { Rng } from './random.js';

export const MLKEM768_SEED_LENGTH = 64;
export const MLKEM768_PUBLIC_KEY_LENGTH = 1184;
export const MLKEM768_CIPHERTEXT_LENGTH = 1088;
export const MLKEM768_SHARED_SECRET_LENGTH = 32;
export const MLKEM768_MESSAGE_LENGTH = 32;

export type MlKem768KeyPair = { readonly publicKey: Uint8Array; readonly seed: Uint8Array };

export function mlKem768KeyPairFromSeed(seed: Uint8Array): MlKem768KeyPair {
  assertLength(seed, MLKEM768_SEED_LENGTH, 'ML-KEM-768 seed');
  const { publicKey } = ml_kem768.keygen(seed);
  return { publicKey, seed };
}

export function mlKem768GenerateKeyPair(rng: Rng): MlKem768KeyPair {
  return mlKem768KeyPairFromSeed(rng(MLKEM768_SEED_LENGTH));
}

export function mlKem768Encapsulate(
  publicKey: Uint8Array,
  rng: Rng,
): { readonly ciphertext: Uint8Array; readonly sharedSecret: Uint8Array } {
  assertLength(publicKey, MLKEM768_PUBLIC_KEY_LENGTH, 'ML-KEM-768 public key');
  const m = rng(MLKEM768_MESSAGE_LENGTH);
  let result;
  try {
    result = ml_kem768.encapsulate(publicKey, m);
  } catch {
    throw new CryptoError('INVALID_KEY_TYPE', 'ML-KEM-768 public key failed the modulus check');
  } finally {
    m.fill(0);
  }
  return { ciphertext: result.cipherText, sharedSecret: result.sharedSecret };
}

export function mlKem768Decapsulate(seed: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  assertLength(seed, MLKEM768_SEED_LENGTH, 'ML-KEM-768 seed');
  assertLength(ciphertext, MLKEM768_CIPHERTEXT_LENGTH, 'ML-KEM-768 ciphertext');
  const { secretKey } = ml_kem768.keygen(seed);
  try {
    return ml_kem768.decapsulate(ciphertext, secretKey);
  } finally {
    secretKey.fill(0);
  }
}

/** Decapsulation with an already-expanded FIPS 203 decapsulation key (test vectors only use this). */
export function mlKem768DecapsulateExpanded(secretKey: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  assertLength(ciphertext, MLKEM768_CIPHERTEXT_LENGTH, 'ML-KEM-768 ciphertext');
  return ml_kem768.decapsulate(ciphertext, secretKey);
}
