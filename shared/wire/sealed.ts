/**
 * Sealed sender on the wire (docs/protocol.md §21, ADR 0029): the schemas and sizes of the three
 * routes — the account sets its delivery-token hash, an authenticated device fetches a sender
 * certificate, and anyone holding a recipient's delivery token posts one sealed upload to that
 * recipient's devices **without authenticating** — and the relay→client `ephemeral` frame that
 * carries an online-only sealed envelope (typing), never stored. Does not own the sealed bytes
 * (shared/protocol/sealed-sender.ts) or the relay's checks (server/core/sealed.ts).
 */
import { z } from 'zod';
import {
  DELIVERY_TOKEN_LENGTH,
  MAX_DEVICES_PER_ACCOUNT,
  MAX_ENVELOPE_CONTENT,
  PADDING_BLOCK,
  SEALED_ENVELOPE_HEADER_LENGTH,
  SENDER_CERTIFICATE_LENGTH,
} from '../protocol/constants.js';
import { AccountIdSchema, bytesField, TimestampSchema } from './primitives.js';

/** The delivery token's SHA-256, as the owner registers it. */
export const DELIVERY_TOKEN_HASH_LENGTH = 32;

/**
 * The largest shared ciphertext of one sealed send: a payload (certificate, static key, count) with
 * one message of MAX_ENVELOPE_CONTENT, padded to 160-byte blocks, plus the tag. A multi-recipient
 * upload with one message per device must fit the same bound (receipts and typing do by far).
 */
const MAX_SEALED_PAYLOAD = SENDER_CERTIFICATE_LENGTH + 33 + 2 + 4 + MAX_ENVELOPE_CONTENT;
export const MAX_SEALED_SHARED_CIPHERTEXT = (Math.floor(MAX_SEALED_PAYLOAD / PADDING_BLOCK) + 1) * PADDING_BLOCK + 16;
/** The largest sealed envelope a device receives (header ‖ shared ciphertext). */
export const MAX_SEALED_ENVELOPE_BYTES = SEALED_ENVELOPE_HEADER_LENGTH + MAX_SEALED_SHARED_CIPHERTEXT;
/** Recipient devices of one sealed upload to one account (POST /v1/sealed): that account's devices. */
export const MAX_SEALED_RECIPIENTS_PER_UPLOAD = MAX_DEVICES_PER_ACCOUNT;
/**
 * Accounts one multi-account sealed upload (POST /v1/sealed/multi) reaches: a send to a group of
 * 1,000 members (the sender's own account among them, for its other devices). ADR 0032.
 */
export const MAX_SEALED_ACCOUNTS_PER_UPLOAD = 1_000;
/** Recipient devices of one multi-account upload: every device of each of those accounts. */
export const MAX_SEALED_MULTI_RECIPIENTS = MAX_SEALED_ACCOUNTS_PER_UPLOAD * MAX_DEVICES_PER_ACCOUNT;
/** u8 version ‖ Enc(E) ‖ u16 n ‖ n × (account id ‖ u32 device id ‖ C ‖ A) ‖ shared. */
export const MAX_SEALED_UPLOAD_BYTES = 1 + 33 + 2 + MAX_SEALED_RECIPIENTS_PER_UPLOAD * (16 + 4 + 32 + 16) + MAX_SEALED_SHARED_CIPHERTEXT;
/** The largest multi-account upload: one shared ciphertext (as above) and 6,000 recipient headers (≈ 495 KiB). */
export const MAX_SEALED_MULTI_UPLOAD_BYTES = 1 + 33 + 2 + MAX_SEALED_MULTI_RECIPIENTS * (16 + 4 + 32 + 16) + MAX_SEALED_SHARED_CIPHERTEXT;
const MIN_SEALED_UPLOAD_BYTES = 1 + 33 + 2 + (16 + 4 + 32 + 16) + PADDING_BLOCK + 16;

/** PUT /v1/accounts/me/delivery-token: SHA-256 of the account's current delivery token. */
export const PutDeliveryTokenRequestSchema = z.strictObject({ tokenHash: bytesField({ length: DELIVERY_TOKEN_HASH_LENGTH }) });
export type PutDeliveryTokenRequestInput = z.input<typeof PutDeliveryTokenRequestSchema>;

/** GET /v1/certificates/sender: a certificate for the authenticated device (§21.2). */
export const SenderCertificateResponseSchema = z.object({
  certificate: bytesField({ length: SENDER_CERTIFICATE_LENGTH }),
  keyId: z.number().int().min(0),
  expiresAt: TimestampSchema,
});
export type SenderCertificateResponse = z.output<typeof SenderCertificateResponseSchema>;

/**
 * POST /v1/sealed, without authentication: one sealed upload (§21.4) to every current device of
 * `to`, with `to`'s delivery token. `online: true` (typing): delivered only to the recipient's
 * sockets open now and never stored. The answer is the same whatever happened to the envelopes.
 */
export const SealedSendRequestSchema = z.strictObject({
  to: AccountIdSchema,
  token: bytesField({ length: DELIVERY_TOKEN_LENGTH }),
  upload: bytesField({ min: MIN_SEALED_UPLOAD_BYTES, max: MAX_SEALED_UPLOAD_BYTES }),
  online: z.boolean().optional(),
});
export type SealedSendRequestInput = z.input<typeof SealedSendRequestSchema>;
export const SealedSendResponseSchema = z.object({ serverTimestamp: TimestampSchema });

/**
 * POST /v1/sealed/multi, without authentication: one sealed upload (§21.4) to every current device
 * of each account in `recipients`, each with its delivery token — a group send (ADR 0032). The relay
 * sees the recipient set and nothing that says why; it commits all of it or none. Refusals name the
 * accounts concerned (`accounts` in the error), so the sender can correct exactly those.
 */
export const SealedMultiSendRequestSchema = z.strictObject({
  recipients: z
    .array(z.strictObject({ to: AccountIdSchema, token: bytesField({ length: DELIVERY_TOKEN_LENGTH }) }))
    .min(1)
    .max(MAX_SEALED_ACCOUNTS_PER_UPLOAD),
  upload: bytesField({ min: MIN_SEALED_UPLOAD_BYTES, max: MAX_SEALED_MULTI_UPLOAD_BYTES }),
  online: z.boolean().optional(),
});
export type SealedMultiSendRequestInput = z.input<typeof SealedMultiSendRequestSchema>;

/** What /.well-known/parley says about sealed sender (absent on relays without it). */
export const SealedAnnouncementSchema = z.object({
  /** The id of `certificateKey` (certificates name it; clients pin the pair). */
  certificateKeyId: z.number().int().min(0),
  certificateLifetimeMs: z.number().int(),
  maxUploadBytes: z.number().int(),
  maxEnvelopeBytes: z.number().int(),
  maxRecipients: z.number().int(),
  /** POST /v1/sealed/multi (absent on relays without it): accounts, devices and bytes of one upload. */
  maxAccounts: z.number().int().optional(),
  maxMultiRecipients: z.number().int().optional(),
  maxMultiUploadBytes: z.number().int().optional(),
});
export type SealedAnnouncement = z.output<typeof SealedAnnouncementSchema>;

/** The JSON body size limit of POST /v1/sealed (base64url of the largest upload and the fields). */
export const MAX_SEALED_BODY_BYTES = Math.ceil((MAX_SEALED_UPLOAD_BYTES * 4) / 3) + 256;
/** The JSON body size limit of POST /v1/sealed/multi: the upload and 1,000 `{to, token}` pairs. */
export const MAX_SEALED_MULTI_BODY_BYTES = Math.ceil((MAX_SEALED_MULTI_UPLOAD_BYTES * 4) / 3) + MAX_SEALED_ACCOUNTS_PER_UPLOAD * 64 + 256;
