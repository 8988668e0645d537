/**
 * Provisioning channels at the relay (issue 14, docs/protocol.md §20.8, ADR 0024): the short-lived
 * rendezvous through which a new device and its account's primary pass device-linking frames. A new
 * device creates a channel without an account (limited per address) and gets a channel id, a
 * six-digit rendezvous number and a bearer token for its side; one authenticated device joins it —
 * by channel id (from the QR code or pasted text) or by rendezvous (the short code) — and every join
 * request counts against the account's link attempts, so online guessing of short codes is bounded
 * per account as well as per channel (one join: one CPace guess). Both sides then post and fetch
 * opaque messages; nobody else can read or write them.
 *
 * The relay never parses a message: it stores and returns the bytes verbatim (up to
 * MAX_PROVISIONING_MESSAGE_BYTES, MAX_PROVISIONING_MESSAGES per channel). A channel expires
 * `provisioningChannelTtlMs` after creation (5 minutes by default); the sweep deletes its messages
 * then and forgets the channel an hour later (until then, requests get CHANNEL_EXPIRED). Does not own
 * storage (RelayStore), the wire (shared/wire/provisioning.ts) or the protocol (shared/protocol/linking.ts).
 */
import { randomInt } from 'node:crypto';
import { constantTimeEqual } from '../../shared/crypto/bytes.js';
import { sha256 } from '../../shared/crypto/sha256.js';
import { MAX_DEVICES_PER_ACCOUNT } from '../../shared/wire/limits.js';
import {
  MAX_PROVISIONING_MESSAGES,
  PROVISIONING_CHANNEL_ID_LENGTH,
  PROVISIONING_RENDEZVOUS_DIGITS,
  PROVISIONING_TOKEN_LENGTH,
} from '../../shared/wire/provisioning.js';
import type { ProvisioningChannelRecord, ProvisioningSide } from '../store/store.js';
import type { AuthenticatedDevice, RelayContext } from './context.js';
import { RelayError, spend } from './errors.js';

/** An expired channel answers CHANNEL_EXPIRED this long before the sweep forgets it. */
export const PROVISIONING_TOMBSTONE_MS = 3600_000;
/** Rendezvous numbers drawn before creation gives up (UNAVAILABLE): only a relay with ~10⁶ live channels gets there. */
const RENDEZVOUS_TRIES = 8;

/** Who is asking: the new device (its channel token) or an authenticated device. */
export type ProvisioningCredential =
  | { readonly kind: 'token'; readonly token: Uint8Array }
  | { readonly kind: 'device'; readonly device: AuthenticatedDevice };

export class ProvisioningService {
  constructor(private readonly ctx: RelayContext) {}

  /** A new channel for a new device at `address`. The token is returned once and stored hashed. */
  async create(address: string): Promise<{ channelId: Uint8Array; rendezvous: string; token: Uint8Array; expiresAt: number }> {
    await spend(this.ctx.limits.provisioningChannels, address, 'provisioning channels from this address');
    const now = this.ctx.clock();
    const expiresAt = now + this.ctx.limits.config.provisioningChannelTtlMs;
    for (let i = 0; i < RENDEZVOUS_TRIES; i++) {
      const channelId = this.ctx.rng(PROVISIONING_CHANNEL_ID_LENGTH);
      const token = this.ctx.rng(PROVISIONING_TOKEN_LENGTH);
      const rendezvous = String(randomInt(0, 10 ** PROVISIONING_RENDEZVOUS_DIGITS)).padStart(PROVISIONING_RENDEZVOUS_DIGITS, '0');
      const status = await this.ctx.store.createProvisioningChannel({ channelId, rendezvous, tokenHash: sha256(token), now, expiresAt });
      if (status === 'created') {
        this.ctx.metrics.provisioning.inc({ kind: 'created' });
        return { channelId, rendezvous, token, expiresAt };
      }
      token.fill(0);
    }
    throw new RelayError('UNAVAILABLE', 'no free rendezvous number; retry later', { retryAfterMs: 5_000 });
  }

  /**
   * Joins a channel for `requester`'s account: counts one link attempt first (LINK_ATTEMPTS_EXCEEDED
   * past the limit), refuses an account that already has MAX_DEVICES_PER_ACCOUNT devices
   * (TOO_MANY_DEVICES), then takes the channel's one join (CHANNEL_FULL if taken, CHANNEL_EXPIRED).
   */
  async join(requester: AuthenticatedDevice, target: { readonly channelId: Uint8Array } | { readonly rendezvous: string }): Promise<{ channelId: Uint8Array; expiresAt: number }> {
    const wait = await this.ctx.limits.linkAttempts.consume(requester.accountHex, 1);
    if (wait) {
      this.ctx.metrics.provisioning.inc({ kind: 'join_attempts_exceeded' });
      throw new RelayError('LINK_ATTEMPTS_EXCEEDED', 'too many device links started by this account; retry later', { retryAfterMs: wait });
    }
    const devices = await this.ctx.store.listDevices(requester.accountId);
    if (devices.length >= MAX_DEVICES_PER_ACCOUNT) throw new RelayError('TOO_MANY_DEVICES', `the account already has ${MAX_DEVICES_PER_ACCOUNT} devices`);
    const now = this.ctx.clock();
    let channelId: Uint8Array;
    if ('channelId' in target) channelId = target.channelId;
    else {
      const found = await this.ctx.store.findProvisioningChannels(target.rendezvous, now);
      // Two live channels with one number (a race between instances) are ambiguous: neither is joined.
      if (found.length !== 1) throw new RelayError('NOT_FOUND', 'no provisioning channel with that code');
      channelId = found[0]!;
    }
    const status = await this.ctx.store.joinProvisioningChannel({ channelId, accountId: requester.accountId, deviceId: requester.deviceId, now });
    switch (status) {
      case 'joined': {
        this.ctx.metrics.provisioning.inc({ kind: 'joined' });
        const channel = await this.ctx.store.getProvisioningChannel(channelId);
        return { channelId, expiresAt: channel?.expiresAt ?? now };
      }
      case 'not-found':
        throw new RelayError('NOT_FOUND', 'no such provisioning channel');
      case 'expired':
        this.ctx.metrics.provisioning.inc({ kind: 'join_expired' });
        throw new RelayError('CHANNEL_EXPIRED', 'the provisioning channel has expired');
      case 'full':
        this.ctx.metrics.provisioning.inc({ kind: 'join_full' });
        throw new RelayError('CHANNEL_FULL', 'the provisioning channel was already joined');
    }
  }

  /** Posts an opaque message from the caller's side; the new device may post only once someone joined. */
  async send(channelId: Uint8Array, who: ProvisioningCredential, body: Uint8Array): Promise<{ seq: number }> {
    const { channel, side } = await this.authorize(channelId, who);
    if (side === 'new' && !channel.joined) throw new RelayError('FORBIDDEN', 'nobody has joined the channel yet');
    const result = await this.ctx.store.appendProvisioningMessage({ channelId, sender: side, body, now: this.ctx.clock(), maxMessages: MAX_PROVISIONING_MESSAGES });
    switch (result.status) {
      case 'stored':
        this.ctx.metrics.provisioning.inc({ kind: 'message' });
        return { seq: result.seq };
      case 'not-found':
        throw new RelayError('NOT_FOUND', 'no such provisioning channel');
      case 'expired':
        throw new RelayError('CHANNEL_EXPIRED', 'the provisioning channel has expired');
      case 'full':
        throw new RelayError('CHANNEL_FULL', `the provisioning channel carries at most ${MAX_PROVISIONING_MESSAGES} messages`);
    }
  }

  /** The other side's messages with seq > after, whether someone joined, and the expiry. */
  async inbox(
    channelId: Uint8Array,
    who: ProvisioningCredential,
    after: number,
  ): Promise<{ messages: { seq: number; body: Uint8Array }[]; joined: boolean; expiresAt: number }> {
    const { channel, side } = await this.authorize(channelId, who);
    const messages = await this.ctx.store.provisioningMessages(channelId, side === 'new' ? 'joined' : 'new', after);
    return { messages, joined: channel.joined !== null, expiresAt: channel.expiresAt };
  }

  /** Deletes expired channels' messages and forgets channels expired over an hour ago. */
  async sweep(): Promise<{ messages: number; channels: number }> {
    const now = this.ctx.clock();
    const swept = await this.ctx.store.sweepProvisioning({ now, forgetBefore: now - PROVISIONING_TOMBSTONE_MS });
    if (swept.channels > 0) this.ctx.metrics.provisioning.inc({ kind: 'swept' }, swept.channels);
    return swept;
  }

  /**
   * The caller's side of a live channel: the token's hash must match (UNAUTHORIZED), or the device
   * must be the one that joined (FORBIDDEN for any other device, of any account).
   */
  private async authorize(channelId: Uint8Array, who: ProvisioningCredential): Promise<{ channel: ProvisioningChannelRecord; side: ProvisioningSide }> {
    const channel = await this.ctx.store.getProvisioningChannel(channelId);
    if (!channel) throw new RelayError('NOT_FOUND', 'no such provisioning channel');
    if (who.kind === 'token') {
      if (!constantTimeEqual(sha256(who.token), channel.tokenHash)) throw new RelayError('UNAUTHORIZED', 'not this channel\'s token');
    } else {
      const j = channel.joined;
      if (!j || !constantTimeEqual(j.accountId, who.device.accountId) || j.deviceId !== who.device.deviceId) {
        throw new RelayError('FORBIDDEN', 'not the device that joined this channel');
      }
    }
    if (channel.expiresAt <= this.ctx.clock()) throw new RelayError('CHANNEL_EXPIRED', 'the provisioning channel has expired');
    return { channel, side: who.kind === 'token' ? 'new' : 'joined' };
  }
}
