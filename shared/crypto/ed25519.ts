/**
 * Ed25519 (RFC 8032, pure, cofactorless verification) on node:crypto. Private keys are the 32-byte
 * seed. Parley's rules on top of the primitive (DESIGN §3.1):
 *  - signatures must be 64 bytes with S < L (non-malleable);
 *  - public keys must be canonical (y < p) and not of small order. node:crypto alone accepts the
 *    identity key with S = 0, so these checks run on every verification (an O(1) comparison against
 *    the small-order encodings) and, at import, a full strict decode with @noble/curves confirms the
 *    point is on the curve.
 * Verification returns a boolean; callers turn `false` into their layer's typed error.
 */
import { sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { ed25519 as nobleEd25519 } from '@noble/curves/ed25519.js';
import { ownedBytes } from './bytes.js';
import { CryptoError, assertLength } from './errors.js';
import { exportOkpPublic, importOkpPrivate, importOkpPublic } from './jwk.js';
import type { Rng } from './random.js';

export const ED25519_SEED_LENGTH = 32;
export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const ED25519_SIGNATURE_LENGTH = 64;

export type Ed25519KeyPair = { readonly publicKey: Uint8Array; readonly privateKey: Uint8Array };

/** y-coordinates (little-endian, sign bit cleared) of the eight small-order points, and their
 * non-canonical aliases y + p (libsodium's blocklist). */
const SMALL_ORDER_Y: readonly Uint8Array[] = [
  // 0: (±sqrt(-1), 0) order 4
  new Uint8Array(32),
  // 1: identity (order 1)
  Uint8Array.of(1, ...new Uint8Array(31)),
  // order-8 points
  Uint8Array.from([
    0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
    0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
  ]),
  Uint8Array.from([
    0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
    0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
  ]),
  // p - 1 (y = -1, order 2)
  Uint8Array.of(0xec, ...new Uint8Array(30).fill(0xff), 0x7f),
];

/** L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
const GROUP_ORDER_LE = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]);

function lessThanLittleEndian(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = a.length - 1; i >= 0; i--) {
    if (a[i]! !== b[i]!) return a[i]! < b[i]!;
  }
  return false;
}

/** y ≥ p ⇔ the low 255 bits lie in [2^255 − 19, 2^255 − 1]. */
function isNonCanonicalY(pub: Uint8Array): boolean {
  if ((pub[31]! & 0x7f) !== 0x7f) return false;
  for (let i = 30; i >= 1; i--) if (pub[i] !== 0xff) return false;
  return pub[0]! >= 0xed;
}

function isSmallOrderEncoding(pub: Uint8Array): boolean {
  outer: for (const y of SMALL_ORDER_Y) {
    for (let i = 0; i < 31; i++) if (pub[i] !== y[i]) continue outer;
    if ((pub[31]! & 0x7f) === y[31]) return true;
  }
  return false;
}

/** O(1) checks run on every use: length, canonical y, not small order. */
export function checkEd25519PublicKey(publicKey: Uint8Array): void {
  assertLength(publicKey, ED25519_PUBLIC_KEY_LENGTH, 'Ed25519 public key');
  if (isNonCanonicalY(publicKey)) throw new CryptoError('NON_CANONICAL_KEY', 'Ed25519 public key is not canonical');
  if (isSmallOrderEncoding(publicKey)) throw new CryptoError('SMALL_ORDER_KEY', 'Ed25519 public key has small order');
}

/** Full strict validation for keys arriving from outside: the O(1) checks plus an on-curve decode. */
export function validateEd25519PublicKey(publicKey: Uint8Array): void {
  checkEd25519PublicKey(publicKey);
  let point;
  try {
    point = nobleEd25519.Point.fromBytes(publicKey, false);
  } catch {
    throw new CryptoError('NON_CANONICAL_KEY', 'Ed25519 public key is not a valid point');
  }
  // Defence in depth: the blocklist above already covers every small-order encoding.
  if (point.isSmallOrder()) throw new CryptoError('SMALL_ORDER_KEY', 'Ed25519 public key has small order');
}

export function ed25519PublicKey(privateKey: Uint8Array): Uint8Array {
  assertLength(privateKey, ED25519_SEED_LENGTH, 'Ed25519 private key');
  return exportOkpPublic(importOkpPrivate('Ed25519', privateKey));
}

export function ed25519GenerateKeyPair(rng: Rng): Ed25519KeyPair {
  const privateKey = rng(ED25519_SEED_LENGTH);
  return { privateKey, publicKey: ed25519PublicKey(privateKey) };
}

export function ed25519Sign(privateKey: Uint8Array, message: Uint8Array): Uint8Array {
  assertLength(privateKey, ED25519_SEED_LENGTH, 'Ed25519 private key');
  return ownedBytes(nodeSign(null, message, importOkpPrivate('Ed25519', privateKey)));
}

/** RFC 8032 verification with Parley's strictness rules; never throws on a bad signature. */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_LENGTH) return false;
  if (!lessThanLittleEndian(signature.subarray(32), GROUP_ORDER_LE)) return false;
  try {
    checkEd25519PublicKey(publicKey);
    return nodeVerify(null, message, importOkpPublic('Ed25519', publicKey), signature);
  } catch {
    return false;
  }
}
