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
  /** Recovery words with a word not in the BIP39 English list, or not exactly 24 words. */
  | 'BACKUP_BAD_WORD'
  /** 24 list words whose BIP39 checksum fails: a typo that hit another list word, or words out of order. */
  | 'BACKUP_BAD_CHECKSUM'
  /** Valid recovery words that are not this backup's (its backup id differs). */
  | 'BACKUP_WRONG_RECOVERY_KEY'
  /** A backup made with a passphrase, opened without one. */
  | 'BACKUP_PASSPHRASE_REQUIRED'
  /** The right recovery words with a wrong passphrase. */
  | 'BACKUP_WRONG_PASSPHRASE'
  /** A backup whose header MAC or a content segment does not authenticate: changed, or cut inside a segment. */
  | 'BACKUP_TAMPERED'
  /** Argon2id parameters outside DESIGN §3.9's bounds, refused before Argon2id runs. */
  | 'BACKUP_PARAMS_OUT_OF_BOUNDS';

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
