/**
 * Limits every relay client must know (published at /.well-known/parley): sizes, counts and
 * lifetimes. Owns the numbers; wire-size.ts derives the byte limits (WebSocket maxPayload, HTTP
 * body limits) from the schemas' worst cases. Rate limits are the relay's business
 * (server/limits/) and are not part of the wire contract.
 */
import { ED25519_SIGNATURE_LENGTH } from '../crypto/ed25519.js';
import { encodedKeyLength, KeyType } from '../crypto/encoding.js';
import {
  ACCOUNT_ID_LENGTH,
  Label,
  MAX_DEVICES_PER_ACCOUNT,
  MAX_ENCRYPTED_PROFILE_BYTES,
  MAX_ENVELOPE_CONTENT,
  MIN_ENCRYPTED_PROFILE_BYTES,
} from '../protocol/constants.js';

/** An encrypted profile (docs/protocol.md §18) is between these lengths; the relay refuses others. */
export { MAX_DEVICES_PER_ACCOUNT, MAX_ENCRYPTED_PROFILE_BYTES, MAX_ENVELOPE_CONTENT, MIN_ENCRYPTED_PROFILE_BYTES };

/** Live WebSocket connections one device may hold at once. */
export const MAX_CONNECTIONS_PER_DEVICE = 5;
/** One-time X25519 plus one-time ML-KEM prekeys in one upload. */
export const MAX_PREKEYS_PER_UPLOAD = 100;
/** Accounts on one account's relay-side contact list (typing and presence scope). */
export const MAX_CONTACTS = 5_000;
/** Sequence numbers in one ack frame. */
export const MAX_ACK_BATCH = 1_000;
/** Accounts in one presence query. */
export const MAX_PRESENCE_QUERY = 1_000;

/** Usernames: NFKC, lowercase, then this many of [a-z0-9_.]. */
export const USERNAME_MIN_LENGTH = 3;
export const USERNAME_MAX_LENGTH = 32;
/** Raw username input is refused beyond this many UTF-16 units, before normalisation costs anything. */
export const MAX_USERNAME_INPUT_LENGTH = 128;
/** A deleted account's username is held this long before anyone can register it. */
export const USERNAME_HOLD_MS = 30 * 24 * 3600_000;

/** Undelivered (unacknowledged) envelopes are deleted after this long. */
export const MAILBOX_RETENTION_MS = 30 * 24 * 3600_000;

/** Relay auth (DESIGN §5): a challenge nonce lives this long and is single-use. */
export const CHALLENGE_TTL_MS = 60_000;
export const CHALLENGE_NONCE_LENGTH = 32;
/** |signed time − relay time| must not exceed this. */
export const MAX_AUTH_CLOCK_SKEW_MS = 60_000;
/** Session tokens are short-lived; clients fetch a new one before `expiresAt`. */
export const SESSION_TOKEN_TTL_MS = 3600_000;
/** Token = id (16 bytes, the lookup key) ‖ secret (32 bytes, stored only as SHA-256). */
export const SESSION_TOKEN_ID_LENGTH = 16;
export const SESSION_TOKEN_SECRET_LENGTH = 32;
export const SESSION_TOKEN_LENGTH = SESSION_TOKEN_ID_LENGTH + SESSION_TOKEN_SECRET_LENGTH;
/** A WebSocket must authenticate (first frame) within this long. */
export const WS_AUTH_TIMEOUT_MS = 10_000;

export const RELAY_ID_LENGTH = 16;

/** label ‖ account id ‖ u64 version ‖ u64 issued-at ‖ u8 count ‖ entries ‖ signature (device-list.ts). */
export const DEVICE_LIST_ENTRY_LENGTH = 4 + encodedKeyLength(KeyType.X25519) + encodedKeyLength(KeyType.Ed25519) + 4 + 8;
export const DEVICE_LIST_HEADER_LENGTH = Label.DeviceList.length + ACCOUNT_ID_LENGTH + 8 + 8 + 1;
/** Byte offset of the device-count byte in a signed device list. */
export const DEVICE_LIST_COUNT_OFFSET = DEVICE_LIST_HEADER_LENGTH - 1;
export const MIN_DEVICE_LIST_BYTES = DEVICE_LIST_HEADER_LENGTH + DEVICE_LIST_ENTRY_LENGTH + ED25519_SIGNATURE_LENGTH;
/**
 * The wire admits lists of up to 255 entries (the count is a u8) so that the relay can answer a list
 * with too many devices with TOO_MANY_DEVICES rather than a bare MALFORMED.
 */
export const MAX_DEVICE_LIST_WIRE_BYTES = DEVICE_LIST_HEADER_LENGTH + 255 * DEVICE_LIST_ENTRY_LENGTH + ED25519_SIGNATURE_LENGTH;
