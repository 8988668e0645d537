/**
 * X25519 (RFC 7748) on node:crypto. Private keys are 32 random bytes (clamped inside the
 * primitive); public keys are 32-byte u-coordinates. Non-canonical u values are accepted as
 * RFC 7748 §5 requires; an all-zero shared secret (a small-order peer key) raises
 * ZERO_SHARED_SECRET, which is how low-order points are rejected.
 */
import { diffieHellman, type KeyObject } from 'node:crypto';
import { constantTimeEqual, ownedBytes } from './bytes.js';
import { CryptoError, assertLength } from './errors.js';
import { exportOkpPublic, importOkpPrivate, importOkpPublic } from './jwk.js';
import type { Rng } from './random.js';

export const X25519_KEY_LENGTH = 32;

export type X25519KeyPair = { readonly publicKey: Uint8Array; readonly privateKey: Uint8Array };

const ZERO = new Uint8Array(32);

/** An imported private key, reusable for several DH operations in one protocol step. */
export type X25519PrivateHandle = { readonly publicKey: Uint8Array; readonly key: KeyObject };

export function x25519PrivateHandle(privateKey: Uint8Array): X25519PrivateHandle {
  assertLength(privateKey, X25519_KEY_LENGTH, 'X25519 private key');
  const key = importOkpPrivate('X25519', privateKey);
  return { key, publicKey: exportOkpPublic(key) };
}

export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  return x25519PrivateHandle(privateKey).publicKey;
}

export function x25519GenerateKeyPair(rng: Rng): X25519KeyPair {
  const privateKey = rng(X25519_KEY_LENGTH);
  return { privateKey, publicKey: x25519PublicKey(privateKey) };
}

/** DH(private, public); `privateKey` may be raw bytes or a handle from x25519PrivateHandle. */
export function x25519(privateKey: Uint8Array | X25519PrivateHandle, publicKey: Uint8Array): Uint8Array {
  assertLength(publicKey, X25519_KEY_LENGTH, 'X25519 public key');
  let priv: KeyObject;
  if (privateKey instanceof Uint8Array) {
    // Raw bytes: import only; the public half a handle carries is not needed for one DH.
    assertLength(privateKey, X25519_KEY_LENGTH, 'X25519 private key');
    priv = importOkpPrivate('X25519', privateKey);
  } else {
    priv = privateKey.key;
  }
  let shared: Uint8Array;
  try {
    shared = ownedBytes(diffieHellman({ privateKey: priv, publicKey: importOkpPublic('X25519', publicKey) }));
  } catch {
    // OpenSSL refuses some low-order inputs itself; report them like an all-zero result.
    throw new CryptoError('ZERO_SHARED_SECRET', 'X25519 produced no shared secret (low-order public key)');
  }
  if (constantTimeEqual(shared, ZERO)) {
    throw new CryptoError('ZERO_SHARED_SECRET', 'X25519 shared secret is all zeros (low-order public key)');
  }
  return shared;
}
