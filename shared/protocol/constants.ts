/**
 * Every protocol limit, label and version in one place (DESIGN §3). Changing a value here changes
 * the protocol: docs/protocol.md lists the same numbers and the vectors pin the labels.
 */
import { utf8 } from '../crypto/bytes.js';

/** Wire/protocol version carried by every message, list and state. */
export const PROTOCOL_VERSION = 1;

// ── Accounts and devices (§3.2) ──────────────────────────────────────────────
export const ACCOUNT_ID_LENGTH = 16;
export const MAX_DEVICES_PER_ACCOUNT = 6;
/** The owner re-signs its device list at least this often while online. */
export const DEVICE_LIST_RESIGN_MS = 7 * 24 * 3600_000;
/** A list older than this is shown as "device list not confirmed recently" (still usable). */
export const DEVICE_LIST_STALE_MS = 30 * 24 * 3600_000;
/**
 * Device capability bits (docs/protocol.md §4.4), in the account-signed entry of each device: what
 * the device can handle or show. pq: PQXDH with ML-KEM-768. files: shows attachments (content type
 * 0x06). profiles: reads profile keys (content type 0x07). timers: honours disappearing-message
 * timers and delete-for-everyone requests (content types 0x0E, 0x0F and the timer fields of 0x01,
 * 0x04, 0x06; docs/protocol.md §23). sealed (0x40): opens sealed-sender envelopes (docs/protocol.md
 * §21); a sender seals only when every recipient device has it. groups is reserved for the feature
 * that will need it; no build sets it yet. An entry without a bit (every entry signed before these
 * bits existed has only pq) cannot handle that kind.
 */
export const Capability = { pq: 0x01, files: 0x02, profiles: 0x04, groups: 0x08, timers: 0x10, sealed: 0x40 } as const;
export type CapabilityName = keyof typeof Capability;
/** The bits with a meaning today (the reserved ones have a name but no build advertises them). */
export const KNOWN_CAPABILITIES = Capability.pq | Capability.files | Capability.profiles | Capability.timers | Capability.sealed;

// ── Prekeys (§3.3) ───────────────────────────────────────────────────────────
/** A signed prekey (or KEM prekey) older than this makes the bundle "device inactive". */
export const MAX_PREKEY_AGE_MS = 60 * 24 * 3600_000;
export const SIGNED_PREKEY_ROTATION_MS = 7 * 24 * 3600_000;
/** Old signed/last-resort private keys are kept this long (the relay's mailbox retention). */
export const OLD_PREKEY_RETENTION_MS = 30 * 24 * 3600_000;
export const ONE_TIME_PREKEY_REFILL_THRESHOLD = 10;
/** How far in the future a prekey's created-at may lie (clock skew allowance). */
export const MAX_CLOCK_SKEW_MS = 24 * 3600_000;

// ── Double Ratchet (§3.4) ────────────────────────────────────────────────────
/** A header asking to skip more than this many keys in one chain fails before any derivation. */
export const MAX_FORWARD_JUMP = 25_000;
/** Skipped message keys kept per session; the oldest are evicted first. */
export const MAX_SKIPPED_KEYS_PER_SESSION = 2_000;
/** Skipped keys expire after min(this, the conversation's disappearing timer). */
export const SKIPPED_KEY_TTL_MS = 30 * 24 * 3600_000;
/** Archived sessions kept per peer device besides the current one. */
export const MAX_ARCHIVED_SESSIONS = 40;
/** Plaintext is padded to a multiple of this many bytes. */
export const PADDING_BLOCK = 160;
/** One X25519 computation counted in chain-key steps (a DH ratchet step costs two). */
export const DH_STEP_COST = 16;
/** The most work one genuine message can need: skip the rest of the old chain, DH step, skip the new chain. */
export const MAX_MESSAGE_COST = 2 * MAX_FORWARD_JUMP + 1 + 2 * DH_STEP_COST;
/**
 * In-memory failure budget per session, in chain-key steps: forged headers may cost at most this
 * much HMAC work between successful decrypts. It is at least MAX_MESSAGE_COST, so a genuine
 * message always fits a full budget.
 */
export const FAILURE_BUDGET_STEPS = 2 * MAX_MESSAGE_COST;
/** The budget refills fully after this long without failures. */
export const FAILURE_BUDGET_REFILL_MS = 60_000;

// ── Relay envelopes ──────────────────────────────────────────────────────────
export const MAX_ENVELOPE_CONTENT = 96 * 1024;

// ── Sealed sender (§3.6, docs/protocol.md §21) ────────────────────────────────
/** Version byte of a sealed envelope, a multi-recipient upload and a sender certificate. */
export const SEALED_VERSION = 1;
/** Delivery token = HKDF(profile key, Parley_v1_DeliveryToken, this many bytes); the relay keeps SHA-256 of it. */
export const DELIVERY_TOKEN_LENGTH = 16;
/** A sender certificate lives at most this long (DESIGN §3.6); a longer one is refused. */
export const MAX_SENDER_CERTIFICATE_LIFETIME_MS = 24 * 3600_000;
/** u8 version ‖ account id ‖ u32 device id ‖ Enc(IK) ‖ u64 expiresAt ‖ u32 key id (the signed part). */
export const SENDER_CERTIFICATE_BODY_LENGTH = 1 + 16 + 4 + 33 + 8 + 4;
/** The body and its Ed25519 signature. */
export const SENDER_CERTIFICATE_LENGTH = SENDER_CERTIFICATE_BODY_LENGTH + 64;
/** The random secret M behind one sealed send (ephemeral key and content key derive from it). */
export const SEALED_SECRET_LENGTH = 32;
/** The per-recipient authentication tag (static-static DH). */
export const SEALED_AUTH_TAG_LENGTH = 16;
/** u8 version ‖ Enc(E) ‖ u16 index ‖ wrapped secret (32) ‖ auth tag (16): what precedes the shared ciphertext. */
export const SEALED_ENVELOPE_HEADER_LENGTH = 1 + 33 + 2 + SEALED_SECRET_LENGTH + SEALED_AUTH_TAG_LENGTH;
/** Recipient devices of one sealed send (the u16 index leaves room; the relay caps far lower). */
export const MAX_SEALED_RECIPIENTS = 1024;

// ── Attachments (§3.7, docs/protocol.md §17) ─────────────────────────────────
/** Version byte of the attachment ciphertext header. */
export const ATTACHMENT_VERSION = 1;
/** Plaintext bytes per segment: every segment but the last holds exactly this many. */
export const ATTACHMENT_SEGMENT_SIZE = 1 << 20;
/** A fresh random AES-256-GCM key per attachment; it encrypts exactly one plaintext. */
export const ATTACHMENT_KEY_LENGTH = 32;
/** Random file id in the header (binds every segment to this one ciphertext through the AD). */
export const ATTACHMENT_FILE_ID_LENGTH = 16;
/** u8 version ‖ u32 segment size ‖ file id (16) ‖ key commitment (32). */
export const ATTACHMENT_HEADER_LENGTH = 1 + 4 + ATTACHMENT_FILE_ID_LENGTH + 32;
/** The GCM tag that ends every sealed segment. */
export const ATTACHMENT_TAG_LENGTH = 16;
/** The segment index is a u32 in the nonce: at most 2³² segments. */
export const ATTACHMENT_MAX_SEGMENTS = 2 ** 32;
/** The largest padded plaintext the format can carry (2⁵² bytes); relays announce far lower limits. */
export const ATTACHMENT_MAX_PADDED_LENGTH = ATTACHMENT_MAX_SEGMENTS * ATTACHMENT_SEGMENT_SIZE;

// ── Profiles (§3.6, docs/protocol.md §18) ─────────────────────────────────────
/** Version byte of an encrypted profile. */
export const PROFILE_VERSION = 1;
/** A random key per account; rotated on block. Every profile secret is derived from it. */
export const PROFILE_KEY_LENGTH = 32;
/** The public id of a profile key (HKDF output): which key a profile was encrypted under. */
export const PROFILE_KEY_ID_LENGTH = 16;
/** Display names: 1 … this many UTF-8 bytes, always padded to this size (hides the length). */
export const MAX_PROFILE_NAME_BYTES = 128;
/** The "about" line: 0 … this many UTF-8 bytes, always padded to this size. */
export const MAX_PROFILE_ABOUT_BYTES = 512;
/** A re-encoded avatar: at most this many bytes, padded with Padmé. */
export const MAX_PROFILE_AVATAR_BYTES = 64 * 1024;
/** u64 revision ‖ name field (2 + 128) ‖ about field (2 + 512) ‖ u8 format ‖ u32 avatar length. */
export const PROFILE_PLAINTEXT_FIXED_LENGTH = 8 + 2 + MAX_PROFILE_NAME_BYTES + 2 + MAX_PROFILE_ABOUT_BYTES + 1 + 4;
/** u8 version ‖ key id (16) ‖ nonce (12). */
export const ENCRYPTED_PROFILE_HEADER_LENGTH = 1 + PROFILE_KEY_ID_LENGTH + 12;
/** An encrypted profile without an avatar (every one of them has exactly this length). */
export const MIN_ENCRYPTED_PROFILE_BYTES = ENCRYPTED_PROFILE_HEADER_LENGTH + PROFILE_PLAINTEXT_FIXED_LENGTH + 16;
/** An encrypted profile with the largest avatar (Padmé(65,536) = 65,536). */
export const MAX_ENCRYPTED_PROFILE_BYTES = MIN_ENCRYPTED_PROFILE_BYTES + MAX_PROFILE_AVATAR_BYTES;

// ── Device linking (§3.11, docs/protocol.md §20) ──────────────────────────────
/** Version byte of a link offer and of every link frame. */
export const LINK_VERSION = 1;
/** A relay's id (from /.well-known/parley), as the relay-auth challenge carries it. */
export const RELAY_ID_LENGTH = 16;
/** The relay's provisioning channel id (random, assigned by the relay). */
export const LINK_CHANNEL_ID_LENGTH = 16;
/** The high-entropy secret of a link offer (QR code or pasted text): 128 bits. */
export const LINK_SECRET_LENGTH = 16;
/** The CPace sid, drawn by the primary. */
export const LINK_SID_LENGTH = 16;
/** u8 version ‖ relay id ‖ channel id ‖ X25519 ephemeral key (32) ‖ secret. */
export const LINK_OFFER_LENGTH = 1 + RELAY_ID_LENGTH + LINK_CHANNEL_ID_LENGTH + 32 + LINK_SECRET_LENGTH;
/** The short code: the relay's rendezvous digits, then the new device's secret digits. */
export const LINK_RENDEZVOUS_DIGITS = 6;
export const LINK_CODE_DIGITS = 8;
/** The account state a provisioning frame may carry (opaque to the protocol; the engine's blob). */
export const MAX_LINK_ACCOUNT_STATE_BYTES = 512 * 1024;

// ── History archive (§3.11, docs/protocol.md §22) ─────────────────────────────
/** Version byte of a history archive. */
export const HISTORY_ARCHIVE_VERSION = 1;
/** "The last 30 days": the archive holds messages displayed at or after createdAt − this. */
export const HISTORY_RECENT_MS = 30 * 24 * 60 * 60 * 1000;
/** Conversations one archive may hold. */
export const MAX_HISTORY_CONVERSATIONS = 100_000;
/** A text in the archive: 1 … this many UTF-8 bytes (the largest text content, §16). */
export const MAX_HISTORY_TEXT_BYTES = 64 * 1024;
/** An attachment's caption in the archive: 0 … this many UTF-8 bytes (§16). */
export const MAX_HISTORY_CAPTION_BYTES = 4096;

// ── Groups: Sender Keys and membership (§3.5, docs/protocol.md §24) ──────────
/** Version byte of a sender-key message, a serialized sender-key state or record, a membership record. */
export const GROUP_VERSION = 1;
/** A group id: 16 random bytes drawn by the creator. */
export const GROUP_ID_LENGTH = 16;
/** A sender-key distribution id: 16 random bytes drawn with each new chain. */
export const DISTRIBUTION_ID_LENGTH = 16;
/** A membership record hash (the head hash every group message carries). */
export const GROUP_RECORD_HASH_LENGTH = 32;
/** Sender-key states kept per (group, sender account, sender device), newest first. */
export const MAX_SENDER_KEY_STATES = 5;
/** A sender-key message whose iteration is more than this ahead of the chain fails before any derivation. */
export const MAX_SENDER_KEY_JUMP = MAX_FORWARD_JUMP;
/** Skipped message seeds kept per sender-key state; the oldest are evicted first. */
export const MAX_SENDER_KEY_SKIPPED = 2_000;
/** A sender rotates its chain after this many messages … */
export const SENDER_KEY_ROTATION_MESSAGES = 100;
/** … or when the chain is this old (and on any removal or leave, which the engine sees). */
export const SENDER_KEY_ROTATION_MS = 24 * 3600_000;
/** Members of one group (accounts). */
export const MAX_GROUP_MEMBERS = 1_000;
/** A group name: 1 … this many UTF-8 bytes. */
export const MAX_GROUP_NAME_BYTES = 128;
/** A group description: 0 … this many UTF-8 bytes. */
export const MAX_GROUP_DESCRIPTION_BYTES = 512;
/** One signed membership record (a genesis with 1,000 members is ~50 KB). */
export const MAX_GROUP_RECORD_BYTES = 64 * 1024;
/** Records in one membership update (content type 0x11). */
export const MAX_GROUP_UPDATE_RECORDS = 1_024;

// ── Labels (every KDF, MAC and signature input starts with one) ──────────────
export const Label = {
  DeviceList: 'Parley_v1_DeviceList',
  SignedPrekey: 'Parley_v1_SignedPrekey',
  KemPrekey: 'Parley_v1_KemPrekey',
  Pqxdh: 'Parley_v1_PQXDH_X25519_SHA-256_ML-KEM-768',
  X3dh: 'Parley_v1_X3DH_X25519_SHA-256',
  Ratchet: 'Parley_v1_Ratchet',
  MessageKeys: 'Parley_v1_MessageKeys',
  SessionAd: 'Parley_v1_AD',
  SessionId: 'Parley_v1_SessionId',
  DecryptionError: 'Parley_v1_DecryptionError',
  DeviceFingerprint: 'Parley_v1_DeviceFingerprint',
  DatabaseKeyWrap: 'Parley_v1_DatabaseKeyWrap',
  BaseKeySeen: 'Parley_v1_BaseKeySeen',
  RelayAuth: 'Parley_v1_RelayAuth',
  RelayAccountDeletion: 'Parley_v1_RelayAccountDeletion',
  FileKeyCommit: 'Parley_v1_FileKeyCommit',
  FileCiphertextDigest: 'Parley_v1_FileCiphertextDigest',
  ProfileCipherKey: 'Parley_v1_ProfileCipherKey',
  ProfileKeyId: 'Parley_v1_ProfileKeyId',
  ProfileAd: 'Parley_v1_ProfileAD',
  LinkCPace: 'Parley_v1_LinkCPace',
  LinkTranscript: 'Parley_v1_LinkTranscript',
  LinkKeys: 'Parley_v1_LinkKeys',
  LinkConfirmPrimary: 'Parley_v1_LinkConfirmPrimary',
  LinkConfirmNewDevice: 'Parley_v1_LinkConfirmNewDevice',
  DeliveryToken: 'Parley_v1_DeliveryToken',
  SenderCertificate: 'Parley_v1_SenderCertificate',
  SealedEphemeral: 'Parley_v1_SealedEphemeral',
  SealedContentKey: 'Parley_v1_SealedContentKey',
  SealedAd: 'Parley_v1_SealedAD',
  SealedWrap: 'Parley_v1_SealedWrap',
  SealedAuth: 'Parley_v1_SealedAuth',
  SenderKeyMessageKeys: 'Parley_v1_SenderKeyMessageKeys',
  SenderKeyMessage: 'Parley_v1_SenderKeyMessage',
  GroupRecord: 'Parley_v1_GroupRecord',
  GroupRecordHash: 'Parley_v1_GroupRecordHash',
} as const;
export type LabelName = keyof typeof Label;

const labelBytes = new Map<string, Uint8Array>();
/** The label as bytes (cached; treat as read-only). */
export function label(name: LabelName): Uint8Array {
  let bytes = labelBytes.get(name);
  if (!bytes) {
    bytes = utf8(Label[name]);
    labelBytes.set(name, bytes);
  }
  return bytes;
}
