/**
 * Type-byte encodings of public keys (DESIGN §3.1): `0x05‖32` X25519, `0x06‖32` Ed25519,
 * `0x08‖1184` ML-KEM-768. Decoding checks the type byte and length and, for Ed25519, runs the
 * full strict validation — this is "import", where small-order and non-canonical keys are refused.
 */
import { validateEd25519PublicKey, ED25519_PUBLIC_KEY_LENGTH } from './ed25519.js';
import { CryptoError } from './errors.js';
import { MLKEM768_PUBLIC_KEY_LENGTH } from './ml-kem-768.js';
import { X25519_KEY_LENGTH } from './x25519.js';

export const KeyType = {
  X25519: 0x05,
  Ed25519: 0x06,
  MlKem768: 0x08,
} as const;
export type KeyType = (typeof KeyType)[keyof typeof KeyType];

const LENGTHS: Record<KeyType, number> = {
  [KeyType.X25519]: X25519_KEY_LENGTH,
  [KeyType.Ed25519]: ED25519_PUBLIC_KEY_LENGTH,
  [KeyType.MlKem768]: MLKEM768_PUBLIC_KEY_LENGTH,
};

export function encodedKeyLength(type: KeyType): number {
  return 1 + LENGTHS[type];
}

export function encodePublicKey(type: KeyType, raw: Uint8Array): Uint8Array {
  if (raw.length !== LENGTHS[type]) throw new CryptoError('INVALID_LENGTH', 'public key has the wrong length');
  const out = new Uint8Array(1 + raw.length);
  out[0] = type;
  out.set(raw, 1);
  return out;
}

/** Decodes `type‖raw`, returning the raw key; the type byte must be the expected one. */
export function decodePublicKey(type: KeyType, encoded: Uint8Array): Uint8Array {
  if (!(encoded instanceof Uint8Array) || encoded.length !== 1 + LENGTHS[type]) {
    throw new CryptoError('INVALID_LENGTH', 'encoded public key has the wrong length');
  }
  if (encoded[0] !== type) throw new CryptoError('INVALID_KEY_TYPE', 'unexpected public key type byte');
  const raw = encoded.slice(1);
  if (type === KeyType.Ed25519) validateEd25519PublicKey(raw);
  return raw;
}

export const encodeX25519 = (raw: Uint8Array): Uint8Array => encodePublicKey(KeyType.X25519, raw);
export const encodeEd25519 = (raw: Uint8Array): Uint8Array => encodePublicKey(KeyType.Ed25519, raw);
export const encodeMlKem768 = (raw: Uint8Array): Uint8Array => encodePublicKey(KeyType.MlKem768, raw);
export const decodeX25519 = (enc: Uint8Array): Uint8Array => decodePublicKey(KeyType.X25519, enc);
export const decodeEd25519 = (enc: Uint8Array): Uint8Array => decodePublicKey(KeyType.Ed25519, enc);
export const decodeMlKem768 = (enc: Uint8Array): Uint8Array => decodePublicKey(KeyType.MlKem768, enc);
