/**
 * Schemas of every REST request and response body (JSON, DESIGN §5). Requests are strict objects:
 * an unknown field is MALFORMED. Responses are plain objects, so a client keeps working when a
 * newer relay adds a field. Byte fields decode to `Uint8Array` (`z.output`); callers build requests
 * from `z.input` (base64url strings). `ROUTES` names each endpoint once, for the relay and clients.
 * Does not own frames (frames.ts) or errors (errors.ts).
 */
import { BackupLimitsSchema } from './backup.js';
import { z } from 'zod';
import { AttachmentLimitsSchema } from './attachments.js';
import { SealedAnnouncementSchema } from './sealed.js';
import {
  CHALLENGE_NONCE_LENGTH,
  MAX_CONTACTS,
  MAX_DEVICE_LIST_WIRE_BYTES,
  MAX_DEVICES_PER_ACCOUNT,
  MAX_ENCRYPTED_PROFILE_BYTES,
  MAX_ENVELOPE_CONTENT,
  MAX_PRESENCE_QUERY,
  MAX_PREKEYS_PER_UPLOAD,
  MAX_USERNAME_INPUT_LENGTH,
  MIN_DEVICE_LIST_BYTES,
  MIN_ENCRYPTED_PROFILE_BYTES,
  RELAY_ID_LENGTH,
  SESSION_TOKEN_LENGTH,
} from './limits.js';
import {
  AccountIdSchema,
  bytesField,
  DeviceIdSchema,
  Ed25519PublicKeySchema,
  KeyIdSchema,
  MlKemPublicKeySchema,
  SignatureSchema,
  TimestampSchema,
  X25519PublicKeySchema,
} from './primitives.js';

// ── Shared pieces ────────────────────────────────────────────────────────────

export const DeviceListBytesSchema = bytesField({ min: MIN_DEVICE_LIST_BYTES, max: MAX_DEVICE_LIST_WIRE_BYTES });
export const UsernameInputSchema = z.string().min(1).max(MAX_USERNAME_INPUT_LENGTH);
export const SessionTokenSchema = bytesField({ length: SESSION_TOKEN_LENGTH });

export const SignedPrekeySchema = z.strictObject({
  keyId: KeyIdSchema,
  publicKey: X25519PublicKeySchema,
  createdAt: TimestampSchema,
  signature: SignatureSchema,
});
export const KemPrekeySchema = z.strictObject({
  keyId: KeyIdSchema,
  publicKey: MlKemPublicKeySchema,
  createdAt: TimestampSchema,
  lastResort: z.boolean(),
  signature: SignatureSchema,
});
export const OneTimePrekeySchema = z.strictObject({ keyId: KeyIdSchema, publicKey: X25519PublicKeySchema });

/**
 * A prekey upload for the authenticated device. Every part is optional; one-time X25519 and one-time
 * ML-KEM keys together are at most MAX_PREKEYS_PER_UPLOAD. Uploading a signed prekey or last-resort
 * key replaces the stored one; one-time keys are added (an existing key id is replaced).
 */
export const PrekeyUploadSchema = z
  .strictObject({
    signedPrekey: SignedPrekeySchema.optional(),
    lastResortKemPrekey: KemPrekeySchema.optional(),
    oneTimePrekeys: z.array(OneTimePrekeySchema).max(MAX_PREKEYS_PER_UPLOAD).optional(),
    kemOneTimePrekeys: z.array(KemPrekeySchema).max(MAX_PREKEYS_PER_UPLOAD).optional(),
  })
  .refine((u) => (u.oneTimePrekeys?.length ?? 0) + (u.kemOneTimePrekeys?.length ?? 0) <= MAX_PREKEYS_PER_UPLOAD, {
    message: `at most ${MAX_PREKEYS_PER_UPLOAD} one-time prekeys per request`,
  });
export type PrekeyUpload = z.output<typeof PrekeyUploadSchema>;
export type PrekeyUploadInput = z.input<typeof PrekeyUploadSchema>;

export const MessageSchema = z.strictObject({
  deviceId: DeviceIdSchema,
  content: bytesField({ min: 1, max: MAX_ENVELOPE_CONTENT }),
});
/** One ciphertext per current device of the recipient (never the sending device itself). */
export const MessagesSchema = z
  .array(MessageSchema)
  .min(1)
  .max(MAX_DEVICES_PER_ACCOUNT)
  .refine((ms) => new Set(ms.map((m) => m.deviceId)).size === ms.length, { message: 'duplicate device id' });
export type OutgoingMessage = z.output<typeof MessageSchema>;
export type OutgoingMessageInput = z.input<typeof MessageSchema>;

// ── Relay description ────────────────────────────────────────────────────────

export const WellKnownSchema = z.object({
  wireVersion: z.number().int(),
  relayId: bytesField({ length: RELAY_ID_LENGTH }),
  /** Signs sender certificates (sealed sender, docs/protocol.md §21.2); its id is `sealed.certificateKeyId`. */
  certificateKey: Ed25519PublicKeySchema,
  /** Signs key-transparency tree heads (a later issue). A different key from certificateKey. */
  treeHeadKey: Ed25519PublicKeySchema,
  limits: z.object({
    maxEnvelopeContent: z.number().int(),
    maxDevicesPerAccount: z.number().int(),
    maxConnectionsPerDevice: z.number().int(),
    maxFrameBytes: z.number().int(),
    maxPrekeysPerUpload: z.number().int(),
    maxContacts: z.number().int(),
    maxAckBatch: z.number().int(),
    maxPresenceQuery: z.number().int(),
    /** The largest encrypted profile (absent from relays before profiles). */
    maxProfileBytes: z.number().int().optional(),
    mailboxRetentionMs: z.number().int(),
    sessionTokenTtlMs: z.number().int(),
    challengeTtlMs: z.number().int(),
    maxAuthClockSkewMs: z.number().int(),
  }),
  /** Attachment uploads and downloads (attachments.ts); absent on a relay without them. */
  attachments: AttachmentLimitsSchema.optional(),
  /** Sealed sender (sealed.ts); absent on a relay without it. */
  sealed: SealedAnnouncementSchema.optional(),
  /** Backups (backup.ts, docs/protocol.md §25.8); absent on a relay without them. */
  backups: BackupLimitsSchema.optional(),
});
export type WellKnown = z.output<typeof WellKnownSchema>;

/** `storage-failing`: the relay cannot write (disk full, I/O errors); answered with 503, like `draining`. */
export const HealthSchema = z.object({ status: z.enum(['ok', 'draining', 'storage-failing']) });

// ── Auth ─────────────────────────────────────────────────────────────────────

export const ChallengeRequestSchema = z.strictObject({ accountId: AccountIdSchema, deviceId: DeviceIdSchema });
export const ChallengeResponseSchema = z.object({
  nonce: bytesField({ length: CHALLENGE_NONCE_LENGTH }),
  relayId: bytesField({ length: RELAY_ID_LENGTH }),
  serverTime: TimestampSchema,
});
export type ChallengeResponse = z.output<typeof ChallengeResponseSchema>;

export const SessionRequestSchema = z.strictObject({
  accountId: AccountIdSchema,
  deviceId: DeviceIdSchema,
  nonce: bytesField({ length: CHALLENGE_NONCE_LENGTH }),
  /** The device's clock (ms) at signing; within MAX_AUTH_CLOCK_SKEW_MS of the relay's. */
  time: TimestampSchema,
  signature: SignatureSchema,
});
export const SessionResponseSchema = z.object({ token: z.string(), expiresAt: TimestampSchema });
export type SessionResponse = z.output<typeof SessionResponseSchema>;

// ── Accounts and device lists ────────────────────────────────────────────────

export const RegisterPrekeysSchema = z
  .strictObject({
    signedPrekey: SignedPrekeySchema,
    lastResortKemPrekey: KemPrekeySchema,
    oneTimePrekeys: z.array(OneTimePrekeySchema).max(MAX_PREKEYS_PER_UPLOAD).optional(),
    kemOneTimePrekeys: z.array(KemPrekeySchema).max(MAX_PREKEYS_PER_UPLOAD).optional(),
  })
  .refine((u) => (u.oneTimePrekeys?.length ?? 0) + (u.kemOneTimePrekeys?.length ?? 0) <= MAX_PREKEYS_PER_UPLOAD, {
    message: `at most ${MAX_PREKEYS_PER_UPLOAD} one-time prekeys per request`,
  });

/** The first device registers the account: its signed list names exactly that one device. */
export const RegisterRequestSchema = z.strictObject({
  username: UsernameInputSchema,
  accountId: AccountIdSchema,
  accountKey: Ed25519PublicKeySchema,
  deviceList: DeviceListBytesSchema,
  prekeys: RegisterPrekeysSchema,
});
export type RegisterRequestInput = z.input<typeof RegisterRequestSchema>;
export const RegisterResponseSchema = z.object({
  accountId: AccountIdSchema,
  username: z.string(),
  deviceId: DeviceIdSchema,
});

/** Lookups by username and by account id. `deviceList` is the signed bytes, verbatim. */
export const AccountResponseSchema = z.object({
  accountId: AccountIdSchema,
  accountKey: Ed25519PublicKeySchema,
  deviceList: DeviceListBytesSchema,
});
export type AccountResponse = z.output<typeof AccountResponseSchema>;

export const PutDeviceListRequestSchema = z.strictObject({ deviceList: DeviceListBytesSchema });
export const PutDeviceListResponseSchema = z.object({
  version: z.number().int(),
  removedDeviceIds: z.array(DeviceIdSchema),
});

/**
 * The authenticated account's own devices with the UTC day each last got a session token (ADR 0027;
 * day granularity on purpose). Only ever about the requester's own account.
 */
export const OwnDevicesResponseSchema = z.object({
  devices: z.array(z.object({ deviceId: DeviceIdSchema, lastActiveDay: z.number().int().min(0).nullable() })).max(MAX_DEVICES_PER_ACCOUNT),
});
export type OwnDevicesResponse = z.output<typeof OwnDevicesResponseSchema>;

export const DeleteAccountRequestSchema = z.strictObject({
  /** Signing time (ms); within MAX_AUTH_CLOCK_SKEW_MS of the relay's clock. */
  time: TimestampSchema,
  /** Account-key signature over accountDeletionSignatureInput(relayId, accountId, time). */
  signature: SignatureSchema,
});

// ── Prekeys ──────────────────────────────────────────────────────────────────

export const PrekeyCountsSchema = z.object({
  oneTimePrekeys: z.number().int(),
  kemOneTimePrekeys: z.number().int(),
  signedPrekey: z.object({ keyId: KeyIdSchema, createdAt: TimestampSchema }).nullable(),
  lastResortKemPrekey: z.object({ keyId: KeyIdSchema, createdAt: TimestampSchema }).nullable(),
});
export type PrekeyCounts = z.output<typeof PrekeyCountsSchema>;

export const BundleSchema = z.object({
  deviceId: DeviceIdSchema,
  identityDhKey: X25519PublicKeySchema,
  identitySigningKey: Ed25519PublicKeySchema,
  signedPrekey: SignedPrekeySchema,
  oneTimePrekey: OneTimePrekeySchema.optional(),
  /** A one-time ML-KEM prekey, or the last-resort one when none is left. */
  kemPrekey: KemPrekeySchema.optional(),
});
export type Bundle = z.output<typeof BundleSchema>;

/** Bundles of the account's current devices that have uploaded a signed prekey. */
export const BundlesResponseSchema = z.object({
  accountId: AccountIdSchema,
  bundles: z.array(BundleSchema).max(MAX_DEVICES_PER_ACCOUNT),
});
export type BundlesResponse = z.output<typeof BundlesResponseSchema>;

// ── Messages ─────────────────────────────────────────────────────────────────

export const SendRequestSchema = z.strictObject({ to: AccountIdSchema, messages: MessagesSchema });
export type SendRequestInput = z.input<typeof SendRequestSchema>;
/** The same whether the recipient is online or not; sent only after the envelopes are committed. */
export const SendResponseSchema = z.object({ serverTimestamp: TimestampSchema });

// ── Contacts and presence ────────────────────────────────────────────────────

export const ContactsRequestSchema = z.strictObject({ contacts: z.array(AccountIdSchema).max(MAX_CONTACTS) });
export const ContactsResponseSchema = z.object({
  contacts: z.array(AccountIdSchema),
  presenceVisible: z.boolean(),
});
export const SettingsRequestSchema = z.strictObject({ presenceVisible: z.boolean() });

export const PresenceQuerySchema = z.strictObject({ accounts: z.array(AccountIdSchema).min(1).max(MAX_PRESENCE_QUERY) });
/**
 * `shared` (issue 12): whether the account shares its presence with the requester — a mutual contact
 * whose presence is visible. Strangers, one-sided contacts and hidden accounts all read exactly
 * `{ online: false, shared: false }`, whether they are connected or not; a visible mutual contact
 * that is not connected reads `{ online: false, shared: true }`. Absent means shared (older relays).
 */
export const PresenceEntrySchema = z.object({ accountId: AccountIdSchema, online: z.boolean(), shared: z.boolean().optional() });
export const PresenceSnapshotSchema = z.object({ entries: z.array(PresenceEntrySchema) });

// ── Profiles (docs/protocol.md §18) ──────────────────────────────────────────

/** An encrypted profile: opaque to the relay, which checks only its length and version byte. */
export const EncryptedProfileSchema = bytesField({ min: MIN_ENCRYPTED_PROFILE_BYTES, max: MAX_ENCRYPTED_PROFILE_BYTES });
/** Replaces the authenticated account's profile. */
export const PutProfileRequestSchema = z.strictObject({ profile: EncryptedProfileSchema });
export type PutProfileRequestInput = z.input<typeof PutProfileRequestSchema>;
export const ProfileResponseSchema = z.object({
  accountId: AccountIdSchema,
  profile: EncryptedProfileSchema,
  /** When the relay stored it (the relay's clock). */
  updatedAt: TimestampSchema,
});
export type ProfileResponse = z.output<typeof ProfileResponseSchema>;

// ── Route table ──────────────────────────────────────────────────────────────

/** Every REST endpoint, `:name` marking path parameters (account ids in base64url). */
export const ROUTES = {
  register: { method: 'POST', path: '/v1/accounts' },
  lookupAccount: { method: 'GET', path: '/v1/accounts/:accountId' },
  lookupUsername: { method: 'GET', path: '/v1/usernames/:username' },
  putDeviceList: { method: 'PUT', path: '/v1/accounts/me/device-list' },
  /** A restore from backup (issue 18): a list signed by the account key, no session (the restoring device has none yet). */
  restoreDeviceList: { method: 'PUT', path: '/v1/accounts/:accountId/device-list' },
  deleteAccount: { method: 'DELETE', path: '/v1/accounts/me' },
  putSettings: { method: 'PUT', path: '/v1/accounts/me/settings' },
  ownDevices: { method: 'GET', path: '/v1/accounts/me/devices' },
  unregisterDevice: { method: 'DELETE', path: '/v1/devices/me' },
  challenge: { method: 'POST', path: '/v1/auth/challenge' },
  session: { method: 'POST', path: '/v1/auth/session' },
  uploadPrekeys: { method: 'PUT', path: '/v1/prekeys' },
  prekeyCounts: { method: 'GET', path: '/v1/prekeys/me/count' },
  bundles: { method: 'GET', path: '/v1/prekeys/:accountId' },
  deviceBundle: { method: 'GET', path: '/v1/prekeys/:accountId/:deviceId' },
  send: { method: 'POST', path: '/v1/messages' },
  putContacts: { method: 'PUT', path: '/v1/contacts' },
  getContacts: { method: 'GET', path: '/v1/contacts' },
  deleteContacts: { method: 'DELETE', path: '/v1/contacts' },
  presenceQuery: { method: 'POST', path: '/v1/presence/query' },
  putProfile: { method: 'PUT', path: '/v1/profiles/me' },
  putDeliveryToken: { method: 'PUT', path: '/v1/accounts/me/delivery-token' },
  senderCertificate: { method: 'GET', path: '/v1/certificates/sender' },
  sealedSend: { method: 'POST', path: '/v1/sealed' },
  getProfile: { method: 'GET', path: '/v1/profiles/:accountId' },
  createProvisioningChannel: { method: 'POST', path: '/v1/provisioning/channels' },
  joinProvisioningChannel: { method: 'POST', path: '/v1/provisioning/join' },
  sendProvisioningMessage: { method: 'POST', path: '/v1/provisioning/channels/:channelId/messages' },
  provisioningInbox: { method: 'GET', path: '/v1/provisioning/channels/:channelId/messages/:after' },
  wellKnown: { method: 'GET', path: '/.well-known/parley' },
  health: { method: 'GET', path: '/healthz' },
  metrics: { method: 'GET', path: '/metrics' },
} as const;
export type RouteName = keyof typeof ROUTES;
