/**
 * Test accounts for relay tests: real keys (Ed25519 account and device identity keys, X25519
 * identity and prekeys, ML-KEM-768 prekeys), real signed device lists (shared/protocol) and register
 * requests in wire form. ML-KEM key pairs are costly to generate, so a small pool is reused across
 * devices — the relay only checks each device's signature over them.
 */
import { toBase64Url } from '../../../../shared/crypto/bytes.js';
import { ed25519GenerateKeyPair, ed25519Sign, type Ed25519KeyPair } from '../../../../shared/crypto/ed25519.js';
import { mlKem768GenerateKeyPair } from '../../../../shared/crypto/ml-kem-768.js';
import { systemRng, type Rng } from '../../../../shared/crypto/random.js';
import { x25519GenerateKeyPair, type X25519KeyPair } from '../../../../shared/crypto/x25519.js';
import { Capability } from '../../../../shared/protocol/constants.js';
import { signDeviceList, type DeviceEntry } from '../../../../shared/protocol/device-list.js';
import { kemPrekeySignatureInput, signedPrekeySignatureInput } from '../../../../shared/protocol/prekeys.js';
import { accountDeletionSignatureInput } from '../../../../shared/wire/auth.js';
import type { PrekeyUploadInput, RegisterRequestInput } from '../../../../shared/wire/rest.js';
import { RelayClient, type RelayClientOptions } from '../../../../electron/engine/relay/client.js';

const KEM_POOL_SIZE = 4;
let kemPool: Uint8Array[] | undefined;
function kemPublicKey(i: number): Uint8Array {
  kemPool ??= Array.from({ length: KEM_POOL_SIZE }, () => mlKem768GenerateKeyPair(systemRng).publicKey);
  return kemPool[i % KEM_POOL_SIZE]!;
}

let usernameCounter = 0;
/** A fresh valid username (unique within a test process). */
export function uniqueUsername(prefix = 'user'): string {
  return `${prefix}_${process.pid}_${++usernameCounter}`.slice(0, 32);
}

export class TestDevice {
  readonly signing: Ed25519KeyPair;
  readonly dh: X25519KeyPair;
  private nextKeyId = 1;

  constructor(
    readonly deviceId: number,
    private readonly rng: Rng = systemRng,
    readonly addedAt = Date.now(),
  ) {
    this.signing = ed25519GenerateKeyPair(rng);
    this.dh = x25519GenerateKeyPair(rng);
  }

  get entry(): DeviceEntry {
    return {
      deviceId: this.deviceId,
      identityDhKey: this.dh.publicKey,
      identitySigningKey: this.signing.publicKey,
      capabilities: Capability.pq,
      addedAt: this.addedAt,
    };
  }

  signedPrekey(createdAt = Date.now(), keyId = this.nextKeyId++) {
    const publicKey = x25519GenerateKeyPair(this.rng).publicKey;
    const signature = ed25519Sign(this.signing.privateKey, signedPrekeySignatureInput(keyId, publicKey, createdAt));
    return { keyId, publicKey: toBase64Url(publicKey), createdAt, signature: toBase64Url(signature) };
  }

  kemPrekey(lastResort: boolean, createdAt = Date.now(), keyId = this.nextKeyId++) {
    const publicKey = kemPublicKey(keyId);
    const signature = ed25519Sign(this.signing.privateKey, kemPrekeySignatureInput(keyId, publicKey, createdAt, lastResort));
    return { keyId, publicKey: toBase64Url(publicKey), createdAt, lastResort, signature: toBase64Url(signature) };
  }

  oneTimePrekeys(count: number) {
    return Array.from({ length: count }, () => ({
      keyId: this.nextKeyId++,
      publicKey: toBase64Url(x25519GenerateKeyPair(this.rng).publicKey),
    }));
  }

  /** A complete upload: signed prekey, last-resort KEM key, and one-time batches. */
  prekeyUpload(oneTime = 0, kemOneTime = 0, createdAt = Date.now()): PrekeyUploadInput {
    return {
      signedPrekey: this.signedPrekey(createdAt),
      lastResortKemPrekey: this.kemPrekey(true, createdAt),
      oneTimePrekeys: this.oneTimePrekeys(oneTime),
      kemOneTimePrekeys: Array.from({ length: kemOneTime }, () => this.kemPrekey(false, createdAt)),
    };
  }
}

export class TestAccount {
  readonly accountId: Uint8Array;
  readonly accountKey: Ed25519KeyPair;
  readonly devices: TestDevice[];
  version = 1;

  constructor(
    readonly username = uniqueUsername(),
    deviceIds: readonly number[] = [1],
    private readonly rng: Rng = systemRng,
  ) {
    this.accountId = rng(16);
    this.accountKey = ed25519GenerateKeyPair(rng);
    this.devices = deviceIds.map((id) => new TestDevice(id, rng));
  }

  device(deviceId: number): TestDevice {
    const d = this.devices.find((x) => x.deviceId === deviceId);
    if (!d) throw new Error(`no test device ${deviceId}`);
    return d;
  }

  addDevice(deviceId: number): TestDevice {
    const d = new TestDevice(deviceId, this.rng);
    this.devices.push(d);
    this.devices.sort((a, b) => a.deviceId - b.deviceId);
    return d;
  }

  removeDevice(deviceId: number): void {
    const i = this.devices.findIndex((d) => d.deviceId === deviceId);
    if (i >= 0) this.devices.splice(i, 1);
  }

  /** The current devices as a list signed by the account key, at `version`. */
  signedList(version = this.version, devices: readonly TestDevice[] = this.devices, issuedAt = Date.now()): Uint8Array {
    return signDeviceList(
      { accountId: this.accountId, version, issuedAt, devices: devices.map((d) => d.entry) },
      this.accountKey.privateKey,
    );
  }

  /** Registration for the first device (the list names exactly that device). */
  registerRequest(options: { oneTime?: number; kemOneTime?: number; createdAt?: number } = {}): RegisterRequestInput {
    const first = this.devices[0]!;
    const upload = first.prekeyUpload(options.oneTime ?? 0, options.kemOneTime ?? 0, options.createdAt);
    return {
      username: this.username,
      accountId: toBase64Url(this.accountId),
      accountKey: toBase64Url(this.accountKey.publicKey),
      deviceList: toBase64Url(this.signedList(this.version, [first])),
      prekeys: {
        signedPrekey: upload.signedPrekey!,
        lastResortKemPrekey: upload.lastResortKemPrekey!,
        oneTimePrekeys: upload.oneTimePrekeys,
        kemOneTimePrekeys: upload.kemOneTimePrekeys,
      },
    };
  }

  client(url: string, deviceId = this.devices[0]!.deviceId, options: Partial<RelayClientOptions> = {}): RelayClient {
    return new RelayClient({
      url,
      accountId: this.accountId,
      deviceId,
      identitySigningKey: this.device(deviceId).signing.privateKey,
      backoff: { initialDelayMs: 50, maxDelayMs: 500 },
      requestTimeoutMs: 10_000,
      ...options,
    });
  }

  /** Signs the account-deletion statement with the account key. */
  signDeletion(relayId: Uint8Array, time: number): Uint8Array {
    return ed25519Sign(this.accountKey.privateKey, accountDeletionSignatureInput(relayId, this.accountId, time));
  }
}

/**
 * Registers `account` (first device), then, if it has more devices, publishes a list naming all of
 * them (version 2) and uploads their prekeys. Returns a connected-capable client per device.
 */
export async function registerAccount(
  url: string,
  account: TestAccount,
  options: { oneTime?: number; kemOneTime?: number } = {},
): Promise<Map<number, RelayClient>> {
  await RelayClient.register(url, account.registerRequest(options));
  const clients = new Map<number, RelayClient>();
  const first = account.devices[0]!;
  clients.set(first.deviceId, account.client(url, first.deviceId));
  if (account.devices.length > 1) {
    account.version += 1;
    await clients.get(first.deviceId)!.putDeviceList(account.signedList());
    for (const d of account.devices.slice(1)) {
      const client = account.client(url, d.deviceId);
      await client.uploadPrekeys(d.prekeyUpload(options.oneTime ?? 0, options.kemOneTime ?? 0));
      clients.set(d.deviceId, client);
    }
  }
  return clients;
}
