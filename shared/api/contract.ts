/**
 * The renderer↔engine contract (DESIGN §2, §4, STYLE "IPC"): ONE table mapping each channel name to
 * the bridge method that carries it, its request schema and its response schema. Hosts (the
 * Electron preload + main, the browser host) derive everything from this table; no channel name is
 * written anywhere else. Requests are strict objects (unknown keys refused) and carry no transforms,
 * so a request's input and output types are equal and every schema renders as JSON Schema.
 *
 * Later issues add channels here (groups:*, files:*, backup:*) — a new row each; no
 * existing row changes meaning. Not owned here: event payloads (events.ts), validation and dispatch
 * (electron/engine/dispatch.ts), the preload's one-function-per-channel bridge (issue 5).
 */
import { z } from 'zod';
import {
  AboutInputSchema,
  ContactIdSchema,
  ConversationIdSchema,
  CountSchema,
  DeviceIdSchema,
  DisplayNameInputSchema,
  MAX_MESSAGE_BODY_INPUT,
  MAX_PAGE_SIZE,
  MAX_SEARCH_PAGE_SIZE,
  MAX_ATTACHMENT_CHUNK_BYTES,
  MAX_AVATAR_PICTURE_BYTES,
  MAX_CAPTION_BYTES,
  MAX_EXPIRE_TIMER_SECONDS,
  MAX_FILE_NAME_INPUT,
  MAX_SEARCH_QUERY_LENGTH,
  base64Schema,
  MessageIdSchema,
  PassphraseInputSchema,
  RelayUrlSchema,
  UsernameInputSchema,
} from './primitives.js';
import {
  AccountSafetyNumberSchema,
  AccountViewSchema,
  BackupInfoSchema,
  BackupStatusViewSchema,
  LinkStatusViewSchema,
  HistoryChoiceSchema,
  HistoryTransferViewSchema,
  OwnDeviceViewSchema,
  ContactAvatarSchema,
  ContactViewSchema,
  ConversationViewSchema,
  EngineStateSchema,
  MessageInfoSchema,
  MessagePageSchema,
  MessageViewSchema,
  OwnProfileViewSchema,
  SafetyNumberViewSchema,
  SearchCursorSchema,
  SearchPageSchema,
  SettingsSchema,
} from './view-models.js';

const Empty = z.strictObject({});

/** Where a page starts: the newest messages, or relative to a message (keyset, never an offset). */
export const PageAnchorSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('latest') }),
  z.strictObject({ kind: z.literal('before'), messageId: MessageIdSchema }),
  z.strictObject({ kind: z.literal('after'), messageId: MessageIdSchema }),
  /** The message itself with up to limit/2 messages on each side (jump to a reply or search hit). */
  z.strictObject({ kind: z.literal('around'), messageId: MessageIdSchema }),
]);
export type PageAnchor = z.infer<typeof PageAnchorSchema>;

export const CONTRACT = {
  'app:getState': { method: 'getState', request: Empty, response: EngineStateSchema },
  /**
   * The person used this window (keyboard, pointer, focus): the one thing that restarts the app
   * lock's idle countdown. No other request counts — the renderer makes some on its own (a message
   * arriving in the open chat is marked read), and those a contact can cause must not keep an
   * unattended window unlocked.
   */
  'app:activity': { method: 'reportActivity', request: Empty, response: z.null() },

  // ── Account and database protection ──
  'account:create': {
    method: 'createAccount',
    request: z.strictObject({
      username: UsernameInputSchema,
      relayUrl: RelayUrlSchema,
      /** Protect the database with a passphrase instead of the OS keychain (required without one). */
      passphrase: PassphraseInputSchema.optional(),
      /** The name contacts see (encrypted: the relay never does); the username when absent. */
      displayName: DisplayNameInputSchema.optional(),
    }),
    response: AccountViewSchema,
  },
  'account:unlock': {
    method: 'unlock',
    request: z.strictObject({ passphrase: PassphraseInputSchema }),
    response: EngineStateSchema,
  },
  'account:setPassphrase': {
    method: 'setPassphrase',
    request: z.strictObject({
      /** The new passphrase, or null to move the key back into the OS keychain. */
      passphrase: PassphraseInputSchema.nullable(),
      /** Required when a passphrase is set already. */
      currentPassphrase: PassphraseInputSchema.optional(),
    }),
    response: EngineStateSchema,
  },
  'account:lock': { method: 'lock', request: Empty, response: EngineStateSchema },
  /**
   * Log out this device: unregisters it at the relay and deletes everything on it. The account, its
   * username and its other devices stay.
   */
  'account:logout': { method: 'logout', request: Empty, response: EngineStateSchema },
  /**
   * Delete the account (the primary device only: it signs with the account key): the relay removes
   * the account, every device and every undelivered message and holds the username for 30 days;
   * then this device is wiped as at logout. NOT_PRIMARY_DEVICE on a linked device.
   */
  'account:delete': { method: 'deleteAccount', request: Empty, response: EngineStateSchema },

  // ── Device linking (DESIGN §3.11, ADR 0025) ──
  /** New device: create the channel and the offer (QR/text) and short code; progress comes as link:status events. */
  'link:start': { method: 'startLink', request: z.strictObject({ relayUrl: RelayUrlSchema }), response: LinkStatusViewSchema },
  /** New device: the link in progress (null when none). */
  'link:status': { method: 'linkStatus', request: Empty, response: LinkStatusViewSchema.nullable() },
  /**
   * New device: the person compared the account's safety number and accepts. Resolves when this
   * device holds its place in the account's device list and is ready (the lifecycle becomes ready).
   */
  'link:accept': {
    method: 'acceptLink',
    request: z.strictObject({
      /** What this device is called in Linked devices ("Alice's desktop"). */
      deviceName: DisplayNameInputSchema,
      passphrase: PassphraseInputSchema.optional(),
    }),
    response: AccountViewSchema,
  },
  'link:cancel': { method: 'cancelLink', request: Empty, response: z.null() },
  /** This account's devices (Settings → Linked devices). */
  'devices:list': { method: 'listDevices', request: Empty, response: z.array(OwnDeviceViewSchema) },
  /** The account's safety number as a new device shows it before it accepts. */
  'devices:accountSafetyNumber': { method: 'accountSafetyNumber', request: Empty, response: AccountSafetyNumberSchema },
  /**
   * Primary: link the new device behind a scanned or pasted offer, or a typed short code. Resolves
   * when the new device got its provisioning; LINK_* or TOO_MANY_DEVICES otherwise.
   */
  'devices:link': {
    method: 'linkDevice',
    request: z.union([
      z.strictObject({ offerText: z.string().min(1).max(400), history: HistoryChoiceSchema.optional() }),
      z.strictObject({ code: z.string().min(1).max(40), history: HistoryChoiceSchema.optional() }),
    ]),
    response: OwnDeviceViewSchema,
  },
  /**
   * Renames a device of this account (ADR 0027): the primary any device, another device only
   * itself (NOT_PRIMARY_DEVICE). The name travels to the account's other devices. NOT_FOUND for a
   * device not on the list, INVALID_DEVICE_NAME for an empty, over-long or hostile name.
   */
  'devices:rename': {
    method: 'renameDevice',
    request: z.strictObject({ deviceId: DeviceIdSchema, name: DisplayNameInputSchema }),
    response: z.array(OwnDeviceViewSchema),
  },
  /**
   * Primary only: removes another device — the list is re-signed without it and published, the relay
   * drops the device's sessions, tokens and mailbox, and the device wipes itself once it sees the
   * proof. NOT_PRIMARY_DEVICE, NOT_FOUND, CANNOT_REMOVE_THIS_DEVICE (the primary itself).
   */
  'devices:remove': { method: 'removeDevice', request: z.strictObject({ deviceId: DeviceIdSchema }), response: z.array(OwnDeviceViewSchema) },
  /** History transfers on this device, newest first (progress comes as history:status events; ADR 0028). */
  'history:list': { method: 'listHistoryTransfers', request: Empty, response: z.array(HistoryTransferViewSchema) },
  /** Cancels a history transfer on either device: the other device is told, the upload is deleted, nothing is imported. */
  'history:cancel': { method: 'cancelHistoryTransfer', request: z.strictObject({ transferId: z.string().regex(/^[0-9a-f]{32}$/) }), response: z.null() },

  // ── Backups (docs/protocol.md §25, ADR 0033; only the primary device makes them) ──
  'backup:status': { method: 'backupStatus', request: Empty, response: BackupStatusViewSchema },
  /**
   * Turns backups on with a new recovery key and answers its 24 words — the one time they cross to
   * the renderer besides backup:viewWords. Backups run once three of them are confirmed.
   */
  'backup:enable': { method: 'enableBackups', request: Empty, response: z.strictObject({ words: z.array(z.string().max(16)).length(24) }) },
  /** The person types three of the words back (positions 1-24): BACKUP_WORDS_MISMATCH otherwise. */
  'backup:confirm': {
    method: 'confirmBackupWords',
    request: z.strictObject({ answers: z.array(z.strictObject({ position: z.number().int().min(1).max(24), word: z.string().max(64) })).length(3) }),
    response: BackupStatusViewSchema,
  },
  /** Sets the optional second factor (null removes it); the next backup uses it. */
  'backup:setPassphrase': { method: 'setBackupPassphrase', request: z.strictObject({ passphrase: PassphraseInputSchema.nullable() }), response: BackupStatusViewSchema },
  'backup:configure': {
    method: 'configureBackups',
    request: z.strictObject({ automatic: z.boolean().optional(), includeAttachments: z.boolean().optional() }),
    response: BackupStatusViewSchema,
  },
  /** Back up now (to the relay): progress comes as backup:progress events; resolves when it ended. */
  'backup:run': { method: 'runBackup', request: Empty, response: BackupStatusViewSchema },
  'backup:cancel': { method: 'cancelBackup', request: Empty, response: BackupStatusViewSchema },
  /** Writes a backup to a file the host chose (an absolute path); the same bytes a relay would hold. */
  'backup:export': { method: 'exportBackup', request: z.strictObject({ path: z.string().min(1).max(4096) }), response: BackupStatusViewSchema },
  /** The recovery words again; needs the app passphrase when the database has one. */
  'backup:viewWords': {
    method: 'viewRecoveryWords',
    request: z.strictObject({ passphrase: PassphraseInputSchema.optional() }),
    response: z.strictObject({ words: z.array(z.string().max(16)).length(24) }),
  },
  /** Turns backups off and deletes the relay's copy. */
  'backup:disable': { method: 'disableBackups', request: Empty, response: BackupStatusViewSchema },

  // ── Restore (onboarding "Restore from backup"; the profile must be empty) ──
  /** Finds the backup of these words at the relay, or reads the file: when it was made, whether it needs a passphrase. */
  'restore:inspect': {
    method: 'inspectBackup',
    request: z.strictObject({ words: z.string().min(1).max(1024), relayUrl: RelayUrlSchema.optional(), file: z.string().min(1).max(4096).optional() }),
    response: BackupInfoSchema,
  },
  /**
   * Restores onto this empty profile: a new device of the account (a new device id, the device list
   * re-signed with the restored account key), fresh sessions with every contact. Nothing is kept
   * unless all of the backup checks out.
   */
  'restore:start': {
    method: 'restoreBackup',
    request: z.strictObject({
      words: z.string().min(1).max(1024),
      relayUrl: RelayUrlSchema.optional(),
      file: z.string().min(1).max(4096).optional(),
      /** The backup's passphrase, when it has one. */
      backupPassphrase: z.string().min(1).max(1024).optional(),
      /** Protect this device's database with a passphrase instead of the OS keychain. */
      passphrase: PassphraseInputSchema.optional(),
    }),
    response: AccountViewSchema,
  },
  /** Clears the "restore was interrupted" notice (the partial restore was already removed at start). */
  'restore:discard': { method: 'discardRestore', request: Empty, response: EngineStateSchema },

  // ── Own profile (docs/protocol.md §18) ──
  'profile:get': { method: 'getProfile', request: Empty, response: OwnProfileViewSchema },
  /** Changes the profile: uploaded encrypted, and the contacts that hold the profile key are told. */
  'profile:set': {
    method: 'setProfile',
    request: z.strictObject({ displayName: DisplayNameInputSchema, about: AboutInputSchema }),
    response: OwnProfileViewSchema,
  },
  /**
   * Sets the avatar from the bytes of a picture the user chose (null removes it): cropped to a
   * square, at most 512 px, re-encoded as WebP without any metadata in the keyless image process,
   * then uploaded inside the encrypted profile and told to contacts like a changed name.
   * INVALID_IMAGE for a file that is not a readable picture or has too many pixels.
   */
  'profile:setAvatar': {
    method: 'setAvatar',
    request: z.strictObject({ picture: base64Schema(MAX_AVATAR_PICTURE_BYTES).nullable() }),
    response: OwnProfileViewSchema,
  },

  // ── Contacts ──
  'contacts:add': {
    method: 'addContact',
    request: z.strictObject({ username: UsernameInputSchema }),
    response: ContactViewSchema,
  },
  'contacts:list': { method: 'listContacts', request: Empty, response: z.array(ContactViewSchema) },
  /** A contact's avatar as held now (from the newest profile opened with their key). */
  'contacts:getAvatar': {
    method: 'getAvatar',
    request: z.strictObject({ contactId: ContactIdSchema }),
    response: ContactAvatarSchema,
  },
  'contacts:getSafetyNumber': {
    method: 'getSafetyNumber',
    request: z.strictObject({ contactId: ContactIdSchema }),
    response: SafetyNumberViewSchema,
  },
  'contacts:markVerified': {
    method: 'markVerified',
    request: z.strictObject({ contactId: ContactIdSchema, verified: z.boolean() }),
    response: ContactViewSchema,
  },
  'contacts:acceptKeyChange': {
    method: 'acceptKeyChange',
    request: z.strictObject({ contactId: ContactIdSchema }),
    response: ContactViewSchema,
  },

  // ── Message requests and blocking (ADR 0019) ──
  /**
   * Accepts a message request: from now on this person gets receipts (the held ones too), typing,
   * presence (once mutual) and this account's profile key.
   */
  'contacts:accept': {
    method: 'acceptRequest',
    request: z.strictObject({ contactId: ContactIdSchema }),
    response: ConversationViewSchema,
  },
  /** Deletes a message request and its messages; if they write again, a new request appears. */
  'contacts:deleteRequest': {
    method: 'deleteRequest',
    request: z.strictObject({ contactId: ContactIdSchema }),
    response: z.null(),
  },
  /**
   * Blocks (or unblocks) a person: their messages are dropped on arrival, nothing is sent to them,
   * their conversation leaves the list, and blocking gives this account a new profile key (shared
   * with every other contact that held the old one). Unblocking an accepted contact sends them the
   * current key at once (ADR 0022).
   */
  'contacts:setBlocked': {
    method: 'setBlocked',
    request: z.strictObject({ contactId: ContactIdSchema, blocked: z.boolean() }),
    response: ContactViewSchema,
  },
  'contacts:listBlocked': { method: 'listBlocked', request: Empty, response: z.array(ContactViewSchema) },

  // ── Conversations and messages ──
  'conversations:list': { method: 'listConversations', request: Empty, response: z.array(ConversationViewSchema) },
  /**
   * The conversation with a username: a contact (added, as contacts:add, if new), or "Note to self"
   * for this account's own username.
   */
  'conversations:start': {
    method: 'startConversation',
    request: z.strictObject({ username: UsernameInputSchema }),
    response: ConversationViewSchema,
  },
  /**
   * Deletes a conversation from this device: its messages (with their search entries), their
   * attachment files (sent and received ciphertext, partial downloads, decrypted copies; transfers
   * stopped first) and the conversation itself. Nothing is sent: the person keeps their copy and
   * stays a contact; a new message from them starts a new conversation.
   */
  'conversations:delete': {
    method: 'deleteConversation',
    request: z.strictObject({ conversationId: ConversationIdSchema }),
    response: z.null(),
  },
  'messages:openPage': {
    method: 'openPage',
    request: z.strictObject({
      conversationId: ConversationIdSchema,
      anchor: PageAnchorSchema,
      limit: z.number().int().min(1).max(MAX_PAGE_SIZE),
    }),
    response: MessagePageSchema,
  },
  'messages:send': {
    method: 'send',
    request: z.strictObject({
      conversationId: ConversationIdSchema,
      body: z.string().min(1).max(MAX_MESSAGE_BODY_INPUT),
    }),
    response: MessageViewSchema,
  },
  'messages:retry': {
    method: 'retry',
    request: z.strictObject({ messageId: MessageIdSchema }),
    response: MessageViewSchema,
  },
  /** Message info: exact times and, for an outgoing message, the status on each recipient device. */
  'messages:info': {
    method: 'messageInfo',
    request: z.strictObject({ messageId: MessageIdSchema }),
    response: MessageInfoSchema,
  },
  /**
   * Delete for me: the message leaves this device only (its row, its search index entries, its
   * attachment's files). The peer is not told and keeps their copy. A send still queued stops.
   */
  'messages:deleteForMe': {
    method: 'deleteForMe',
    request: z.strictObject({ messageId: MessageIdSchema }),
    response: z.null(),
  },
  /**
   * Delete for everyone (docs/protocol.md §23.3): one of this account's own texts or files, within
   * 24 hours of sending (DELETE_WINDOW_PASSED after; NOT_DELETABLE for anything else). It leaves
   * this device as expiry removes it, "This message was deleted" stays in its place, and every
   * recipient device is asked to do the same.
   */
  'messages:deleteForEveryone': {
    method: 'deleteForEveryone',
    request: z.strictObject({ messageId: MessageIdSchema }),
    response: z.null(),
  },
  /**
   * The conversation's disappearing-message timer (docs/protocol.md §23.2): 0 = off, else 1 s …
   * 4 weeks (a preset or a custom value). The person is told (a system line on both sides);
   * turning a timer on is refused with TIMERS_UNSUPPORTED while a device cannot honour it.
   */
  'conversations:setTimer': {
    method: 'setTimer',
    request: z.strictObject({ conversationId: ConversationIdSchema, seconds: z.number().int().min(0).max(MAX_EXPIRE_TIMER_SECONDS) }),
    response: ConversationViewSchema,
  },
  'messages:markRead': {
    method: 'markRead',
    request: z.strictObject({ conversationId: ConversationIdSchema, upToMessageId: MessageIdSchema }),
    response: z.strictObject({ unreadCount: CountSchema }),
  },
  'conversations:setTyping': {
    method: 'setTyping',
    request: z.strictObject({ conversationId: ConversationIdSchema, typing: z.boolean() }),
    response: z.null(),
  },

  // ── Attachments (issue 13) ──
  /**
   * Starts handing a file to the engine: its name and size. A file larger than the relay accepts is
   * refused here (ATTACHMENT_TOO_LARGE), before any byte moves.
   */
  'attachments:stage': {
    method: 'stageAttachment',
    request: z.strictObject({ name: z.string().max(MAX_FILE_NAME_INPUT), size: CountSchema }),
    response: z.strictObject({ stageId: z.string().regex(/^[0-9a-f]{32}$/) }),
  },
  /** The next piece of a staged file, at `offset` (= the bytes received so far). */
  'attachments:write': {
    method: 'writeAttachment',
    request: z.strictObject({ stageId: z.string().regex(/^[0-9a-f]{32}$/), offset: CountSchema, data: base64Schema(MAX_ATTACHMENT_CHUNK_BYTES) }),
    response: z.strictObject({ received: CountSchema }),
  },
  /**
   * Sends a fully staged file: images are re-encoded without their metadata (unless `asFile`, which
   * sends the original bytes, metadata kept), then encrypted once and uploaded in the background.
   */
  'attachments:send': {
    method: 'sendAttachment',
    request: z.strictObject({
      conversationId: ConversationIdSchema,
      stageId: z.string().regex(/^[0-9a-f]{32}$/),
      caption: z.string().max(MAX_CAPTION_BYTES),
      asFile: z.boolean(),
    }),
    response: MessageViewSchema,
  },
  /** Stops an upload (the relay deletes the partial upload at once) or a download. */
  'attachments:cancel': { method: 'cancelAttachment', request: z.strictObject({ messageId: MessageIdSchema }), response: MessageViewSchema },
  /** Resumes a failed or cancelled upload or download from where it stopped. */
  'attachments:retry': { method: 'retryAttachment', request: z.strictObject({ messageId: MessageIdSchema }), response: MessageViewSchema },
  /**
   * Shows an image of a message request: its thumbnail reaches the renderer only after the person
   * asked (until then the view says `withheld`); accepting the person shows them all.
   */
  'attachments:reveal': { method: 'revealAttachment', request: z.strictObject({ messageId: MessageIdSchema }), response: MessageViewSchema },
  /**
   * Makes an attachment readable: downloads it if needed (progress events), decrypts and verifies
   * it; only then are its bytes released to attachments:read. Answers the sniffed media type.
   */
  'attachments:open': {
    method: 'openAttachment',
    request: z.strictObject({ messageId: MessageIdSchema }),
    response: z.strictObject({ size: CountSchema, mediaType: z.string(), fileName: z.string(), risky: z.boolean() }),
  },
  /** Bytes of an opened attachment; the decrypted copy is deleted once its last byte is read. */
  'attachments:read': {
    method: 'readAttachment',
    request: z.strictObject({ messageId: MessageIdSchema, offset: CountSchema, length: z.number().int().min(1).max(MAX_ATTACHMENT_CHUNK_BYTES) }),
    response: z.strictObject({ data: base64Schema(MAX_ATTACHMENT_CHUNK_BYTES), eof: z.boolean() }),
  },

  // ── Search (issue 6) ──
  'search:query': {
    method: 'search',
    request: z.strictObject({
      /**
       * Plain text, never query syntax: white space separates terms, every term must match
       * (3+ characters anywhere in a message, shorter ones at a word start), ignoring case and accents.
       */
      query: z.string().max(MAX_SEARCH_QUERY_LENGTH),
      /** Only this conversation's messages. */
      conversationId: ConversationIdSchema.optional(),
      /** The previous page's nextCursor; absent for the newest results. */
      cursor: SearchCursorSchema.optional(),
      limit: z.number().int().min(1).max(MAX_SEARCH_PAGE_SIZE),
    }),
    response: SearchPageSchema,
  },

  // ── Settings ──
  'settings:get': { method: 'getSettings', request: Empty, response: SettingsSchema },
  'settings:set': { method: 'setSettings', request: SettingsSchema.partial(), response: SettingsSchema },
} as const satisfies Record<string, { readonly method: string; readonly request: z.ZodType; readonly response: z.ZodType }>;

export type Contract = typeof CONTRACT;
export type Channel = keyof Contract;

export const CHANNELS = Object.keys(CONTRACT) as Channel[];

export function isChannel(name: unknown): name is Channel {
  return typeof name === 'string' && Object.hasOwn(CONTRACT, name);
}
