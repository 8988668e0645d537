/**
 * Sealed sender at the relay (issue 15, docs/protocol.md §21, ADR 0029). Three things:
 *
 * - **Delivery tokens.** An account registers SHA-256 of its delivery token (derived from its
 *   profile key; replaced when the key rotates on block). The relay never sees the profile key and
 *   stores only the hash.
 * - **Sender certificates.** An authenticated device gets a certificate (its account, device id,
 *   X25519 identity key, an expiry at most 24 h ahead, the key id) signed with the relay's
 *   certificate key — a different key from the tree-head key.
 * - **Sealed sends.** An unauthenticated upload to every current device of one account, with that
 *   account's token, compared in constant time. The relay cuts one SealedEnvelope per device and
 *   stores it with no source; `online` sends (typing) go only to sockets open now and are never
 *   stored. Rate-limited per client address and per token (that is, per recipient), never per
 *   sender — it does not know one. Nothing here logs or counts an account or a token.
 *
 * - **Multi-account sealed sends** (a group send, issue 16, ADR 0032): one upload to every current
 *   device of up to 1,000 accounts, each with its token; the relay commits one mailbox entry per
 *   device in one transaction — all or nothing — and answers after it. Refusals name the accounts
 *   concerned (stale device lists, refused tokens). The relay learns the recipient set of the send
 *   and nothing about why those accounts: no group id, no membership.
 *
 * Does not own: the sealed bytes (shared/protocol/sealed-sender.ts), the group commit
 * (core/mailboxes.ts), delivery to sockets (server/ws).
 */
import { constantTimeEqual, toHex } from '../../shared/crypto/bytes.js';
import { sha256 } from '../../shared/crypto/sha256.js';
import { MAX_DEVICES_PER_ACCOUNT, MAX_SENDER_CERTIFICATE_LIFETIME_MS } from '../../shared/protocol/constants.js';
import { issueSenderCertificate, parseSealedMultiRecipient, sealedEnvelopeFor } from '../../shared/protocol/sealed-sender.js';
import {
  MAX_SEALED_ACCOUNTS_PER_UPLOAD,
  MAX_SEALED_MULTI_RECIPIENTS,
  MAX_SEALED_RECIPIENTS_PER_UPLOAD,
  MAX_SEALED_SHARED_CIPHERTEXT,
} from '../../shared/wire/sealed.js';
import type { AuthenticatedDevice, RelayContext } from './context.js';
import { rateLimited, RelayError, spend } from './errors.js';
import type { Mailboxes } from './mailboxes.js';

/** The id of the relay's certificate key in identity file version 1 (a rotation adds the next id). */
export const CERTIFICATE_KEY_ID = 1;

export type SealedSend = {
  readonly to: Uint8Array;
  readonly token: Uint8Array;
  readonly upload: Uint8Array;
  readonly online: boolean;
};

export type SealedMultiSend = {
  readonly recipients: readonly { readonly to: Uint8Array; readonly token: Uint8Array }[];
  readonly upload: Uint8Array;
  readonly online: boolean;
};

export class SealedService {
  constructor(
    private readonly ctx: RelayContext,
    private readonly mailboxes: Mailboxes,
  ) {}

  /** PUT /v1/accounts/me/delivery-token. */
  async setTokenHash(requester: AuthenticatedDevice, tokenHash: Uint8Array): Promise<void> {
    await spend(this.ctx.limits.profileUploads, requester.accountHex, 'delivery-token updates');
    const status = await this.ctx.store.putDeliveryTokenHash({ accountId: requester.accountId, tokenHash, now: this.ctx.clock() });
    if (status === 'no-account') throw new RelayError('NOT_FOUND', 'no such account');
  }

  /** GET /v1/certificates/sender: for the device's current X25519 identity key, valid 24 h. */
  async certificate(requester: AuthenticatedDevice): Promise<{ certificate: Uint8Array; keyId: number; expiresAt: number }> {
    await spend(this.ctx.limits.lookups, requester.accountHex, 'certificate requests');
    const device = await this.ctx.store.getDevice(requester.accountId, requester.deviceId);
    if (!device || device.deviceKey !== requester.deviceKey) throw new RelayError('UNAUTHORIZED', 'device no longer registered');
    const expiresAt = this.ctx.clock() + MAX_SENDER_CERTIFICATE_LIFETIME_MS;
    const certificate = issueSenderCertificate(
      { accountId: requester.accountId, deviceId: requester.deviceId, identityKey: device.identityDhKey, expiresAt, keyId: CERTIFICATE_KEY_ID },
      this.ctx.identity.certificateKey.privateKey,
    );
    return { certificate, keyId: CERTIFICATE_KEY_ID, expiresAt };
  }

  /**
   * POST /v1/sealed (no authentication). In order: the address's budget, the upload's layout
   * (MALFORMED: one account, the one named, distinct devices), the token (UNAUTHORIZED, the same for
   * an unknown account, an account without a token and a wrong token), the token's budget, then the
   * group commit (MISMATCHED_DEVICES and MAILBOX_FULL as for any send) or, online-only, the sockets.
   */
  async send(address: string, request: SealedSend): Promise<{ serverTimestamp: number }> {
    await spend(this.ctx.limits.sealedIp, address, 'sealed sends from this address');
    let parsed;
    try {
      parsed = parseSealedMultiRecipient(request.upload, MAX_SEALED_SHARED_CIPHERTEXT);
    } catch {
      throw new RelayError('MALFORMED', 'not a sealed upload');
    }
    const devices = parsed.recipients.map((r) => r.deviceId);
    if (
      parsed.recipients.length > MAX_SEALED_RECIPIENTS_PER_UPLOAD ||
      new Set(devices).size !== devices.length ||
      parsed.recipients.some((r) => !constantTimeEqual(r.accountId, request.to))
    ) {
      throw new RelayError('MALFORMED', 'a sealed upload names distinct devices of the one recipient account');
    }
    const tokenHash = sha256(request.token);
    const stored = await this.ctx.store.deliveryTokenHash(request.to);
    // Compared even without a stored hash, so that both refusals cost the same.
    const accepted = constantTimeEqual(tokenHash, stored ?? new Uint8Array(32)) && stored !== undefined;
    if (!accepted) {
      this.ctx.metrics.sealedSends.inc({ result: 'refused' });
      throw new RelayError('UNAUTHORIZED', 'delivery token not accepted');
    }
    // Keyed by the token's hash: a recipient's budget, whoever sends. Never by sender (unknown).
    await spend(this.ctx.limits.sealedToken, toHex(tokenHash), 'sealed sends to this recipient');
    const messages = parsed.recipients.map((r, i) => ({ deviceId: r.deviceId, content: sealedEnvelopeFor(parsed, i) }));
    if (request.online) {
      const now = this.ctx.clock();
      const current = await this.ctx.store.listDevices(request.to);
      for (const m of messages) {
        const device = current.find((d) => d.deviceId === m.deviceId);
        if (device) this.ctx.bus.publish({ kind: 'ephemeral', deviceKey: device.deviceKey, serverTimestamp: now, content: m.content });
      }
      this.ctx.metrics.sealedSends.inc({ result: 'online' });
      return { serverTimestamp: now };
    }
    const answer = await this.mailboxes.sendSealed(request.to, messages);
    this.ctx.metrics.sealedSends.inc({ result: 'stored' });
    return answer;
  }

  /**
   * POST /v1/sealed/multi (no authentication). In order: the address's budget (one sealed send), the
   * upload's layout (MALFORMED: every device of the upload belongs to a listed account, each account
   * listed once and named by 1–6 distinct devices), the address's recipient budget (one point per
   * device), the tokens (UNAUTHORIZED naming every account whose token was refused — what a 1:1
   * sealed send to each would have said), the tokens' budgets, then one commit for everything
   * (MISMATCHED_DEVICES naming each stale account, MAILBOX_FULL) or, online-only, the sockets.
   */
  async sendMulti(address: string, request: SealedMultiSend): Promise<{ serverTimestamp: number }> {
    await spend(this.ctx.limits.sealedIp, address, 'sealed sends from this address');
    let parsed;
    try {
      parsed = parseSealedMultiRecipient(request.upload, MAX_SEALED_SHARED_CIPHERTEXT);
    } catch {
      throw new RelayError('MALFORMED', 'not a sealed upload');
    }
    const layout = new RelayError('MALFORMED', 'a multi-account sealed upload names distinct devices of the listed accounts, each account listed once');
    if (parsed.recipients.length > MAX_SEALED_MULTI_RECIPIENTS || request.recipients.length > MAX_SEALED_ACCOUNTS_PER_UPLOAD) throw layout;
    // Per listed account (in the request's order): its index, and the upload positions of its devices.
    const byAccount = new Map<string, { readonly index: number; readonly positions: number[]; readonly devices: Set<number> }>();
    request.recipients.forEach((r, index) => byAccount.set(toHex(r.to), { index, positions: [], devices: new Set() }));
    if (byAccount.size !== request.recipients.length) throw layout;
    parsed.recipients.forEach((r, position) => {
      const account = byAccount.get(toHex(r.accountId));
      if (!account || account.devices.has(r.deviceId)) throw layout;
      account.devices.add(r.deviceId);
      account.positions.push(position);
    });
    for (const account of byAccount.values()) if (account.devices.size === 0 || account.devices.size > MAX_DEVICES_PER_ACCOUNT) throw layout;
    await spend(this.ctx.limits.sealedMultiIp, address, 'sealed recipients from this address', parsed.recipients.length);

    const tokenHashes = request.recipients.map((r) => sha256(r.token));
    const stored = await this.ctx.store.deliveryTokenHashes(request.recipients.map((r) => r.to));
    const refused = request.recipients.filter((_, i) => {
      const hash = stored[i];
      // Compared even without a stored hash, so that every refusal costs the same.
      return !(constantTimeEqual(tokenHashes[i]!, hash ?? new Uint8Array(32)) && hash !== undefined);
    });
    if (refused.length > 0) {
      this.ctx.metrics.sealedSends.inc({ result: 'refused' });
      throw new RelayError('UNAUTHORIZED', 'delivery token not accepted', { accounts: refused.map((r) => ({ accountId: r.to })) });
    }
    // Each recipient's budget, keyed by its token's hash, as for a 1:1 sealed send.
    const waits = await Promise.all(tokenHashes.map((hash) => this.ctx.limits.sealedToken.consume(toHex(hash))));
    const wait = Math.max(0, ...waits);
    if (wait > 0) throw rateLimited(wait, 'sealed sends to a recipient');

    const parts = request.recipients.map((r) => {
      const positions = byAccount.get(toHex(r.to))!.positions;
      return { to: r.to, messages: positions.map((i) => ({ deviceId: parsed.recipients[i]!.deviceId, content: sealedEnvelopeFor(parsed, i) })) };
    });
    if (request.online) {
      const now = this.ctx.clock();
      const current = await Promise.all(parts.map((p) => this.ctx.store.listDevices(p.to)));
      parts.forEach((part, i) => {
        for (const m of part.messages) {
          const device = current[i]!.find((d) => d.deviceId === m.deviceId);
          if (device) this.ctx.bus.publish({ kind: 'ephemeral', deviceKey: device.deviceKey, serverTimestamp: now, content: m.content });
        }
      });
      this.ctx.metrics.sealedSends.inc({ result: 'online' });
      return { serverTimestamp: now };
    }
    const answer = await this.mailboxes.sendSealedMulti(parts);
    this.ctx.metrics.sealedSends.inc({ result: 'stored' });
    return answer;
  }
}
