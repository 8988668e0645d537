/**
 * Prekeys and bundles (DESIGN §3.3, docs/protocol.md "Prekeys"). Owns generation and signing of a
 * device's signed X25519 prekey, its ML-KEM-768 prekeys (one-time and last-resort) and unsigned
 * one-time X25519 prekeys, and the initiator's verification of a fetched bundle against the
 * account-signed device entry: identity keys equal, every signature valid, age ≤ 60 days, a KEM
 * prekey present for `pq` devices. Storage, rotation scheduling and upload belong to the engine.
 */
import { bytesEqual } from '../crypto/bytes.js';
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.js';
import { KeyType } from '../crypto/encoding.js';
import { mlKem768GenerateKeyPair, MLKEM768_PUBLIC_KEY_LENGTH } from '../crypto/ml-kem-768.js';
import type { Rng } from '../crypto/random.js';
import { x25519GenerateKeyPair, X25519_KEY_LENGTH, type X25519KeyPair } from '../crypto/x25519.js';
import { Writer } from './codec.js';
import { MAX_CLOCK_SKEW_MS, MAX_PREKEY_AGE_MS, label } from './constants.js';
import { hasPq, type DeviceEntry } from './device-list.js';
import { ProtocolError } from './errors.js';

export type SignedPrekeyPublic = {
  readonly keyId: number;
  readonly publicKey: Uint8Array;
  readonly createdAt: number;
  readonly signature: Uint8Array;
};

export type KemPrekeyPublic = {
  readonly keyId: number;
  readonly publicKey: Uint8Array;
  readonly createdAt: number;
  readonly lastResort: boolean;
  readonly signature: Uint8Array;
};

export type OneTimePrekeyPublic = { readonly keyId: number; readonly publicKey: Uint8Array };

/** What the relay serves for one device. */
export type PrekeyBundle = {
  readonly accountId: Uint8Array;
  readonly deviceId: number;
  readonly identityDhKey: Uint8Array;
  readonly identitySigningKey: Uint8Array;
  readonly signedPrekey: SignedPrekeyPublic;
  readonly oneTimePrekey?: OneTimePrekeyPublic | undefined;
  readonly kemPrekey?: KemPrekeyPublic | undefined;
};

export type SignedPrekeyPrivate = SignedPrekeyPublic & { readonly privateKey: Uint8Array };
export type KemPrekeyPrivate = KemPrekeyPublic & { readonly seed: Uint8Array };
export type OneTimePrekeyPrivate = OneTimePrekeyPublic & { readonly privateKey: Uint8Array };

function checkKeyId(keyId: number): void {
  if (!Number.isInteger(keyId) || keyId < 0 || keyId > 0xffffffff) throw new ProtocolError('MALFORMED', 'prekey id out of range');
}

/** label ‖ Enc(public key) ‖ u32 key id ‖ u64 created-at ‖ u8 last-resort */
export function signedPrekeySignatureInput(keyId: number, publicKey: Uint8Array, createdAt: number): Uint8Array {
  checkKeyId(keyId);
  return new Writer().bytes(label('SignedPrekey')).key(KeyType.X25519, publicKey).u32(keyId).u64(createdAt).u8(0).finish();
}

export function kemPrekeySignatureInput(
  keyId: number,
  publicKey: Uint8Array,
  createdAt: number,
  lastResort: boolean,
): Uint8Array {
  checkKeyId(keyId);
  return new Writer()
    .bytes(label('KemPrekey'))
    .key(KeyType.MlKem768, publicKey)
    .u32(keyId)
    .u64(createdAt)
    .u8(lastResort ? 1 : 0)
    .finish();
}

export function generateSignedPrekey(
  identitySigningPrivateKey: Uint8Array,
  keyId: number,
  deps: { readonly rng: Rng; readonly now: number },
): SignedPrekeyPrivate {
  const kp = x25519GenerateKeyPair(deps.rng);
  const signature = ed25519Sign(identitySigningPrivateKey, signedPrekeySignatureInput(keyId, kp.publicKey, deps.now));
  return { keyId, publicKey: kp.publicKey, privateKey: kp.privateKey, createdAt: deps.now, signature };
}

export function generateKemPrekey(
  identitySigningPrivateKey: Uint8Array,
  keyId: number,
  lastResort: boolean,
  deps: { readonly rng: Rng; readonly now: number },
): KemPrekeyPrivate {
  const kp = mlKem768GenerateKeyPair(deps.rng);
  const signature = ed25519Sign(
    identitySigningPrivateKey,
    kemPrekeySignatureInput(keyId, kp.publicKey, deps.now, lastResort),
  );
  return { keyId, publicKey: kp.publicKey, seed: kp.seed, createdAt: deps.now, lastResort, signature };
}

export function generateOneTimePrekeys(firstKeyId: number, count: number, rng: Rng): OneTimePrekeyPrivate[] {
  const out: OneTimePrekeyPrivate[] = [];
  for (let i = 0; i < count; i++) {
    const keyId = (firstKeyId + i) >>> 0;
    const kp: X25519KeyPair = x25519GenerateKeyPair(rng);
    out.push({ keyId, publicKey: kp.publicKey, privateKey: kp.privateKey });
  }
  return out;
}

export function verifySignedPrekey(identitySigningKey: Uint8Array, spk: SignedPrekeyPublic): boolean {
  return (
    spk.publicKey.length === X25519_KEY_LENGTH &&
    ed25519Verify(identitySigningKey, signedPrekeySignatureInput(spk.keyId, spk.publicKey, spk.createdAt), spk.signature)
  );
}

export function verifyKemPrekey(identitySigningKey: Uint8Array, kem: KemPrekeyPublic): boolean {
  return (
    kem.publicKey.length === MLKEM768_PUBLIC_KEY_LENGTH &&
    ed25519Verify(
      identitySigningKey,
      kemPrekeySignatureInput(kem.keyId, kem.publicKey, kem.createdAt, kem.lastResort),
      kem.signature,
    )
  );
}

function checkAge(createdAt: number, now: number, what: string): void {
  if (createdAt > now + MAX_CLOCK_SKEW_MS) throw new ProtocolError('MALFORMED', `${what} created in the future`);
  if (now - createdAt > MAX_PREKEY_AGE_MS) throw new ProtocolError('DEVICE_INACTIVE', `${what} older than 60 days: device inactive`);
}

/** A bundle that passed every check, with the mode its device entry dictates. */
export type VerifiedBundle = PrekeyBundle & { readonly mode: 'pqxdh' | 'x3dh' };

/**
 * The initiator's checks, all before any DH: the bundle's identity keys equal the signed device
 * entry's; the signed prekey (and KEM prekey) signatures verify under the entry's Ed25519 key; no
 * prekey is older than 60 days; a `pq` device must offer a valid KEM prekey (MISSING_KEM_PREKEY), so
 * a relay that strips it cannot downgrade the session. Devices without `pq` use classical X3DH.
 */
export function verifyBundle(
  bundle: PrekeyBundle,
  entry: DeviceEntry,
  accountId: Uint8Array,
  now: number,
): VerifiedBundle {
  if (!bytesEqual(bundle.accountId, accountId) || bundle.deviceId !== entry.deviceId) {
    throw new ProtocolError('UNTRUSTED_IDENTITY', 'bundle is for another device');
  }
  if (
    !bytesEqual(bundle.identityDhKey, entry.identityDhKey) ||
    !bytesEqual(bundle.identitySigningKey, entry.identitySigningKey)
  ) {
    throw new ProtocolError('UNTRUSTED_IDENTITY', 'bundle identity keys differ from the signed device list');
  }
  if (!verifySignedPrekey(entry.identitySigningKey, bundle.signedPrekey)) {
    throw new ProtocolError('BAD_SIGNATURE', 'signed prekey signature does not verify');
  }
  checkAge(bundle.signedPrekey.createdAt, now, 'signed prekey');
  if (bundle.oneTimePrekey && bundle.oneTimePrekey.publicKey.length !== X25519_KEY_LENGTH) {
    throw new ProtocolError('MALFORMED', 'one-time prekey has the wrong length');
  }
  if (!hasPq(entry)) return { ...bundle, kemPrekey: undefined, mode: 'x3dh' };
  if (!bundle.kemPrekey) throw new ProtocolError('MISSING_KEM_PREKEY', 'pq device offered no ML-KEM prekey');
  if (!verifyKemPrekey(entry.identitySigningKey, bundle.kemPrekey)) {
    throw new ProtocolError('MISSING_KEM_PREKEY', 'pq device offered no validly signed ML-KEM prekey');
  }
  checkAge(bundle.kemPrekey.createdAt, now, 'KEM prekey');
  return { ...bundle, mode: 'pqxdh' };
}
