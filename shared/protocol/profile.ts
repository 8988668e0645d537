/**
 * Profiles (DESIGN §3.6, docs/protocol.md §18): an account's display name, "about" line and avatar,
 * encrypted under a key derived from its random 32-byte **profile key** and stored at the relay,
 * which never sees a name. Contacts receive the profile key inside E2E content (§16) and fetch and
 * decrypt the profile; blocking someone rotates the key, so what they hold stops opening the
 * profile.
 *
 * Every secret of a profile key is derived from it with its own label (`deriveFromProfileKey`):
 * the cipher key, the public key id and the sealed-sender delivery token (`Parley_v1_DeliveryToken`,
 * 16 bytes, docs/protocol.md §21.1).
 *
 * Lengths are hidden: the name and the about line are always padded to their maximum, the avatar to
 * its Padmé bucket, so every profile without an avatar has the same length. The plaintext carries a
 * revision (the owner's counter), so a reader keeps the newest and refuses a rollback itself.
 *
 * Sans-I/O and synchronous: randomness is injected, nothing is logged. Does not own image
 * processing (the engine re-encodes avatars in a separate process; this module only checks the
 * format's magic bytes, it never decodes an image), storage or key sharing.
 */
import { aesGcmOpen, aesGcmSeal, GCM_NONCE_LENGTH } from '../crypto/aead.js';
import { bytesEqual, fromUtf8, utf8 } from '../crypto/bytes.js';
import { CryptoError } from '../crypto/errors.js';
import { hkdfSha256 } from '../crypto/hkdf.js';
import type { Rng } from '../crypto/random.js';
import { padmeLength } from './attachment-cipher.js';
import { Reader, Writer } from './codec.js';
import {
  ACCOUNT_ID_LENGTH,
  DELIVERY_TOKEN_LENGTH,
  ENCRYPTED_PROFILE_HEADER_LENGTH,
  label,
  MAX_ENCRYPTED_PROFILE_BYTES,
  MAX_PROFILE_ABOUT_BYTES,
  MAX_PROFILE_AVATAR_BYTES,
  MAX_PROFILE_NAME_BYTES,
  MIN_ENCRYPTED_PROFILE_BYTES,
  PROFILE_KEY_ID_LENGTH,
  PROFILE_KEY_LENGTH,
  PROFILE_VERSION,
  type LabelName,
} from './constants.js';
import { ProtocolError } from './errors.js';

/** The avatar formats a profile may carry (one today: what the engine's re-encoder writes). */
export const AvatarFormat = { webp: 0x01 } as const;
export type AvatarFormatName = keyof typeof AvatarFormat;

export type ProfileAvatar = { readonly format: AvatarFormatName; readonly bytes: Uint8Array };

export type Profile = {
  /** Increases with every change the owner makes; readers refuse a lower one than they hold. */
  readonly revision: number;
  /** 1 … 128 UTF-8 bytes, no control characters, not only white space. */
  readonly displayName: string;
  /** 0 … 512 UTF-8 bytes, no control characters. */
  readonly about: string;
  readonly avatar: ProfileAvatar | null;
};

// ── Key derivation ───────────────────────────────────────────────────────────

/**
 * Everything derived from a profile key: HKDF(salt = 0³², ikm = profile key, info = label, L).
 * Nothing else may use the key.
 */
const PROFILE_KEY_DERIVATIONS = {
  cipherKey: ['ProfileCipherKey', 32],
  keyId: ['ProfileKeyId', PROFILE_KEY_ID_LENGTH],
  deliveryToken: ['DeliveryToken', DELIVERY_TOKEN_LENGTH],
} as const satisfies Record<string, readonly [LabelName, number]>;

export type ProfileKeyDerivation = keyof typeof PROFILE_KEY_DERIVATIONS;

function checkProfileKey(profileKey: Uint8Array): void {
  if (!(profileKey instanceof Uint8Array) || profileKey.length !== PROFILE_KEY_LENGTH) {
    throw new ProtocolError('MALFORMED', 'a profile key is 32 bytes');
  }
}

export function deriveFromProfileKey(profileKey: Uint8Array, what: ProfileKeyDerivation): Uint8Array {
  checkProfileKey(profileKey);
  const [name, length] = PROFILE_KEY_DERIVATIONS[what];
  return hkdfSha256(profileKey, undefined, label(name), length);
}

/** The public id of a profile key: which key an encrypted profile was made under. */
export function profileKeyId(profileKey: Uint8Array): Uint8Array {
  return deriveFromProfileKey(profileKey, 'keyId');
}

/** A fresh random profile key (one draw of 32 bytes). */
export function newProfileKey(deps: { readonly rng: Rng }): Uint8Array {
  const key = deps.rng(PROFILE_KEY_LENGTH);
  checkProfileKey(key);
  return key;
}

// ── Plaintext ────────────────────────────────────────────────────────────────

/** C0 and C1 control characters (line breaks included): never part of a name or about line. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** Why a display name is refused, or null when it is valid (engine and renderer share the rule). */
export function displayNameProblem(name: string): 'empty' | 'too-long' | 'control-characters' | null {
  if (!/\S/u.test(name)) return 'empty';
  if (CONTROL.test(name)) return 'control-characters';
  if (utf8(name).length > MAX_PROFILE_NAME_BYTES) return 'too-long';
  return null;
}

/** Why an about line is refused, or null when it is valid. */
export function aboutProblem(about: string): 'too-long' | 'control-characters' | null {
  if (CONTROL.test(about)) return 'control-characters';
  if (utf8(about).length > MAX_PROFILE_ABOUT_BYTES) return 'too-long';
  return null;
}

/** Whether `bytes` start like a file of `format` (magic bytes only; nothing is decoded). */
export function hasAvatarMagic(format: AvatarFormatName, bytes: Uint8Array): boolean {
  switch (format) {
    case 'webp':
      // RIFF ‖ u32le size ‖ WEBP
      return (
        bytes.length >= 12 &&
        bytes[0] === 0x52 && bytes[1] === 0x49 && bytes[2] === 0x46 && bytes[3] === 0x46 &&
        bytes[8] === 0x57 && bytes[9] === 0x45 && bytes[10] === 0x42 && bytes[11] === 0x50
      );
  }
}

function writePaddedText(w: Writer, bytes: Uint8Array, size: number): void {
  w.u16(bytes.length).bytes(bytes).bytes(new Uint8Array(size - bytes.length));
}

function readPaddedText(r: Reader, size: number, what: string): string {
  const length = r.u16();
  if (length > size) throw new ProtocolError('MALFORMED', `profile: ${what} too long`);
  const text = r.bytes(length);
  if (!isZero(r.view(size - length))) throw new ProtocolError('MALFORMED', `profile: ${what} padding is not zero`);
  try {
    return fromUtf8(text);
  } catch (e) {
    if (e instanceof CryptoError) throw new ProtocolError('MALFORMED', `profile: ${what} is not UTF-8`);
    throw e;
  }
}

function isZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const b of bytes) acc |= b;
  return acc === 0;
}

/** Checks a profile the owner is about to encrypt (RangeError: a caller's bug, the engine validates first). */
function checkProfile(p: Profile): void {
  if (!Number.isSafeInteger(p.revision) || p.revision < 0) throw new RangeError('profile revision out of range');
  const name = displayNameProblem(p.displayName);
  if (name) throw new RangeError(`display name: ${name}`);
  const about = aboutProblem(p.about);
  if (about) throw new RangeError(`about: ${about}`);
  if (p.avatar) {
    if (p.avatar.bytes.length === 0 || p.avatar.bytes.length > MAX_PROFILE_AVATAR_BYTES) throw new RangeError('avatar size out of range');
    if (!hasAvatarMagic(p.avatar.format, p.avatar.bytes)) throw new RangeError('avatar is not in its format');
  }
}

/**
 * ProfilePlaintext (§18.2): u64 revision ‖ name field ‖ about field ‖ u8 avatar format ‖ u32 avatar
 * length ‖ avatar ‖ zeros up to Padmé(avatar length).
 */
export function encodeProfilePlaintext(p: Profile): Uint8Array {
  checkProfile(p);
  const w = new Writer().u64(p.revision);
  writePaddedText(w, utf8(p.displayName), MAX_PROFILE_NAME_BYTES);
  writePaddedText(w, utf8(p.about), MAX_PROFILE_ABOUT_BYTES);
  if (p.avatar) {
    const n = p.avatar.bytes.length;
    w.u8(AvatarFormat[p.avatar.format]).u32(n).bytes(p.avatar.bytes).bytes(new Uint8Array(padmeLength(n) - n));
  } else {
    w.u8(0).u32(0);
  }
  return w.finish();
}

/** Parses and checks an authenticated profile plaintext (MALFORMED for anything out of rule). */
export function decodeProfilePlaintext(bytes: Uint8Array): Profile {
  const r = new Reader(bytes, 'profile');
  const revision = r.u64();
  const displayName = readPaddedText(r, MAX_PROFILE_NAME_BYTES, 'name');
  if (displayNameProblem(displayName)) throw new ProtocolError('MALFORMED', 'profile: display name breaks the rule');
  const about = readPaddedText(r, MAX_PROFILE_ABOUT_BYTES, 'about');
  if (aboutProblem(about)) throw new ProtocolError('MALFORMED', 'profile: about line breaks the rule');
  const format = r.u8();
  const length = r.u32();
  let avatar: ProfileAvatar | null = null;
  if (format === 0) {
    if (length !== 0) throw new ProtocolError('MALFORMED', 'profile: avatar length without an avatar');
  } else if (format === AvatarFormat.webp) {
    if (length === 0 || length > MAX_PROFILE_AVATAR_BYTES) throw new ProtocolError('MALFORMED', 'profile: avatar size out of range');
    const avatarBytes = r.bytes(length);
    if (!hasAvatarMagic('webp', avatarBytes)) throw new ProtocolError('MALFORMED', 'profile: avatar is not WebP');
    if (!isZero(r.view(padmeLength(length) - length))) throw new ProtocolError('MALFORMED', 'profile: avatar padding is not zero');
    avatar = { format: 'webp', bytes: avatarBytes };
  } else {
    throw new ProtocolError('MALFORMED', 'profile: unknown avatar format');
  }
  r.end();
  return { revision, displayName, about, avatar };
}

// ── Encryption ───────────────────────────────────────────────────────────────

/** AD = "Parley_v1_ProfileAD" ‖ u8 version ‖ account id (16) ‖ key id (16). */
function profileAd(accountId: Uint8Array, keyId: Uint8Array): Uint8Array {
  return new Writer().bytes(label('ProfileAd')).u8(PROFILE_VERSION).bytes(accountId).bytes(keyId).finish();
}

function checkAccountId(accountId: Uint8Array): void {
  if (!(accountId instanceof Uint8Array) || accountId.length !== ACCOUNT_ID_LENGTH) throw new ProtocolError('MALFORMED', 'an account id is 16 bytes');
}

/**
 * EncryptedProfile (§18.3) = u8 version ‖ key id (16) ‖ nonce (12) ‖ AES-256-GCM(cipher key,
 * nonce, ProfilePlaintext, AD). One draw: the nonce (12 bytes).
 */
export function encryptProfile(profile: Profile, profileKey: Uint8Array, accountId: Uint8Array, deps: { readonly rng: Rng }): Uint8Array {
  checkAccountId(accountId);
  const plaintext = encodeProfilePlaintext(profile);
  const keyId = profileKeyId(profileKey);
  const cipherKey = deriveFromProfileKey(profileKey, 'cipherKey');
  try {
    const nonce = deps.rng(GCM_NONCE_LENGTH);
    const sealed = aesGcmSeal(cipherKey, nonce, plaintext, profileAd(accountId, keyId));
    return new Writer().u8(PROFILE_VERSION).bytes(keyId).bytes(nonce).bytes(sealed).finish();
  } finally {
    cipherKey.fill(0);
    plaintext.fill(0);
  }
}

/** The parts of an encrypted profile that are in the clear (the relay's size and version check). */
export function parseEncryptedProfile(bytes: Uint8Array): { readonly keyId: Uint8Array; readonly nonce: Uint8Array; readonly sealed: Uint8Array } {
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError('MALFORMED', 'encrypted profile: not bytes');
  if (bytes.length < MIN_ENCRYPTED_PROFILE_BYTES || bytes.length > MAX_ENCRYPTED_PROFILE_BYTES) {
    throw new ProtocolError('MALFORMED', 'encrypted profile: length out of range');
  }
  const r = new Reader(bytes, 'encrypted profile');
  if (r.u8() !== PROFILE_VERSION) throw new ProtocolError('MALFORMED', 'encrypted profile: unknown version');
  const keyId = r.bytes(PROFILE_KEY_ID_LENGTH);
  const nonce = r.bytes(GCM_NONCE_LENGTH);
  return { keyId, nonce, sealed: r.view(bytes.length - ENCRYPTED_PROFILE_HEADER_LENGTH) };
}

/**
 * Opens an account's encrypted profile with the profile key it shared. In order: the layout
 * (MALFORMED), the key id (PROFILE_KEY_MISMATCH: the owner rotated its key, or this is not the
 * key it was made under), the AEAD under this account's AD (PROFILE_AUTH_FAILED), the plaintext
 * (MALFORMED). Returns nothing on failure: a caller keeps what it held.
 */
export function decryptProfile(bytes: Uint8Array, profileKey: Uint8Array, accountId: Uint8Array): Profile {
  checkAccountId(accountId);
  const { keyId, nonce, sealed } = parseEncryptedProfile(bytes);
  if (!bytesEqual(keyId, profileKeyId(profileKey))) throw new ProtocolError('PROFILE_KEY_MISMATCH', 'profile made under another profile key');
  const cipherKey = deriveFromProfileKey(profileKey, 'cipherKey');
  let plaintext: Uint8Array;
  try {
    plaintext = aesGcmOpen(cipherKey, nonce, sealed, profileAd(accountId, keyId));
  } catch (e) {
    if (e instanceof CryptoError) throw new ProtocolError('PROFILE_AUTH_FAILED', 'profile does not authenticate');
    throw e;
  } finally {
    cipherKey.fill(0);
  }
  try {
    return decodeProfilePlaintext(plaintext);
  } finally {
    plaintext.fill(0);
  }
}
