/**
 * Device linking (DESIGN §3.11, docs/protocol.md §20): the handshake by which a new device joins an
 * account through its primary device, over a relay provisioning channel that sees only these
 * frames. Two sans-I/O state machines, one per side:
 *
 *   new device N                                   primary P (holds the account key)
 *   createLinkOffer → offer (QR/text) + short code
 *                                                  startPrimaryLink(offer or code) → Hello
 *   receiveHello(Hello) → Reply (N's identity keys)
 *                                                  receiveReply(Reply) → Account (account key + P's tag)
 *   receiveAccount(Account) → Confirm (N's tag)
 *                                                  receiveConfirm(Confirm) → keys confirmed both ways
 *                                                  … only now the engine signs the new device list …
 *                                                  sealProvisioning(list, account state) → Provision
 *   openProvisioning(Provision) → device id, verified list, account state
 *
 * Authentication: CPace (cpace.ts) over a password-related string that is the offer's 128-bit
 * secret or the short code's digits, with the channel identifier label ‖ relay id ‖ channel id;
 * both sides' X25519 ephemerals are its associated data and their DH joins the CPace ISK in the key
 * derivation. Both sides then confirm with an HMAC over the transcript, the new device's identity
 * keys and the account key, so a relay that substitutes either makes the link fail on both sides
 * before the primary signs anything.
 *
 * Each state is used once (one guess per channel): a state handed to a step a second time, or a
 * frame of a step already taken, is LINK_REPLAYED. States live in memory only (a restart abandons
 * the link and the relay channel expires). Does not own: the relay channel (server/, the engine's
 * relay client), signing the device list (device-list.ts; the engine calls it between
 * receiveConfirm and sealProvisioning), the account state blob's contents (the engine's), history
 * transfer, naming the device, showing the safety number.
 */
import { bytesEqual, concatBytes, constantTimeEqual, fromBase64Url, toBase64Url, utf8, wipe } from '../crypto/bytes.js';
import { aesGcmOpen, aesGcmSeal } from '../crypto/aead.js';
import { CryptoError } from '../crypto/errors.js';
import { encodeEd25519, encodeX25519, KeyType } from '../crypto/encoding.js';
import { hkdfSha256 } from '../crypto/hkdf.js';
import { hmacSha256 } from '../crypto/hmac.js';
import type { Rng } from '../crypto/random.js';
import { sha256 } from '../crypto/sha256.js';
import { x25519, x25519GenerateKeyPair, type X25519KeyPair } from '../crypto/x25519.js';
import { Reader, Writer } from './codec.js';
import {
  ACCOUNT_ID_LENGTH,
  label,
  LINK_CHANNEL_ID_LENGTH,
  LINK_CODE_DIGITS,
  LINK_OFFER_LENGTH,
  LINK_RENDEZVOUS_DIGITS,
  LINK_SECRET_LENGTH,
  LINK_SID_LENGTH,
  LINK_VERSION,
  MAX_LINK_ACCOUNT_STATE_BYTES,
  RELAY_ID_LENGTH,
} from './constants.js';
import { cpaceFinish, cpaceStart, CPACE_ELEMENT_LENGTH, type CPaceState } from './cpace.js';
import { verifyDeviceList, type DeviceList } from './device-list.js';
import { ProtocolError } from './errors.js';
import { pad, unpad } from './padding.js';

// ── Offer, short code ───────────────────────────────────────────────────────

/** How the primary learned the new device's secret: a scanned or pasted offer, or a typed short code. */
export const LinkMethod = { offer: 0x01, code: 0x02 } as const;
export type LinkMethodName = keyof typeof LinkMethod;

/** What the new device shows as a QR code and as text (§20.1). */
export type LinkOffer = {
  readonly relayId: Uint8Array;
  readonly channelId: Uint8Array;
  /** The new device's ephemeral X25519 public key. */
  readonly ephemeralKey: Uint8Array;
  /** 16 random bytes: the CPace password of the offer method. */
  readonly secret: Uint8Array;
};

/** A parsed short code: the relay's rendezvous digits (a lookup key) and the secret digits. */
export type LinkCode = { readonly rendezvous: string; readonly digits: string };

/** The prefix of an offer's text form (also what the QR code encodes). */
export const LINK_OFFER_TEXT_PREFIX = 'parley-link:';

function checkLength(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) throw new ProtocolError('MALFORMED', `${what}: ${length} bytes`);
}

export function encodeLinkOffer(offer: LinkOffer): Uint8Array {
  checkLength(offer.relayId, RELAY_ID_LENGTH, 'relay id');
  checkLength(offer.channelId, LINK_CHANNEL_ID_LENGTH, 'channel id');
  checkLength(offer.ephemeralKey, 32, 'ephemeral key');
  checkLength(offer.secret, LINK_SECRET_LENGTH, 'link secret');
  return concatBytes(Uint8Array.of(LINK_VERSION), offer.relayId, offer.channelId, offer.ephemeralKey, offer.secret);
}

/** Parses offer bytes: another version byte is LINK_UNSUPPORTED_VERSION, anything else wrong MALFORMED. */
export function parseLinkOffer(bytes: Uint8Array): LinkOffer {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw new ProtocolError('MALFORMED', 'link offer: empty');
  if (bytes[0] !== LINK_VERSION) throw new ProtocolError('LINK_UNSUPPORTED_VERSION', 'link offer: unknown version');
  if (bytes.length !== LINK_OFFER_LENGTH) throw new ProtocolError('MALFORMED', 'link offer: wrong length');
  const r = new Reader(bytes, 'link offer');
  r.u8();
  const offer = { relayId: r.bytes(RELAY_ID_LENGTH), channelId: r.bytes(LINK_CHANNEL_ID_LENGTH), ephemeralKey: r.bytes(32), secret: r.bytes(LINK_SECRET_LENGTH) };
  r.end();
  return offer;
}

/** The text form: "parley-link:" ‖ base64url(offer). The QR code carries the same text. */
export function linkOfferText(offer: LinkOffer): string {
  return LINK_OFFER_TEXT_PREFIX + toBase64Url(encodeLinkOffer(offer));
}

/** Parses pasted or scanned text; surrounding white space is ignored, nothing else is. */
export function parseLinkOfferText(text: string): LinkOffer {
  const t = typeof text === 'string' ? text.trim() : '';
  if (!t.startsWith(LINK_OFFER_TEXT_PREFIX)) throw new ProtocolError('MALFORMED', 'link offer text: not a Parley link');
  let bytes: Uint8Array;
  try {
    bytes = fromBase64Url(t.slice(LINK_OFFER_TEXT_PREFIX.length));
  } catch (e) {
    if (e instanceof CryptoError) throw new ProtocolError('MALFORMED', 'link offer text: bad base64url');
    throw e;
  }
  return parseLinkOffer(bytes);
}

/** Draws the short code's secret digits: u32 draws below 4.2·10⁹, reduced mod 10⁸ (§20.2). */
export function drawLinkCodeDigits(rng: Rng): string {
  for (;;) {
    const b = rng(4);
    const v = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    if (v < 4_200_000_000) return String(v % 100_000_000).padStart(LINK_CODE_DIGITS, '0');
  }
}

function checkDigits(s: string, n: number, what: string): void {
  if (typeof s !== 'string' || s.length !== n || !/^[0-9]+$/.test(s)) throw new ProtocolError('MALFORMED', `${what}: ${n} digits`);
}

/** "RRRRRR-DDDD-DDDD": the rendezvous digits, then the secret digits in two groups of four. */
export function formatLinkCode(code: LinkCode): string {
  checkDigits(code.rendezvous, LINK_RENDEZVOUS_DIGITS, 'rendezvous');
  checkDigits(code.digits, LINK_CODE_DIGITS, 'link code');
  return `${code.rendezvous}-${code.digits.slice(0, 4)}-${code.digits.slice(4)}`;
}

/** Parses a typed code: ASCII spaces and hyphens are ignored; exactly 14 ASCII digits must remain. */
export function parseLinkCode(text: string): LinkCode {
  const t = typeof text === 'string' ? text.replace(/[ -]/g, '') : '';
  if (!/^[0-9]{14}$/.test(t)) throw new ProtocolError('MALFORMED', 'link code: 14 digits');
  return { rendezvous: t.slice(0, LINK_RENDEZVOUS_DIGITS), digits: t.slice(LINK_RENDEZVOUS_DIGITS) };
}

/** The CPace PRS: u8 method ‖ the offer's secret, or ‖ the code's ASCII digits (§20.3). */
export function linkPassword(method: LinkMethodName, secret: Uint8Array | string): Uint8Array {
  if (method === 'offer') {
    if (!(secret instanceof Uint8Array)) throw new ProtocolError('MALFORMED', 'offer secret: bytes');
    checkLength(secret, LINK_SECRET_LENGTH, 'link secret');
    return concatBytes(Uint8Array.of(LinkMethod.offer), secret);
  }
  if (typeof secret !== 'string') throw new ProtocolError('MALFORMED', 'link code: digits');
  checkDigits(secret, LINK_CODE_DIGITS, 'link code');
  return concatBytes(Uint8Array.of(LinkMethod.code), utf8(secret));
}

/** CI = "Parley_v1_LinkCPace" ‖ relay id ‖ channel id (DESIGN §3.11). */
export function linkChannelIdentifier(relayId: Uint8Array, channelId: Uint8Array): Uint8Array {
  checkLength(relayId, RELAY_ID_LENGTH, 'relay id');
  checkLength(channelId, LINK_CHANNEL_ID_LENGTH, 'channel id');
  return concatBytes(label('LinkCPace'), relayId, channelId);
}

// ── Frames ──────────────────────────────────────────────────────────────────

/** Frame types, in the order they travel. Odd steps go P → N, even steps N → P. */
export const LinkFrameType = { hello: 0x01, reply: 0x02, account: 0x03, confirm: 0x04, provision: 0x05 } as const;
export type LinkFrameTypeName = keyof typeof LinkFrameType;

/** The keys a link derives (§20.4): AEAD keys per direction and a confirmation key per side. */
type LinkKeys = { readonly toNew: Uint8Array; readonly toPrimary: Uint8Array; readonly macPrimary: Uint8Array; readonly macNew: Uint8Array };

/** The new device's identity as it declares it in the Reply (its device-list entry to be). */
export type LinkDeviceKeys = {
  readonly identityDhKey: Uint8Array;
  readonly identitySigningKey: Uint8Array;
  readonly capabilities: number;
};

/** The account as the primary declares it in the Account frame. */
export type LinkAccount = { readonly accountId: Uint8Array; readonly accountPublicKey: Uint8Array };

/** nonce(t) = 0x00¹¹ ‖ t: each frame type is sealed once per link, under its direction's key. */
function frameNonce(type: number): Uint8Array {
  const n = new Uint8Array(12);
  n[11] = type;
  return n;
}

/** Reads a frame's version and type; another version is LINK_UNSUPPORTED_VERSION. */
function frameHeader(bytes: Uint8Array): number {
  if (!(bytes instanceof Uint8Array) || bytes.length < 2) throw new ProtocolError('MALFORMED', 'link frame: truncated');
  if (bytes[0] !== LINK_VERSION) throw new ProtocolError('LINK_UNSUPPORTED_VERSION', 'link frame: unknown version');
  return bytes[1]!;
}

/**
 * The type check of every step: a type this side already processed (or sent) is a replay, the
 * expected one passes, anything else is MALFORMED.
 */
function expectType(bytes: Uint8Array, expected: number): void {
  const type = frameHeader(bytes);
  if (type === expected) return;
  if (type >= LinkFrameType.hello && type < expected) throw new ProtocolError('LINK_REPLAYED', 'link frame: a step already taken');
  throw new ProtocolError('MALFORMED', 'link frame: unexpected type');
}

function sealFrame(key: Uint8Array, type: number, clear: Uint8Array, payload: Uint8Array): Uint8Array {
  const ad = concatBytes(Uint8Array.of(LINK_VERSION, type), clear);
  const padded = pad(payload);
  try {
    return concatBytes(ad, aesGcmSeal(key, frameNonce(type), padded, ad));
  } finally {
    wipe(padded);
  }
}

function openFrame(key: Uint8Array, bytes: Uint8Array, clearLength: number): Uint8Array {
  const adLength = 2 + clearLength;
  if (bytes.length < adLength + 16) throw new ProtocolError('MALFORMED', 'link frame: truncated');
  let padded: Uint8Array;
  try {
    padded = aesGcmOpen(key, frameNonce(bytes[1]!), bytes.subarray(adLength), bytes.subarray(0, adLength));
  } catch (e) {
    if (e instanceof CryptoError) throw new ProtocolError('LINK_AUTH_FAILED', 'link frame: does not authenticate');
    throw e;
  }
  try {
    return unpad(padded);
  } finally {
    wipe(padded);
  }
}

/** T = SHA-256("Parley_v1_LinkTranscript" ‖ relay id ‖ channel id ‖ u8 method ‖ sid ‖ Ya ‖ Enc(EK_P) ‖ Yb ‖ Enc(EK_N)). */
function transcriptHash(t: {
  relayId: Uint8Array;
  channelId: Uint8Array;
  method: number;
  sid: Uint8Array;
  ya: Uint8Array;
  ekP: Uint8Array;
  yb: Uint8Array;
  ekN: Uint8Array;
}): Uint8Array {
  return sha256(label('LinkTranscript'), t.relayId, t.channelId, Uint8Array.of(t.method), t.sid, t.ya, encodeX25519(t.ekP), t.yb, encodeX25519(t.ekN));
}

/** HKDF(salt = T, ikm = ISK ‖ DH, info = "Parley_v1_LinkKeys", L = 128), split in four (§20.4). */
function deriveLinkKeys(isk: Uint8Array, dh: Uint8Array, transcript: Uint8Array): LinkKeys {
  const ikm = concatBytes(isk, dh);
  const okm = hkdfSha256(ikm, transcript, label('LinkKeys'), 128);
  wipe(ikm, isk, dh);
  const keys = { toNew: okm.slice(0, 32), toPrimary: okm.slice(32, 64), macPrimary: okm.slice(64, 96), macNew: okm.slice(96, 128) };
  wipe(okm);
  return keys;
}

function linkDh(priv: Uint8Array, pub: Uint8Array): Uint8Array {
  try {
    return x25519(priv, pub);
  } catch (e) {
    if (e instanceof CryptoError) throw new ProtocolError('INVALID_KEY', 'link: low-order ephemeral key');
    throw e;
  }
}

function encodeDeviceKeys(d: LinkDeviceKeys): Uint8Array {
  return new Writer().key(KeyType.X25519, d.identityDhKey).key(KeyType.Ed25519, d.identitySigningKey).u32(d.capabilities).finish();
}

/** Bound = Enc(IK_N) ‖ Enc(IKsig_N) ‖ u32 capabilities ‖ account id ‖ Enc(account key). */
function boundKeys(d: LinkDeviceKeys, a: LinkAccount): Uint8Array {
  return concatBytes(encodeDeviceKeys(d), a.accountId, encodeEd25519(a.accountPublicKey));
}

function confirmationTag(side: 'primary' | 'new', keys: LinkKeys, transcript: Uint8Array, bound: Uint8Array): Uint8Array {
  return side === 'primary'
    ? hmacSha256(keys.macPrimary, concatBytes(label('LinkConfirmPrimary'), transcript, bound))
    : hmacSha256(keys.macNew, concatBytes(label('LinkConfirmNewDevice'), transcript, bound));
}

/** Marks a state used; a second use is LINK_REPLAYED (one guess per channel). */
type UseOnce = { spent: boolean };
function spend(guard: UseOnce): void {
  if (guard.spent) throw new ProtocolError('LINK_REPLAYED', 'link: this step was already taken');
  guard.spent = true;
}

// ── New device ──────────────────────────────────────────────────────────────

export type NewDeviceAwaitingHello = {
  readonly phase: 'new:await-hello';
  readonly relayId: Uint8Array;
  readonly channelId: Uint8Array;
  readonly ephemeral: X25519KeyPair;
  readonly secret: Uint8Array;
  readonly code: LinkCode;
  readonly guard: UseOnce;
};
export type NewDeviceAwaitingAccount = {
  readonly phase: 'new:await-account';
  readonly keys: LinkKeys;
  readonly transcript: Uint8Array;
  readonly device: LinkDeviceKeys;
  readonly guard: UseOnce;
};
export type NewDeviceAwaitingProvisioning = {
  readonly phase: 'new:await-provisioning';
  readonly keys: LinkKeys;
  readonly device: LinkDeviceKeys;
  readonly account: LinkAccount;
  readonly guard: UseOnce;
};

/**
 * The new device starts: draws its ephemeral X25519 key (32), the offer secret (16) and the short
 * code's digits (4-byte draws), in that order, for the channel the relay gave it.
 */
export function createLinkOffer(
  input: { readonly relayId: Uint8Array; readonly channelId: Uint8Array; readonly rendezvous: string },
  deps: { readonly rng: Rng },
): { state: NewDeviceAwaitingHello; offer: LinkOffer; offerText: string; code: string } {
  checkDigits(input.rendezvous, LINK_RENDEZVOUS_DIGITS, 'rendezvous');
  linkChannelIdentifier(input.relayId, input.channelId);
  const ephemeral = x25519GenerateKeyPair(deps.rng);
  const secret = deps.rng(LINK_SECRET_LENGTH);
  const code: LinkCode = { rendezvous: input.rendezvous, digits: drawLinkCodeDigits(deps.rng) };
  // The offer gets its own copy of the secret: the state's copy is wiped once the Hello is taken,
  // the offer the engine shows is the caller's.
  const offer: LinkOffer = { relayId: input.relayId.slice(), channelId: input.channelId.slice(), ephemeralKey: ephemeral.publicKey.slice(), secret: secret.slice() };
  return {
    state: { phase: 'new:await-hello', relayId: offer.relayId, channelId: offer.channelId, ephemeral, secret, code, guard: { spent: false } },
    offer,
    offerText: linkOfferText(offer),
    code: formatLinkCode(code),
  };
}

/** Hello = 0x01 ‖ 0x01 ‖ u8 method ‖ sid (16) ‖ Ya (32) ‖ Enc(EK_P) (33). */
const HELLO_LENGTH = 2 + 1 + LINK_SID_LENGTH + CPACE_ELEMENT_LENGTH + 33;

/**
 * N receives the primary's Hello: runs CPace as responder with the password of the method the
 * Hello names, and answers with its shares and its identity keys sealed under the new keys. The
 * state is spent whatever the outcome: a second Hello is LINK_REPLAYED.
 */
export function receiveHello(
  state: NewDeviceAwaitingHello,
  hello: Uint8Array,
  device: LinkDeviceKeys,
  deps: { readonly rng: Rng },
): { state: NewDeviceAwaitingAccount; reply: Uint8Array } {
  expectType(hello, LinkFrameType.hello);
  spend(state.guard);
  if (hello.length !== HELLO_LENGTH) throw new ProtocolError('MALFORMED', 'link hello: wrong length');
  const r = new Reader(hello, 'link hello');
  r.u8();
  r.u8();
  const method = r.u8();
  if (method !== LinkMethod.offer && method !== LinkMethod.code) throw new ProtocolError('MALFORMED', 'link hello: unknown method');
  const sid = r.bytes(LINK_SID_LENGTH);
  const ya = r.bytes(CPACE_ELEMENT_LENGTH);
  const ekP = r.key(KeyType.X25519);
  r.end();
  const prs = method === LinkMethod.offer ? linkPassword('offer', state.secret) : linkPassword('code', state.code.digits);
  const ekN = state.ephemeral.publicKey;
  const cpace = cpaceStart('responder', { prs, ci: linkChannelIdentifier(state.relayId, state.channelId), sid, ad: encodeX25519(ekN) }, deps);
  wipe(prs);
  let isk: Uint8Array;
  let dh: Uint8Array;
  try {
    isk = cpaceFinish(cpace.state, { share: ya, ad: encodeX25519(ekP) });
    dh = linkDh(state.ephemeral.privateKey, ekP);
  } finally {
    wipe(state.ephemeral.privateKey, state.secret);
  }
  const transcript = transcriptHash({ relayId: state.relayId, channelId: state.channelId, method, sid, ya, ekP, yb: cpace.share, ekN });
  const keys = deriveLinkKeys(isk, dh, transcript);
  const reply = sealFrame(keys.toPrimary, LinkFrameType.reply, concatBytes(cpace.share, encodeX25519(ekN)), encodeDeviceKeys(device));
  return { state: { phase: 'new:await-account', keys, transcript, device, guard: { spent: false } }, reply };
}

/**
 * N receives the Account frame: the account id and key and the primary's confirmation tag over
 * the transcript and both keys. A wrong short code shows here first (LINK_AUTH_FAILED); a tag that
 * does not match is LINK_CONFIRMATION_FAILED. Returns N's own tag to send. The engine shows the
 * account's safety number from `account` before it accepts the provisioning.
 */
export function receiveAccount(
  state: NewDeviceAwaitingAccount,
  frame: Uint8Array,
): { state: NewDeviceAwaitingProvisioning; account: LinkAccount; confirm: Uint8Array } {
  expectType(frame, LinkFrameType.account);
  spend(state.guard);
  const r = new Reader(openFrame(state.keys.toNew, frame, 0), 'link account');
  const account: LinkAccount = { accountId: r.bytes(ACCOUNT_ID_LENGTH), accountPublicKey: r.key(KeyType.Ed25519) };
  const tag = r.bytes(32);
  r.end();
  const bound = boundKeys(state.device, account);
  if (!constantTimeEqual(tag, confirmationTag('primary', state.keys, state.transcript, bound))) {
    throw new ProtocolError('LINK_CONFIRMATION_FAILED', 'link: the primary confirmed other keys');
  }
  const confirm = sealFrame(state.keys.toPrimary, LinkFrameType.confirm, new Uint8Array(0), confirmationTag('new', state.keys, state.transcript, bound));
  return { state: { phase: 'new:await-provisioning', keys: state.keys, device: state.device, account, guard: { spent: false } }, account, confirm };
}

/** What the new device receives at the end. */
export type LinkProvisioning = {
  /** The device id the primary gave this device in the list. */
  readonly deviceId: number;
  /** The signed device list bytes (as the relay stores them) and the list, verified. */
  readonly signedDeviceList: Uint8Array;
  readonly deviceList: DeviceList;
  /** The account state blob, opaque to the protocol (the engine's format). */
  readonly accountState: Uint8Array;
};

/**
 * N opens the Provision frame: the device list must verify under the confirmed account key, be the
 * confirmed account's, and carry this device's confirmed keys under the given device id
 * (LINK_KEY_MISMATCH otherwise).
 */
export function openProvisioning(state: NewDeviceAwaitingProvisioning, frame: Uint8Array): LinkProvisioning {
  expectType(frame, LinkFrameType.provision);
  spend(state.guard);
  const r = new Reader(openFrame(state.keys.toNew, frame, 0), 'link provisioning');
  const deviceId = r.u32();
  const signedDeviceList = r.var32(0xffff);
  const accountState = r.var32(MAX_LINK_ACCOUNT_STATE_BYTES);
  r.end();
  const deviceList = verifyDeviceList(signedDeviceList, state.account.accountPublicKey, state.account.accountId);
  requireEntry(deviceList, deviceId, state.device);
  wipe(state.keys.toNew, state.keys.toPrimary, state.keys.macNew, state.keys.macPrimary);
  return { deviceId, signedDeviceList, deviceList, accountState };
}

function requireEntry(list: DeviceList, deviceId: number, device: LinkDeviceKeys): void {
  const entry = list.devices.find((d) => d.deviceId === deviceId);
  if (
    !entry ||
    !bytesEqual(entry.identityDhKey, device.identityDhKey) ||
    !bytesEqual(entry.identitySigningKey, device.identitySigningKey) ||
    entry.capabilities !== device.capabilities
  ) {
    throw new ProtocolError('LINK_KEY_MISMATCH', 'link: the device list does not carry the confirmed device keys');
  }
}

// ── Primary ─────────────────────────────────────────────────────────────────

/** Where the primary links to: a parsed offer, or a typed code and the channel its rendezvous named. */
export type LinkTarget =
  | { readonly method: 'offer'; readonly offer: LinkOffer }
  | { readonly method: 'code'; readonly code: LinkCode; readonly channelId: Uint8Array };

export type PrimaryAwaitingReply = {
  readonly phase: 'primary:await-reply';
  readonly relayId: Uint8Array;
  readonly channelId: Uint8Array;
  readonly method: number;
  /** The offer's ephemeral key, which the Reply must repeat (offer method only). */
  readonly offeredKey: Uint8Array | null;
  readonly sid: Uint8Array;
  readonly ya: Uint8Array;
  readonly ephemeral: X25519KeyPair;
  readonly cpace: CPaceState;
  readonly account: LinkAccount;
  readonly guard: UseOnce;
};
export type PrimaryAwaitingConfirm = {
  readonly phase: 'primary:await-confirm';
  readonly keys: LinkKeys;
  readonly transcript: Uint8Array;
  readonly bound: Uint8Array;
  readonly device: LinkDeviceKeys;
  readonly account: LinkAccount;
  readonly guard: UseOnce;
};
export type PrimaryConfirmed = {
  readonly phase: 'primary:confirmed';
  readonly keys: LinkKeys;
  readonly device: LinkDeviceKeys;
  readonly account: LinkAccount;
  readonly guard: UseOnce;
};

/**
 * The primary starts, on its own relay (`relayId`: an offer naming another relay is refused with
 * UNTRUSTED_IDENTITY): draws sid (16), its ephemeral X25519 key (32) and its CPace scalar (32), in
 * that order, and returns the Hello.
 */
export function startPrimaryLink(
  input: { readonly relayId: Uint8Array; readonly target: LinkTarget; readonly account: LinkAccount },
  deps: { readonly rng: Rng },
): { state: PrimaryAwaitingReply; hello: Uint8Array } {
  const { target } = input;
  const channelId = target.method === 'offer' ? target.offer.channelId : target.channelId;
  const ci = linkChannelIdentifier(input.relayId, channelId);
  if (target.method === 'offer' && !bytesEqual(target.offer.relayId, input.relayId)) {
    throw new ProtocolError('UNTRUSTED_IDENTITY', 'link offer: for another relay');
  }
  checkLength(input.account.accountId, ACCOUNT_ID_LENGTH, 'account id');
  checkLength(input.account.accountPublicKey, 32, 'account key');
  const prs = target.method === 'offer' ? linkPassword('offer', target.offer.secret) : linkPassword('code', target.code.digits);
  const method = LinkMethod[target.method];
  const sid = deps.rng(LINK_SID_LENGTH);
  const ephemeral = x25519GenerateKeyPair(deps.rng);
  const cpace = cpaceStart('initiator', { prs, ci, sid, ad: encodeX25519(ephemeral.publicKey) }, deps);
  wipe(prs);
  const hello = concatBytes(Uint8Array.of(LINK_VERSION, LinkFrameType.hello, method), sid, cpace.share, encodeX25519(ephemeral.publicKey));
  return {
    state: {
      phase: 'primary:await-reply',
      relayId: input.relayId.slice(),
      channelId: channelId.slice(),
      method,
      offeredKey: target.method === 'offer' ? target.offer.ephemeralKey.slice() : null,
      sid,
      ya: cpace.share,
      ephemeral,
      cpace: cpace.state,
      account: input.account,
      guard: { spent: false },
    },
    hello,
  };
}

/** Reply = 0x01 ‖ 0x02 ‖ Yb (32) ‖ Enc(EK_N) (33) ‖ AEAD(...). */
const REPLY_CLEAR_LENGTH = CPACE_ELEMENT_LENGTH + 33;

/**
 * P receives the Reply: finishes CPace, derives the keys and opens the new device's identity keys.
 * A wrong code shows here (LINK_AUTH_FAILED); with an offer, an ephemeral key other than the
 * offer's is LINK_KEY_MISMATCH. Returns the Account frame (the account key and P's tag) and the
 * new device's keys; the primary signs nothing yet.
 */
export function receiveReply(
  state: PrimaryAwaitingReply,
  reply: Uint8Array,
): { state: PrimaryAwaitingConfirm; device: LinkDeviceKeys; account: Uint8Array } {
  expectType(reply, LinkFrameType.reply);
  spend(state.guard);
  if (reply.length < 2 + REPLY_CLEAR_LENGTH) throw new ProtocolError('MALFORMED', 'link reply: truncated');
  const head = new Reader(reply.subarray(2, 2 + REPLY_CLEAR_LENGTH), 'link reply');
  const yb = head.bytes(CPACE_ELEMENT_LENGTH);
  const ekN = head.key(KeyType.X25519);
  head.end();
  if (state.offeredKey && !bytesEqual(ekN, state.offeredKey)) {
    wipe(state.cpace.scalar, state.ephemeral.privateKey);
    throw new ProtocolError('LINK_KEY_MISMATCH', 'link reply: not the ephemeral key of the offer');
  }
  let isk: Uint8Array;
  let dh: Uint8Array;
  try {
    isk = cpaceFinish(state.cpace, { share: yb, ad: encodeX25519(ekN) });
    dh = linkDh(state.ephemeral.privateKey, ekN);
  } finally {
    wipe(state.ephemeral.privateKey);
  }
  const transcript = transcriptHash({ relayId: state.relayId, channelId: state.channelId, method: state.method, sid: state.sid, ya: state.ya, ekP: state.ephemeral.publicKey, yb, ekN });
  const keys = deriveLinkKeys(isk, dh, transcript);
  const r = new Reader(openFrame(keys.toPrimary, reply, REPLY_CLEAR_LENGTH), 'link device keys');
  const device: LinkDeviceKeys = { identityDhKey: r.key(KeyType.X25519), identitySigningKey: r.key(KeyType.Ed25519), capabilities: r.u32() };
  r.end();
  const bound = boundKeys(device, state.account);
  const payload = concatBytes(state.account.accountId, encodeEd25519(state.account.accountPublicKey), confirmationTag('primary', keys, transcript, bound));
  const account = sealFrame(keys.toNew, LinkFrameType.account, new Uint8Array(0), payload);
  return {
    state: { phase: 'primary:await-confirm', keys, transcript, bound, device, account: state.account, guard: { spent: false } },
    device,
    account,
  };
}

/**
 * P receives the new device's Confirm: its tag over the same transcript and keys. Only after this
 * succeeds may the engine sign a device list with the new entry (LINK_CONFIRMATION_FAILED
 * otherwise: the new device saw another account key, or the relay changed something).
 */
export function receiveConfirm(state: PrimaryAwaitingConfirm, frame: Uint8Array): { state: PrimaryConfirmed; device: LinkDeviceKeys } {
  expectType(frame, LinkFrameType.confirm);
  spend(state.guard);
  const r = new Reader(openFrame(state.keys.toPrimary, frame, 0), 'link confirm');
  const tag = r.bytes(32);
  r.end();
  if (!constantTimeEqual(tag, confirmationTag('new', state.keys, state.transcript, state.bound))) {
    throw new ProtocolError('LINK_CONFIRMATION_FAILED', 'link: the new device confirmed other keys');
  }
  return { state: { phase: 'primary:confirmed', keys: state.keys, device: state.device, account: state.account, guard: { spent: false } }, device: state.device };
}

/**
 * P seals the provisioning: the device id it gave the new device, the signed list carrying it
 * (checked here against the confirmed keys: LINK_KEY_MISMATCH) and the account state blob
 * (at most MAX_LINK_ACCOUNT_STATE_BYTES; never the account private key — the engine's rule).
 */
export function sealProvisioning(
  state: PrimaryConfirmed,
  input: { readonly deviceId: number; readonly signedDeviceList: Uint8Array; readonly accountState: Uint8Array },
): Uint8Array {
  if (input.accountState.length > MAX_LINK_ACCOUNT_STATE_BYTES) throw new ProtocolError('MALFORMED', 'link: account state too large');
  const list = verifyDeviceList(input.signedDeviceList, state.account.accountPublicKey, state.account.accountId);
  requireEntry(list, input.deviceId, state.device);
  spend(state.guard);
  const payload = new Writer().u32(input.deviceId).var32(input.signedDeviceList).var32(input.accountState).finish();
  const frame = sealFrame(state.keys.toNew, LinkFrameType.provision, new Uint8Array(0), payload);
  wipe(state.keys.toNew, state.keys.toPrimary, state.keys.macNew, state.keys.macPrimary);
  return frame;
}
