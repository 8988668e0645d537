/**
 * A second device for an engine's account, before device linking exists: shared/testing's
 * linkTestDevice makes its keys and signs the account's next list with the account key (taken from
 * the engine's database); the list goes to the relay over the first device's credentials, the new
 * device uploads its prekeys and connects with its own. It speaks the protocol directly (sessions,
 * content), keeps its state in memory and records what it received.
 */
import { bytesEqual, toBase64Url } from '../../../../shared/crypto/bytes.js';
import { systemRng } from '../../../../shared/crypto/random.js';
import { Capability } from '../../../../shared/protocol/constants.js';
import { parseDeviceList, type DeviceEntry } from '../../../../shared/protocol/device-list.js';
import { isProtocolError } from '../../../../shared/protocol/errors.js';
import { messageTypeOf, MessageType } from '../../../../shared/protocol/messages.js';
import {
  decryptMessage,
  encryptMessage,
  FailureBudgets,
  initiateSession,
  type PeerDevice,
} from '../../../../shared/protocol/session.js';
import { EMPTY_RECORD, type SessionRecord } from '../../../../shared/protocol/session-record.js';
import { openSealedEnvelope } from '../../../../shared/protocol/sealed-sender.js';
import { linkTestDevice, unlinkTestDevice } from '../../../../shared/testing/device-list-fixtures.js';
import { InMemorySkippedKeyStore, localDevice, type TestDevice } from '../../../../shared/testing/protocol-fixtures.js';
import type { Envelope } from '../../../../shared/wire/frames.js';
import { decodeContent, encodeContent, type Content } from '../../../../electron/engine/messaging/content.js';
import { RelayClient } from '../../../../electron/engine/relay/client.js';
import type { TestEngine } from '../../../support/engines.js';

type Received = { readonly from: { accountId: Uint8Array; deviceId: number }; readonly content: Content };

export class LinkedTestDevice {
  readonly received: Received[] = [];
  readonly failures: string[] = [];
  /** How many envelopes arrived sealed (no source at the relay). */
  sealed = 0;
  readonly records = new Map<string, SessionRecord>();
  readonly skipped = new InMemorySkippedKeyStore();
  readonly budgets = new FailureBudgets();
  readonly client: RelayClient;

  private constructor(
    readonly device: TestDevice,
    readonly owner: TestEngine,
    relayUrl: string,
  ) {
    this.client = new RelayClient({
      url: relayUrl,
      accountId: device.account.accountId,
      deviceId: device.deviceId,
      identitySigningKey: device.identitySigning.privateKey,
      backoff: { initialDelayMs: 50, maxDelayMs: 300 },
      requestTimeoutMs: 5_000,
    });
    this.client.on('envelope', (e) => void this.#onEnvelope(e));
  }

  /** Links a new device to `owner`'s account at the relay (list v+1 signed by the account key) and connects it. */
  static async link(owner: TestEngine, relayUrl: string, capabilities: number = Capability.pq | Capability.sealed): Promise<LinkedTestDevice> {
    const account = owner.engine.current!.account;
    const { device, next } = linkTestDevice(account.deviceList.signed, account.accountPrivateKey!, { rng: systemRng, now: Date.now }, { oneTimePrekeys: 20, kemOneTimePrekeys: 5, capabilities });
    await owner.engine.messaging!.relay.putDeviceList(next.signed);
    const linked = new LinkedTestDevice(device, owner, relayUrl);
    await linked.uploadPrekeys();
    await linked.client.connect();
    return linked;
  }

  /** Takes this device off the account's list again (the primary's decision). */
  async unlink(): Promise<void> {
    const account = this.owner.engine.current!.account;
    const relayList = (await this.owner.engine.messaging!.relay.lookupAccount(account.accountId)).deviceList;
    const next = unlinkTestDevice(relayList, account.accountPrivateKey!, this.device.deviceId, Date.now());
    this.client.close();
    await this.owner.engine.messaging!.relay.putDeviceList(next.signed);
  }

  async uploadPrekeys(): Promise<void> {
    const p = this.device.prekeys;
    const spk = [...p.signed.values()].at(-1)!;
    const kems = [...p.kem.values()];
    const wireKem = (k: (typeof kems)[number]) => ({
      keyId: k.keyId,
      publicKey: toBase64Url(k.publicKey),
      createdAt: k.createdAt,
      lastResort: k.lastResort,
      signature: toBase64Url(k.signature),
    });
    await this.client.uploadPrekeys({
      signedPrekey: { keyId: spk.keyId, publicKey: toBase64Url(spk.publicKey), createdAt: spk.createdAt, signature: toBase64Url(spk.signature) },
      lastResortKemPrekey: wireKem(kems.find((k) => k.lastResort)!),
      oneTimePrekeys: [...p.oneTime.values()].map((k) => ({ keyId: k.keyId, publicKey: toBase64Url(k.publicKey) })),
      kemOneTimePrekeys: kems.filter((k) => !k.lastResort).map(wireKem),
    });
  }

  close(): void {
    this.client.close();
  }

  texts(): string[] {
    return this.received.flatMap((r) => (r.content.type === 'text' || r.content.type === 'sent' ? [r.content.text] : []));
  }

  /** A peer device's entry from an engine's own (verified) list. */
  static entryOf(engine: TestEngine, deviceId = 1): PeerDevice {
    const account = engine.engine.current!.account;
    const entry = parseDeviceList(account.deviceList.signed).list.devices.find((d) => d.deviceId === deviceId)!;
    return { accountId: account.accountId, entry };
  }

  #key(peer: { accountId: Uint8Array; entry: DeviceEntry }): string {
    return `${toBase64Url(peer.accountId)}:${peer.entry.deviceId}`;
  }

  /** Sends content to every device of `to` (an engine's single device), starting a session if needed. */
  async sendTo(to: TestEngine, content: Content): Promise<void> {
    await this.sendRawTo(to, encodeContent(content));
  }

  /** Sends any plaintext as content (a kind from a newer version, a malformed one). */
  async sendRawTo(to: TestEngine, plaintext: Uint8Array): Promise<void> {
    const peer = LinkedTestDevice.entryOf(to);
    const bytes = await this.encryptFor(to, plaintext);
    await this.client.send(peer.accountId, [{ deviceId: peer.entry.deviceId, content: bytes }]);
  }

  /**
   * The next message of this device's session with `to`'s device 1 (started if needed), not sent:
   * for a test that plays a relay delivering it (or something made of it) itself.
   */
  async encryptFor(to: TestEngine, plaintext: Uint8Array): Promise<Uint8Array> {
    const peer = LinkedTestDevice.entryOf(to);
    let record = this.records.get(this.#key(peer));
    if (!record?.current) {
      const [bundle] = await this.client.fetchBundles(peer.accountId, peer.entry.deviceId);
      record = initiateSession(record, { local: localDevice(this.device), peer, bundle: { ...bundle!, accountId: peer.accountId } }, { rng: systemRng, now: Date.now }).record;
    }
    const { record: next, message } = encryptMessage(record ?? EMPTY_RECORD, plaintext);
    this.records.set(this.#key(peer), next);
    return message.bytes;
  }

  async #onEnvelope(e: Envelope): Promise<void> {
    let source = e.source;
    let content = e.content;
    if (!source) {
      // Sealed (docs/protocol.md §21): opened with this device's key under the relay's published certificate key.
      try {
        const wk = await this.client.wellKnown();
        const trust = new Map([[wk.sealed!.certificateKeyId, wk.certificateKey]]);
        const opened = openSealedEnvelope(e.content, { identityPrivate: this.device.identityDh.privateKey }, trust, e.serverTimestamp);
        source = { accountId: opened.certificate.accountId, deviceId: opened.certificate.deviceId };
        content = opened.message;
        this.sealed++;
      } catch (err) {
        this.failures.push(isProtocolError(err) ? err.code : String(err));
        await this.client.ack([e.seq]).catch(() => undefined);
        return;
      }
    }
    const owner = this.owner.engine.current?.account;
    // Senders: the owner's primary (this account), or a contact engine's device (looked up at the relay).
    let entry: DeviceEntry | undefined;
    if (owner && bytesEqual(source.accountId, owner.accountId)) {
      entry = parseDeviceList(owner.deviceList.signed).list.devices.find((d) => d.deviceId === source.deviceId);
    } else {
      const account = await this.client.lookupAccount(source.accountId);
      entry = parseDeviceList(account.deviceList).list.devices.find((d) => d.deviceId === source.deviceId);
    }
    if (!entry) {
      this.failures.push('unknown sender');
      return;
    }
    const peer: PeerDevice = { accountId: source.accountId, entry };
    try {
      if (messageTypeOf(content) === MessageType.DecryptionError) {
        this.failures.push('decryption error');
      } else {
        const result = decryptMessage(this.records.get(this.#key(peer)), content, {
          local: localDevice(this.device),
          peer,
          prekeys: this.device.prekeys,
          skipped: (id) => this.skipped.reader(id),
          budgets: this.budgets,
          rng: systemRng,
          now: Date.now,
        });
        this.records.set(this.#key(peer), result.record);
        this.skipped.apply(result.sessionId, result.skippedChanges);
        this.device.prekeys.apply(result.prekeyChanges);
        this.received.push({ from: source, content: decodeContent(result.plaintext) });
      }
    } catch (err) {
      this.failures.push(isProtocolError(err) ? err.code : String(err));
    }
    await this.client.ack([e.seq]).catch(() => undefined);
  }
}
