/**
 * ProtocolError: the closed set of failures of shared/protocol. Every untrusted input that fails a
 * check ends here with a code; messages are for logs and never contain key bytes. Nothing
 * check-specific is sent back to a peer or the relay (DESIGN §3.1).
 */
export type ProtocolErrorCode =
  /** Bytes that do not parse: wrong length, unknown version or type, trailing data. */
  | 'MALFORMED'
  /** A signature over a device list, prekey or other signed structure did not verify. */
  | 'BAD_SIGNATURE'
  /** A device list whose version is not newer than the one already held. */
  | 'STALE_VERSION'
  /** Two different lists signed with the same version: the account key holder equivocated. */
  | 'CONFLICTING_VERSION'
  /** A bundle or message whose identity keys do not match the device-list entry. */
  | 'UNTRUSTED_IDENTITY'
  /** A device not on the sender's current signed list. */
  | 'UNKNOWN_DEVICE'
  /** A prekey older than MAX_PREKEY_AGE_MS: the device is inactive. */
  | 'DEVICE_INACTIVE'
  /** A `pq` device whose bundle lacks a valid signed ML-KEM prekey. */
  | 'MISSING_KEM_PREKEY'
  /** A prekey message naming a prekey this device does not (or no longer) hold. */
  | 'INVALID_PREKEY_ID'
  /** A prekey message whose base key was already accepted (replay). */
  | 'REPLAYED_BASE_KEY'
  /** A message whose key was already used: a redelivery, never a reason for recovery. */
  | 'DUPLICATED_MESSAGE'
  /** A message that failed to authenticate or decrypt with every candidate session. */
  | 'INVALID_MESSAGE'
  /** A header asking to skip more than MAX_FORWARD_JUMP keys. */
  | 'JUMP_TOO_LARGE'
  /** The in-memory failure budget of the session is used up; try again later. */
  | 'BUDGET_EXHAUSTED'
  /** No session exists for that peer device. */
  | 'NO_SESSION'
  /** A low-order or otherwise invalid public key from the peer. */
  | 'INVALID_KEY'
  /** A stored state written by an unknown (newer) version. */
  | 'UNSUPPORTED_VERSION'
  /** An attachment key that does not match the header's key commitment (a wrong key, or a header of another file). */
  | 'KEY_COMMITMENT_MISMATCH'
  /** An attachment segment that does not authenticate at its position: tampered, reordered, or swapped in from another file. */
  | 'SEGMENT_AUTH_FAILED'
  /** An attachment ciphertext that ends before its final segment. */
  | 'TRUNCATED'
  /** Bytes after an attachment's final segment. */
  | 'TRAILING_DATA'
  /** An attachment whose ciphertext digest or plaintext SHA-256 differs from the one its message announced. */
  | 'DIGEST_MISMATCH'
  /** An encrypted profile made under another profile key than the one held (rotated, or not yet shared). */
  | 'PROFILE_KEY_MISMATCH'
  /** An encrypted profile that does not authenticate under the held key and account id (tampered, or swapped in). */
  | 'PROFILE_AUTH_FAILED'
  /** A link offer or link frame of another version than LINK_VERSION. */
  | 'LINK_UNSUPPORTED_VERSION'
  /** A link frame that does not authenticate: the short code or offer secret differed (the PAKE failed), or the relay changed the frame. */
  | 'LINK_AUTH_FAILED'
  /** A key-confirmation tag that does not match: the other side saw other keys than this one. */
  | 'LINK_CONFIRMATION_FAILED'
  /** Keys that differ from the ones the link authenticated: another ephemeral key than the offer's, a device list without the confirmed device keys. */
  | 'LINK_KEY_MISMATCH'
  /** A link frame this side already processed, or a link state used a second time (one guess per channel). */
  | 'LINK_REPLAYED'
  /** A sealed envelope that does not open for this device or does not authenticate: tampered, meant for another device (a swapped recipient), or not made with the sender key it names. */
  | 'SEALED_INVALID'
  /** A sender certificate that does not verify: unknown relay key id, bad signature, or a lifetime beyond MAX_SENDER_CERTIFICATE_LIFETIME_MS. */
  | 'SENDER_CERTIFICATE_INVALID'
  /** A sender certificate that had expired at the envelope's relay time. */
  | 'SENDER_CERTIFICATE_EXPIRED'
  /** The envelope's static key, the certificate's identity key, the sender's listed device key and the session's remote identity key are not all the same key. */
  | 'SEALED_SENDER_MISMATCH'
  /** A group message from a sender device (or distribution id) this device holds no sender key for: queue it and request the distribution. */
  | 'NO_SENDER_KEY'
  /** A distribution that would move a sender-key chain back to an earlier iteration (an old or replayed distribution). */
  | 'SENDER_KEY_ROLLBACK'
  /** A distribution with a known distribution id but another chain or signing key than the one held. */
  | 'SENDER_KEY_CONFLICT'
  /** A distribution that names another sender device, or another group, than the one it arrived from or for. */
  | 'SENDER_KEY_MISMATCH'
  /** The own sender-key chain cannot send any more (its iteration counter is used up): rotate. */
  | 'SENDER_KEY_EXHAUSTED'
  /** A membership record whose author is a member but not an admin at the record it builds on. */
  | 'GROUP_NOT_ADMIN'
  /** A membership record (or group message) whose author is not a member at the record it builds on (never was, left, or was removed). */
  | 'GROUP_NOT_MEMBER'
  /** A membership record that builds on a record this device does not hold (yet): keep it until that one arrives. */
  | 'GROUP_UNKNOWN_RECORD'
  /** A membership record of another group, with the wrong epoch, or a second genesis: it can never fit the chain. */
  | 'GROUP_BROKEN_CHAIN'
  /** A group message sent under a membership head this device does not hold (it missed an update, or the head is forged). */
  | 'GROUP_UNKNOWN_HEAD'
  /** A membership change that would take the group past MAX_GROUP_MEMBERS. */
  | 'GROUP_TOO_LARGE'
  /** A membership change that makes no sense at its record: removing a non-member, removing oneself, the only admin leaving or stepping down. */
  | 'GROUP_INVALID_CHANGE';

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isProtocolError(e: unknown, code?: ProtocolErrorCode): e is ProtocolError {
  return e instanceof ProtocolError && (code === undefined || e.code === code);
}
