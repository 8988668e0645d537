/**
 * Events the engine pushes to the renderer, one table from event name to payload schema (the
 * counterpart of contract.ts). Payloads are view models only. The renderer's state classes are the
 * only subscribers; events are hints to update views, and every fact they carry can be re-read with
 * a method call (a renderer that missed events reloads with listConversations / openPage).
 */
import { z } from 'zod';
import { ContactIdSchema, ConversationIdSchema, CountSchema, DeviceIdSchema, MessageIdSchema, TimestampSchema } from './primitives.js';
import {
  BackupProgressSchema,
  ConnectionStateSchema,
  ConversationViewSchema,
  EngineStateSchema,
  LinkStatusViewSchema,
  HistoryTransferViewSchema,
  MessageStatusSchema,
  MessageViewSchema,
  OwnProfileViewSchema,
  PresenceSchema,
  RestoreProgressSchema,
  SearchIndexProgressSchema,
  SettingsSchema,
} from './view-models.js';

export const EVENTS = {
  /** Lifecycle changes the renderer did not ask for (idle app lock, logout elsewhere). */
  'engine:state': EngineStateSchema,
  /** The new device's link moved on (link:start's status, updated). */
  'link:status': LinkStatusViewSchema,
  /** This account's devices changed (linked, removed, renamed, here or on another device): reload devices:list. */
  'devices:changed': z.strictObject({}),
  /** A history transfer moved on (either device; ADR 0028). */
  'history:status': HistoryTransferViewSchema,
  'message:added': z.strictObject({ message: MessageViewSchema }),
  /** Any change of a shown message (read state, body of a notice) — the whole new view. */
  'message:updated': z.strictObject({ message: MessageViewSchema }),
  /** A message left this device ("Delete for me"). */
  'message:removed': z.strictObject({ conversationId: ConversationIdSchema, messageId: MessageIdSchema }),
  /** Delivery status of an outgoing message: sending → sent → delivered → read, or failed. */
  'message:status': z.strictObject({
    conversationId: ConversationIdSchema,
    messageId: MessageIdSchema,
    status: MessageStatusSchema,
  }),
  /** An undecryptable message arrived; a 'decryption-failed' notice was added to the conversation. */
  'message:decryptFailed': z.strictObject({
    conversationId: ConversationIdSchema,
    contactId: ContactIdSchema,
    deviceId: DeviceIdSchema,
    messageId: MessageIdSchema,
    at: TimestampSchema,
  }),
  /** Unread count, last message, flags or presence of a conversation changed. */
  'conversation:updated': z.strictObject({ conversation: ConversationViewSchema }),
  /** A conversation left the list (a deleted message request, a blocked person). */
  'conversation:removed': z.strictObject({ conversationId: ConversationIdSchema }),
  /** Settings changed without the renderer asking (synced from another device of this account). */
  'settings:changed': z.strictObject({ settings: SettingsSchema }),
  /** The own profile changed without the renderer asking (another device of this account changed it). */
  'profile:changed': z.strictObject({ profile: OwnProfileViewSchema }),
  'typing': z.strictObject({ conversationId: ConversationIdSchema, contactId: ContactIdSchema, typing: z.boolean() }),
  'presence': z.strictObject({ contactId: ContactIdSchema, presence: PresenceSchema }),
  'connection': ConnectionStateSchema,
  /** A contact's account key changed: verified status was reset and sending is blocked until accepted. */
  'contact:keyChanged': z.strictObject({ contactId: ContactIdSchema, conversationId: ConversationIdSchema.nullable() }),
  /**
   * The relay served a device list for a contact that was refused: older than one already seen
   * (rollback), a second list under a version already seen (equivocation), a signature that does
   * not verify, or a list of another account. The stored list stays; sends that need it fail.
   */
  'contact:untrustedDeviceList': z.strictObject({
    contactId: ContactIdSchema,
    reason: z.enum(['rollback', 'equivocation', 'bad-signature', 'wrong-account']),
  }),
  /** Bytes of an attachment transfer moved (throttled to a few per second); state changes come as message:updated. */
  'attachment:progress': z.strictObject({
    conversationId: ConversationIdSchema,
    messageId: MessageIdSchema,
    transferred: CountSchema,
    total: CountSchema,
    /** Over the last seconds of this transfer. */
    bytesPerSecond: CountSchema,
  }),
  /** The search index was dropped (setting off), is being rebuilt (progress, throttled) or is complete. */
  'search:indexProgress': SearchIndexProgressSchema,
  /**
   * A passphrase change is re-encrypting the database under its new key: pages done of the total
   * (a few reports a second; the last has done = total). account:setPassphrase answers after it.
   */
  'account:rekeyProgress': z.strictObject({ done: CountSchema, total: CountSchema }),
  /** A backup run's progress (Back up now, automatic, export); `backup:status` tells how it ended. */
  'backup:progress': BackupProgressSchema,
  /** The restore's progress (onboarding "Restore from backup"). */
  'restore:progress': RestoreProgressSchema,
} as const satisfies Record<string, z.ZodType>;

export type Events = typeof EVENTS;
export type EventName = keyof Events;

export const EVENT_NAMES = Object.keys(EVENTS) as EventName[];
