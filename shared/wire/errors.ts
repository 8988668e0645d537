/**
 * The relay's error vocabulary (DESIGN §5): one closed set of codes shared by REST bodies and
 * WebSocket error frames, their HTTP statuses, and the zod schemas a client (and the hostile-input
 * tests) validate every error reply with. Does not own the messages' wording beyond a length cap:
 * messages are for logs and humans, clients switch on `code`.
 */
import { z } from 'zod';
import { MAX_DEVICE_LIST_WIRE_BYTES } from './limits.js';
import { DeviceIdSchema } from './primitives.js';
import { MAX_SEALED_ACCOUNTS_PER_UPLOAD } from './sealed.js';

export const ERROR_CODES = [
  /** A body or frame that does not parse, or fails its schema (bad base64url, wrong length, unknown field). */
  'MALFORMED',
  /** No, an expired, or an invalid session token; a failed challenge (replayed, forged, stale). */
  'UNAUTHORIZED',
  /** Authenticated, but not allowed to do this. */
  'FORBIDDEN',
  /** No such account, device, route or prekey bundle. */
  'NOT_FOUND',
  /** The normalised username belongs to another account, or was released less than 30 days ago. */
  'USERNAME_TAKEN',
  /** The username is not 3-32 of [a-z0-9_.] after NFKC and lowercasing. */
  'INVALID_USERNAME',
  /** The account id is registered already, or belonged to a deleted account. */
  'ACCOUNT_EXISTS',
  /** A device list, prekey or account-key statement whose signature does not verify. */
  'BAD_SIGNATURE',
  /** A device list whose version is not higher than the stored one. */
  'STALE_VERSION',
  /** A device list naming more than MAX_DEVICES_PER_ACCOUNT devices. */
  'TOO_MANY_DEVICES',
  /**
   * A send that does not name exactly the recipient's current devices (details: missing, stale; for
   * a multi-account sealed upload, `accounts`: each account whose list is not matched, with its own).
   */
  'MISMATCHED_DEVICES',
  /** A body or frame larger than its limit. */
  'PAYLOAD_TOO_LARGE',
  /** A rate limit was hit (details: retryAfterMs). */
  'RATE_LIMITED',
  /** The device already holds MAX_CONNECTIONS_PER_DEVICE live connections. */
  'TOO_MANY_CONNECTIONS',
  /** A frame type the relay does not know, or a binary frame. */
  'UNSUPPORTED_FRAME',
  /** An upload would store more one-time prekeys of a kind for the device than the relay keeps. */
  'TOO_MANY_PREKEYS',
  /** A recipient device's mailbox holds the relay's maximum of undelivered envelopes (details: retryAfterMs). */
  'MAILBOX_FULL',
  /** The relay is draining or overloaded (details: retryAfterMs). */
  'UNAVAILABLE',
  /** An attachment upload declaring more bytes than the relay's maximum (announced in /.well-known/parley). */
  'ATTACHMENT_TOO_LARGE',
  /** An attachment upload that would take the account past its storage quota. */
  'QUOTA_EXCEEDED',
  /** An account with as many unfinished uploads as the relay allows at once. */
  'TOO_MANY_UPLOADS',
  /** An attachment past its retention (30 days after upload by default): deleted. */
  'ATTACHMENT_EXPIRED',
  /** A provisioning channel past its lifetime (a few minutes): the new device starts over. */
  'CHANNEL_EXPIRED',
  /** A provisioning channel already joined (one guess per channel), or carrying its maximum of messages. */
  'CHANNEL_FULL',
  /** An account that started as many device links as the relay allows in its window (details: retryAfterMs). */
  'LINK_ATTEMPTS_EXCEEDED',
  /**
   * The device was removed from its account by a newer signed list (ADR 0027); answered to its
   * signed session request only, with that list (details: deviceList) as the proof it checks.
   */
  'DEVICE_REMOVED',
  /** A bug on the relay; the request may be retried. */
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export const ErrorCodeSchema = z.enum(ERROR_CODES);

export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  MALFORMED: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  USERNAME_TAKEN: 409,
  INVALID_USERNAME: 400,
  ACCOUNT_EXISTS: 409,
  BAD_SIGNATURE: 400,
  STALE_VERSION: 409,
  TOO_MANY_DEVICES: 400,
  MISMATCHED_DEVICES: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  TOO_MANY_CONNECTIONS: 429,
  TOO_MANY_PREKEYS: 409,
  MAILBOX_FULL: 507,
  UNSUPPORTED_FRAME: 400,
  UNAVAILABLE: 503,
  ATTACHMENT_TOO_LARGE: 413,
  QUOTA_EXCEEDED: 507,
  TOO_MANY_UPLOADS: 429,
  ATTACHMENT_EXPIRED: 410,
  CHANNEL_EXPIRED: 410,
  CHANNEL_FULL: 409,
  LINK_ATTEMPTS_EXCEEDED: 429,
  DEVICE_REMOVED: 410,
  INTERNAL: 500,
};

export const MAX_ERROR_MESSAGE_LENGTH = 300;

/** An account id in an error's details (base64url of 16 bytes, kept a string on both sides). */
const ErrorAccountIdSchema = z.string().regex(/^[A-Za-z0-9_-]{22}$/);

/** Details some codes carry; every other key is refused, so an error reply can never smuggle data. */
const errorDetails = {
  retryAfterMs: z.number().int().min(0).max(24 * 3600_000).optional(),
  missing: z.array(DeviceIdSchema).max(64).optional(),
  stale: z.array(DeviceIdSchema).max(64).optional(),
  /**
   * A multi-account sealed upload (POST /v1/sealed/multi, ADR 0032): the accounts a refusal concerns —
   * MISMATCHED_DEVICES: each account whose devices were not named exactly, with its missing and stale
   * ids; UNAUTHORIZED: each account whose delivery token was not accepted.
   */
  accounts: z
    .array(
      z.strictObject({
        accountId: ErrorAccountIdSchema,
        missing: z.array(DeviceIdSchema).max(64).optional(),
        stale: z.array(DeviceIdSchema).max(64).optional(),
      }),
    )
    .max(MAX_SEALED_ACCOUNTS_PER_UPLOAD)
    .optional(),
  /** DEVICE_REMOVED: the account's current signed device list (base64url), which no longer names the device. */
  deviceList: z
    .string()
    .regex(/^[A-Za-z0-9_-]*$/)
    .max(Math.ceil((MAX_DEVICE_LIST_WIRE_BYTES * 4) / 3))
    .optional(),
};

export const ErrorObjectSchema = z.strictObject({
  code: ErrorCodeSchema,
  message: z.string().max(MAX_ERROR_MESSAGE_LENGTH),
  ...errorDetails,
});
export type ErrorObject = z.infer<typeof ErrorObjectSchema>;

/** Every non-2xx REST response body. */
export const ErrorBodySchema = z.strictObject({ error: ErrorObjectSchema });
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** `ref` echoes the id of the client frame the error answers, when it had a readable one. */
export const ErrorFrameSchema = z.strictObject({
  type: z.literal('error'),
  code: ErrorCodeSchema,
  message: z.string().max(MAX_ERROR_MESSAGE_LENGTH),
  ref: z.string().max(64).optional(),
  ...errorDetails,
});
export type ErrorFrame = z.infer<typeof ErrorFrameSchema>;
