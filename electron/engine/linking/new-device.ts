/**
 * Linking, the new device's side (DESIGN §3.11, docs/protocol.md §20, ADR 0025): "Link to an
 * existing account". Creates a provisioning channel at the relay, makes this device's identity keys
 * and the offer (QR payload = the text to copy) and short code, and runs the handshake in the
 * background: Hello → Reply (this device's keys) → Account. There it stops and reports the
 * account's safety number (`awaiting-confirmation`); only when the person accepts does it send its
 * key confirmation and wait for the primary's provisioning (signed list naming this device, account
 * state). The engine then builds the profile's database from the result (engine.ts).
 *
 * Owns the flow's states and the identity keys until they are stored. Does not own the relay
 * calls' mapping or waits (channel.ts), storage, prekeys or registration (the engine), history
 * transfer (issue 14, later).
 */
import { ed25519GenerateKeyPair, type Ed25519KeyPair } from '../../../shared/crypto/ed25519.js';
import type { Clock, Rng } from '../../../shared/crypto/random.js';
import { x25519GenerateKeyPair, type X25519KeyPair } from '../../../shared/crypto/x25519.js';
import {
  createLinkOffer,
  openProvisioning,
  receiveAccount,
  receiveHello,
  type LinkAccount,
  type LinkProvisioning,
  type NewDeviceAwaitingProvisioning,
} from '../../../shared/protocol/linking.js';
import { fingerprint, fingerprintDigits, formatSafetyNumber } from '../../../shared/protocol/safety-number.js';
import type { LinkStatusView } from '../../../shared/api/view-models.js';
import { BUILD_CAPABILITIES } from '../account/device-list.js';
import { EngineError } from '../errors.js';
import { RelayClient } from '../relay/client.js';
import { abortFrameFor, LinkAborted, LINK_POLL_MS, LinkCancelled, linkAbortFrame, linkFailure, nextFrame } from './channel.js';

/** What the accepted link hands the engine to build the profile from. */
export type LinkedDevice = {
  readonly relayUrl: string;
  readonly relayId: Uint8Array;
  readonly account: LinkAccount;
  readonly identityDh: X25519KeyPair;
  readonly identitySigning: Ed25519KeyPair;
  readonly provisioning: LinkProvisioning;
};

/** The account's safety number as both devices show it: its fingerprint, in groups of five. */
export function accountSafetyNumber(account: LinkAccount): string[] {
  return formatSafetyNumber(fingerprintDigits(fingerprint({ accountId: account.accountId, accountKey: account.accountPublicKey })));
}

export class NewDeviceLink {
  #status: LinkStatusView;
  #cancelled = false;
  #awaiting: { state: NewDeviceAwaitingProvisioning; confirm: Uint8Array; after: number; account: LinkAccount } | null = null;
  #ready: Promise<void>;

  private constructor(
    private readonly relayUrl: string,
    private readonly channel: { channelId: Uint8Array; token: Uint8Array },
    private readonly relayId: Uint8Array,
    readonly identityDh: X25519KeyPair,
    readonly identitySigning: Ed25519KeyPair,
    offer: { offerText: string; code: string; expiresAt: number },
    private readonly o: { readonly onStatus: (s: LinkStatusView) => void; readonly pollMs: number; readonly clock: Clock },
  ) {
    this.#status = { phase: 'waiting', offerText: offer.offerText, code: offer.code, expiresAt: offer.expiresAt, safetyNumber: null, error: null };
    this.#ready = Promise.resolve();
  }

  /** Creates the channel and the offer, and starts waiting for the primary (in the background). */
  static async start(relayUrl: string, deps: { readonly rng: Rng; readonly clock: Clock; readonly onStatus: (s: LinkStatusView) => void; readonly pollMs?: number }): Promise<NewDeviceLink> {
    const { relayId } = await RelayClient.wellKnown(relayUrl);
    const channel = await RelayClient.createProvisioningChannel(relayUrl);
    const offer = createLinkOffer({ relayId, channelId: channel.channelId, rendezvous: channel.rendezvous }, { rng: deps.rng });
    const identityDh = x25519GenerateKeyPair(deps.rng);
    const identitySigning = ed25519GenerateKeyPair(deps.rng);
    const link = new NewDeviceLink(
      relayUrl,
      { channelId: channel.channelId, token: channel.token },
      relayId,
      identityDh,
      identitySigning,
      { offerText: offer.offerText, code: offer.code, expiresAt: channel.expiresAt },
      { onStatus: deps.onStatus, pollMs: deps.pollMs ?? LINK_POLL_MS, clock: deps.clock },
    );
    link.#ready = link.#handshake(offer.state, deps.rng);
    return link;
  }

  get status(): LinkStatusView {
    return this.#status;
  }

  #set(patch: Partial<LinkStatusView>): void {
    this.#status = { ...this.#status, ...patch };
    this.o.onStatus(this.#status);
  }

  #inbox = (after: number) => RelayClient.provisioningInboxAsNew(this.relayUrl, this.channel, after);
  #post = (body: Uint8Array) => RelayClient.postProvisioningAsNew(this.relayUrl, this.channel, body);
  #wait = () => ({ pollMs: this.o.pollMs, cancelled: () => this.#cancelled });

  async #handshake(state: Parameters<typeof receiveHello>[0], rng: Rng): Promise<void> {
    // The method is known from the Hello; a PAKE failure on this side is reported by the primary first.
    try {
      const hello = await nextFrame(this.#inbox, 0, this.#wait());
      this.#set({ phase: 'connecting' });
      const h = receiveHello(state, hello.body, { identityDhKey: this.identityDh.publicKey, identitySigningKey: this.identitySigning.publicKey, capabilities: BUILD_CAPABILITIES }, { rng });
      await this.#post(h.reply);
      const accountFrame = await nextFrame(this.#inbox, hello.seq, this.#wait());
      const a = receiveAccount(h.state, accountFrame.body);
      this.#awaiting = { state: a.state, confirm: a.confirm, after: accountFrame.seq, account: a.account };
      this.#set({ phase: 'awaiting-confirmation', safetyNumber: accountSafetyNumber(a.account) });
    } catch (e) {
      await this.#fail(e);
    }
  }

  async #fail(e: unknown): Promise<void> {
    if (e instanceof LinkCancelled) return;
    // A wrong code shows on the primary first (it checks the Reply), so a PAKE failure on this side
    // is a changed frame: linkFailure's 'offer' reading (LINK_TAMPERED).
    const failure = linkFailure(e, 'offer');
    const error = failure instanceof EngineError ? { code: failure.code, message: failure.message } : { code: 'LINK_EXPIRED' as const, message: 'the link stopped: the relay could not be reached' };
    if (!(e instanceof LinkAborted)) await this.#post(abortFrameFor(failure)).catch(() => undefined);
    this.#set({ phase: 'failed', error });
  }

  /**
   * The person compared the safety number and accepts: sends this device's key confirmation and
   * waits for the provisioning. Throws the failure (also reported in the status).
   */
  async accept(): Promise<LinkedDevice> {
    await this.#ready;
    const awaiting = this.#awaiting;
    if (!awaiting || this.#status.phase !== 'awaiting-confirmation') {
      if (this.#status.phase === 'failed' && this.#status.error) throw new EngineError(this.#status.error.code, this.#status.error.message);
      throw new EngineError('LINK_NOT_STARTED', 'there is no link waiting for confirmation');
    }
    this.#awaiting = null;
    this.#set({ phase: 'provisioning' });
    try {
      await this.#post(awaiting.confirm);
      const frame = await nextFrame(this.#inbox, awaiting.after, this.#wait());
      const provisioning = openProvisioning(awaiting.state, frame.body);
      return { relayUrl: this.relayUrl, relayId: this.relayId, account: awaiting.account, identityDh: this.identityDh, identitySigning: this.identitySigning, provisioning };
    } catch (e) {
      await this.#fail(e);
      const error = this.#status.error;
      throw error ? new EngineError(error.code, error.message) : e;
    }
  }

  /** Marks the link done (the engine stored the account). */
  finished(): void {
    this.#set({ phase: 'linked' });
  }

  /** Stops waiting and tells the primary (the abort frame); the relay forgets the channel at its expiry. */
  async cancel(): Promise<void> {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#awaiting = null;
    await this.#post(linkAbortFrame('LINK_EXPIRED')).catch(() => undefined);
    this.#set({ phase: 'cancelled' });
  }
}
