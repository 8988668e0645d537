/**
 * Test fixtures for the protocol layer: whole devices (account key, identity keys, signed list,
 * prekeys), in-memory prekey and skipped-key stores that apply the changes session.ts returns, and a
 * `Party` that holds one session record per peer the way the engine will. Never imported by
 * product code.
 */
import { bytesEqual, concatBytes, toHex } from '../crypto/bytes.js';
import { ed25519GenerateKeyPair, type Ed25519KeyPair } from '../crypto/ed25519.js';
import type { Clock, Rng } from '../crypto/random.js';
import { x25519GenerateKeyPair, type X25519KeyPair } from '../crypto/x25519.js';
import { Capability, MAX_SKIPPED_KEYS_PER_SESSION } from '../protocol/constants.js';
import { signDeviceList, type DeviceEntry, type DeviceList } from '../protocol/device-list.js';
import type { SkippedKeyChanges, SkippedKeyReader } from '../protocol/double-ratchet.js';
import {
  generateKemPrekey,
  generateOneTimePrekeys,
  generateSignedPrekey,
  type KemPrekeyPrivate,
  type OneTimePrekeyPrivate,
  type PrekeyBundle,
  type SignedPrekeyPrivate,
} from '../protocol/prekeys.js';
import { createDecryptionError, handleDecryptionError } from '../protocol/decryption-error.js';
import {
  decryptMessage,
  encryptMessage,
  FailureBudgets,
  initiateSession,
  type LocalDevice,
  type PeerDevice,
  type PrekeyChanges,
  type PrekeyReader,
  type SessionDecryptResult,
} from '../protocol/session.js';
import {
  deserializeSessionRecord,
  serializeSessionRecord,
  type SessionRecord,
  EMPTY_RECORD,
} from '../protocol/session-record.js';

export type TestAccount = {
  readonly accountId: Uint8Array;
  readonly accountKey: Ed25519KeyPair;
};

export type TestDevice = {
  readonly account: TestAccount;
  readonly deviceId: number;
  readonly identityDh: X25519KeyPair;
  readonly identitySigning: Ed25519KeyPair;
  readonly pq: boolean;
  readonly entry: DeviceEntry;
  readonly prekeys: InMemoryPrekeyStore;
};

export function makeAccount(rng: Rng): TestAccount {
  return { accountId: rng(16), accountKey: ed25519GenerateKeyPair(rng) };
}

export function makeDevice(
  rng: Rng,
  now: number,
  opts: { account?: TestAccount; deviceId?: number; pq?: boolean; oneTimePrekeys?: number; kemOneTimePrekeys?: number; capabilities?: number } = {},
): TestDevice {
  const account = opts.account ?? makeAccount(rng);
  const deviceId = opts.deviceId ?? 1;
  const pq = opts.pq ?? true;
  const identityDh = x25519GenerateKeyPair(rng);
  const identitySigning = ed25519GenerateKeyPair(rng);
  const entry: DeviceEntry = {
    deviceId,
    identityDhKey: identityDh.publicKey,
    identitySigningKey: identitySigning.publicKey,
    capabilities: opts.capabilities ?? (pq ? Capability.pq : 0),
    addedAt: now,
  };
  const prekeys = new InMemoryPrekeyStore();
  prekeys.addSignedPrekey(generateSignedPrekey(identitySigning.privateKey, 1, { rng, now }));
  prekeys.addOneTimePrekeys(generateOneTimePrekeys(100, opts.oneTimePrekeys ?? 5, rng));
  if (pq) {
    prekeys.addKemPrekey(generateKemPrekey(identitySigning.privateKey, 1000, true, { rng, now }));
    for (let i = 0; i < (opts.kemOneTimePrekeys ?? 2); i++) {
      prekeys.addKemPrekey(generateKemPrekey(identitySigning.privateKey, 2000 + i, false, { rng, now }));
    }
  }
  return { account, deviceId, identityDh, identitySigning, pq, entry, prekeys };
}

export function localDevice(d: TestDevice): LocalDevice {
  return { accountId: d.account.accountId, deviceId: d.deviceId, identityDh: d.identityDh, pq: d.pq };
}

export function peerDevice(d: TestDevice): PeerDevice {
  return { accountId: d.account.accountId, entry: d.entry };
}

/** Signs a device list for `devices` (all of one account) with that account's key. */
export function signedListFor(account: TestAccount, devices: readonly TestDevice[], version: number, issuedAt: number): {
  list: DeviceList;
  signed: Uint8Array;
} {
  const list: DeviceList = {
    accountId: account.accountId,
    version,
    issuedAt,
    devices: [...devices].sort((a, b) => a.deviceId - b.deviceId).map((d) => d.entry),
  };
  return { list, signed: signDeviceList(list, account.accountKey.privateKey) };
}

/** A device's prekey stores; implements the read view session.ts needs and applies its changes. */
export class InMemoryPrekeyStore implements PrekeyReader {
  readonly signed = new Map<number, SignedPrekeyPrivate>();
  readonly oneTime = new Map<number, OneTimePrekeyPrivate>();
  readonly kem = new Map<number, KemPrekeyPrivate>();
  readonly seen = new Map<number, Set<string>>();
  /** One-time keys (X25519 and KEM) the simulated relay has already handed out. */
  readonly served = new Set<string>();

  addSignedPrekey(p: SignedPrekeyPrivate): void {
    this.signed.set(p.keyId, p);
  }
  addOneTimePrekeys(ps: readonly OneTimePrekeyPrivate[]): void {
    for (const p of ps) this.oneTime.set(p.keyId, p);
  }
  addKemPrekey(p: KemPrekeyPrivate): void {
    this.kem.set(p.keyId, p);
  }
  /** Removes a signed prekey and its seen-set (they are dropped together). */
  dropSignedPrekey(keyId: number): void {
    this.signed.delete(keyId);
    this.seen.delete(keyId);
  }

  signedPrekey(keyId: number): X25519KeyPair | undefined {
    const p = this.signed.get(keyId);
    return p && { privateKey: p.privateKey, publicKey: p.publicKey };
  }
  oneTimePrekey(keyId: number): X25519KeyPair | undefined {
    const p = this.oneTime.get(keyId);
    return p && { privateKey: p.privateKey, publicKey: p.publicKey };
  }
  kemPrekey(keyId: number) {
    const p = this.kem.get(keyId);
    return p && { seed: p.seed, publicKey: p.publicKey, lastResort: p.lastResort };
  }
  isBaseKeySeen(signedPrekeyId: number, hash: Uint8Array): boolean {
    return this.seen.get(signedPrekeyId)?.has(toHex(hash)) ?? false;
  }

  apply(changes: PrekeyChanges): void {
    if (changes.consumedOneTimePrekeyId !== undefined) this.oneTime.delete(changes.consumedOneTimePrekeyId);
    if (changes.consumedKemPrekeyId !== undefined) this.kem.delete(changes.consumedKemPrekeyId);
    if (changes.seenBaseKey) {
      const set = this.seen.get(changes.seenBaseKey.signedPrekeyId) ?? new Set<string>();
      set.add(toHex(changes.seenBaseKey.hash));
      this.seen.set(changes.seenBaseKey.signedPrekeyId, set);
    }
  }

  /** The bundle the relay would serve, consuming one one-time key of each kind like the relay does. */
  takeBundle(device: TestDevice, opts: { oneTime?: boolean; kemOneTime?: boolean } = {}): PrekeyBundle {
    const spk = [...this.signed.values()].at(-1)!;
    const otk = opts.oneTime === false ? undefined : [...this.oneTime.values()].find((k) => !this.served.has(`o${k.keyId}`));
    const kems = [...this.kem.values()];
    const kem =
      (opts.kemOneTime === false ? undefined : kems.find((k) => !k.lastResort && !this.served.has(`k${k.keyId}`))) ??
      kems.find((k) => k.lastResort);
    if (otk) this.served.add(`o${otk.keyId}`);
    if (kem && !kem.lastResort) this.served.add(`k${kem.keyId}`);
    return {
      accountId: device.account.accountId,
      deviceId: device.deviceId,
      identityDhKey: device.identityDh.publicKey,
      identitySigningKey: device.identitySigning.publicKey,
      signedPrekey: { keyId: spk.keyId, publicKey: spk.publicKey, createdAt: spk.createdAt, signature: spk.signature },
      oneTimePrekey: otk && { keyId: otk.keyId, publicKey: otk.publicKey },
      kemPrekey: kem && {
        keyId: kem.keyId,
        publicKey: kem.publicKey,
        createdAt: kem.createdAt,
        lastResort: kem.lastResort,
        signature: kem.signature,
      },
    };
  }

  /** A canonical dump for byte-identity checks. */
  snapshot(): string {
    const ids = (m: Map<number, unknown>) => [...m.keys()].sort((a, b) => a - b).join(',');
    const seen = [...this.seen.entries()].map(([k, v]) => `${k}:${[...v].sort().join('.')}`).sort().join(';');
    return `${ids(this.signed)}|${ids(this.oneTime)}|${ids(this.kem)}|${seen}`;
  }
}

/** Skipped message keys of all sessions, with per-session eviction of the oldest. */
export class InMemorySkippedKeyStore {
  readonly #sessions = new Map<string, Map<string, Uint8Array>>();

  reader(sessionId: Uint8Array): SkippedKeyReader {
    const m = this.#sessions.get(toHex(sessionId));
    return { get: (ratchetKey, counter) => m?.get(`${toHex(ratchetKey)}:${counter}`) };
  }
  apply(sessionId: Uint8Array, changes: SkippedKeyChanges): void {
    const key = toHex(sessionId);
    const m = this.#sessions.get(key) ?? new Map<string, Uint8Array>();
    if (changes.removed) m.delete(`${toHex(changes.removed.ratchetKey)}:${changes.removed.counter}`);
    for (const k of changes.added) m.set(`${toHex(k.ratchetKey)}:${k.counter}`, k.seed);
    while (m.size > MAX_SKIPPED_KEYS_PER_SESSION) m.delete(m.keys().next().value!);
    this.#sessions.set(key, m);
  }
  drop(sessionId: Uint8Array): void {
    this.#sessions.delete(toHex(sessionId));
  }
  count(sessionId?: Uint8Array): number {
    if (sessionId) return this.#sessions.get(toHex(sessionId))?.size ?? 0;
    let n = 0;
    for (const m of this.#sessions.values()) n += m.size;
    return n;
  }
  snapshot(): string {
    return [...this.#sessions.entries()]
      .map(([s, m]) => `${s}=${[...m.entries()].map(([k, v]) => `${k}/${toHex(v)}`).join(',')}`)
      .sort()
      .join(';');
  }
  /** Every stored seed, concatenated (for forward-secrecy scans). */
  allSeeds(): Uint8Array {
    const all: Uint8Array[] = [];
    for (const m of this.#sessions.values()) all.push(...m.values());
    return concatBytes(...all);
  }
}

/**
 * One device's protocol view of its peers, persisted the way the engine does: serialized records
 * per peer device, applying returned changes only on success.
 */
export class Party {
  readonly records = new Map<string, Uint8Array>();
  readonly skipped = new InMemorySkippedKeyStore();
  readonly budgets = new FailureBudgets();

  constructor(
    readonly device: TestDevice,
    readonly rng: Rng,
    readonly now: Clock,
  ) {}

  static peerKey(peer: TestDevice): string {
    return `${toHex(peer.account.accountId)}:${peer.deviceId}:${toHex(peer.identityDh.publicKey)}`;
  }

  record(peer: TestDevice): SessionRecord | undefined {
    const bytes = this.records.get(Party.peerKey(peer));
    return bytes && deserializeSessionRecord(bytes);
  }

  store(peer: TestDevice, record: SessionRecord): void {
    this.records.set(Party.peerKey(peer), serializeSessionRecord(record));
  }

  initiate(peer: TestDevice, bundle?: PrekeyBundle): void {
    const b = bundle ?? peer.prekeys.takeBundle(peer);
    const { record, droppedSessionIds } = initiateSession(
      this.record(peer),
      { local: localDevice(this.device), peer: peerDevice(peer), bundle: b },
      { rng: this.rng, now: this.now },
    );
    for (const id of droppedSessionIds) this.skipped.drop(id);
    this.store(peer, record);
  }

  encrypt(peer: TestDevice, plaintext: Uint8Array): Uint8Array {
    const { record, message } = encryptMessage(this.record(peer) ?? EMPTY_RECORD, plaintext);
    this.store(peer, record);
    return message.bytes;
  }

  decrypt(peer: TestDevice, bytes: Uint8Array): SessionDecryptResult {
    const result = decryptMessage(this.record(peer), bytes, {
      local: localDevice(this.device),
      peer: peerDevice(peer),
      prekeys: this.device.prekeys,
      skipped: (id) => this.skipped.reader(id),
      budgets: this.budgets,
      rng: this.rng,
      now: this.now,
    });
    // commit: record, skipped keys, prekeys — all or nothing
    this.store(peer, result.record);
    this.skipped.apply(result.sessionId, result.skippedChanges);
    for (const id of result.droppedSessionIds) this.skipped.drop(id);
    this.device.prekeys.apply(result.prekeyChanges);
    return result;
  }

  /** Builds the signed decryption-error report this device sends to `peer` about `failed`. */
  reportDecryptionError(peer: TestDevice, failed: Uint8Array, timestamp: number): Uint8Array {
    return createDecryptionError(
      failed,
      timestamp,
      {
        reporter: { accountId: this.device.account.accountId, deviceId: this.device.deviceId },
        recipient: { accountId: peer.account.accountId, deviceId: peer.deviceId },
      },
      this.device.identitySigning.privateKey,
    );
  }

  /** Handles a decryption-error report from `peer` and commits the result. */
  handleDecryptionError(peer: TestDevice, bytes: Uint8Array): ReturnType<typeof handleDecryptionError> {
    const result = handleDecryptionError(this.record(peer), bytes, {
      local: { accountId: this.device.account.accountId, deviceId: this.device.deviceId },
      peer: peerDevice(peer),
    });
    this.store(peer, result.record);
    for (const id of result.droppedSessionIds) this.skipped.drop(id);
    return result;
  }

  currentSessionId(peer: TestDevice): Uint8Array | undefined {
    return this.record(peer)?.current?.sessionId;
  }

  /** Everything this party stores, for byte-identity checks. */
  snapshot(): string {
    const records = [...this.records.entries()].map(([k, v]) => `${k}=${toHex(v)}`).sort().join(';');
    return `${records}#${this.skipped.snapshot()}#${this.device.prekeys.snapshot()}`;
  }
}

export function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a !== undefined && b !== undefined && bytesEqual(a, b);
}
