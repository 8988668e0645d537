/**
 * Prekeys on the relay (DESIGN §3.3): upload (signatures verified against the device's Ed25519
 * identity key from its signed list entry, so the relay never serves a prekey the device did not
 * sign), remaining counts, and bundle fetches that consume one one-time X25519 and one one-time
 * ML-KEM key per device atomically, falling back to the last-resort ML-KEM key. Fetches are
 * rate-limited per requester address and per (requester, target), and one-time keys per target
 * device (a claim budget: past it, bundles without one-time keys). Does not own the initiator's checks of a bundle
 * (shared/protocol/prekeys.ts verifyBundle) or key generation (the engine).
 */
import { toHex } from '../../shared/crypto/bytes.js';
import { verifyKemPrekey, verifySignedPrekey } from '../../shared/protocol/prekeys.js';
import type { ClaimedBundle, PrekeyCountsRecord, PrekeySet, SignedPrekeyRecord } from '../store/store.js';
import type { AuthenticatedDevice, RelayContext } from './context.js';
import { RelayError, spend } from './errors.js';

type KemInput = SignedPrekeyRecord & { readonly lastResort: boolean };

export type PrekeySetInput = {
  readonly signedPrekey?: SignedPrekeyRecord | undefined;
  readonly lastResortKemPrekey?: KemInput | undefined;
  readonly oneTimePrekeys?: readonly { readonly keyId: number; readonly publicKey: Uint8Array }[] | undefined;
  readonly kemOneTimePrekeys?: readonly KemInput[] | undefined;
};

/** Checks every signature and the last-resort flags; returns what the store keeps. */
export function verifyPrekeySet(identitySigningKey: Uint8Array, input: PrekeySetInput): PrekeySet {
  const bad = (what: string): never => {
    throw new RelayError('BAD_SIGNATURE', `${what} signature does not verify under the device identity key`);
  };
  if (input.signedPrekey && !verifySignedPrekey(identitySigningKey, input.signedPrekey)) bad('signed prekey');
  if (input.lastResortKemPrekey) {
    if (!input.lastResortKemPrekey.lastResort) throw new RelayError('MALFORMED', 'lastResortKemPrekey must have lastResort = true');
    if (!verifyKemPrekey(identitySigningKey, input.lastResortKemPrekey)) bad('last-resort ML-KEM prekey');
  }
  for (const kem of input.kemOneTimePrekeys ?? []) {
    if (kem.lastResort) throw new RelayError('MALFORMED', 'one-time ML-KEM prekeys must have lastResort = false');
    if (!verifyKemPrekey(identitySigningKey, kem)) bad('one-time ML-KEM prekey');
  }
  const strip = (k: KemInput): SignedPrekeyRecord => ({ keyId: k.keyId, publicKey: k.publicKey, createdAt: k.createdAt, signature: k.signature });
  return {
    signedPrekey: input.signedPrekey,
    lastResortKemPrekey: input.lastResortKemPrekey && strip(input.lastResortKemPrekey),
    oneTimePrekeys: input.oneTimePrekeys,
    kemOneTimePrekeys: input.kemOneTimePrekeys?.map(strip),
  };
}

export class PrekeyService {
  constructor(private readonly ctx: RelayContext) {}

  async upload(device: AuthenticatedDevice, input: PrekeySetInput): Promise<PrekeyCountsRecord> {
    const prekeys = verifyPrekeySet(device.identitySigningKey, input);
    const cap = this.ctx.limits.config.maxOneTimePrekeysPerKind;
    const stored = await this.ctx.store.storePrekeys(device.deviceKey, prekeys, { maxOneTimePerKind: cap });
    if (stored.status === 'too-many') {
      throw new RelayError(
        'TOO_MANY_PREKEYS',
        `at most ${cap} one-time prekeys of each kind are kept per device; ${stored.oneTimePrekeys} X25519 and ${stored.kemOneTimePrekeys} ML-KEM are stored`,
      );
    }
    return this.ctx.store.prekeyCounts(device.deviceKey);
  }

  counts(device: AuthenticatedDevice): Promise<PrekeyCountsRecord> {
    return this.ctx.store.prekeyCounts(device.deviceKey);
  }

  /**
   * `address` is the requester's address key (server/limits/address.ts). Each target device gives out
   * at most `oneTimeClaimsPerDevice` one-time keys per window, to whoever asks; past that its bundle
   * carries the last-resort ML-KEM key and no one-time X25519 key (still a complete PQXDH bundle).
   */
  async bundles(address: string, requester: AuthenticatedDevice, target: Uint8Array, deviceId?: number): Promise<ClaimedBundle[]> {
    const { limits, store } = this.ctx;
    await spend(limits.bundlesIp, address, 'bundle fetches from this address');
    await spend(limits.bundles, `${requester.accountHex}:${toHex(target)}`, 'bundle fetches for this account');
    const account = await store.getAccount(target);
    if (!account) throw new RelayError('NOT_FOUND', 'no such account');
    const devices = (await store.listDevices(target)).filter((d) => deviceId === undefined || d.deviceId === deviceId);
    const oneTimeFor: number[] = [];
    for (const d of devices) if ((await limits.oneTimeClaims.consume(String(d.deviceKey))) === 0) oneTimeFor.push(d.deviceKey);
    const bundles = await store.claimBundles(target, deviceId, { oneTimeFor });
    if (deviceId !== undefined && bundles.length === 0) throw new RelayError('NOT_FOUND', 'no bundle for that device');
    return bundles;
  }
}
