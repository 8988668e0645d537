/**
 * Sealed sender (DESIGN §3.6, docs/protocol.md §21): the relay learns the recipient of a message,
 * never its sender.
 *
 * - **Delivery token** (§21.1): HKDF(profile key, `Parley_v1_DeliveryToken`, 16) — what a contact
 *   who holds the profile key shows the relay instead of an account; `deliveryToken()` here, the
 *   relay stores only SHA-256 of it.
 * - **Sender certificate** (§21.2): the relay's Ed25519 certificate key signs (account id, device
 *   id, device X25519 identity key, expiry, key id); at most 24 h of life.
 * - **Sealed envelope** (§21.3–21.5): one construction for one recipient device and for many
 *   (Signal's sealed sender v2 is the anchor). A random secret M gives an ephemeral X25519 key E and
 *   a content key K; K encrypts, once, the certificate, the sender's static key and the inner
 *   message(s) (the "shared ciphertext"); per recipient device, M is wrapped under DH(E, IK_R)
 *   (ephemeral→recipient: hides the sender's static key from everyone but a recipient) and a tag
 *   from DH(IK_S, IK_R) authenticates the shared ciphertext (static→recipient: only the holder of
 *   IK_S, or the recipient itself, can make it). A multi-recipient upload carries the shared
 *   ciphertext once and a wrapped key and tag per device; the relay cuts it into one envelope per
 *   device without learning anything it did not know from the addresses.
 * - **Acceptance** (§21.6): `openSealedEnvelope` (parse, unwrap, decrypt, tag, certificate under a
 *   pinned key, unexpired at the envelope's relay time, envelope static key = certificate key) and
 *   `acceptSealedSender` (the certificate's device is on the sender's current signed list with
 *   that key, and the session that decrypted the inner message has that key as its remote identity).
 *
 * What this layer is not: forward-secret (the sender's and recipient's identity keys open and
 * authenticate it forever) or post-quantum (X25519 only); the inner message (a ratchet or prekey
 * message, §9) carries both. Sans-I/O and synchronous: randomness and time are passed in; nothing is
 * stored, logged or sent. Does not own: which messages go sealed, certificates' caching, tokens'
 * storage, the relay's routes (electron/engine/messaging, server/).
 */
import { aesGcmOpen, aesGcmSeal, GCM_NONCE_LENGTH, GCM_TAG_LENGTH } from '../crypto/aead.js';
import { bytesEqual, constantTimeEqual, toBase64Url, wipe } from '../crypto/bytes.js';
import { CryptoError } from '../crypto/errors.js';
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.js';
import { KeyType } from '../crypto/encoding.js';
import { hkdfSha256 } from '../crypto/hkdf.js';
import type { Rng } from '../crypto/random.js';
import { sha256 } from '../crypto/sha256.js';
import { x25519, x25519PrivateHandle, x25519PublicKey, type X25519PrivateHandle } from '../crypto/x25519.js';
import { Reader, Writer } from './codec.js';
import {
  ACCOUNT_ID_LENGTH,
  label,
  MAX_ENVELOPE_CONTENT,
  MAX_SEALED_RECIPIENTS,
  MAX_SENDER_CERTIFICATE_LIFETIME_MS,
  SEALED_AUTH_TAG_LENGTH,
  SEALED_SECRET_LENGTH,
  SEALED_VERSION,
  SENDER_CERTIFICATE_BODY_LENGTH,
  SENDER_CERTIFICATE_LENGTH,
} from './constants.js';
import type { DeviceList } from './device-list.js';
import { ProtocolError } from './errors.js';
import { pad, unpad } from './padding.js';
import { deriveFromProfileKey } from './profile.js';

// ── §21.1 Delivery token ─────────────────────────────────────────────────────

/** HKDF(salt = 0³², ikm = profile key, info = `Parley_v1_DeliveryToken`, L = 16). */
export function deliveryToken(profileKey: Uint8Array): Uint8Array {
  return deriveFromProfileKey(profileKey, 'deliveryToken');
}

// ── §21.2 Sender certificate ─────────────────────────────────────────────────

export type SenderCertificate = {
  readonly accountId: Uint8Array;
  readonly deviceId: number;
  /** The device's X25519 identity key (raw 32 bytes), as on its signed list entry. */
  readonly identityKey: Uint8Array;
  readonly expiresAt: number;
  /** Which of the relay's certificate keys signed it (the relay can rotate its key). */
  readonly keyId: number;
};

/** The certificate keys a client trusts: key id → Ed25519 public key (pinned from /.well-known/parley). */
export type CertificateTrust = ReadonlyMap<number, Uint8Array>;

function certificateBody(c: SenderCertificate): Uint8Array {
  if (c.accountId.length !== ACCOUNT_ID_LENGTH) throw new RangeError('sender certificate: account id is 16 bytes');
  return new Writer()
    .u8(SEALED_VERSION)
    .bytes(c.accountId)
    .u32(c.deviceId)
    .key(KeyType.X25519, c.identityKey)
    .u64(c.expiresAt)
    .u32(c.keyId)
    .finish();
}

/** The relay's side: the body signed with its certificate key (`Parley_v1_SenderCertificate` ‖ body). */
export function issueSenderCertificate(c: SenderCertificate, certificatePrivateKey: Uint8Array): Uint8Array {
  const body = certificateBody(c);
  const signature = ed25519Sign(certificatePrivateKey, new Writer().bytes(label('SenderCertificate')).bytes(body).finish());
  return new Writer().bytes(body).bytes(signature).finish();
}

/** Strict parse of the 130 bytes (MALFORMED); verifies nothing. */
export function parseSenderCertificate(bytes: Uint8Array): SenderCertificate & { readonly signature: Uint8Array } {
  if (!(bytes instanceof Uint8Array) || bytes.length !== SENDER_CERTIFICATE_LENGTH) {
    throw new ProtocolError('MALFORMED', 'sender certificate: wrong length');
  }
  const r = new Reader(bytes, 'sender certificate');
  if (r.u8() !== SEALED_VERSION) throw new ProtocolError('MALFORMED', 'sender certificate: unknown version');
  const accountId = r.bytes(ACCOUNT_ID_LENGTH);
  const deviceId = r.u32();
  const identityKey = r.key(KeyType.X25519);
  const expiresAt = r.u64();
  const keyId = r.u32();
  const signature = r.bytes(64);
  r.end();
  return { accountId, deviceId, identityKey, expiresAt, keyId, signature };
}

/**
 * Certificates whose signature already verified, so a receiver checks each certificate's signature
 * once rather than once per envelope (a sender's certificate lives up to 24 h and signs every
 * sealed send of that sender device). An entry is the exact certificate bytes together with the
 * relay key they verified under: a hit needs both to be equal, so a re-pinned or different key for
 * the same key id verifies again, and a certificate differing in any byte is a miss. Only the
 * signature is remembered — expiry and lifetime are checked at every use against that use's time.
 * Bounded (least recently used first out); holds public data only.
 */
export class VerifiedCertificates {
  readonly #entries = new Map<string, Uint8Array>();
  constructor(readonly capacity = 512) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('VerifiedCertificates: capacity must be ≥ 1');
  }

  get size(): number {
    return this.#entries.size;
  }

  /** True when these exact bytes verified under exactly this key before. */
  has(certificate: Uint8Array, relayKey: Uint8Array): boolean {
    const id = VerifiedCertificates.#id(certificate);
    const key = this.#entries.get(id);
    if (!key || !bytesEqual(key, relayKey)) return false;
    this.#entries.delete(id);
    this.#entries.set(id, key);
    return true;
  }

  add(certificate: Uint8Array, relayKey: Uint8Array): void {
    const id = VerifiedCertificates.#id(certificate);
    this.#entries.delete(id);
    this.#entries.set(id, relayKey.slice());
    while (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }

  static #id(certificate: Uint8Array): string {
    return toBase64Url(certificate);
  }
}

/**
 * Verifies a certificate at `time` (the envelope's relay time when receiving; now when a sender
 * checks a fresh one): its key id is pinned and the signature verifies under that key
 * (SENDER_CERTIFICATE_INVALID), it has not expired (SENDER_CERTIFICATE_EXPIRED: expiresAt ≤ time),
 * and it does not live longer than 24 h from `time` (SENDER_CERTIFICATE_INVALID).
 */
export function verifySenderCertificate(
  bytes: Uint8Array,
  trust: CertificateTrust,
  time: number,
  verified?: VerifiedCertificates,
): SenderCertificate {
  const c = parseSenderCertificate(bytes);
  const key = trust.get(c.keyId);
  if (!key) throw new ProtocolError('SENDER_CERTIFICATE_INVALID', 'sender certificate: unknown relay key id');
  if (!verified?.has(bytes, key)) {
    const input = new Writer().bytes(label('SenderCertificate')).bytes(bytes.subarray(0, SENDER_CERTIFICATE_BODY_LENGTH)).finish();
    if (!ed25519Verify(key, input, c.signature)) throw new ProtocolError('SENDER_CERTIFICATE_INVALID', 'sender certificate: bad signature');
    verified?.add(bytes, key);
  }
  if (c.expiresAt <= time) throw new ProtocolError('SENDER_CERTIFICATE_EXPIRED', 'sender certificate expired');
  if (c.expiresAt - time > MAX_SENDER_CERTIFICATE_LIFETIME_MS) {
    throw new ProtocolError('SENDER_CERTIFICATE_INVALID', 'sender certificate lives longer than 24 h');
  }
  return { accountId: c.accountId, deviceId: c.deviceId, identityKey: c.identityKey, expiresAt: c.expiresAt, keyId: c.keyId };
}

// ── §21.3 Keys of one sealed send ────────────────────────────────────────────

const ZERO_NONCE = new Uint8Array(GCM_NONCE_LENGTH);

/** e = HKDF(M, SealedEphemeral, 32) (an X25519 private key), K = HKDF(M, SealedContentKey, 32). */
function secretKeys(secret: Uint8Array): { readonly ephemeralPrivate: Uint8Array; readonly contentKey: Uint8Array } {
  return {
    ephemeralPrivate: hkdfSha256(secret, undefined, label('SealedEphemeral'), 32),
    contentKey: hkdfSha256(secret, undefined, label('SealedContentKey'), 32),
  };
}

/** AD of the shared ciphertext: `Parley_v1_SealedAD` ‖ u8 version ‖ Enc(E). */
function sharedAd(ephemeralPublic: Uint8Array): Uint8Array {
  return new Writer().bytes(label('SealedAd')).u8(SEALED_VERSION).key(KeyType.X25519, ephemeralPublic).finish();
}

/** W = HKDF(DH(e, IK_R), SealedWrap ‖ Enc(E) ‖ Enc(IK_R), 32). */
function wrapKey(dh: Uint8Array, ephemeralPublic: Uint8Array, recipientKey: Uint8Array): Uint8Array {
  const info = new Writer().bytes(label('SealedWrap')).key(KeyType.X25519, ephemeralPublic).key(KeyType.X25519, recipientKey).finish();
  return hkdfSha256(dh, undefined, info, SEALED_SECRET_LENGTH);
}

/** A = HKDF(DH(IK_S, IK_R), SealedAuth ‖ Enc(E) ‖ Enc(IK_S) ‖ Enc(IK_R) ‖ u16 index ‖ C ‖ SHA-256(shared), 16). */
function authTag(
  dh: Uint8Array,
  ephemeralPublic: Uint8Array,
  senderKey: Uint8Array,
  recipientKey: Uint8Array,
  index: number,
  wrapped: Uint8Array,
  sharedDigest: Uint8Array,
): Uint8Array {
  const info = new Writer()
    .bytes(label('SealedAuth'))
    .key(KeyType.X25519, ephemeralPublic)
    .key(KeyType.X25519, senderKey)
    .key(KeyType.X25519, recipientKey)
    .u16(index)
    .bytes(wrapped)
    .bytes(sharedDigest)
    .finish();
  return hkdfSha256(dh, undefined, info, SEALED_AUTH_TAG_LENGTH);
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

// ── §21.4 Sealing ────────────────────────────────────────────────────────────

export type SealedRecipient = {
  readonly accountId: Uint8Array;
  readonly deviceId: number;
  /** The recipient device's X25519 identity key from its signed list entry. */
  readonly identityKey: Uint8Array;
};

export type SealInput = {
  /** The sender's certificate, as the relay issued it (not checked here: the engine checks it when it caches it). */
  readonly certificate: Uint8Array;
  /** The sender device's X25519 identity private key. */
  readonly senderIdentityPrivate: Uint8Array;
  /** The same key already imported (saves an import per send); must be `senderIdentityPrivate`'s. */
  readonly senderIdentityHandle?: X25519PrivateHandle;
  readonly recipients: readonly SealedRecipient[];
  /**
   * The inner messages (§9): one for every recipient, or one per recipient in the order of
   * `recipients` (each device's own ratchet message).
   */
  readonly messages: readonly Uint8Array[];
};

/** One recipient device's part of a multi-recipient upload. */
export type SealedRecipientHeader = {
  readonly accountId: Uint8Array;
  readonly deviceId: number;
  readonly wrappedSecret: Uint8Array;
  readonly authTag: Uint8Array;
};

export type SealedMultiRecipient = {
  readonly ephemeralPublic: Uint8Array;
  readonly recipients: readonly SealedRecipientHeader[];
  readonly sharedCiphertext: Uint8Array;
};

/**
 * SealedPayload = certificate (130) ‖ Enc(IK_S) (33) ‖ u16 n ‖ n × (u32 length ‖ message),
 * padded to 160-byte blocks (§8.5) before encryption.
 */
function encodePayload(certificate: Uint8Array, senderKey: Uint8Array, messages: readonly Uint8Array[]): Uint8Array {
  const w = new Writer().bytes(certificate).key(KeyType.X25519, senderKey).u16(messages.length);
  for (const m of messages) w.var32(m);
  return w.finish();
}

/**
 * Seals inner messages for one or more recipient devices. One draw: M (32 bytes). The result is the
 * multi-recipient form; `encodeSealedMultiRecipient` writes the upload and `sealedEnvelopeFor` the
 * envelope one device receives (what the relay cuts out of the upload).
 */
export function sealMessage(input: SealInput, deps: { readonly rng: Rng }): SealedMultiRecipient {
  const n = input.recipients.length;
  if (n < 1 || n > MAX_SEALED_RECIPIENTS) throw new RangeError('sealed send: 1 … MAX_SEALED_RECIPIENTS recipients');
  if (input.messages.length !== 1 && input.messages.length !== n) throw new RangeError('sealed send: one message, or one per recipient');
  if (input.certificate.length !== SENDER_CERTIFICATE_LENGTH) throw new RangeError('sealed send: a certificate is 130 bytes');
  const sender = input.senderIdentityHandle ?? x25519PrivateHandle(input.senderIdentityPrivate);
  const secret = deps.rng(SEALED_SECRET_LENGTH);
  const { ephemeralPrivate, contentKey } = secretKeys(secret);
  const payload = encodePayload(input.certificate, sender.publicKey, input.messages);
  const padded = pad(payload);
  try {
    const ephemeral = x25519PrivateHandle(ephemeralPrivate);
    const ephemeralPublic = ephemeral.publicKey;
    const sharedCiphertext = aesGcmSeal(contentKey, ZERO_NONCE, padded, sharedAd(ephemeralPublic));
    const digest = sha256(sharedCiphertext);
    const recipients = input.recipients.map((r, index) => {
      const w = wrapKey(x25519(ephemeral, r.identityKey), ephemeralPublic, r.identityKey);
      const wrappedSecret = xor(secret, w);
      wipe(w);
      const staticDh = x25519(sender, r.identityKey);
      const tag = authTag(staticDh, ephemeralPublic, sender.publicKey, r.identityKey, index, wrappedSecret, digest);
      wipe(staticDh);
      return { accountId: r.accountId, deviceId: r.deviceId, wrappedSecret, authTag: tag };
    });
    return { ephemeralPublic, recipients, sharedCiphertext };
  } finally {
    wipe(secret, ephemeralPrivate, contentKey, payload, padded);
  }
}

/**
 * The multi-recipient upload (§21.5): u8 version ‖ Enc(E) ‖ u16 n ‖ n × (account id ‖ u32 device
 * id ‖ C ‖ A) ‖ shared ciphertext.
 */
export function encodeSealedMultiRecipient(m: SealedMultiRecipient): Uint8Array {
  const w = new Writer().u8(SEALED_VERSION).key(KeyType.X25519, m.ephemeralPublic).u16(m.recipients.length);
  for (const r of m.recipients) w.bytes(r.accountId).u32(r.deviceId).bytes(r.wrappedSecret).bytes(r.authTag);
  return w.bytes(m.sharedCiphertext).finish();
}

/** The smallest shared ciphertext: a padded payload of one block plus the tag. */
const MIN_SHARED_CIPHERTEXT = 160 + GCM_TAG_LENGTH;

/**
 * The largest shared ciphertext a relay accepts in one upload: one full envelope's content per
 * recipient device of an account (6) and the certificate — set by the relay's wire limits; the
 * protocol itself bounds it only by the recipient count.
 */
export const MAX_SHARED_CIPHERTEXT = 6 * (MAX_ENVELOPE_CONTENT + 4) + 2 * 160 + GCM_TAG_LENGTH;

/** Strict parse of an upload (MALFORMED); what the relay reads. Checks nothing cryptographic. */
export function parseSealedMultiRecipient(bytes: Uint8Array, maxShared = MAX_SHARED_CIPHERTEXT): SealedMultiRecipient {
  const r = new Reader(bytes, 'sealed upload');
  if (r.u8() !== SEALED_VERSION) throw new ProtocolError('MALFORMED', 'sealed upload: unknown version');
  const ephemeralPublic = r.key(KeyType.X25519);
  const n = r.u16();
  if (n < 1 || n > MAX_SEALED_RECIPIENTS) throw new ProtocolError('MALFORMED', 'sealed upload: recipient count out of range');
  const recipients: SealedRecipientHeader[] = [];
  for (let i = 0; i < n; i++) {
    const accountId = r.bytes(ACCOUNT_ID_LENGTH);
    const deviceId = r.u32();
    if (deviceId < 1) throw new ProtocolError('MALFORMED', 'sealed upload: device id 0');
    recipients.push({ accountId, deviceId, wrappedSecret: r.bytes(SEALED_SECRET_LENGTH), authTag: r.bytes(SEALED_AUTH_TAG_LENGTH) });
  }
  const sharedLength = r.remaining;
  if (sharedLength < MIN_SHARED_CIPHERTEXT || (sharedLength - GCM_TAG_LENGTH) % 160 !== 0 || sharedLength > maxShared) {
    throw new ProtocolError('MALFORMED', 'sealed upload: shared ciphertext length out of range');
  }
  return { ephemeralPublic, recipients, sharedCiphertext: r.bytes(sharedLength) };
}

/**
 * SealedEnvelope (§21.5) for recipient `index` of a multi-recipient send: u8 version ‖ Enc(E) ‖
 * u16 index ‖ C ‖ A ‖ shared ciphertext. The relay writes it, once per recipient device.
 */
export function sealedEnvelopeFor(m: SealedMultiRecipient, index: number): Uint8Array {
  const r = m.recipients[index];
  if (!r) throw new RangeError('sealed envelope: no such recipient');
  return new Writer()
    .u8(SEALED_VERSION)
    .key(KeyType.X25519, m.ephemeralPublic)
    .u16(index)
    .bytes(r.wrappedSecret)
    .bytes(r.authTag)
    .bytes(m.sharedCiphertext)
    .finish();
}

// ── §21.6 Opening and acceptance ─────────────────────────────────────────────

export type OpenedSealedEnvelope = {
  /** The verified certificate: who the sender claims to be, vouched for by the relay. */
  readonly certificate: SenderCertificate;
  /** The envelope's static key (= the certificate's identity key: checked). */
  readonly senderIdentityKey: Uint8Array;
  /** The inner message (§9) for this recipient. */
  readonly message: Uint8Array;
};

export type SealedRecipientKeys = {
  /** This device's X25519 identity private key. */
  readonly identityPrivate: Uint8Array;
  /** The same key already imported (saves an import per envelope); must be `identityPrivate`'s. */
  readonly identityHandle?: X25519PrivateHandle;
};

function sealedInvalid(why: string): ProtocolError {
  return new ProtocolError('SEALED_INVALID', `sealed envelope: ${why}`);
}

/** DH that reports a low-order peer key as a sealed envelope that does not open. */
function sealedDh(priv: ReturnType<typeof x25519PrivateHandle>, pub: Uint8Array): Uint8Array {
  try {
    return x25519(priv, pub);
  } catch (e) {
    if (e instanceof CryptoError) throw sealedInvalid('low-order key');
    throw e;
  }
}

/**
 * Opens a sealed envelope for this device and checks everything the envelope and the certificate
 * prove by themselves (§21.6 steps 1–6), in this order: layout (MALFORMED); the wrapped secret
 * unwraps to a secret whose ephemeral key is the envelope's (else SEALED_INVALID — also what an
 * envelope meant for another device gives); the shared ciphertext opens (SEALED_INVALID); the
 * payload parses (MALFORMED); the tag verifies under DH(IK_R, static key) (SEALED_INVALID); the
 * certificate verifies under a pinned key at `relayTime` (SENDER_CERTIFICATE_INVALID /
 * SENDER_CERTIFICATE_EXPIRED); its identity key is the envelope's static key
 * (SEALED_SENDER_MISMATCH). Nothing is returned on failure; nothing is stored either way. The
 * caller must still run `acceptSealedSender` after decrypting the inner message.
 */
export function openSealedEnvelope(
  envelope: Uint8Array,
  keys: SealedRecipientKeys,
  trust: CertificateTrust,
  relayTime: number,
  verified?: VerifiedCertificates,
): OpenedSealedEnvelope {
  const r = new Reader(envelope, 'sealed envelope');
  if (r.u8() !== SEALED_VERSION) throw new ProtocolError('MALFORMED', 'sealed envelope: unknown version');
  const ephemeralPublic = r.key(KeyType.X25519);
  const index = r.u16();
  const wrapped = r.view(SEALED_SECRET_LENGTH);
  const tag = r.view(SEALED_AUTH_TAG_LENGTH);
  const shared = r.view(r.remaining);
  if (shared.length < MIN_SHARED_CIPHERTEXT || (shared.length - GCM_TAG_LENGTH) % 160 !== 0) {
    throw new ProtocolError('MALFORMED', 'sealed envelope: shared ciphertext length');
  }
  const me = keys.identityHandle ?? x25519PrivateHandle(keys.identityPrivate);
  // Step 2: unwrap M and check that it is the secret behind E (an envelope for another device, or a
  // flipped bit, gives another secret: its ephemeral key differs).
  const ephemeralDh = sealedDh(me, ephemeralPublic);
  const w = wrapKey(ephemeralDh, ephemeralPublic, me.publicKey);
  const secret = xor(wrapped, w);
  const { ephemeralPrivate, contentKey } = secretKeys(secret);
  let padded: Uint8Array;
  try {
    if (!constantTimeEqual(x25519PublicKey(ephemeralPrivate), ephemeralPublic)) throw sealedInvalid('not for this device');
    // Step 3: the shared ciphertext under K.
    try {
      padded = aesGcmOpen(contentKey, ZERO_NONCE, shared, sharedAd(ephemeralPublic));
    } catch (e) {
      if (e instanceof CryptoError) throw sealedInvalid('shared ciphertext does not authenticate');
      throw e;
    }
  } finally {
    wipe(ephemeralDh, w, secret, ephemeralPrivate, contentKey);
  }
  // Step 4: the payload.
  const payload = unpad(padded);
  wipe(padded);
  const p = new Reader(payload, 'sealed payload');
  const certificateBytes = p.bytes(SENDER_CERTIFICATE_LENGTH);
  const senderKey = p.key(KeyType.X25519);
  const count = p.u16();
  if (count < 1 || count > MAX_SEALED_RECIPIENTS) throw new ProtocolError('MALFORMED', 'sealed payload: message count out of range');
  const messages: Uint8Array[] = [];
  for (let i = 0; i < count; i++) messages.push(p.var32(payload.length));
  p.end();
  if (count !== 1 && index >= count) throw new ProtocolError('MALFORMED', 'sealed payload: no message for this recipient');
  // Step 5: the static→recipient tag over everything the recipient saw.
  const staticDh = sealedDh(me, senderKey);
  const expected = authTag(staticDh, ephemeralPublic, senderKey, me.publicKey, index, wrapped, sha256(shared));
  wipe(staticDh);
  if (!constantTimeEqual(expected, tag)) throw sealedInvalid('not authenticated by its static key');
  // Step 6: the certificate, and its key = the envelope's static key.
  const certificate = verifySenderCertificate(certificateBytes, trust, relayTime, verified);
  if (!bytesEqual(certificate.identityKey, senderKey)) {
    throw new ProtocolError('SEALED_SENDER_MISMATCH', 'sealed envelope: static key is not the certificate key');
  }
  return { certificate, senderIdentityKey: senderKey, message: messages[count === 1 ? 0 : index]! };
}

/**
 * The rest of the acceptance rule (§21.6 steps 7–8), once the engine has decrypted the inner
 * message with its session (without committing): the certificate names a device on the sender's
 * current signed list (UNKNOWN_DEVICE) whose X25519 identity key is the certificate's, and the
 * session's remote identity key is that key too (SEALED_SENDER_MISMATCH). `senderList` is the
 * newest verified list the receiver holds for the certificate's account.
 */
export function acceptSealedSender(
  opened: OpenedSealedEnvelope,
  senderList: DeviceList,
  sessionRemoteIdentityKey: Uint8Array,
): void {
  const c = opened.certificate;
  if (!bytesEqual(senderList.accountId, c.accountId)) {
    throw new ProtocolError('SEALED_SENDER_MISMATCH', 'sealed sender: device list of another account');
  }
  const entry = senderList.devices.find((d) => d.deviceId === c.deviceId);
  if (!entry) throw new ProtocolError('UNKNOWN_DEVICE', 'sealed sender: device not on the sender\'s list');
  if (!bytesEqual(entry.identityDhKey, c.identityKey) || !bytesEqual(entry.identityDhKey, opened.senderIdentityKey)) {
    throw new ProtocolError('SEALED_SENDER_MISMATCH', 'sealed sender: certificate key is not the listed device key');
  }
  if (!bytesEqual(sessionRemoteIdentityKey, c.identityKey)) {
    throw new ProtocolError('SEALED_SENDER_MISMATCH', 'sealed sender: session identity is not the certificate key');
  }
}
