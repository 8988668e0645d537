/**
 * View models: everything the engine shows the renderer, as plain JSON (strings, numbers, booleans).
 * Never keys, ratchet state or raw bytes — a test renders every schema as JSON Schema, which fails
 * for anything that is not plain data. Later features add fields or new kinds here (files add a
 * message kind and an attachment field; groups a conversation kind), without changing these meanings.
 */
import { z } from 'zod';
import {
  base64Schema,
  ContactIdSchema,
  ConversationIdSchema,
  CountSchema,
  DeviceIdSchema,
  MAX_APP_LOCK_MINUTES,
  MAX_AVATAR_BYTES,
  MIN_APP_LOCK_MINUTES,
  MessageIdSchema,
  TimestampSchema,
} from './primitives.js';
import { ApiErrorSchema } from './errors.js';

// ── Engine state ────────────────────────────────────────────────────────────

export const LIFECYCLE_STATES = ['needs-account', 'locked', 'ready'] as const;
export const LifecycleStateSchema = z.enum(LIFECYCLE_STATES);
export type LifecycleState = z.infer<typeof LifecycleStateSchema>;

/** How this profile's database key is protected. */
export const KeyProtectionSchema = z.enum(['keychain', 'passphrase']);
export type KeyProtection = z.infer<typeof KeyProtectionSchema>;

export const AccountViewSchema = z.strictObject({
  username: z.string(),
  /** The account id as 32 hex digits (public). */
  accountId: ContactIdSchema,
  deviceId: DeviceIdSchema,
  relayUrl: z.string(),
  /** This device holds the account key (it created the account): only it can delete the account. */
  primaryDevice: z.boolean(),
});
export type AccountView = z.infer<typeof AccountViewSchema>;

// ── Device linking (ADR 0025) ───────────────────────────────────────────────

/**
 * The new device's side of a link. `offerText` is what the QR code shows and the text to copy;
 * `code` the short code to type on the primary. Both are single-use and expire at `expiresAt`
 * (they let the account's primary device link this one, nothing more). `safetyNumber` (groups of
 * five digits) is the account's, shown from `awaiting-confirmation` on: the person compares it with
 * the primary's before accepting.
 */
export const LinkPhaseSchema = z.enum(['waiting', 'connecting', 'awaiting-confirmation', 'provisioning', 'linked', 'failed', 'cancelled']);
export const LinkStatusViewSchema = z.strictObject({
  phase: LinkPhaseSchema,
  offerText: z.string().max(200),
  code: z.string().max(20),
  expiresAt: TimestampSchema,
  safetyNumber: z.array(z.string().max(5)).max(12).nullable(),
  error: ApiErrorSchema.nullable(),
});
export type LinkStatusView = z.infer<typeof LinkStatusViewSchema>;

/**
 * A device of this account (Settings → Linked devices). `name` only where this device knows it
 * (names travel between the account's devices, docs/protocol.md §20.12). `lastActiveAt`: the
 * start (UTC) of the day the device last connected to the relay, as the relay reports it (day
 * granularity on purpose, ADR 0027); null when unknown (the relay did not answer, or has not seen
 * it since it began to keep this).
 */
export const OwnDeviceViewSchema = z.strictObject({
  deviceId: DeviceIdSchema,
  name: z.string().nullable(),
  addedAt: TimestampSchema,
  lastActiveAt: TimestampSchema.nullable(),
  thisDevice: z.boolean(),
  primary: z.boolean(),
});
export type OwnDeviceView = z.infer<typeof OwnDeviceViewSchema>;

/** What a person chooses to move to a newly linked device (docs/protocol.md §22, ADR 0028). */
export const HistoryChoiceSchema = z.enum(['none', 'recent', 'all']);
export type HistoryChoice = z.infer<typeof HistoryChoiceSchema>;

/**
 * A history transfer on this device (ADR 0028): `sending` on the primary (preparing the archive,
 * uploading, then waiting for the new device), `receiving` on the new device (waiting for the
 * archive, downloading, importing). `deviceId` is the other device. Bytes count the encrypted
 * archive; `messages` the messages exported (sending) or imported (receiving), of `totalMessages`
 * once known. Ends in `done`, `cancelled` (on either device) or `failed` with `error`.
 */
export const HistoryPhaseSchema = z.enum(['preparing', 'uploading', 'waiting', 'downloading', 'importing', 'done', 'cancelled', 'failed']);
export const HistoryTransferViewSchema = z.strictObject({
  transferId: z.string().regex(/^[0-9a-f]{32}$/),
  role: z.enum(['sending', 'receiving']),
  deviceId: DeviceIdSchema,
  scope: z.enum(['recent', 'all']),
  phase: HistoryPhaseSchema,
  bytes: z.number().int().nonnegative(),
  totalBytes: z.number().int().nonnegative().nullable(),
  messages: z.number().int().nonnegative(),
  totalMessages: z.number().int().nonnegative().nullable(),
  error: ApiErrorSchema.nullable(),
});
export type HistoryTransferView = z.infer<typeof HistoryTransferViewSchema>;

/** The primary's view of its link in progress: the account's safety number, as the new device shows it. */
export const AccountSafetyNumberSchema = z.strictObject({ safetyNumber: z.array(z.string().max(5)).max(12) });

export const EngineStateSchema = z.strictObject({
  state: LifecycleStateSchema,
  profile: z.string(),
  /** Whether an OS keychain (Secret Service on Linux) answered; without one, a passphrase is required. */
  keychainAvailable: z.boolean(),
  /** null while no account exists. */
  keyProtection: KeyProtectionSchema.nullable(),
  /** Present only when `state` is 'ready'. */
  account: AccountViewSchema.nullable(),
  /**
   * The account's primary device removed this device (proven by a newer signed device list without
   * it, ADR 0027): its data was wiped and the profile starts over (`needs-account`). Absent otherwise.
   */
  removedFromAccount: z.literal(true).optional(),
  /**
   * A restore from backup was cut off (the app was killed or crashed) before it finished: what it
   * had written was removed, the profile is empty (`needs-account`) and the restore can be started
   * again (ADR 0033). Absent otherwise; `restore:discard` clears it.
   */
  restoreInterrupted: z.literal(true).optional(),
});
export type EngineState = z.infer<typeof EngineStateSchema>;

// ── Backups (docs/protocol.md §25, ADR 0033) ────────────────────────────────

/** What a backup run is doing: writing the backup, then sending it to the relay. */
export const BackupPhaseSchema = z.enum(['writing', 'uploading']);
export const BackupProgressSchema = z.strictObject({
  phase: BackupPhaseSchema,
  /** Bytes written or uploaded so far, and the total when known. */
  bytes: z.number().int().nonnegative(),
  totalBytes: z.number().int().nonnegative().nullable(),
  messages: z.number().int().nonnegative(),
});
export type BackupProgress = z.infer<typeof BackupProgressSchema>;

/** Settings → Backups. Never the recovery words (those cross only in backup:enable and backup:viewWords). */
export const BackupStatusViewSchema = z.strictObject({
  enabled: z.boolean(),
  /** The person confirmed three of the words (backups run only then). */
  confirmed: z.boolean(),
  /** A backup passphrase (the optional second factor) is set. */
  secondFactor: z.boolean(),
  automatic: z.boolean(),
  includeAttachments: z.boolean(),
  /** Only the primary device makes backups. */
  primary: z.boolean(),
  lastBackupAt: z.number().int().nonnegative().nullable(),
  lastBackupBytes: z.number().int().nonnegative().nullable(),
  lastError: ApiErrorSchema.nullable(),
  /** Bytes the attachments on this device would add (shown beside the setting). */
  attachmentBytes: z.number().int().nonnegative(),
  running: BackupProgressSchema.nullable(),
});
export type BackupStatusView = z.infer<typeof BackupStatusViewSchema>;

/** A backup found for restore: when it was made (an old one served by a relay is visible), and whether it needs its passphrase. */
export const BackupInfoSchema = z.strictObject({ createdAt: z.number().int().nonnegative(), needsSecondFactor: z.boolean(), bytes: z.number().int().nonnegative() });
export type BackupInfo = z.infer<typeof BackupInfoSchema>;

export const RestoreProgressSchema = z.strictObject({
  phase: z.enum(['downloading', 'checking', 'importing', 'publishing']),
  bytes: z.number().int().nonnegative(),
  totalBytes: z.number().int().nonnegative().nullable(),
});

// ── Settings ────────────────────────────────────────────────────────────────

export const NOTIFICATION_CONTENTS = ['name-and-message', 'name-only', 'nothing'] as const;
export const NotificationContentSchema = z.enum(NOTIFICATION_CONTENTS);

export const SettingsSchema = z.strictObject({
  readReceipts: z.boolean(),
  typingIndicators: z.boolean(),
  presenceVisible: z.boolean(),
  notifications: NotificationContentSchema,
  /** null: no idle lock. Needs a passphrase-protected database. */
  appLockIdleMinutes: z.number().int().min(MIN_APP_LOCK_MINUTES).max(MAX_APP_LOCK_MINUTES).nullable(),
  /** Local full-text search. Off drops the index; on rebuilds it in the background (search:indexProgress). */
  searchEnabled: z.boolean(),
});
export type Settings = z.infer<typeof SettingsSchema>;

export const DEFAULT_SETTINGS: Settings = Object.freeze({
  readReceipts: true,
  typingIndicators: true,
  presenceVisible: true,
  /** The sender's name only: a message's text is shown on a locked or shared screen only when asked for. */
  notifications: 'name-only',
  appLockIdleMinutes: null,
  searchEnabled: true,
});

// ── Profiles ────────────────────────────────────────────────────────────────

/** This account's own profile (what its contacts see once they have its profile key). */
export const OwnProfileViewSchema = z.strictObject({
  displayName: z.string(),
  about: z.string(),
  /** base64 of the avatar (a square WebP made by the engine's image process); null without one. */
  avatar: base64Schema(MAX_AVATAR_BYTES).nullable(),
});

/**
 * Names a contact's avatar as held now: it changes whenever the picture may have changed, so the
 * renderer fetches the bytes (contacts:getAvatar) only for an id it has not seen. null: no avatar
 * (the renderer shows initials).
 */
export const AvatarIdSchema = z.string().regex(/^[0-9]{1,16}$/).nullable();

/** A contact's avatar bytes (contacts:getAvatar): base64 of a WebP, decoded only by the renderer. */
export const ContactAvatarSchema = z.strictObject({
  avatarId: AvatarIdSchema,
  avatar: base64Schema(MAX_AVATAR_BYTES).nullable(),
});
export type ContactAvatar = z.infer<typeof ContactAvatarSchema>;
export type OwnProfileView = z.infer<typeof OwnProfileViewSchema>;

// ── Contacts ────────────────────────────────────────────────────────────────

export const PresenceSchema = z.strictObject({
  /**
   * `not-shared`: the relay answered that this person does not share presence with us (not a mutual
   * contact, or hiding it); `unknown`: nothing known (this device is offline or has not asked yet).
   * Both are shown as nothing.
   */
  state: z.enum(['online', 'offline', 'not-shared', 'unknown']),
  /** Last time seen online, when the contact shares it. */
  lastSeenAt: TimestampSchema.nullable(),
});
export type Presence = z.infer<typeof PresenceSchema>;

export const ContactViewSchema = z.strictObject({
  id: ContactIdSchema,
  /** '' until known: a person who wrote first is known by the username they claim once the relay confirms it. */
  username: z.string(),
  /** From their encrypted profile, once they shared its key; null before. */
  displayName: z.string().nullable(),
  about: z.string().nullable(),
  /** Their avatar, once a profile with one opened; null: none (initials). */
  avatarId: AvatarIdSchema,
  /** The user added or accepted this person, or wrote to them; false for a message request. */
  accepted: z.boolean(),
  /** Nothing is received from or sent to a blocked person. */
  blocked: z.boolean(),
  /** The user compared safety numbers and marked them verified; resets when the account key changes. */
  verified: z.boolean(),
  /** The account key changed and the user has not accepted it: sending is blocked. */
  keyChangePending: z.boolean(),
  /** Every device on the contact's list is `pq`-capable (sessions use PQXDH). */
  quantumResistant: z.boolean(),
  /** The contact's device list was not re-signed within 30 days ("not confirmed recently"). */
  deviceListStale: z.boolean(),
  deviceCount: CountSchema,
  addedAt: TimestampSchema,
});
export type ContactView = z.infer<typeof ContactViewSchema>;

export const DeviceFingerprintSchema = z.strictObject({
  deviceId: DeviceIdSchema,
  /** 20 hex digits in groups of four. */
  fingerprint: z.string(),
  quantumResistant: z.boolean(),
});

export const SafetyNumberViewSchema = z.strictObject({
  contactId: ContactIdSchema,
  /** 60 digits. */
  digits: z.string().regex(/^[0-9]{60}$/),
  /** The same digits as twelve groups of five. */
  groups: z.array(z.string().regex(/^[0-9]{5}$/)).length(12),
  /** version ‖ local fingerprint ‖ remote fingerprint, base64url (public data, for a QR code). */
  qrPayload: z.string(),
  verified: z.boolean(),
  contactDevices: z.array(DeviceFingerprintSchema),
  ownDevices: z.array(DeviceFingerprintSchema),
});
export type SafetyNumberView = z.infer<typeof SafetyNumberViewSchema>;

// ── Messages ────────────────────────────────────────────────────────────────

export const MESSAGE_STATUSES = ['sending', 'sent', 'delivered', 'read', 'failed'] as const;
export const MessageStatusSchema = z.enum(MESSAGE_STATUSES);
export type MessageStatus = z.infer<typeof MessageStatusSchema>;

/**
 * text: a message with a body. decryption-failed: "a message could not be decrypted" (no body).
 * key-changed: "the safety number with this contact changed" (no body). unsupported: a message of
 * a kind this version cannot show ("This message needs a newer version of Parley", no body).
 * timer-changed: a system line "<who> set disappearing messages to <timer>" (outgoing: this
 * account changed it); `expireTimerSeconds` is the value set, 0 = off. deleted: "This message was
 * deleted" where a message deleted for everyone was (no body).
 */
/*
 * device-linked / device-removed: in the note to self, a change to this account's device list that
 * this device did not make (body: the device's name, or null when unknown). contact-devices-changed:
 * in a contact's conversation, their list gained or lost a device (no body) — ADR 0027.
 */
export const MESSAGE_KINDS = [
  'text',
  'decryption-failed',
  'key-changed',
  'attachment',
  'unsupported',
  'files-unsupported',
  'device-linked',
  'device-removed',
  'contact-devices-changed',
  'timer-changed',
  'deleted',
] as const;
export const MessageKindSchema = z.enum(MESSAGE_KINDS);
export type MessageKind = z.infer<typeof MessageKindSchema>;

/**
 * Where an attachment is. Outgoing: preparing (metadata stripped, encrypted into the spool) →
 * uploading → sent, or failed / cancelled (retry resumes). Incoming: available (at the relay, not
 * fetched) → downloading → downloaded (ciphertext kept here, decrypted only to show or save), or
 * failed (with the reason).
 */
export const ATTACHMENT_STATES = ['preparing', 'uploading', 'sent', 'failed', 'cancelled', 'available', 'downloading', 'downloaded'] as const;
export const AttachmentStateSchema = z.enum(ATTACHMENT_STATES);
export type AttachmentState = z.infer<typeof AttachmentStateSchema>;

/** Why a transfer or an opening failed, for the message in place. */
export const ATTACHMENT_ERRORS = ['too-large', 'quota', 'expired', 'damaged', 'not-found', 'network', 'storage'] as const;
export const AttachmentErrorSchema = z.enum(ATTACHMENT_ERRORS);
export type AttachmentError = z.infer<typeof AttachmentErrorSchema>;

export const AttachmentViewSchema = z.strictObject({
  /** Sanitised for display and saving (never the peer's raw name). */
  fileName: z.string(),
  /** The sender's media type for incoming files (a hint: opening sniffs the bytes), the sniffed one for outgoing. */
  mediaType: z.string(),
  /** Plaintext bytes. */
  size: CountSchema,
  width: z.number().int().min(1).nullable(),
  height: z.number().int().min(1).nullable(),
  /** base64 of a small JPEG or WebP, decoded only by the renderer; null while `withheld`. */
  thumbnail: z.string().nullable(),
  /**
   * An image in a message request that the person has not asked to see: its thumbnail stays in
   * the engine until attachments:reveal, or until they accept the person (docs/adr/0021).
   */
  withheld: z.boolean(),
  /** Sent as a file: the original bytes, metadata kept. */
  original: z.boolean(),
  state: AttachmentStateSchema,
  /** Ciphertext bytes moved so far and in total (progress of the current transfer). */
  transferred: CountSchema,
  total: CountSchema,
  error: AttachmentErrorSchema.nullable(),
  /**
   * The transfer waits for the relay (the connection is down, or the relay stopped answering): not
   * an error. The state stays uploading or downloading, and the engine resumes the transfer from
   * its last committed offset by itself once the relay connection is back.
   */
  paused: z.boolean(),
  /** An executable or a script: opening it asks first. */
  risky: z.boolean(),
});
export type AttachmentView = z.infer<typeof AttachmentViewSchema>;

export const MessageViewSchema = z.strictObject({
  id: MessageIdSchema,
  conversationId: ConversationIdSchema,
  kind: MessageKindSchema,
  direction: z.enum(['incoming', 'outgoing']),
  /** The sending contact, or null for this account's own messages and local notices. */
  senderId: ContactIdSchema.nullable(),
  body: z.string().nullable(),
  /** The sender's clock. */
  sentAt: TimestampSchema,
  receivedAt: TimestampSchema,
  /** Display time: the sender's timestamp clamped to the receive time; pages are ordered by it. */
  displayAt: TimestampSchema,
  /** Outgoing only. */
  status: MessageStatusSchema.nullable(),
  /** Incoming only: the user has seen it. Outgoing and notices: true. */
  read: z.boolean(),
  /** kind 'attachment' only (its caption is the body). */
  attachment: AttachmentViewSchema.optional(),
  /**
   * Disappearing messages (docs/protocol.md §23): a text's or file's own timer in seconds; a
   * timer-changed line's new value (0 = off). Absent or null: untimed.
   */
  expireTimerSeconds: z.number().int().min(0).nullable().optional(),
  /**
   * When a timed message disappears, once its timer runs (outgoing: from the send; incoming: from
   * when it was first shown in a visible, focused window). Null while it has not started.
   */
  expiresAt: TimestampSchema.nullable().optional(),
});
export type MessageView = z.infer<typeof MessageViewSchema>;

/** One recipient device of an outgoing message (Message info). */
export const DeviceDeliverySchema = z.strictObject({
  /** The recipient account (the contact, or this account for its other devices). */
  contactId: ContactIdSchema,
  deviceId: DeviceIdSchema,
  /** sending: not yet accepted by the relay for this device; then sent, delivered, read. */
  status: z.enum(['sending', 'sent', 'delivered', 'read']),
  /** The relay's clock when it accepted this device's copy. */
  sentAt: TimestampSchema.nullable(),
  /** When this device's delivery receipt arrived (a read receipt implies delivery). */
  deliveredAt: TimestampSchema.nullable(),
  readAt: TimestampSchema.nullable(),
});
export type DeviceDelivery = z.infer<typeof DeviceDeliverySchema>;

/**
 * Message info (issue 12): the exact times of one message and, for an outgoing one, its status on
 * every recipient device. Messages sent before per-device statuses existed list no devices.
 */
export const MessageInfoSchema = z.strictObject({
  messageId: MessageIdSchema,
  conversationId: ConversationIdSchema,
  direction: z.enum(['incoming', 'outgoing']),
  /** The sender's clock. */
  sentAt: TimestampSchema,
  /** Incoming: when this device received it. Outgoing: null. */
  receivedAt: TimestampSchema.nullable(),
  /** Outgoing: when the relay first accepted it (the relay's clock); null while sending. */
  acceptedAt: TimestampSchema.nullable(),
  /** Incoming: the sending device. Outgoing: the device of this account that wrote it (null: unknown). */
  senderDeviceId: DeviceIdSchema.nullable(),
  /** Outgoing: the conversation-level status (as the ticks show it). */
  status: MessageStatusSchema.nullable(),
  /** Outgoing: every recipient device, by contact then device id. Incoming: empty. */
  devices: z.array(DeviceDeliverySchema),
});
export type MessageInfo = z.infer<typeof MessageInfoSchema>;

export const MessagePageSchema = z.strictObject({
  /** Oldest first. */
  messages: z.array(MessageViewSchema),
  /** More messages exist before the first / after the last of this page. */
  hasOlder: z.boolean(),
  hasNewer: z.boolean(),
});
export type MessagePage = z.infer<typeof MessagePageSchema>;

// ── Conversations ───────────────────────────────────────────────────────────

export const LastMessageSchema = z.strictObject({
  id: MessageIdSchema,
  kind: MessageKindSchema,
  direction: z.enum(['incoming', 'outgoing']),
  /** The first characters of the body; null for notices. */
  preview: z.string().nullable(),
  displayAt: TimestampSchema,
  status: MessageStatusSchema.nullable(),
});

export const MAX_PREVIEW_LENGTH = 120;

/** direct: with one other person. note-to-self: this account's own notes ("Note to self"). */
export const CONVERSATION_KINDS = ['direct', 'note-to-self'] as const;

export const ConversationViewSchema = z.strictObject({
  id: ConversationIdSchema,
  kind: z.enum(CONVERSATION_KINDS),
  /** The other person; this account's own id for the note to self. */
  contactId: ContactIdSchema,
  /** What to call the conversation: the display name, else the username, else "Unknown …"; "Note to self". */
  title: z.string(),
  /** The person's confirmed username, null while unknown. */
  username: z.string().nullable(),
  /** The person's avatar (contacts:getAvatar); null without one, and for the note to self. */
  avatarId: AvatarIdSchema,
  /**
   * A message request: someone who wrote first and whom the user has not accepted (nor written to).
   * Until accepted they get no receipts, typing or presence, and notifications show no text.
   */
  request: z.boolean(),
  unreadCount: CountSchema,
  lastMessage: LastMessageSchema.nullable(),
  /** The contact's presence (unknown while offline or when the contact hides it). */
  presence: PresenceSchema,
  verified: z.boolean(),
  quantumResistant: z.boolean(),
  /**
   * Sealed sender (ADR 0029): whether this device's messages to the person go without telling the
   * relay who sends them. `sealed`: it holds their delivery token (their profile key); `no-token`:
   * they have not shared their profile key yet (a first message to a stranger); `stale-token`: the
   * relay refused the token held (they rotated their key) until their new key arrives;
   * `unsupported`: a device of theirs runs a build that cannot open sealed envelopes (no `sealed`
   * capability). null for the note to self.
   */
  sealedSender: z.enum(['sealed', 'no-token', 'stale-token', 'unsupported']).nullable(),
  /**
   * Every listed device of the person advertises that it shows files (docs/protocol.md §4.4);
   * false: one is on an older version, and a file sent here comes with a notice saying so.
   */
  showsFiles: z.boolean(),
  /** The conversation's disappearing-message timer in seconds; 0 = off (docs/protocol.md §23). */
  expireTimerSeconds: z.number().int().min(0),
  /**
   * Every listed device of the person and of this account honours timers and delete for everyone
   * (capability `timers`, §4.4); false: turning a timer on or deleting for everyone is refused
   * (TIMERS_UNSUPPORTED).
   */
  showsTimers: z.boolean(),
  keyChangePending: z.boolean(),
  /** Sort key of the conversation list (newest first). */
  lastActivityAt: TimestampSchema,
});
export type ConversationView = z.infer<typeof ConversationViewSchema>;

export const CONNECTION_STATES = ['offline', 'connecting', 'online'] as const;
export const ConnectionStateSchema = z.strictObject({
  state: z.enum(CONNECTION_STATES),
  /** While offline after a failure: when the next attempt is due (ms since the epoch). */
  nextAttemptAt: TimestampSchema.nullable(),
});
export type ConnectionState = z.infer<typeof ConnectionStateSchema>;

// ── Search ──────────────────────────────────────────────────────────────────

/**
 * Where the next search page starts: the display key (display time, message id) of the last result
 * shown. Results are in display order, newest first, so the next page holds strictly older keys.
 */
export const SearchCursorSchema = z.strictObject({
  displayAt: TimestampSchema,
  messageId: MessageIdSchema,
});
export type SearchCursor = z.infer<typeof SearchCursorSchema>;

/** A match inside a snippet: UTF-16 offsets into `text`, start < end. */
export const MatchRangeSchema = z.strictObject({
  start: CountSchema,
  end: CountSchema,
});
export type MatchRange = z.infer<typeof MatchRangeSchema>;

/**
 * Part of a message body around its first match. Plain text plus ranges (sorted, disjoint): the
 * renderer highlights the ranges itself; no markup ever comes from message content.
 */
export const SnippetSchema = z.strictObject({
  text: z.string(),
  ranges: z.array(MatchRangeSchema),
  /** The body continues before / after the snippet (show an ellipsis). */
  truncatedStart: z.boolean(),
  truncatedEnd: z.boolean(),
});
export type Snippet = z.infer<typeof SnippetSchema>;

export const SearchHitSchema = z.strictObject({
  messageId: MessageIdSchema,
  conversationId: ConversationIdSchema,
  direction: z.enum(['incoming', 'outgoing']),
  /** The sending contact, or null for this account's own messages. */
  senderId: ContactIdSchema.nullable(),
  displayAt: TimestampSchema,
  snippet: SnippetSchema,
});
export type SearchHit = z.infer<typeof SearchHitSchema>;

export const SearchPageSchema = z.strictObject({
  /** Newest first. */
  results: z.array(SearchHitSchema),
  /** Pass back for the next (older) page; null when there are no more results. */
  nextCursor: SearchCursorSchema.nullable(),
  /**
   * false while the index is still being rebuilt after search was turned on: the newest messages
   * are indexed first, older ones may be missing from the results until search:indexProgress says 'ready'.
   */
  indexComplete: z.boolean(),
});
export type SearchPage = z.infer<typeof SearchPageSchema>;

/** off: search is turned off (no index). rebuilding: a background rebuild runs. ready: complete. */
export const SEARCH_INDEX_STATES = ['off', 'rebuilding', 'ready'] as const;
export const SearchIndexStateSchema = z.enum(SEARCH_INDEX_STATES);
export type SearchIndexState = z.infer<typeof SearchIndexStateSchema>;

export const SearchIndexProgressSchema = z.strictObject({
  state: SearchIndexStateSchema,
  /** Share of the messages indexed, 0-1 (1 when ready; 0 when off). */
  progress: z.number().min(0).max(1),
});
export type SearchIndexProgress = z.infer<typeof SearchIndexProgressSchema>;
