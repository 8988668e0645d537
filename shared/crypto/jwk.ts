/**
 * Raw-key import into node:crypto KeyObjects via JWK (DESIGN §3.1): private import via JWK costs
 * ~50 µs against ~770 µs for PKCS#8 DER. The transient base64url strings built here are the one
 * place a secret is allowed to exist as a string; they never leave this module.
 * Node requires the `x` member on a private OKP JWK but recomputes the public key from `d`, so a
 * placeholder is passed and the real public key is read back when needed.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { fromBase64Url, toBase64Url } from './bytes.js';

export type OkpCurve = 'X25519' | 'Ed25519';

const PLACEHOLDER_X = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

export function importOkpPrivate(curve: OkpCurve, privateKey: Uint8Array): KeyObject {
  return createPrivateKey({
    key: { kty: 'OKP', crv: curve, d: toBase64Url(privateKey), x: PLACEHOLDER_X },
    format: 'jwk',
  });
}

/**
 * Imported public keys, most recently used last. Public data only, so keeping them is harmless; it
 * saves the import (~7 µs) when one protocol step uses a peer key several times — PQXDH uses SPK_B
 * in three DHs, a DH ratchet step the peer's ratchet key in two. Small on purpose: it serves reuse
 * within a step or a burst, not a directory of every key ever seen.
 */
const PUBLIC_KEY_CACHE_SIZE = 64;
const publicKeys = new Map<string, KeyObject>();

export function importOkpPublic(curve: OkpCurve, publicKey: Uint8Array): KeyObject {
  const x = toBase64Url(publicKey);
  const id = `${curve}:${x}`;
  const cached = publicKeys.get(id);
  if (cached) {
    publicKeys.delete(id);
    publicKeys.set(id, cached);
    return cached;
  }
  const key = createPublicKey({ key: { kty: 'OKP', crv: curve, x }, format: 'jwk' });
  if (publicKeys.size >= PUBLIC_KEY_CACHE_SIZE) publicKeys.delete(publicKeys.keys().next().value!);
  publicKeys.set(id, key);
  return key;
}

/** The raw public key of an imported private (or public) OKP key. */
export function exportOkpPublic(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('OKP key without x');
  return fromBase64Url(jwk.x);
}
