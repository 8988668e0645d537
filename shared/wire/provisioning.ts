/**
 * The relay's provisioning channel on the wire (docs/protocol.md §20.8, ADR 0024): REST bodies of
 * the short-lived channel a new device creates without an account, one authenticated device of an
 * account joins, and both use to pass device-linking frames (§20.5) as opaque bytes. Owns the
 * schemas, the channel's wire limits and the body-size limits; the relay's policy (TTL, attempt
 * limits) is in server/limits and server/core/provisioning.ts.
 */
import { z } from 'zod';
import { bytesField, base64UrlLength, TimestampSchema } from './primitives.js';

/** The channel id the relay assigns (random, the capability to find the channel with its token). */
export const PROVISIONING_CHANNEL_ID_LENGTH = 16;
/** The new device's bearer secret for its side of the channel (stored by the relay as SHA-256). */
export const PROVISIONING_TOKEN_LENGTH = 32;
/** The rendezvous number of the short code (docs/protocol.md §20.2): digits, unique among live channels. */
export const PROVISIONING_RENDEZVOUS_DIGITS = 6;
/** The largest message (a device-linking frame) the channel carries: a 512 KiB account state fits. */
export const MAX_PROVISIONING_MESSAGE_BYTES = 600 * 1024;
/** Messages one channel carries in both directions together (the handshake uses five). */
export const MAX_PROVISIONING_MESSAGES = 16;
/** The authorization scheme of the new device's side: `Authorization: Channel <base64url token>`. */
export const PROVISIONING_AUTH_SCHEME = 'Channel';

export const ProvisioningChannelIdSchema = bytesField({ length: PROVISIONING_CHANNEL_ID_LENGTH });
export const RendezvousSchema = z.string().regex(new RegExp(`^[0-9]{${PROVISIONING_RENDEZVOUS_DIGITS}}$`));
export const ProvisioningMessageBytesSchema = bytesField({ min: 1, max: MAX_PROVISIONING_MESSAGE_BYTES });

/** POST /v1/provisioning/channels (no account, no body beyond `{}`): the new device's channel. */
export const CreateProvisioningChannelRequestSchema = z.strictObject({});
export const CreateProvisioningChannelResponseSchema = z.object({
  channelId: ProvisioningChannelIdSchema,
  rendezvous: RendezvousSchema,
  token: bytesField({ length: PROVISIONING_TOKEN_LENGTH }),
  expiresAt: TimestampSchema,
});
export type CreateProvisioningChannelResponse = z.output<typeof CreateProvisioningChannelResponseSchema>;

/** POST /v1/provisioning/join (authenticated): by the channel id of an offer, or a short code's rendezvous. */
export const JoinProvisioningChannelRequestSchema = z.union([
  z.strictObject({ channelId: ProvisioningChannelIdSchema }),
  z.strictObject({ rendezvous: RendezvousSchema }),
]);
export type JoinProvisioningChannelRequestInput = z.input<typeof JoinProvisioningChannelRequestSchema>;
export const JoinProvisioningChannelResponseSchema = z.object({ channelId: ProvisioningChannelIdSchema, expiresAt: TimestampSchema });

/** POST /v1/provisioning/channels/:channelId/messages, by either side. */
export const ProvisioningMessageRequestSchema = z.strictObject({ body: ProvisioningMessageBytesSchema });
export type ProvisioningMessageRequestInput = z.input<typeof ProvisioningMessageRequestSchema>;
export const ProvisioningMessageResponseSchema = z.object({ seq: z.number().int().min(1).max(MAX_PROVISIONING_MESSAGES) });

/** GET /v1/provisioning/channels/:channelId/messages/:after: the other side's messages with seq > after. */
export const ProvisioningInboxResponseSchema = z.object({
  messages: z.array(z.object({ seq: z.number().int().min(1).max(MAX_PROVISIONING_MESSAGES), body: ProvisioningMessageBytesSchema })).max(MAX_PROVISIONING_MESSAGES),
  joined: z.boolean(),
  expiresAt: TimestampSchema,
});
export type ProvisioningInboxResponse = z.output<typeof ProvisioningInboxResponseSchema>;

/** The JSON body limit of a provisioning message: the base64url body and its field name. */
export const MAX_PROVISIONING_BODY_BYTES = base64UrlLength(MAX_PROVISIONING_MESSAGE_BYTES) + 64;
