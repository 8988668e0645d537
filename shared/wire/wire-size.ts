/**
 * Byte limits derived from the schemas' worst cases, so that they cannot drift from the schemas:
 * each limit is the length of the largest compact-JSON value its schema accepts (tests parse each
 * worst case with its schema and check nothing larger passes). The WebSocket `maxPayload` is one
 * full fan-out: a `send` frame naming MAX_DEVICES_PER_ACCOUNT devices, each with MAX_ENVELOPE_CONTENT
 * bytes of content, the longest request id and the widest numbers. Clients must send compact JSON
 * (no insignificant whitespace) to be sure a full fan-out fits.
 */
import { ED25519_SIGNATURE_LENGTH } from '../crypto/ed25519.js';
import { MLKEM768_PUBLIC_KEY_LENGTH } from '../crypto/ml-kem-768.js';
import { X25519_KEY_LENGTH } from '../crypto/x25519.js';
import { ACCOUNT_ID_LENGTH } from '../protocol/constants.js';
import {
  CHALLENGE_NONCE_LENGTH,
  MAX_ACK_BATCH,
  MAX_CONTACTS,
  MAX_DEVICE_LIST_WIRE_BYTES,
  MAX_DEVICES_PER_ACCOUNT,
  MAX_ENCRYPTED_PROFILE_BYTES,
  MAX_ENVELOPE_CONTENT,
  MAX_PRESENCE_QUERY,
  MAX_PREKEYS_PER_UPLOAD,
  MAX_USERNAME_INPUT_LENGTH,
  SESSION_TOKEN_LENGTH,
} from './limits.js';
import { base64UrlLength, MAX_REQUEST_ID_LENGTH, MAX_U32 } from './primitives.js';

/** A canonical base64url string of `n` bytes (all zero bits), the widest text for that field. */
const b64 = (n: number): string => 'A'.repeat(base64UrlLength(n));
const MAX_INT = Number.MAX_SAFE_INTEGER;
const requestId = 'x'.repeat(MAX_REQUEST_ID_LENGTH);

/** Byte length of the compact JSON encoding. */
export function jsonByteLength(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

export function worstCaseMessages(): { deviceId: number; content: string }[] {
  return Array.from({ length: MAX_DEVICES_PER_ACCOUNT }, (_, i) => ({
    deviceId: MAX_U32 - i,
    content: b64(MAX_ENVELOPE_CONTENT),
  }));
}

/** The largest valid `send` frame: one full fan-out. */
export function worstCaseSendFrame() {
  return { type: 'send' as const, id: requestId, to: b64(ACCOUNT_ID_LENGTH), messages: worstCaseMessages() };
}

function worstCaseKemPrekey() {
  return { keyId: MAX_U32, publicKey: b64(MLKEM768_PUBLIC_KEY_LENGTH), createdAt: MAX_INT, lastResort: false, signature: b64(ED25519_SIGNATURE_LENGTH) };
}

/** The largest valid prekey part: both signed keys and MAX_PREKEYS_PER_UPLOAD one-time ML-KEM keys. */
export function worstCasePrekeys() {
  return {
    signedPrekey: { keyId: MAX_U32, publicKey: b64(X25519_KEY_LENGTH), createdAt: MAX_INT, signature: b64(ED25519_SIGNATURE_LENGTH) },
    lastResortKemPrekey: worstCaseKemPrekey(),
    kemOneTimePrekeys: Array.from({ length: MAX_PREKEYS_PER_UPLOAD }, worstCaseKemPrekey),
  };
}

export function worstCaseRegisterBody() {
  return {
    // Control characters are escaped as \u00XX: six bytes per UTF-16 unit, the most JSON spends.
    username: '\u0001'.repeat(MAX_USERNAME_INPUT_LENGTH),
    accountId: b64(ACCOUNT_ID_LENGTH),
    accountKey: b64(32),
    deviceList: b64(MAX_DEVICE_LIST_WIRE_BYTES),
    prekeys: worstCasePrekeys(),
  };
}

const sizes = {
  /** WebSocket maxPayload on the relay: one full fan-out. */
  clientFrame: Math.max(
    jsonByteLength(worstCaseSendFrame()),
    jsonByteLength({ type: 'ack', id: requestId, seqs: Array(MAX_ACK_BATCH).fill(MAX_INT) }),
    jsonByteLength({ type: 'presence-query', id: requestId, accounts: Array(MAX_PRESENCE_QUERY).fill(b64(ACCOUNT_ID_LENGTH)) }),
    jsonByteLength({ type: 'auth', token: b64(SESSION_TOKEN_LENGTH) }),
  ),
  sendBody: jsonByteLength({ to: b64(ACCOUNT_ID_LENGTH), messages: worstCaseMessages() }),
  registerBody: jsonByteLength(worstCaseRegisterBody()),
  prekeyBody: jsonByteLength({ ...worstCasePrekeys(), oneTimePrekeys: [] }),
  contactsBody: jsonByteLength({ contacts: Array(MAX_CONTACTS).fill(b64(ACCOUNT_ID_LENGTH)) }),
  profileBody: jsonByteLength({ profile: b64(MAX_ENCRYPTED_PROFILE_BYTES) }),
  /** Every other request body (challenge, session, device list, settings, deletion, presence). */
  smallBody: Math.max(
    jsonByteLength({ deviceList: b64(MAX_DEVICE_LIST_WIRE_BYTES) }),
    jsonByteLength({ accounts: Array(MAX_PRESENCE_QUERY).fill(b64(ACCOUNT_ID_LENGTH)) }),
    jsonByteLength({ accountId: b64(ACCOUNT_ID_LENGTH), deviceId: MAX_U32, nonce: b64(CHALLENGE_NONCE_LENGTH), time: MAX_INT, signature: b64(ED25519_SIGNATURE_LENGTH) }),
  ),
};

/** The relay's WebSocket `maxPayload` (bytes): the worst-case client frame, a full fan-out. */
export const MAX_CLIENT_FRAME_BYTES = sizes.clientFrame;
/** Largest relay→client frame a client must accept; envelopes and snapshots are far below a fan-out. */
export const MAX_SERVER_FRAME_BYTES = sizes.clientFrame;
export const MAX_SEND_BODY_BYTES = sizes.sendBody;
export const MAX_REGISTER_BODY_BYTES = sizes.registerBody;
export const MAX_PREKEY_BODY_BYTES = sizes.prekeyBody;
export const MAX_CONTACTS_BODY_BYTES = sizes.contactsBody;
/** A profile upload: the largest encrypted profile; one byte more is PAYLOAD_TOO_LARGE. */
export const MAX_PROFILE_BODY_BYTES = sizes.profileBody;
export const MAX_SMALL_BODY_BYTES = sizes.smallBody;
