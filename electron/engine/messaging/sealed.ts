/**
 * Sealed sender in the engine (issue 15, DESIGN §3.6, docs/protocol.md §21, ADR 0029).
 *
 * Sending: a send to a contact whose profile key we hold goes sealed — its envelopes (one ratchet
 * message per device, made by the outbox as always) become one multi-recipient upload under this
 * device's sender certificate, posted without authentication with the contact's delivery token;
 * typing goes the same way, online-only (never stored). `trySend` answers null when the send must
 * go the authenticated way: a decryption error, a recipient device whose signed entry lacks the
 * `sealed` capability (an older build that could not open it), no token
 * (a stranger who has not shared a profile key), a token the relay refused (the contact rotated its
 * key on a block: remembered until a newer key arrives, and the conversation changes to
 * `sealedSender: 'stale-token'`, shown in its header), no pinned certificate key or no certificate,
 * or an upload over the size bound. Every other relay answer (MISMATCHED_DEVICES, MAILBOX_FULL, …)
 * is the outbox's, as for an authenticated send. Sends to this account's other devices go sealed
 * too, with the account's own token, naming **every** device of the account — this one included,
 * with an empty inner message that it drops when its own envelope comes back — so the fan-out does
 * not point at the sender (ADR 0029).
 *
 * Receiving: `open` turns a sealed envelope into the inner message and its certified sender (steps
 * 1–6 of §21.6) before the inbound batch looks the sender up; `accept` (steps 7–8) runs inside the
 * session's decrypt, before anything commits.
 *
 * Also: the relay's certificate key pinned per key id on first sight (a different key under a pinned
 * id is never accepted), this device's certificate cached until an hour before it expires (and
 * checked when fetched: pinned key, this device, this identity key), senders' certificates whose
 * signature verified remembered (`VerifiedCertificates`: a certificate signs a day of that device's
 * sealed sends, so its signature is checked once, its expiry at every envelope), and this account's
 * delivery-token hash registered with the relay whenever the profile key changed.
 * Does not own the outbox, sessions or contacts (outbox.ts, sessions.ts, contacts.ts).
 */
import { bytesEqual, toHex } from '../../../shared/crypto/bytes.js';
import { sha256 } from '../../../shared/crypto/sha256.js';
import { x25519PrivateHandle, type X25519PrivateHandle } from '../../../shared/crypto/x25519.js';
import { hasCapability } from '../../../shared/protocol/device-list.js';
import { ProtocolError } from '../../../shared/protocol/errors.js';
import { profileKeyId } from '../../../shared/protocol/profile.js';
import {
  acceptSealedSender,
  deliveryToken,
  encodeSealedMultiRecipient,
  openSealedEnvelope,
  sealMessage,
  verifySenderCertificate,
  VerifiedCertificates,
  type OpenedSealedEnvelope,
} from '../../../shared/protocol/sealed-sender.js';
import type { PeerDevice } from '../../../shared/protocol/session.js';
import { MAX_SEALED_UPLOAD_BYTES } from '../../../shared/wire/sealed.js';
import { findDirectConversation } from '../db/conversations.js';
import type { WriteDb } from '../db/database.js';
import type { OutboxSend } from '../db/outbox.js';
import { getContactProfile, getOwnProfile } from '../db/profiles.js';
import {
  clearContactTokenRefused,
  contactTokenRefusedKeyId,
  markContactTokenRefused,
  markOwnTokenRegistered,
  ownTokenKeyId,
  pinCertificateKey,
  pinnedCertificateKeys,
} from '../db/sealed.js';
import { RelayClientError } from '../relay/errors.js';
import type { MessagingCore } from './fan-out.js';

/**
 * A refused token is tried again after this long (or after a restart): a refusal can also be a race
 * (the owner shared its new key before the relay held the new token), which must not stick.
 */
export const REFUSED_TOKEN_RETRY_MS = 10 * 60_000;

/** A certificate is renewed when it has less than this left (it lives 24 h). */
export const CERTIFICATE_RENEW_BEFORE_MS = 3600_000;

export class SealedSender {
  #certificate: { readonly bytes: Uint8Array; readonly expiresAt: number } | null = null;
  #fetching: Promise<Uint8Array | null> | null = null;
  /** When the relay last refused each contact's token (account hex → time), this run. */
  readonly #refusedAt = new Map<string, number>();
  /** Senders' certificates whose signature verified under the pinned key (public data; bounded). */
  readonly #verified = new VerifiedCertificates();
  /** This device's identity key imported once (see #identityHandle). */
  #identity: { readonly privateKey: Uint8Array; readonly handle: X25519PrivateHandle } | null = null;

  constructor(private readonly core: MessagingCore) {}

  // ── At each connection ──

  /** Pins the relay's certificate key by id on first sight; registers this account's token hash when owed. */
  async connected(): Promise<void> {
    await this.pin();
    await this.registerToken();
  }

  /** Pins the certificate key the relay publishes under its key id, unless that id is pinned already. */
  async pin(): Promise<void> {
    const { core } = this;
    const wk = await core.relay.wellKnown();
    core.check();
    if (!wk.sealed) return;
    const { certificateKeyId } = wk.sealed;
    core.db.writer.transaction(() => pinCertificateKey(core.db.writer, certificateKeyId, wk.certificateKey, core.clock()));
  }

  /** Registers SHA-256 of the current delivery token unless the relay holds this key's already. */
  async registerToken(): Promise<void> {
    const { core } = this;
    const own = getOwnProfile(core.db.writer);
    if (!own) return;
    const keyId = profileKeyId(own.profileKey);
    const registered = ownTokenKeyId(core.db.writer);
    if (registered && bytesEqual(registered, keyId)) return;
    await core.relay.putDeliveryTokenHash(sha256(deliveryToken(own.profileKey)));
    core.check();
    core.db.writer.transaction(() => markOwnTokenRegistered(core.db.writer, keyId));
  }

  /** The certificate keys this device trusts (pinned). */
  trust(): Map<number, Uint8Array> {
    return pinnedCertificateKeys(this.core.db.writer);
  }

  /** This device's certificate, fetched when there is none or it expires within the hour; null when the relay gives none that checks out. */
  async certificate(): Promise<Uint8Array | null> {
    const now = this.core.clock();
    if (this.#certificate && this.#certificate.expiresAt - now > CERTIFICATE_RENEW_BEFORE_MS) return this.#certificate.bytes;
    this.#fetching ??= this.#fetchCertificate().finally(() => {
      this.#fetching = null;
    });
    return this.#fetching;
  }

  async #fetchCertificate(): Promise<Uint8Array | null> {
    const { core } = this;
    let response;
    try {
      response = await core.relay.senderCertificate();
    } catch {
      return null;
    }
    core.check();
    try {
      // A certificate that receivers would refuse is not used: wrong key, device or identity.
      const c = verifySenderCertificate(response.certificate, this.trust(), core.clock());
      const me = core.account;
      if (!bytesEqual(c.accountId, me.accountId) || c.deviceId !== me.deviceId || !bytesEqual(c.identityKey, me.identityDh.publicKey)) return null;
      this.#certificate = { bytes: response.certificate, expiresAt: c.expiresAt };
      return response.certificate;
    } catch {
      return null;
    }
  }

  // ── Sending ──

  /** This account's own delivery token (sends to its other devices), once the relay holds its hash. */
  #ownToken(): { token: Uint8Array; keyId: Uint8Array; refused: boolean } | null {
    const own = getOwnProfile(this.core.db.writer);
    if (!own) return null;
    const keyId = profileKeyId(own.profileKey);
    const registered = ownTokenKeyId(this.core.db.writer);
    if (!registered || !bytesEqual(registered, keyId)) return null;
    return { token: deliveryToken(own.profileKey), keyId, refused: false };
  }

  /** The contact's delivery token, or why there is none. */
  #token(db: WriteDb, recipient: Uint8Array): { token: Uint8Array; keyId: Uint8Array; refused: boolean } | 'no-token' | 'stale-token' {
    const profile = getContactProfile(db, recipient);
    if (!profile?.profileKey) return 'no-token';
    const keyId = profileKeyId(profile.profileKey);
    const refusedKey = contactTokenRefusedKeyId(db, recipient);
    const refused = refusedKey !== null && bytesEqual(refusedKey, keyId);
    const at = this.#refusedAt.get(toHex(recipient));
    if (refused && at !== undefined && this.core.clock() - at < REFUSED_TOKEN_RETRY_MS) return 'stale-token';
    return { token: deliveryToken(profile.profileKey), keyId, refused };
  }

  /**
   * The delivery token a sealed send to `recipient` shows (this account's own for its other
   * devices), or null when there is none to use now (a group send then goes authenticated to
   * that member, ADR 0032).
   */
  tokenFor(db: WriteDb, recipient: Uint8Array): Uint8Array | null {
    const token = this.core.isSelf(recipient) ? this.#ownToken() : this.#token(db, recipient);
    return token === null || typeof token === 'string' ? null : token.token;
  }

  /**
   * Sends `send` sealed when it can; null means "send it authenticated". Envelopes must name the
   * recipient's listed devices (the outbox checked); each device's ratchet message rides in the
   * shared ciphertext with its position.
   */
  async trySend(send: OutboxSend): Promise<{ serverTimestamp: number } | null> {
    const { core } = this;
    const recipient = send.recipientAccountId;
    if (send.kind === 'decryption-error' || send.envelopes.length === 0) return null;
    const self = core.isSelf(recipient);
    const token = self ? this.#ownToken() : this.#token(core.db.writer, recipient);
    if (token === null || typeof token === 'string') return null;
    if (this.trust().size === 0) return null;
    const certificate = await this.certificate();
    core.check();
    if (!certificate) return null;
    const listed = core.targetDevices(core.db.writer, recipient);
    // Every recipient device must open sealed envelopes (capability bit 0x40 in its signed entry).
    if (!listed.every((t) => hasCapability(t.entry, 'sealed'))) return null;
    const targets = new Map<number, PeerDevice>(listed.map((t) => [t.entry.deviceId, t]));
    const recipients = [];
    for (const e of send.envelopes) {
      const t = targets.get(e.deviceId);
      if (!t) return null; // the outbox brings envelopes in line with the list first
      recipients.push({ accountId: recipient, deviceId: e.deviceId, identityKey: t.entry.identityDhKey });
    }
    const messages = send.envelopes.map((e) => e.envelope);
    if (self) {
      // This device too, with nothing in it: the relay sees a send to every device of the account.
      recipients.push({ accountId: recipient, deviceId: core.account.deviceId, identityKey: core.account.identityDh.publicKey });
      messages.push(new Uint8Array(0));
    }
    const sealed = sealMessage({ certificate, senderIdentityPrivate: core.account.identityDh.privateKey, senderIdentityHandle: this.#identityHandle(), recipients, messages }, { rng: core.rng });
    const upload = encodeSealedMultiRecipient(sealed);
    if (upload.length > MAX_SEALED_UPLOAD_BYTES) return null;
    try {
      const answer = await core.relay.sendSealed({ to: recipient, token: token.token, upload, online: send.kind === 'typing' });
      core.check();
      if (token.refused) {
        // Accepted after all (the refusal was a race): sealed again, and the header says so.
        this.#refusedAt.delete(toHex(recipient));
        core.db.writer.transaction(() => clearContactTokenRefused(core.db.writer, recipient));
        const conversation = findDirectConversation(core.db.writer, recipient);
        if (conversation) core.emitConversation(conversation.id);
      }
      return answer;
    } catch (e) {
      core.check();
      if (e instanceof RelayClientError && e.code === 'UNAUTHORIZED' && !self) {
        // The contact rotated its profile key (it blocked someone, maybe us): unsealed until a newer key arrives.
        this.#refusedAt.set(toHex(recipient), core.clock());
        core.db.writer.transaction(() => markContactTokenRefused(core.db.writer, recipient, token.keyId));
        const conversation = findDirectConversation(core.db.writer, recipient);
        if (conversation) core.emitConversation(conversation.id); // its header now says "Not sealed"
        return null;
      }
      throw e;
    }
  }

  // ── Receiving ──

  /** §21.6 steps 1–6; throws a ProtocolError (the envelope is then dropped unanswered). */
  open(content: Uint8Array, serverTimestamp: number): OpenedSealedEnvelope {
    const trust = this.trust();
    if (trust.size === 0) throw new ProtocolError('SENDER_CERTIFICATE_INVALID', 'no relay certificate key pinned');
    const identityPrivate = this.core.account.identityDh.privateKey;
    return openSealedEnvelope(content, { identityPrivate, identityHandle: this.#identityHandle() }, trust, serverTimestamp, this.#verified);
  }

  /** This device's X25519 identity key, imported once per key (sealing and opening both use it). */
  #identityHandle(): X25519PrivateHandle {
    const privateKey = this.core.account.identityDh.privateKey;
    if (this.#identity?.privateKey !== privateKey) this.#identity = { privateKey, handle: x25519PrivateHandle(privateKey) };
    return this.#identity.handle;
  }

  /** §21.6 steps 7–8, inside the session's decrypt: the listed device and the session both have the certificate's key. */
  static accept(opened: OpenedSealedEnvelope, peer: PeerDevice, sessionRemoteIdentityKey: Uint8Array): void {
    acceptSealedSender(opened, { accountId: peer.accountId, version: 0, issuedAt: 0, devices: [peer.entry] }, sessionRemoteIdentityKey);
  }
}
