/**
 * WebSocket frames of the live channel (WS_PATH): JSON text frames, one object each, discriminated
 * by `type`. Client frames are strict (unknown fields are MALFORMED); server frames are lenient for
 * forward compatibility. Close codes the relay uses are here too, with what a client should do.
 *
 * Flow: connect → `auth` (first frame, within WS_AUTH_TIMEOUT_MS) → `ready` → the mailbox backlog as
 * `envelope` frames → `backlog-end` → live `envelope`s. `ack` deletes envelopes by seq (they are
 * redelivered on the next connection until acked); `send` is answered with `sent` only after commit.
 * Does not own REST bodies (rest.ts) or the error vocabulary (errors.ts).
 */
import { z } from 'zod';
import { ErrorFrameSchema } from './errors.js';
import { MAX_ACK_BATCH, MAX_ENVELOPE_CONTENT, MAX_PRESENCE_QUERY } from './limits.js';
import {
  AccountIdSchema,
  bytesField,
  DeviceIdSchema,
  RequestIdSchema,
  SeqSchema,
  TimestampSchema,
} from './primitives.js';
import { MessagesSchema, PresenceEntrySchema, SessionTokenSchema } from './rest.js';
import { MAX_SEALED_ENVELOPE_BYTES } from './sealed.js';

// ── Client → relay ───────────────────────────────────────────────────────────

export const AuthFrameSchema = z.strictObject({ type: z.literal('auth'), token: SessionTokenSchema });

export const SendFrameSchema = z.strictObject({
  type: z.literal('send'),
  id: RequestIdSchema,
  to: AccountIdSchema,
  messages: MessagesSchema,
});

/** `id` is optional: with it the relay confirms (`acked`) once the deletion is committed. */
export const AckFrameSchema = z.strictObject({
  type: z.literal('ack'),
  id: RequestIdSchema.optional(),
  seqs: z.array(SeqSchema).min(1).max(MAX_ACK_BATCH),
});

export const PresenceQueryFrameSchema = z.strictObject({
  type: z.literal('presence-query'),
  id: RequestIdSchema,
  accounts: z.array(AccountIdSchema).min(1).max(MAX_PRESENCE_QUERY),
});

export const PingFrameSchema = z.strictObject({ type: z.literal('ping'), id: RequestIdSchema });

/**
 * Typing is E2E content sent sealed and online-only (POST /v1/sealed with `online: true`, §21): the
 * relay's own `typing` frame, which named the sender, was retired (issue 15); a client sending one
 * gets UNSUPPORTED_FRAME like any unknown type.
 */
export const CLIENT_FRAME_TYPES = ['auth', 'send', 'ack', 'presence-query', 'ping'] as const;
export type ClientFrameType = (typeof CLIENT_FRAME_TYPES)[number];

export const ClientFrameSchema = z.discriminatedUnion('type', [
  AuthFrameSchema,
  SendFrameSchema,
  AckFrameSchema,
  PresenceQueryFrameSchema,
  PingFrameSchema,
]);
export type ClientFrame = z.output<typeof ClientFrameSchema>;
export type ClientFrameInput = z.input<typeof ClientFrameSchema>;

// ── Relay → client ───────────────────────────────────────────────────────────

export const ReadyFrameSchema = z.object({
  type: z.literal('ready'),
  wireVersion: z.number().int(),
  accountId: AccountIdSchema,
  deviceId: DeviceIdSchema,
  serverTime: TimestampSchema,
});

export const EnvelopeSourceSchema = z.object({ accountId: AccountIdSchema, deviceId: DeviceIdSchema });
/** `source` is null for sealed-sender envelopes (docs/protocol.md §21): the content is a SealedEnvelope. */
export const EnvelopeFrameSchema = z.object({
  type: z.literal('envelope'),
  seq: SeqSchema,
  source: EnvelopeSourceSchema.nullable(),
  serverTimestamp: TimestampSchema,
  content: bytesField({ min: 1, max: Math.max(MAX_ENVELOPE_CONTENT, MAX_SEALED_ENVELOPE_BYTES) }),
});
/**
 * An online-only sealed envelope (typing, §21): relayed to the device's open sockets as it arrives,
 * never stored, never acknowledged; lost when no socket is open.
 */
export const EphemeralFrameSchema = z.object({
  type: z.literal('ephemeral'),
  serverTimestamp: TimestampSchema,
  content: bytesField({ min: 1, max: MAX_SEALED_ENVELOPE_BYTES }),
});
export type Envelope = Omit<z.output<typeof EnvelopeFrameSchema>, 'type'>;

export const BacklogEndFrameSchema = z.object({ type: z.literal('backlog-end') });
export const SentFrameSchema = z.object({ type: z.literal('sent'), ref: RequestIdSchema, serverTimestamp: TimestampSchema });
export const AckedFrameSchema = z.object({ type: z.literal('acked'), ref: RequestIdSchema });
/**
 * A contact's presence changed. `shared: false` (issue 12): the account no longer shares presence
 * with the receiver (it hid its presence, or the two are no longer mutual contacts) — shown as
 * nothing, never as "offline". Absent means shared (relays before issue 12).
 */
export const PresenceEventFrameSchema = z.object({
  type: z.literal('presence'),
  accountId: AccountIdSchema,
  online: z.boolean(),
  shared: z.boolean().optional(),
});
export const PresenceSnapshotFrameSchema = z.object({
  type: z.literal('presence-snapshot'),
  ref: RequestIdSchema,
  entries: z.array(PresenceEntrySchema),
});
export const PongFrameSchema = z.object({ type: z.literal('pong'), ref: RequestIdSchema, serverTime: TimestampSchema });

export const ServerFrameSchema = z.discriminatedUnion('type', [
  ReadyFrameSchema,
  EnvelopeFrameSchema,
  EphemeralFrameSchema,
  BacklogEndFrameSchema,
  SentFrameSchema,
  AckedFrameSchema,
  PresenceEventFrameSchema,
  PresenceSnapshotFrameSchema,
  PongFrameSchema,
  ErrorFrameSchema,
]);
export type ServerFrame = z.output<typeof ServerFrameSchema>;

// ── Close codes ──────────────────────────────────────────────────────────────

/**
 * Close codes beyond RFC 6455's: 1001 (relay draining: reconnect with backoff), 1007 (invalid
 * UTF-8), 1009 (frame over maxPayload) and 1011 come from the protocol itself.
 */
export const CloseCode = {
  /** The auth frame was missing, malformed, or its token invalid or expired: get a new token, reconnect. */
  Unauthorized: 4401,
  /** No auth frame within WS_AUTH_TIMEOUT_MS. */
  AuthTimeout: 4408,
  /** The device was removed from the list, unregistered, or its account deleted: do not reconnect. */
  DeviceGone: 4410,
  /** Too many connections for the device, or a sustained flood: back off, then reconnect. */
  TooManyConnections: 4429,
  /** Sustained hostile input (flood after RATE_LIMITED warnings). */
  PolicyViolation: 1008,
  GoingAway: 1001,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
