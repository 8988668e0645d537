/**
 * RelayClient: the engine's typed client for the Parley relay, a thin façade over three parts —
 * rest.ts (one REST call, responses validated with the wire schemas), auth.ts (challenge signed with
 * the device's identity key, session token cached and renewed, one retry on UNAUTHORIZED) and
 * socket.ts (the live channel: backlog then `backlog-end`, live and online-only envelopes, presence,
 * request correlation, flow control, reconnection with jittered backoff). Sends and presence queries
 * take the live channel when it is open and REST otherwise. Errors are RelayClientError (errors.ts).
 *
 * Does not own: what envelopes mean (sessions, decryption, dedupe by message id), when to ack (the
 * engine acks after its own commit: delivery is at least once), key storage, or the outbox. Runs in
 * plain Node (global fetch, the `ws` package); it never imports electron.
 *
 * Usage:
 *   const relay = new RelayClient({ url, accountId, deviceId, identitySigningKey });
 *   relay.on('envelope', async (e) => { await engine.receive(e); await relay.ack([e.seq]); });
 *   await relay.connect();                       // resolves at the first `ready`
 *   await relay.send(to, [{ deviceId, content }]); // after commit; MISMATCHED_DEVICES lists missing/stale
 */
import type { z } from 'zod';
import { fromBase64Url, toBase64Url } from '../../../shared/crypto/bytes.js';
import { systemClock, systemRng, type Clock, type Rng } from '../../../shared/crypto/random.js';
import { accountDeletionSignatureInput } from '../../../shared/wire/auth.js';
import { MAX_ACK_BATCH, MAX_PRESENCE_QUERY } from '../../../shared/wire/limits.js';
import {
  AccountResponseSchema,
  BundlesResponseSchema,
  ContactsResponseSchema,
  OwnDevicesResponseSchema,
  PresenceSnapshotSchema,
  PrekeyCountsSchema,
  ProfileResponseSchema,
  PutDeviceListResponseSchema,
  SendResponseSchema,
  type AccountResponse,
  type Bundle,
  type BundlesResponse,
  type OutgoingMessage,
  type OwnDevicesResponse,
  type PrekeyCounts,
  type PrekeyUploadInput,
  type ProfileResponse,
  type RegisterRequestInput,
  type RegisterResponseSchema,
  type WellKnown,
} from '../../../shared/wire/rest.js';
import {
  CreateProvisioningChannelResponseSchema,
  JoinProvisioningChannelResponseSchema,
  ProvisioningInboxResponseSchema,
  ProvisioningMessageResponseSchema,
  type CreateProvisioningChannelResponse,
  type ProvisioningInboxResponse,
} from '../../../shared/wire/provisioning.js';
import { SealedSendResponseSchema, SenderCertificateResponseSchema, type SenderCertificateResponse } from '../../../shared/wire/sealed.js';
import {
  KT_TREE_SIZE_HEADER,
  KtConsistencyResponseSchema,
  KtHeadResponseSchema,
  KtInclusionResponseSchema,
  KtLeavesResponseSchema,
  type KtConsistencyResponse,
  type KtHeadResponse,
  type KtInclusionResponse,
  type KtLeavesResponse,
} from '../../../shared/wire/transparency.js';
import type { Timers } from '../app-lock.js';
import { RelayAuth, type DeviceCredentials } from './auth.js';
import { RelayClientError } from './errors.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, fetchWellKnown, registerAccount, restCall } from './rest.js';
import { DEFAULT_BACKOFF, RelaySocket, withShared, type BackoffOptions, type ConnectionState, type RelayClientEvents } from './socket.js';

export type RelayClientOptions = DeviceCredentials & {
  /** Base URL of the relay, e.g. http://127.0.0.1:8787. */
  readonly url: string;
  readonly clock?: Clock;
  readonly rng?: Rng;
  /** Timers of the live channel's reconnection and health probes (tests pass ManualTimers). */
  readonly timers?: Timers;
  readonly backoff?: Partial<BackoffOptions>;
  /** Per REST request and per WebSocket request (send, ack, presence, ping). */
  readonly requestTimeoutMs?: number;
};

export class RelayClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly auth: RelayAuth;
  private readonly socket: RelaySocket;
  private readonly clock: Clock;

  constructor(private readonly options: RelayClientOptions) {
    const baseUrl = options.url.endsWith('/') ? options.url : `${options.url}/`;
    const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.baseUrl = baseUrl;
    this.timeoutMs = timeoutMs;
    this.clock = options.clock ?? systemClock;
    this.auth = new RelayAuth(baseUrl, options, this.clock, timeoutMs);
    this.socket = new RelaySocket({
      baseUrl,
      auth: this.auth,
      rng: options.rng ?? systemRng,
      clock: this.clock,
      ...(options.timers && { timers: options.timers }),
      backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
      timeoutMs,
    });
  }

  // ── Unauthenticated calls ──

  static wellKnown(url: string, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<WellKnown> {
    return fetchWellKnown(url, timeoutMs);
  }

  /** Registers an account with its first device (the device list names exactly that device). */
  static register(url: string, request: RegisterRequestInput, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<z.output<typeof RegisterResponseSchema>> {
    return registerAccount(url, request, timeoutMs);
  }

  /** A new device's provisioning channel (no account; docs/protocol.md §20.8). */
  static createProvisioningChannel(url: string, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<CreateProvisioningChannelResponse> {
    return restCall(url, 'createProvisioningChannel', { body: {}, schema: CreateProvisioningChannelResponseSchema, timeoutMs });
  }

  /** Posts a device-linking frame on the new device's side of a channel (its bearer token). */
  static async postProvisioningAsNew(url: string, channel: { channelId: Uint8Array; token: Uint8Array }, body: Uint8Array, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<number> {
    const r = await restCall(url, 'sendProvisioningMessage', {
      params: { channelId: toBase64Url(channel.channelId) },
      channelToken: toBase64Url(channel.token),
      body: { body: toBase64Url(body) },
      schema: ProvisioningMessageResponseSchema,
      timeoutMs,
    });
    return r.seq;
  }

  /** The primary's frames after `after` on the new device's side of a channel. */
  static provisioningInboxAsNew(url: string, channel: { channelId: Uint8Array; token: Uint8Array }, after: number, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<ProvisioningInboxResponse> {
    return restCall(url, 'provisioningInbox', {
      params: { channelId: toBase64Url(channel.channelId), after: String(after) },
      channelToken: toBase64Url(channel.token),
      schema: ProvisioningInboxResponseSchema,
      timeoutMs,
    });
  }

  /**
   * A sealed send (docs/protocol.md §21.4) to every current device of `to`, shown with `to`'s
   * delivery token — **without authenticating**: no session token, no device key, nothing that names
   * this device. `online`: typing, delivered only to sockets open now, never stored. UNAUTHORIZED
   * means the token was not accepted (the recipient rotated its profile key).
   */
  static sealedSend(
    url: string,
    request: { readonly to: Uint8Array; readonly token: Uint8Array; readonly upload: Uint8Array; readonly online?: boolean },
    timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
  ): Promise<{ serverTimestamp: number }> {
    const body = { to: toBase64Url(request.to), token: toBase64Url(request.token), upload: toBase64Url(request.upload), ...(request.online && { online: true }) };
    return restCall(url, 'sealedSend', { body, schema: SealedSendResponseSchema, timeoutMs });
  }

  /**
   * POST /v1/sealed/multi without any authentication (a group send, ADR 0032): one upload to every
   * device of each account, each with its delivery token. A refusal names the accounts concerned
   * (`details.accounts` of the RelayClientError).
   */
  static sealedMultiSend(
    url: string,
    request: {
      readonly recipients: readonly { readonly to: Uint8Array; readonly token: Uint8Array }[];
      readonly upload: Uint8Array;
      readonly online?: boolean;
    },
    timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
  ): Promise<{ serverTimestamp: number }> {
    const body = {
      recipients: request.recipients.map((r) => ({ to: toBase64Url(r.to), token: toBase64Url(r.token) })),
      upload: toBase64Url(request.upload),
      ...(request.online && { online: true }),
    };
    return restCall(url, 'sealedMultiSend', { body, schema: SealedSendResponseSchema, timeoutMs });
  }

  // ── Key transparency: the public log (docs/protocol.md §26; no account needed) ──

  /** The signed head and the consistency proof from `since` (0: none). */
  static ktHead(url: string, since: number, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<KtHeadResponse> {
    return restCall(url, 'ktHead', { params: { since: String(since) }, schema: KtHeadResponseSchema, timeoutMs });
  }

  /** A page of leaves from `start`, with the compact range of the first `start` leaves. */
  static ktLeaves(url: string, start: number, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<KtLeavesResponse> {
    return restCall(url, 'ktLeaves', { params: { start: String(start) }, schema: KtLeavesResponseSchema, timeoutMs });
  }

  static ktInclusion(url: string, index: number, size: number, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<KtInclusionResponse> {
    return restCall(url, 'ktInclusion', { params: { index: String(index), size: String(size) }, schema: KtInclusionResponseSchema, timeoutMs });
  }

  static ktConsistency(url: string, from: number, to: number, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<KtConsistencyResponse> {
    return restCall(url, 'ktConsistency', { params: { from: String(from), to: String(to) }, schema: KtConsistencyResponseSchema, timeoutMs });
  }

  // ── Events and the live channel ──

  on<K extends keyof RelayClientEvents>(event: K, listener: RelayClientEvents[K]): () => void {
    return this.socket.on(event, listener);
  }

  get state(): ConnectionState {
    return this.socket.state;
  }

  /** While `reconnecting`: when the next attempt is due (this client's clock); otherwise null. */
  get nextAttemptAt(): number | null {
    return this.socket.nextAttemptAt;
  }

  /** Opens the live channel (and keeps it open, reconnecting) until close(); resolves at `ready`. */
  connect(): Promise<void> {
    return this.socket.connect();
  }
  /** Connects again after a "device removed" close that this device disproved (ADR 0027). */
  revive(): Promise<void> {
    return this.socket.revive();
  }


  /** Closes the live channel for good; pending requests fail with CLOSED. */
  close(): void {
    this.socket.close();
  }

  /** Flow control of the live channel (socket.ts): stop reading the socket until resumeDelivery. */
  pauseDelivery(): void {
    this.socket.pause();
  }

  resumeDelivery(): void {
    this.socket.resume();
  }

  /** Pins the relay id (auth.ts): challenges and deletion statements naming another are refused. */
  pinRelayId(relayId: Uint8Array): void {
    this.auth.pin(relayId);
  }

  /** A valid session token (auth.ts). */
  sessionToken(): Promise<string> {
    return this.auth.sessionToken();
  }

  // ── REST ──

  /** `treeSize`: the newest key-transparency head this client holds, for the consistency proof (§26.5). */
  lookupAccount(accountId: Uint8Array, treeSize?: number): Promise<AccountResponse> {
    return this.auth.call('lookupAccount', { params: { accountId: toBase64Url(accountId) }, headers: treeSizeHeader(treeSize), schema: AccountResponseSchema });
  }

  lookupUsername(username: string, treeSize?: number): Promise<AccountResponse> {
    return this.auth.call('lookupUsername', { params: { username }, headers: treeSizeHeader(treeSize), schema: AccountResponseSchema });
  }

  /** Joins a new device's provisioning channel (one link attempt of this account; ADR 0024). */
  joinProvisioningChannel(target: { channelId: Uint8Array } | { rendezvous: string }): Promise<{ channelId: Uint8Array; expiresAt: number }> {
    const body = 'channelId' in target ? { channelId: toBase64Url(target.channelId) } : { rendezvous: target.rendezvous };
    return this.auth.call('joinProvisioningChannel', { body, schema: JoinProvisioningChannelResponseSchema });
  }

  /** Posts a device-linking frame on the joined side of a channel. */
  async postProvisioning(channelId: Uint8Array, body: Uint8Array): Promise<number> {
    const r = await this.auth.call('sendProvisioningMessage', { params: { channelId: toBase64Url(channelId) }, body: { body: toBase64Url(body) }, schema: ProvisioningMessageResponseSchema });
    return r.seq;
  }

  /** The new device's frames after `after` on the joined side of a channel. */
  provisioningInbox(channelId: Uint8Array, after: number): Promise<ProvisioningInboxResponse> {
    return this.auth.call('provisioningInbox', { params: { channelId: toBase64Url(channelId), after: String(after) }, schema: ProvisioningInboxResponseSchema });
  }

  /** This account's devices with the UTC day each last connected (Linked devices; ADR 0027). */
  ownDevices(): Promise<OwnDevicesResponse> {
    return this.auth.call('ownDevices', { schema: OwnDevicesResponseSchema });
  }

  /**
   * After the relay closed the live channel with "device removed" (or refused this device's
   * session): authenticates afresh. Returns the signed list the relay offers as proof of the
   * removal (DEVICE_REMOVED; the caller verifies it), or null when this device still authenticates.
   */
  async removalProof(): Promise<Uint8Array | null> {
    this.auth.forgetToken();
    try {
      await this.auth.sessionToken();
      return null;
    } catch (e) {
      if (e instanceof RelayClientError && e.code === 'DEVICE_REMOVED' && e.details.deviceList !== undefined) return fromBase64Url(e.details.deviceList);
      throw e;
    }
  }

  /** Publishes a new signed device list (higher version, signed by the account key). */
  putDeviceList(signedDeviceList: Uint8Array): Promise<{ version: number; removedDeviceIds: number[] }> {
    return this.auth.call('putDeviceList', { body: { deviceList: toBase64Url(signedDeviceList) }, schema: PutDeviceListResponseSchema });
  }

  async setPresenceVisible(presenceVisible: boolean): Promise<void> {
    await this.auth.call('putSettings', { body: { presenceVisible } });
  }

  /** Unregisters this device: its mailbox, prekeys and sessions are deleted on the relay. */
  async unregisterDevice(): Promise<void> {
    await this.auth.call('unregisterDevice');
    this.close();
  }

  /**
   * Deletes the account. `signWithAccountKey` signs the deletion statement with the account private
   * key (held by the primary device only); the relay checks it against the registered account key.
   * The statement names the pinned relay id, never one a challenge offered.
   */
  async deleteAccount(signWithAccountKey: (input: Uint8Array) => Uint8Array): Promise<void> {
    const relayId = await this.auth.relayId();
    const time = this.clock();
    const signature = signWithAccountKey(accountDeletionSignatureInput(relayId, this.options.accountId, time));
    await this.auth.call('deleteAccount', { body: { time, signature: toBase64Url(signature) } });
    this.close();
  }

  uploadPrekeys(upload: PrekeyUploadInput): Promise<PrekeyCounts> {
    return this.auth.call('uploadPrekeys', { body: upload, schema: PrekeyCountsSchema });
  }

  prekeyCounts(): Promise<PrekeyCounts> {
    return this.auth.call('prekeyCounts', { schema: PrekeyCountsSchema });
  }

  /** Claims bundles for every current device of the account (or one device). */
  async fetchBundles(accountId: Uint8Array, deviceId?: number): Promise<Bundle[]> {
    return (await this.fetchBundleResponse(accountId, deviceId)).bundles;
  }

  /** The whole bundles answer: the bundles, the signed list they must match and its key-transparency proofs. */
  fetchBundleResponse(accountId: Uint8Array, deviceId?: number, treeSize?: number): Promise<BundlesResponse> {
    const params: Record<string, string> = { accountId: toBase64Url(accountId) };
    const headers = treeSizeHeader(treeSize);
    return deviceId === undefined
      ? this.auth.call('bundles', { params, headers, schema: BundlesResponseSchema })
      : this.auth.call('deviceBundle', { params: { ...params, deviceId: String(deviceId) }, headers, schema: BundlesResponseSchema });
  }

  /** The relay's signed tree head and the consistency proof from `since` (its public log, §26.6). */
  transparencyHead(since: number): Promise<KtHeadResponse> {
    return RelayClient.ktHead(this.baseUrl, since, this.timeoutMs);
  }

  /** A page of the relay's log from `start`, with the compact range before it. */
  transparencyLeaves(start: number): Promise<KtLeavesResponse> {
    return RelayClient.ktLeaves(this.baseUrl, start, this.timeoutMs);
  }

  /** Replaces this account's encrypted profile (docs/protocol.md §18; the relay cannot open it). */
  async putProfile(encryptedProfile: Uint8Array): Promise<void> {
    await this.auth.call('putProfile', { body: { profile: toBase64Url(encryptedProfile) } });
  }

  /** This relay's `/.well-known/parley`. */
  wellKnown(): Promise<WellKnown> {
    return fetchWellKnown(this.baseUrl, this.timeoutMs);
  }

  /**
   * A sealed send (RelayClient.sealedSend) to this client's relay: a REST request of its own that
   * carries no session token — not over the authenticated live channel.
   */
  sendSealed(request: { readonly to: Uint8Array; readonly token: Uint8Array; readonly upload: Uint8Array; readonly online?: boolean }): Promise<{ serverTimestamp: number }> {
    return RelayClient.sealedSend(this.baseUrl, request, this.timeoutMs);
  }

  /** A multi-account sealed send (RelayClient.sealedMultiSend) to this client's relay, unauthenticated. */
  sendSealedMulti(request: Parameters<typeof RelayClient.sealedMultiSend>[1]): Promise<{ serverTimestamp: number }> {
    return RelayClient.sealedMultiSend(this.baseUrl, request, this.timeoutMs);
  }

  /** Registers SHA-256 of this account's delivery token (sealed sender, docs/protocol.md §21.1). */
  async putDeliveryTokenHash(tokenHash: Uint8Array): Promise<void> {
    await this.auth.call('putDeliveryToken', { body: { tokenHash: toBase64Url(tokenHash) } });
  }

  /** A sender certificate for this device (docs/protocol.md §21.2), valid up to 24 h. */
  senderCertificate(): Promise<SenderCertificateResponse> {
    return this.auth.call('senderCertificate', { schema: SenderCertificateResponseSchema });
  }

  /** An account's encrypted profile; NOT_FOUND when it has none. */
  getProfile(accountId: Uint8Array): Promise<ProfileResponse> {
    return this.auth.call('getProfile', { params: { accountId: toBase64Url(accountId) }, schema: ProfileResponseSchema });
  }

  async setContacts(contacts: readonly Uint8Array[]): Promise<void> {
    await this.auth.call('putContacts', { body: { contacts: contacts.map(toBase64Url) } });
  }

  getContacts(): Promise<{ contacts: Uint8Array[]; presenceVisible: boolean }> {
    return this.auth.call('getContacts', { schema: ContactsResponseSchema });
  }

  async deleteContacts(): Promise<void> {
    await this.auth.call('deleteContacts');
  }

  // ── Messages and presence (live channel when open, REST otherwise) ──

  /**
   * Sends one ciphertext per current device of `to` (your own account: your other devices).
   * Resolves with the relay timestamp once committed; MISMATCHED_DEVICES carries `missing`/`stale`.
   */
  async send(to: Uint8Array, messages: readonly OutgoingMessage[]): Promise<{ serverTimestamp: number }> {
    const wire = { to: toBase64Url(to), messages: messages.map((m) => ({ deviceId: m.deviceId, content: toBase64Url(m.content) })) };
    if (this.socket.state === 'open') {
      const frame = await this.socket.request({ type: 'send', ...wire });
      if (frame.type !== 'sent') throw new RelayClientError('BAD_RESPONSE', 'unexpected reply to send');
      return { serverTimestamp: frame.serverTimestamp };
    }
    return this.auth.call('send', { body: wire, schema: SendResponseSchema });
  }

  /** Deletes envelopes from this device's mailbox; resolves when the relay has committed it. */
  async ack(seqs: readonly number[]): Promise<void> {
    for (let i = 0; i < seqs.length; i += MAX_ACK_BATCH) {
      await this.socket.request({ type: 'ack', seqs: seqs.slice(i, i + MAX_ACK_BATCH) });
    }
  }

  /** `shared` is true when an older relay leaves it out (it could not tell hidden from offline). */
  async presence(accounts: readonly Uint8Array[]): Promise<{ accountId: Uint8Array; online: boolean; shared: boolean }[]> {
    const out: { accountId: Uint8Array; online: boolean; shared: boolean }[] = [];
    for (let i = 0; i < accounts.length; i += MAX_PRESENCE_QUERY) {
      const part = accounts.slice(i, i + MAX_PRESENCE_QUERY).map(toBase64Url);
      if (this.socket.state === 'open') {
        const frame = await this.socket.request({ type: 'presence-query', accounts: part });
        if (frame.type !== 'presence-snapshot') throw new RelayClientError('BAD_RESPONSE', 'unexpected reply to presence-query');
        out.push(...frame.entries.map(withShared));
      } else {
        out.push(...(await this.auth.call('presenceQuery', { body: { accounts: part }, schema: PresenceSnapshotSchema })).entries.map(withShared));
      }
    }
    return out;
  }

  /** Round trip over the live channel; resolves with the relay's clock. */
  async ping(): Promise<number> {
    const frame = await this.socket.request({ type: 'ping' });
    if (frame.type !== 'pong') throw new RelayClientError('BAD_RESPONSE', 'unexpected reply to ping');
    return frame.serverTime;
  }
}

/** The `Parley-Tree-Size` header of a lookup, when the client holds a head. */
function treeSizeHeader(treeSize: number | undefined): Record<string, string> {
  return treeSize === undefined ? {} : { [KT_TREE_SIZE_HEADER]: String(treeSize) };
}
