/**
 * Benchmark accounts: real keys and a real signed device list and prekeys, as the engine would
 * register them (one device per account). The ML-KEM last-resort public key is shared by the
 * accounts of one process (each device still signs it), which spares 10,000 key generations.
 */
import { toBase64Url } from '../../shared/crypto/bytes.js';
import { ed25519GenerateKeyPair, ed25519Sign } from '../../shared/crypto/ed25519.js';
import { mlKem768GenerateKeyPair } from '../../shared/crypto/ml-kem-768.js';
import { systemRng } from '../../shared/crypto/random.js';
import { x25519GenerateKeyPair } from '../../shared/crypto/x25519.js';
import { Capability } from '../../shared/protocol/constants.js';
import { signDeviceList } from '../../shared/protocol/device-list.js';
import { kemPrekeySignatureInput, signedPrekeySignatureInput } from '../../shared/protocol/prekeys.js';
import type { RegisterRequestInput } from '../../shared/wire/rest.js';

export type BenchAccount = {
  readonly accountId: Uint8Array;
  readonly id: string;
  readonly signingKey: Uint8Array;
  /** The device's X25519 identity key pair (what sealed sends are addressed to, bench/groups). */
  readonly identityDh: { readonly publicKey: Uint8Array; readonly privateKey: Uint8Array };
  readonly request: RegisterRequestInput;
};

let kemPublicKey: Uint8Array | undefined;

export function makeAccount(username: string): BenchAccount {
  kemPublicKey ??= mlKem768GenerateKeyPair(systemRng).publicKey;
  const now = Date.now();
  const accountId = systemRng(16);
  const accountKey = ed25519GenerateKeyPair(systemRng);
  const signing = ed25519GenerateKeyPair(systemRng);
  const dh = x25519GenerateKeyPair(systemRng);
  const spk = x25519GenerateKeyPair(systemRng).publicKey;
  const list = signDeviceList(
    {
      accountId,
      version: 1,
      issuedAt: now,
      devices: [{ deviceId: 1, identityDhKey: dh.publicKey, identitySigningKey: signing.publicKey, capabilities: Capability.pq, addedAt: now }],
    },
    accountKey.privateKey,
  );
  const request: RegisterRequestInput = {
    username,
    accountId: toBase64Url(accountId),
    accountKey: toBase64Url(accountKey.publicKey),
    deviceList: toBase64Url(list),
    prekeys: {
      signedPrekey: {
        keyId: 1,
        publicKey: toBase64Url(spk),
        createdAt: now,
        signature: toBase64Url(ed25519Sign(signing.privateKey, signedPrekeySignatureInput(1, spk, now))),
      },
      lastResortKemPrekey: {
        keyId: 2,
        publicKey: toBase64Url(kemPublicKey),
        createdAt: now,
        lastResort: true,
        signature: toBase64Url(ed25519Sign(signing.privateKey, kemPrekeySignatureInput(2, kemPublicKey, now, true))),
      },
    },
  };
  return { accountId, id: toBase64Url(accountId), signingKey: signing.privateKey, identityDh: dh, request };
}
