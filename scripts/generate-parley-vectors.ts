/**
 * Generates Parley's own test vectors (test/vectors/parley/*.json) from fixed seeds with the
 * production protocol code (docs/protocol.md §14). Pure: `generateParleyVectors()`
 * returns the file contents; test/vectors/generate.test.ts writes them when PARLEY_WRITE_VECTORS=1
 * and otherwise asserts the committed files are reproduced byte for byte (a regression test).
 * test/vectors/parley-independent.test.ts recomputes every value from docs/protocol.md alone.
 *
 * Every random value comes from the test-vector RNG (docs/protocol.md §13), one
 * stream per party and vector; each vector lists the draws in the order the protocol code consumed
 * them, with a name, so the draw order is part of what the vectors pin down. Private keys and
 * message keys appear in hex here on purpose: these are test keys, never used for anything else.
 *
 * Does not own: the frozen v1 session record's compatibility test (generate.test.ts runs it against
 * the committed bytes, not against a fresh generation).
 */
import {
  compareBytes,
  concatBytes,
  ed25519GenerateKeyPair,
  ed25519Verify,
  encodeEd25519,
  encodeMlKem768,
  encodeX25519,
  fromHex,
  fromUtf8,
  mlKem768GenerateKeyPair,
  mlKem768Decapsulate,
  hkdfSha256,
  sha256,
  toHex,
  u16be,
  u32be,
  utf8,
  x25519,
  x25519GenerateKeyPair,
  type Ed25519KeyPair,
  type Rng,
  type X25519KeyPair,
} from '../shared/crypto/index.js';
import {
  agreementInfo,
  ATTACHMENT_SEGMENT_SIZE,
  padmeLength,
  Writer,
  writeAttachmentPointer,
  type AttachmentPointer,
  ATTACHMENT_TAG_LENGTH,
  fileKeyCommitment,
  parseAttachmentHeader,
  sealAttachment,
  encodeHistoryArchive,
  parseHistoryArchive,
  HISTORY_RECENT_MS,
  type ArchivedMessage,
  type HistoryArchive,
  sealedSegmentOffset,
  segmentNonce,
  baseKeyHash,
  Capability,
  decryptProfile,
  deriveFromProfileKey,
  encodeProfilePlaintext,
  encryptProfile,
  newProfileKey,
  profileKeyId,
  type Profile,
  compareQrPayload,
  createDecryptionError,
  deriveSharedSecret,
  deserializeSessionRecord,
  deviceFingerprint,
  describeCapabilities,
  deviceListFreshness,
  encodeDeviceListBody,
  hasCapability,
  encodePrekeyHeader,
  fingerprint,
  fingerprintDigits,
  formatSafetyNumber,
  generateKemPrekey,
  generateOneTimePrekeys,
  generateSignedPrekey,
  handleDecryptionError,
  initAsInitiator,
  isProtocolError,
  kdfRootKey,
  kemPrekeySignatureInput,
  label,
  messageKeys,
  messageSeed,
  needsResign,
  pad,
  parseDecryptionError,
  parsePrekeyMessage,
  parseRatchetMessage,
  pqxdhInitiate,
  pqxdhRespond,
  safetyNumber,
  SAFETY_NUMBER_VERSION,
  sessionAd,
  signDeviceList,
  signedPrekeySignatureInput,
  verifyBundle,
  verifyDeviceList,
  type DecryptionErrorParties,
  type DeviceEntry,
  type DeviceList,
  type KemPrekeyPrivate,
  type OneTimePrekeyPrivate,
  type PrekeyBundle,
  type SessionDecryptResult,
  type SessionState,
  type SignedPrekeyPrivate,
  type VerifiedBundle,
  calculateGenerator,
  cpaceIsk,
  createLinkOffer,
  encodeLinkOffer,
  linkChannelIdentifier,
  linkPassword,
  openProvisioning,
  parseLinkCode,
  parseLinkOfferText,
  receiveAccount,
  receiveConfirm,
  receiveHello,
  receiveReply,
  scalarMultVfy,
  sealProvisioning,
  startPrimaryLink,
  transcriptIr,
  type LinkDeviceKeys,
  type LinkTarget,
} from '../shared/protocol/index.js';
import {
  deliveryToken,
  encodeSealedMultiRecipient,
  issueSenderCertificate,
  openSealedEnvelope,
  sealedEnvelopeFor,
  sealMessage,
  type SealedMultiRecipient,
  type SealedRecipient,
} from '../shared/protocol/sealed-sender.js';
import {
  advanceSenderChain,
  createSenderKeyState,
  EMPTY_SENDER_KEY_RECORD,
  senderKeyDecrypt,
  senderKeyEncrypt,
  senderKeySeed,
  serializeSenderKeyRecord,
  serializeSenderKeyState,
  SENDER_KEY_HEADER_LENGTH,
} from '../shared/protocol/sender-key.js';
import {
  createSenderKeyDistribution,
  encodeSenderKeyDistribution,
  encodeSenderKeyDistributionRequest,
  processSenderKeyDistribution,
} from '../shared/protocol/sender-key-distribution.js';
import {
  applyGroupRecord,
  checkGroupMessageHead,
  encodeMembershipUpdate,
  groupMembers,
  groupRecordSignatureInput,
  isOnChain,
  membershipRecords,
  openMembership,
  proposeGroupRecord,
  serializeMembership,
  signGroupRecord,
  type GroupMember,
  type GroupOperation,
  type GroupRecord,
} from '../shared/protocol/group-membership.js';
import { deterministicRng, ManualClock } from '../shared/testing/deterministic-rng.js';
import { InMemoryPrekeyStore, Party, peerDevice, type TestDevice } from '../shared/testing/protocol-fixtures.js';

/** JSON value of a vector file. */
type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json | undefined };

export const VECTOR_FILES = [
  'rng.json',
  'padding.json',
  'device-list.json',
  'prekey-bundle.json',
  'key-agreement.json',
  'session.json',
  'safety-number.json',
  'session-record-v1.json',
  'attachment.json',
  'profile.json',
  'attachment-pointer.json',
  'linking.json',
  'device-capabilities.json',
  'sealed-sender.json',
  'sender-key.json',
  'group-membership.json',
  'history-archive.json',
] as const;
export type VectorFile = (typeof VECTOR_FILES)[number];

/** 2026-01-15T12:00:00Z: the clock of every vector. */
export const VECTOR_TIME = Date.UTC(2026, 0, 15, 12, 0, 0);
const DAY = 24 * 3600_000;

const hex = toHex;

/** The canonical text of a vector file: two-space JSON and a final newline. */
export function renderVectorFile(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** A test-vector RNG stream that records each draw so the vector can name it. */
class DrawLog {
  readonly draws: { name: string; length: number; hex: string }[] = [];
  #pending: Uint8Array[] = [];
  readonly rng: Rng;
  constructor(readonly seed: string) {
    const inner = deterministicRng(seed);
    // Copies: protocol code wipes some draws (the ML-KEM message m) after use.
    this.rng = (n) => {
      const bytes = inner(n);
      this.#pending.push(bytes.slice());
      return bytes;
    };
  }
  get pendingCount(): number {
    return this.#pending.length;
  }
  /** Names the draws made since the last call, in order; their number must match. */
  name(...names: string[]): void {
    if (names.length !== this.#pending.length) {
      throw new Error(`${this.seed}: expected ${names.length} draws (${names.join(', ')}), saw ${this.#pending.length}`);
    }
    names.forEach((name, i) => this.draws.push({ name, length: this.#pending[i]!.length, hex: hex(this.#pending[i]!) }));
    this.#pending = [];
  }
  json(): Json {
    if (this.#pending.length !== 0) throw new Error(`${this.seed}: ${this.#pending.length} unnamed draws`);
    return { seed: this.seed, draws: this.draws };
  }
}

function seedFor(vector: string, party: string): string {
  return `Parley_v1 test vector/${vector}/${party}`;
}

// ── Devices ─────────────────────────────────────────────────────────────────

type Keys = {
  readonly accountId: Uint8Array;
  readonly accountKey: Ed25519KeyPair;
  readonly identityDh: X25519KeyPair;
  readonly identitySigning: Ed25519KeyPair;
};

/** Draws accountId(16), accountKey(32), identityDh(32), identitySigning(32), in that order. */
function drawAccountAndDevice(log: DrawLog): Keys {
  const accountId = log.rng(16);
  const accountKey = ed25519GenerateKeyPair(log.rng);
  const identityDh = x25519GenerateKeyPair(log.rng);
  const identitySigning = ed25519GenerateKeyPair(log.rng);
  log.name('accountId', 'accountKey', 'identityDh', 'identitySigning');
  return { accountId, accountKey, identityDh, identitySigning };
}

function testDevice(keys: Keys, deviceId: number, pq: boolean, addedAt: number): TestDevice {
  const entry: DeviceEntry = {
    deviceId,
    identityDhKey: keys.identityDh.publicKey,
    identitySigningKey: keys.identitySigning.publicKey,
    capabilities: pq ? Capability.pq : 0,
    addedAt,
  };
  return {
    account: { accountId: keys.accountId, accountKey: keys.accountKey },
    deviceId,
    identityDh: keys.identityDh,
    identitySigning: keys.identitySigning,
    pq,
    entry,
    prekeys: new InMemoryPrekeyStore(),
  };
}

function bundleOf(
  dev: TestDevice,
  spk: SignedPrekeyPrivate,
  opk: OneTimePrekeyPrivate | undefined,
  kem: KemPrekeyPrivate | undefined,
): PrekeyBundle {
  return {
    accountId: dev.account.accountId,
    deviceId: dev.deviceId,
    identityDhKey: dev.identityDh.publicKey,
    identitySigningKey: dev.identitySigning.publicKey,
    signedPrekey: { keyId: spk.keyId, publicKey: spk.publicKey, createdAt: spk.createdAt, signature: spk.signature },
    oneTimePrekey: opk && { keyId: opk.keyId, publicKey: opk.publicKey },
    kemPrekey: kem && {
      keyId: kem.keyId,
      publicKey: kem.publicKey,
      createdAt: kem.createdAt,
      lastResort: kem.lastResort,
      signature: kem.signature,
    },
  };
}

function publicDevice(dev: TestDevice): Json {
  return {
    accountId: hex(dev.account.accountId),
    accountPublicKey: hex(dev.account.accountKey.publicKey),
    deviceId: dev.deviceId,
    identityDhPublic: hex(dev.identityDh.publicKey),
    identitySigningPublic: hex(dev.identitySigning.publicKey),
    capabilities: dev.entry.capabilities,
  };
}

// ── rng.json ────────────────────────────────────────────────────────────────

function rngVector(): Json {
  const cases = ['Parley', 'Parley_v1 test vector/rng'].map((seed) => ({
    seed,
    requests: [1, 31, 33, 64, 7],
    outputs: (() => {
      const rng = deterministicRng(seed);
      return [1, 31, 33, 64, 7].map((n) => hex(rng(n)));
    })(),
  }));
  return { description: 'Test-vector RNG (docs/protocol.md §13): SHA-256(seed ‖ u64be(i)) blocks, consumed in order across requests.', cases };
}

// ── padding.json ────────────────────────────────────────────────────────────

function paddingVector(): Json {
  const lengths = [0, 1, 159, 160, 161, 319, 320];
  return {
    description: 'ISO/IEC 7816-4 padding to a multiple of 160 bytes (docs/protocol.md §8.5): 0x80 then zeros; a full block gains a block.',
    cases: lengths.map((n) => {
      const plaintext = Uint8Array.from({ length: n }, (_, i) => (i * 7 + 1) & 0xff);
      const padded = pad(plaintext);
      return { plaintext: hex(plaintext), paddedLength: padded.length, padded: hex(padded) };
    }),
  };
}

// ── device-list.json ────────────────────────────────────────────────────────

function deviceListVector(): Json {
  const log = new DrawLog(seedFor('device-list', 'owner'));
  const accountId = log.rng(16);
  const accountKey = ed25519GenerateKeyPair(log.rng);
  log.name('accountId', 'accountKey');
  const devices: DeviceEntry[] = [];
  const specs = [
    { deviceId: 1, capabilities: Capability.pq, addedAt: VECTOR_TIME - 40 * DAY },
    { deviceId: 7, capabilities: 0, addedAt: VECTOR_TIME - 2 * DAY },
  ];
  for (const spec of specs) {
    const dh = x25519GenerateKeyPair(log.rng);
    const sig = ed25519GenerateKeyPair(log.rng);
    log.name(`device${spec.deviceId}.identityDh`, `device${spec.deviceId}.identitySigning`);
    devices.push({ ...spec, identityDhKey: dh.publicKey, identitySigningKey: sig.publicKey });
  }
  const list: DeviceList = { accountId, version: 3, issuedAt: VECTOR_TIME, devices };
  const body = encodeDeviceListBody(list);
  const signed = signDeviceList(list, accountKey.privateKey);
  const freshness = [0, 7 * DAY - 1, 7 * DAY, 30 * DAY, 30 * DAY + 1].map((age) => ({
    now: VECTOR_TIME + age,
    freshness: deviceListFreshness(list, VECTOR_TIME + age),
    needsResign: needsResign(list, VECTOR_TIME + age),
  }));
  // verifyDeviceList (§4.1): the signature under the account key first, then the expected account id.
  const otherAccountKey = ed25519GenerateKeyPair(log.rng);
  log.name('otherAccountKey');
  const flipped = signed.slice();
  flipped[body.length]! ^= 0x01;
  const otherAccountId = accountId.slice();
  otherAccountId[0]! ^= 0x01;
  const verifyCase = (name: string, bytes: Uint8Array, key: Uint8Array, expected: Uint8Array | undefined): Json => {
    try {
      verifyDeviceList(bytes, key, expected);
      return { name, expect: 'ok' };
    } catch (e) {
      if (isProtocolError(e)) return { name, expect: e.code };
      throw e;
    }
  };
  const verification = [
    verifyCase('valid', signed, accountKey.publicKey, accountId),
    verifyCase('valid-no-expected-account-id', signed, accountKey.publicKey, undefined),
    verifyCase('signature-flipped', flipped, accountKey.publicKey, accountId),
    verifyCase('other-account-key', signed, otherAccountKey.publicKey, accountId),
    verifyCase('other-account-key-and-other-account-id', signed, otherAccountKey.publicKey, otherAccountId),
    verifyCase('other-expected-account-id', signed, accountKey.publicKey, otherAccountId),
  ];
  return {
    description:
      'A device list of two devices signed with the account key; its freshness and re-sign schedule at several ages, and verification under the right and a wrong account key and account id (docs/protocol.md §4).',
    rng: log.json(),
    inputs: {
      version: list.version,
      issuedAt: list.issuedAt,
      devices: specs.map((s) => ({ deviceId: s.deviceId, capabilities: s.capabilities, addedAt: s.addedAt })),
    },
    outputs: {
      accountId: hex(accountId),
      accountPublicKey: hex(accountKey.publicKey),
      devices: devices.map((d) => ({
        deviceId: d.deviceId,
        identityDhPublic: hex(d.identityDhKey),
        identitySigningPublic: hex(d.identitySigningKey),
      })),
      body: hex(body),
      signature: hex(signed.subarray(body.length)),
      signed: hex(signed),
      freshness,
      otherAccountPublicKey: hex(otherAccountKey.publicKey),
      verification,
    },
  };
}

// ── device-capabilities.json ────────────────────────────────────────────────

/**
 * §4.4: capability bits in the signed entries. Device 1 advertises what this version shows (pq,
 * files, profiles); device 2 was signed before those bits existed (pq only: it cannot show files);
 * device 3 carries a bit no name covers yet (a newer version's), which is kept. A relay that sets
 * device 2's files bit (or strips device 1's) breaks the account signature.
 */
function deviceCapabilitiesVector(): Json {
  const log = new DrawLog(seedFor('device-capabilities', 'owner'));
  const accountId = log.rng(16);
  const accountKey = ed25519GenerateKeyPair(log.rng);
  log.name('accountId', 'accountKey');
  const specs = [
    { deviceId: 1, capabilities: Capability.pq | Capability.files | Capability.profiles, addedAt: VECTOR_TIME - 40 * DAY },
    { deviceId: 2, capabilities: Capability.pq, addedAt: VECTOR_TIME - 20 * DAY },
    { deviceId: 3, capabilities: Capability.pq | Capability.files | Capability.profiles | 0x0001_0000, addedAt: VECTOR_TIME - DAY },
  ];
  const devices: DeviceEntry[] = specs.map((spec) => {
    const dh = x25519GenerateKeyPair(log.rng);
    const sig = ed25519GenerateKeyPair(log.rng);
    log.name(`device${spec.deviceId}.identityDh`, `device${spec.deviceId}.identitySigning`);
    return { ...spec, identityDhKey: dh.publicKey, identitySigningKey: sig.publicKey };
  });
  const list: DeviceList = { accountId, version: 5, issuedAt: VECTOR_TIME, devices };
  const body = encodeDeviceListBody(list);
  const signed = signDeviceList(list, accountKey.privateKey);
  // Capabilities sit at 53 + 82·i + 70 (u32 big-endian): the relay flips bits there.
  const tampered = (name: string, deviceIndex: number, capabilities: number): Json => {
    const bytes = signed.slice();
    new DataView(bytes.buffer).setUint32(53 + 82 * deviceIndex + 70, capabilities >>> 0);
    let expect = 'ok';
    try {
      verifyDeviceList(bytes, accountKey.publicKey, accountId);
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      expect = e.code;
    }
    return { name, capabilities, signed: hex(bytes), expect };
  };
  const parsed = verifyDeviceList(signed, accountKey.publicKey, accountId);
  return {
    description:
      'Capability bits in the account-signed device entries (docs/protocol.md §4.4): a device that shows files and profiles, one signed before those bits existed, one with a bit of a newer version (kept); what each can show; a relay that adds or strips a bit breaks the signature.',
    rng: log.json(),
    inputs: { version: list.version, issuedAt: list.issuedAt, devices: specs },
    outputs: {
      accountId: hex(accountId),
      accountPublicKey: hex(accountKey.publicKey),
      body: hex(body),
      signed: hex(signed),
      devices: parsed.devices.map((d) => {
        const described = describeCapabilities(d.capabilities);
        return {
          deviceId: d.deviceId,
          capabilities: d.capabilities,
          names: described.names,
          unknownBits: described.unknownBits,
          showsFiles: hasCapability(d, 'files'),
          readsProfileKeys: hasCapability(d, 'profiles'),
        };
      }),
      tampered: [
        tampered('relay-adds-files-to-device-2', 1, Capability.pq | Capability.files),
        tampered('relay-strips-files-from-device-1', 0, Capability.pq | Capability.profiles),
      ],
    },
  };
}

// ── prekey-bundle.json ──────────────────────────────────────────────────────

type BundleMutation =
  | 'none'
  | 'classical-entry'
  | 'classical-entry-without-kem'
  | 'wrong-account-id'
  | 'wrong-device-id'
  | 'wrong-identity-dh'
  | 'wrong-identity-signing'
  | 'signed-prekey-signature-flipped'
  | 'signed-prekey-id-changed'
  | 'one-time-prekey-short'
  | 'no-kem-prekey'
  | 'kem-signature-flipped'
  | 'kem-last-resort-flag-flipped'
  | 'kem-public-key-flipped';

function mutateBundle(b: PrekeyBundle, entry: DeviceEntry, m: BundleMutation): { bundle: PrekeyBundle; entry: DeviceEntry; accountId: Uint8Array } {
  const flip = (bytes: Uint8Array, i = 0): Uint8Array => {
    const out = bytes.slice();
    out[i]! ^= 0x01;
    return out;
  };
  let bundle = b;
  let e = entry;
  let accountId = b.accountId;
  switch (m) {
    case 'none':
      break;
    case 'classical-entry':
      e = { ...entry, capabilities: 0 };
      break;
    case 'classical-entry-without-kem':
      e = { ...entry, capabilities: 0 };
      bundle = { ...b, kemPrekey: undefined };
      break;
    case 'wrong-account-id':
      accountId = flip(b.accountId);
      break;
    case 'wrong-device-id':
      bundle = { ...b, deviceId: b.deviceId + 1 };
      break;
    case 'wrong-identity-dh':
      bundle = { ...b, identityDhKey: flip(b.identityDhKey) };
      break;
    case 'wrong-identity-signing':
      bundle = { ...b, identitySigningKey: flip(b.identitySigningKey) };
      break;
    case 'signed-prekey-signature-flipped':
      bundle = { ...b, signedPrekey: { ...b.signedPrekey, signature: flip(b.signedPrekey.signature) } };
      break;
    case 'signed-prekey-id-changed':
      bundle = { ...b, signedPrekey: { ...b.signedPrekey, keyId: b.signedPrekey.keyId + 1 } };
      break;
    case 'one-time-prekey-short':
      bundle = { ...b, oneTimePrekey: { ...b.oneTimePrekey!, publicKey: b.oneTimePrekey!.publicKey.slice(0, 31) } };
      break;
    case 'no-kem-prekey':
      bundle = { ...b, kemPrekey: undefined };
      break;
    case 'kem-signature-flipped':
      bundle = { ...b, kemPrekey: { ...b.kemPrekey!, signature: flip(b.kemPrekey!.signature) } };
      break;
    case 'kem-last-resort-flag-flipped':
      bundle = { ...b, kemPrekey: { ...b.kemPrekey!, lastResort: !b.kemPrekey!.lastResort } };
      break;
    case 'kem-public-key-flipped':
      bundle = { ...b, kemPrekey: { ...b.kemPrekey!, publicKey: flip(b.kemPrekey!.publicKey, 5) } };
      break;
  }
  return { bundle, entry: e, accountId };
}

function checkOutcome(run: () => VerifiedBundle): Json {
  try {
    return { mode: run().mode };
  } catch (e) {
    if (isProtocolError(e)) return { error: e.code };
    throw e;
  }
}

function prekeyBundleVector(): Json {
  const log = new DrawLog(seedFor('prekey-bundle', 'owner'));
  const keys = drawAccountAndDevice(log);
  const dev = testDevice(keys, 2, true, VECTOR_TIME - 90 * DAY);
  const spkCreatedAt = VECTOR_TIME - 3 * DAY;
  const kemCreatedAt = VECTOR_TIME - 50 * DAY;
  const spk = generateSignedPrekey(keys.identitySigning.privateKey, 5, { rng: log.rng, now: spkCreatedAt });
  log.name('signedPrekey');
  const [opk] = generateOneTimePrekeys(100, 1, log.rng);
  log.name('oneTimePrekey');
  const kemOneTime = generateKemPrekey(keys.identitySigning.privateKey, 2000, false, { rng: log.rng, now: kemCreatedAt });
  log.name('kemOneTimePrekey');
  const kemLastResort = generateKemPrekey(keys.identitySigning.privateKey, 1000, true, { rng: log.rng, now: spkCreatedAt });
  log.name('kemLastResortPrekey');
  const bundle = bundleOf(dev, spk, opk, kemOneTime);

  const mutations: BundleMutation[] = [
    'none',
    'classical-entry',
    'classical-entry-without-kem',
    'wrong-account-id',
    'wrong-device-id',
    'wrong-identity-dh',
    'wrong-identity-signing',
    'signed-prekey-signature-flipped',
    'signed-prekey-id-changed',
    'one-time-prekey-short',
    'no-kem-prekey',
    'kem-signature-flipped',
    'kem-last-resort-flag-flipped',
    'kem-public-key-flipped',
  ];
  // `now` values around the age limits: the KEM prekey is 50 days old, the signed prekey 3 days.
  const times = [
    { name: 'now', now: VECTOR_TIME },
    { name: 'kem-exactly-60-days', now: kemCreatedAt + 60 * DAY },
    { name: 'kem-60-days-plus-1ms', now: kemCreatedAt + 60 * DAY + 1 },
    { name: 'signed-prekey-60-days-plus-1ms', now: spkCreatedAt + 60 * DAY + 1 },
    { name: 'signed-prekey-created-24h-ahead', now: spkCreatedAt - DAY },
    { name: 'signed-prekey-created-24h-plus-1ms-ahead', now: spkCreatedAt - DAY - 1 },
  ];
  const checks: Json[] = [];
  for (const m of mutations) {
    const { bundle: b, entry, accountId } = mutateBundle(bundle, dev.entry, m);
    checks.push({ mutation: m, now: VECTOR_TIME, expect: checkOutcome(() => verifyBundle(b, entry, accountId, VECTOR_TIME)) });
  }
  for (const t of times.slice(1)) {
    checks.push({ mutation: 'none', time: t.name, now: t.now, expect: checkOutcome(() => verifyBundle(bundle, dev.entry, dev.account.accountId, t.now)) });
    const classical = mutateBundle(bundle, dev.entry, 'classical-entry');
    checks.push({
      mutation: 'classical-entry',
      time: t.name,
      now: t.now,
      expect: checkOutcome(() => verifyBundle(classical.bundle, classical.entry, classical.accountId, t.now)),
    });
  }

  const kemJson = (k: KemPrekeyPrivate): Json => ({
    keyId: k.keyId,
    createdAt: k.createdAt,
    lastResort: k.lastResort,
    publicKey: hex(k.publicKey),
    signatureInput: hex(kemPrekeySignatureInput(k.keyId, k.publicKey, k.createdAt, k.lastResort)),
    signature: hex(k.signature),
  });
  return {
    description:
      'A prekey bundle of a pq device: signed X25519 prekey, one-time X25519 prekey, signed one-time and last-resort ML-KEM-768 prekeys, and the initiator\'s bundle checks (docs/protocol.md §5).',
    rng: log.json(),
    inputs: {
      deviceId: dev.deviceId,
      capabilities: dev.entry.capabilities,
      signedPrekey: { keyId: spk.keyId, createdAt: spk.createdAt },
      oneTimePrekey: { keyId: opk!.keyId },
      kemOneTimePrekey: { keyId: kemOneTime.keyId, createdAt: kemOneTime.createdAt, lastResort: false },
      kemLastResortPrekey: { keyId: kemLastResort.keyId, createdAt: kemLastResort.createdAt, lastResort: true },
      bundleUses: { oneTimePrekey: opk!.keyId, kemPrekey: kemOneTime.keyId },
    },
    outputs: {
      device: publicDevice(dev),
      signedPrekey: {
        keyId: spk.keyId,
        createdAt: spk.createdAt,
        publicKey: hex(spk.publicKey),
        signatureInput: hex(signedPrekeySignatureInput(spk.keyId, spk.publicKey, spk.createdAt)),
        signature: hex(spk.signature),
      },
      oneTimePrekey: { keyId: opk!.keyId, publicKey: hex(opk!.publicKey) },
      kemOneTimePrekey: kemJson(kemOneTime),
      kemLastResortPrekey: kemJson(kemLastResort),
    },
    checks,
  };
}

// ── key-agreement.json ──────────────────────────────────────────────────────

function keyAgreementCase(name: string, mode: 'pqxdh' | 'x3dh', withOneTime: boolean): Json {
  const bobLog = new DrawLog(seedFor(`key-agreement/${name}`, 'bob'));
  const bobIdentity = x25519GenerateKeyPair(bobLog.rng);
  const spk = x25519GenerateKeyPair(bobLog.rng);
  bobLog.name('identityDh', 'signedPrekey');
  const opk = withOneTime ? x25519GenerateKeyPair(bobLog.rng) : undefined;
  if (withOneTime) bobLog.name('oneTimePrekey');
  // An ML-KEM-768 key pair is one 64-byte draw: its seed d ‖ z.
  const kem = mode === 'pqxdh' ? mlKem768GenerateKeyPair(bobLog.rng) : undefined;
  if (kem) bobLog.name('kemPrekey');

  const aliceLog = new DrawLog(seedFor(`key-agreement/${name}`, 'alice'));
  const aliceIdentity = x25519GenerateKeyPair(aliceLog.rng);
  aliceLog.name('identityDh');

  // pqxdhInitiate reads only the public parts; bundle signatures are covered by prekey-bundle.json.
  const noSignature = new Uint8Array(64);
  const verified: VerifiedBundle = {
    accountId: new Uint8Array(16),
    deviceId: 1,
    identityDhKey: bobIdentity.publicKey,
    identitySigningKey: new Uint8Array(32),
    signedPrekey: { keyId: 1, publicKey: spk.publicKey, createdAt: VECTOR_TIME, signature: noSignature },
    oneTimePrekey: opk && { keyId: 100, publicKey: opk.publicKey },
    kemPrekey: kem && { keyId: 1000, publicKey: kem.publicKey, createdAt: VECTOR_TIME, lastResort: true, signature: noSignature },
    mode,
  };
  const agreement = pqxdhInitiate(aliceIdentity, verified, aliceLog.rng);
  if (mode === 'pqxdh') aliceLog.name('baseKey', 'kemMessage');
  else aliceLog.name('baseKey');
  const t = agreement.transcript;
  const baseKeyPrivate = aliceLog.draws.find((d) => d.name === 'baseKey')!.hex;

  const response = pqxdhRespond(
    { identity: bobIdentity, signedPrekey: spk, oneTimePrekey: opk, kemPrekey: kem && { seed: kem.seed, publicKey: kem.publicKey } },
    { mode, initiatorIdentity: aliceIdentity.publicKey, baseKey: t.baseKey, kemCiphertext: t.kemCiphertext },
  );
  if (hex(response.sharedSecret) !== hex(agreement.sharedSecret)) throw new Error(`${name}: responder disagrees`);

  // Intermediate values, recomputed with the primitives.
  const ek = fromHex(baseKeyPrivate);
  const dh = [
    x25519(aliceIdentity.privateKey, spk.publicKey),
    x25519(ek, bobIdentity.publicKey),
    x25519(ek, spk.publicKey),
    ...(opk ? [x25519(ek, opk.publicKey)] : []),
  ];
  const kemSecret = kem && t.kemCiphertext ? mlKem768Decapsulate(kem.seed, t.kemCiphertext) : undefined;
  const transcriptBytes = concatBytes(
    encodeX25519(t.initiatorIdentity),
    encodeX25519(t.responderIdentity),
    encodeX25519(t.signedPrekey),
    ...(t.oneTimePrekey ? [encodeX25519(t.oneTimePrekey)] : []),
    ...(t.kemPrekey && mode === 'pqxdh' ? [encodeMlKem768(t.kemPrekey)] : []),
    encodeX25519(t.baseKey),
    ...(t.kemCiphertext ? [t.kemCiphertext] : []),
  );
  const info = agreementInfo(t);
  if (hex(info) !== hex(concatBytes(label(mode === 'pqxdh' ? 'Pqxdh' : 'X3dh'), sha256(transcriptBytes)))) {
    throw new Error(`${name}: transcript reconstruction differs`);
  }
  const ikm = concatBytes(new Uint8Array(32).fill(0xff), ...dh, ...(kemSecret ? [kemSecret] : []));
  const sk = deriveSharedSecret(t, dh, kemSecret);
  if (hex(sk) !== hex(agreement.sharedSecret)) throw new Error(`${name}: SK reconstruction differs`);
  return {
    name,
    mode,
    rng: { alice: aliceLog.json(), bob: bobLog.json() },
    outputs: {
      aliceIdentityPublic: hex(aliceIdentity.publicKey),
      bobIdentityPublic: hex(bobIdentity.publicKey),
      signedPrekeyPublic: hex(spk.publicKey),
      oneTimePrekeyPublic: opk ? hex(opk.publicKey) : null,
      kemPrekeyPublic: kem ? hex(kem.publicKey) : null,
      baseKeyPublic: hex(t.baseKey),
      dh: dh.map(hex),
      kemCiphertext: t.kemCiphertext ? hex(t.kemCiphertext) : null,
      kemSharedSecret: kemSecret ? hex(kemSecret) : null,
      ikm: hex(ikm),
      transcript: hex(transcriptBytes),
      transcriptHash: hex(sha256(transcriptBytes)),
      info: hex(info),
      sharedSecret: hex(agreement.sharedSecret),
    },
  };
}

function keyAgreementVector(): Json {
  return {
    description:
      'PQXDH (with and without a one-time prekey) and classical X3DH shared secrets with every intermediate value (docs/protocol.md §6).',
    cases: [
      keyAgreementCase('pqxdh-one-time-prekey', 'pqxdh', true),
      keyAgreementCase('pqxdh-no-one-time-prekey', 'pqxdh', false),
      keyAgreementCase('x3dh-one-time-prekey', 'x3dh', true),
    ],
  };
}

// ── Session scenarios (session.json, session-record-v1.json) ────────────────

type PrekeySpec =
  | { readonly kind: 'signed'; readonly keyId: number; readonly createdAt: number }
  | { readonly kind: 'oneTime'; readonly keyId: number }
  | { readonly kind: 'kem'; readonly keyId: number; readonly createdAt: number; readonly lastResort: boolean };

type Side = { readonly name: 'alice' | 'bob'; readonly party: Party; readonly log: DrawLog; readonly dev: TestDevice };

function currentSession(p: Party, peer: TestDevice): SessionState {
  const s = p.record(peer)?.current;
  if (!s) throw new Error('no current session');
  return s;
}

function ratchetSnapshot(s: SessionState): Record<string, Json> {
  const r = s.ratchet;
  return {
    rootKey: hex(r.rootKey),
    sendingRatchetKeyPublic: hex(r.sendingRatchetKey.publicKey),
    remoteRatchetKey: r.remoteRatchetKey ? hex(r.remoteRatchetKey) : null,
    sendingChain: r.sendingChain ? { key: hex(r.sendingChain.key), index: r.sendingChain.index } : null,
    receivingChain: r.receivingChain ? { key: hex(r.receivingChain.key), index: r.receivingChain.index } : null,
    previousCounter: r.previousCounter,
    previousChains: r.previousChains.map((p) => ({ ratchetKey: hex(p.ratchetKey), end: p.end })),
  };
}

/**
 * Alice (initiator) and Bob (responder) driven through the production session API, each with its
 * own RNG stream. The script of operations and every derived value are recorded for the vector.
 */
class Scenario {
  readonly clock = new ManualClock(VECTOR_TIME);
  readonly script: Json[] = [];
  readonly messages: Json[] = [];
  readonly receipts: Json[] = [];
  readonly sent = new Map<string, Uint8Array>();
  readonly alice: Side;
  readonly bob: Side;
  readonly prekeys: readonly PrekeySpec[];
  readonly signed = new Map<number, SignedPrekeyPrivate>();
  readonly oneTime = new Map<number, OneTimePrekeyPrivate>();
  readonly kem = new Map<number, KemPrekeyPrivate>();

  constructor(vector: string, aliceDeviceId: number, bobDeviceId: number, prekeys: readonly PrekeySpec[]) {
    const aliceLog = new DrawLog(seedFor(vector, 'alice'));
    const aliceDev = testDevice(drawAccountAndDevice(aliceLog), aliceDeviceId, true, VECTOR_TIME - 10 * DAY);
    const bobLog = new DrawLog(seedFor(vector, 'bob'));
    const bobDev = testDevice(drawAccountAndDevice(bobLog), bobDeviceId, true, VECTOR_TIME - 10 * DAY);
    this.prekeys = prekeys;
    for (const p of prekeys) {
      if (p.kind === 'signed') {
        const k = generateSignedPrekey(bobDev.identitySigning.privateKey, p.keyId, { rng: bobLog.rng, now: p.createdAt });
        bobLog.name('signedPrekey');
        this.signed.set(p.keyId, k);
        bobDev.prekeys.addSignedPrekey(k);
      } else if (p.kind === 'oneTime') {
        const [k] = generateOneTimePrekeys(p.keyId, 1, bobLog.rng);
        bobLog.name('oneTimePrekey');
        this.oneTime.set(p.keyId, k!);
        bobDev.prekeys.addOneTimePrekeys([k!]);
      } else {
        const k = generateKemPrekey(bobDev.identitySigning.privateKey, p.keyId, p.lastResort, { rng: bobLog.rng, now: p.createdAt });
        bobLog.name(p.lastResort ? 'kemLastResortPrekey' : 'kemOneTimePrekey');
        this.kem.set(p.keyId, k);
        bobDev.prekeys.addKemPrekey(k);
      }
    }
    this.alice = { name: 'alice', party: new Party(aliceDev, aliceLog.rng, this.clock.now), log: aliceLog, dev: aliceDev };
    this.bob = { name: 'bob', party: new Party(bobDev, bobLog.rng, this.clock.now), log: bobLog, dev: bobDev };
  }

  other(side: Side): Side {
    return side === this.alice ? this.bob : this.alice;
  }

  /** Alice starts a session from a bundle of Bob's prekeys (verified like any fetched bundle). */
  initiate(ids: { readonly signedPrekeyId: number; readonly oneTimePrekeyId?: number; readonly kemPrekeyId: number }): SessionState {
    const bundle = bundleOf(
      this.bob.dev,
      this.signed.get(ids.signedPrekeyId)!,
      ids.oneTimePrekeyId !== undefined ? this.oneTime.get(ids.oneTimePrekeyId)! : undefined,
      this.kem.get(ids.kemPrekeyId)!,
    );
    this.alice.party.initiate(this.bob.dev, bundle);
    this.alice.log.name('baseKey', 'kemMessage', 'ratchetKey');
    this.script.push({
      op: 'initiate',
      time: this.clock.now(),
      signedPrekeyId: ids.signedPrekeyId,
      oneTimePrekeyId: ids.oneTimePrekeyId ?? null,
      kemPrekeyId: ids.kemPrekeyId,
    });
    return currentSession(this.alice.party, this.bob.dev);
  }

  advance(ms: number): void {
    this.clock.advance(ms);
    this.script.push({ op: 'advance', ms });
  }

  send(from: Side, id: string, text: string): Uint8Array {
    const to = this.other(from);
    const before = currentSession(from.party, to.dev);
    const chain = before.ratchet.sendingChain!;
    const plaintext = utf8(text);
    const bytes = from.party.encrypt(to.dev, plaintext);
    const seed = messageSeed(chain.key);
    const { key, nonce } = messageKeys(seed);
    const isPrekey = bytes[1] === 0x02;
    const ratchetBytes = isPrekey ? parsePrekeyMessage(bytes).message : bytes;
    const parsed = parseRatchetMessage(ratchetBytes);
    this.sent.set(id, bytes);
    this.script.push({ op: 'send', id, from: from.name, plaintext: text });
    this.messages.push({
      id,
      from: from.name,
      type: isPrekey ? 'prekey' : 'ratchet',
      plaintextHex: hex(plaintext),
      paddedLength: pad(plaintext).length,
      sendingChainKey: hex(chain.key),
      counter: chain.index,
      previousCounter: parsed.header.previousCounter,
      ratchetKeyPublic: hex(parsed.header.ratchetKey),
      messageSeed: hex(seed),
      messageKey: hex(key),
      nonce: hex(nonce),
      prekeyHeader: isPrekey ? hex(bytes.subarray(0, bytes.length - ratchetBytes.length)) : null,
      ratchetHeader: hex(parsed.headerBytes),
      ciphertext: hex(parsed.ciphertext),
      bytes: hex(bytes),
    });
    return bytes;
  }

  receive(by: Side, id: string): SessionDecryptResult {
    const from = this.other(by);
    const result = by.party.decrypt(from.dev, this.sent.get(id)!);
    const drew = by.log.pendingCount;
    if (drew === 1) by.log.name('ratchetKey');
    else if (drew !== 0) throw new Error('unexpected draws');
    this.script.push({ op: 'receive', id, by: by.name });
    const session = currentSession(by.party, from.dev);
    this.receipts.push({
      id,
      by: by.name,
      plaintextHex: hex(result.plaintext),
      newSession: result.newSession,
      dhStep: drew === 1,
      prekeyChanges: {
        consumedOneTimePrekeyId: result.prekeyChanges.consumedOneTimePrekeyId ?? null,
        consumedKemPrekeyId: result.prekeyChanges.consumedKemPrekeyId ?? null,
        seenBaseKey: result.prekeyChanges.seenBaseKey
          ? { signedPrekeyId: result.prekeyChanges.seenBaseKey.signedPrekeyId, hash: hex(result.prekeyChanges.seenBaseKey.hash) }
          : null,
      },
      skippedKeys: result.skippedChanges.added.map((k) => ({ ratchetKey: hex(k.ratchetKey), counter: k.counter, messageSeed: hex(k.seed) })),
      sessionId: hex(session.sessionId),
      pendingPrekey: session.pendingPrekey !== null,
      state: ratchetSnapshot(session),
    });
    return result;
  }

  /** Public description of both devices and Bob's prekeys. */
  devicesJson(): Json {
    return {
      alice: publicDevice(this.alice.dev),
      bob: publicDevice(this.bob.dev),
      bobPrekeys: this.prekeys.map((p): Json => {
        if (p.kind === 'signed') return { ...p, publicKey: hex(this.signed.get(p.keyId)!.publicKey), signature: hex(this.signed.get(p.keyId)!.signature) };
        if (p.kind === 'oneTime') return { ...p, publicKey: hex(this.oneTime.get(p.keyId)!.publicKey) };
        return { ...p, publicKey: hex(this.kem.get(p.keyId)!.publicKey), signature: hex(this.kem.get(p.keyId)!.signature) };
      }),
    };
  }

  inputsJson(): Json {
    return {
      time: VECTOR_TIME,
      alice: { deviceId: this.alice.dev.deviceId, capabilities: this.alice.dev.entry.capabilities },
      bob: { deviceId: this.bob.dev.deviceId, capabilities: this.bob.dev.entry.capabilities, prekeys: this.prekeys as Json },
      script: this.script,
    };
  }
}

// ── session.json ────────────────────────────────────────────────────────────

function sessionVector(): Json {
  const prekeys: PrekeySpec[] = [
    { kind: 'signed', keyId: 1, createdAt: VECTOR_TIME - DAY },
    { kind: 'oneTime', keyId: 100 },
    { kind: 'kem', keyId: 2000, createdAt: VECTOR_TIME - DAY, lastResort: false },
  ];
  const sc = new Scenario('session', 1, 3, prekeys);
  const { alice, bob } = sc;
  const session = sc.initiate({ signedPrekeyId: 1, oneTimePrekeyId: 100, kemPrekeyId: 2000 });
  const pending = session.pendingPrekey!;
  const spk = sc.signed.get(1)!;
  const kem = sc.kem.get(2000)!;

  // SK as the responder derives it, and Alice's ratchet initialisation, recomputed step by step.
  const { sharedSecret } = pqxdhRespond(
    {
      identity: bob.dev.identityDh,
      signedPrekey: spk,
      oneTimePrekey: sc.oneTime.get(100),
      kemPrekey: { seed: kem.seed, publicKey: kem.publicKey },
    },
    { mode: 'pqxdh', initiatorIdentity: alice.dev.identityDh.publicKey, baseKey: pending.baseKey, kemCiphertext: pending.kem!.ciphertext },
  );
  const aliceRatchetPrivate = fromHex(alice.log.draws.at(-1)!.hex);
  const init = kdfRootKey(sharedSecret, x25519(aliceRatchetPrivate, spk.publicKey));
  const check = initAsInitiator(sharedSecret, spk.publicKey, () => aliceRatchetPrivate.slice());
  if (hex(check.rootKey) !== hex(init.rootKey) || hex(session.ratchet.rootKey) !== hex(init.rootKey)) throw new Error('ratchet init');

  const texts = {
    a1: 'Hello Bob! This is the first message of a PQXDH session.',
    a2: '0123456789'.repeat(16),
    b1: 'Hi Alice — this reply carries a DH ratchet step.',
    a3: 'Alice answers on her second sending chain.',
    b2: '',
  };
  sc.send(alice, 'a1', texts.a1);
  sc.send(alice, 'a2', texts.a2);
  sc.receive(bob, 'a1');
  sc.receive(bob, 'a2');
  sc.send(bob, 'b1', texts.b1);
  sc.receive(alice, 'b1');
  sc.send(alice, 'a3', texts.a3);
  sc.receive(bob, 'a3');
  sc.send(bob, 'b2', texts.b2);
  sc.receive(alice, 'b2');
  if (hex(currentSession(bob.party, alice.dev).sessionId) !== hex(session.sessionId)) throw new Error('session ids differ');

  const decryptionErrors = decryptionErrorCases(sc, VECTOR_TIME + 60_000);

  return {
    description:
      'A PQXDH session between Alice (device 1) and Bob (device 3): two prekey messages, Bob\'s reply after his DH step, Alice\'s next message after hers, Bob\'s empty message after his second step; then signed decryption errors about a1, b1, b2 and garbage, how the recipient handles each, and three forged reports it refuses (docs/protocol.md §7-§10).',
    rng: { alice: alice.log.json(), bob: bob.log.json() },
    inputs: sc.inputsJson(),
    outputs: {
      devices: sc.devicesJson(),
      baseKeyPublic: hex(pending.baseKey),
      kemCiphertext: hex(pending.kem!.ciphertext),
      sharedSecret: hex(sharedSecret),
      initialRootKey: hex(init.rootKey),
      initialSendingChainKey: hex(init.chainKey),
      sessionAd: hex(sessionAd(session)),
      sessionId: hex(session.sessionId),
      baseKeySeenHash: hex(baseKeyHash(pending.baseKey)),
      prekeyHeader: hex(encodePrekeyHeader(pending)),
      messages: sc.messages,
      receipts: sc.receipts,
      decryptionErrors,
    },
  };
}


type DecryptionErrorMutation = 'none' | 'signature-flipped' | 'signed-with-account-key' | 'wrong-recipient-device';

/** §9.3 signature input: label ‖ reporter account id ‖ u32 device id ‖ recipient account id ‖ u32 device id ‖ body. */
function decryptionErrorSignatureInput(parties: DecryptionErrorParties, body: Uint8Array): Uint8Array {
  return concatBytes(
    label('DecryptionError'),
    parties.reporter.accountId,
    u32be(parties.reporter.deviceId),
    parties.recipient.accountId,
    u32be(parties.recipient.deviceId),
    body,
  );
}

/**
 * Decryption errors (§9.3, §10.5) at the end of the session scenario: the reporter signs with its
 * device identity signing key; the recipient verifies under the reporter's listed key and decides
 * whether to rebuild. The mutations are reports the recipient must refuse with BAD_SIGNATURE.
 */
function decryptionErrorCases(sc: Scenario, timestamp: number): Json[] {
  const cases: { about: string; reporter: Side; failed: Uint8Array; mutation: DecryptionErrorMutation }[] = [
    { about: 'a1', reporter: sc.bob, failed: sc.sent.get('a1')!, mutation: 'none' },
    { about: 'b1', reporter: sc.alice, failed: sc.sent.get('b1')!, mutation: 'none' },
    { about: 'b2', reporter: sc.alice, failed: sc.sent.get('b2')!, mutation: 'none' },
    { about: 'garbage', reporter: sc.bob, failed: Uint8Array.of(0xff, 0x00), mutation: 'none' },
    { about: 'b2', reporter: sc.alice, failed: sc.sent.get('b2')!, mutation: 'signature-flipped' },
    { about: 'b2', reporter: sc.alice, failed: sc.sent.get('b2')!, mutation: 'signed-with-account-key' },
    { about: 'b2', reporter: sc.alice, failed: sc.sent.get('b2')!, mutation: 'wrong-recipient-device' },
  ];
  return cases.map((c): Json => {
    const recipient = sc.other(c.reporter);
    const parties: DecryptionErrorParties = {
      reporter: { accountId: c.reporter.dev.account.accountId, deviceId: c.reporter.dev.deviceId },
      recipient: { accountId: recipient.dev.account.accountId, deviceId: recipient.dev.deviceId },
    };
    const signedParties: DecryptionErrorParties =
      c.mutation === 'wrong-recipient-device' ? { ...parties, recipient: { ...parties.recipient, deviceId: parties.recipient.deviceId + 1 } } : parties;
    const signingKey = c.mutation === 'signed-with-account-key' ? c.reporter.dev.account.accountKey.privateKey : c.reporter.dev.identitySigning.privateKey;
    const bytes = createDecryptionError(c.failed, timestamp, signedParties, signingKey);
    const { body, signature } = parseDecryptionError(bytes);
    if (c.mutation === 'signature-flipped') bytes[2 + body.length]! ^= 0x01;
    const signatureInput = decryptionErrorSignatureInput(signedParties, body);
    const sigOk = ed25519Verify(
      c.mutation === 'signed-with-account-key' ? c.reporter.dev.account.accountKey.publicKey : c.reporter.dev.identitySigning.publicKey,
      signatureInput,
      signature,
    );
    if (!sigOk || bytes.length !== 162) throw new Error(`decryption error ${c.about}/${c.mutation}: reconstruction differs`);
    let handled: Json;
    try {
      // The pure function: the scenario's records stay as they are for the next case.
      const r = handleDecryptionError(recipient.party.record(c.reporter.dev), bytes, {
        local: parties.recipient,
        peer: peerDevice(c.reporter.dev),
      });
      handled = {
        rebuild: r.rebuild,
        resendAfter: r.resendAfter,
        ratchetKey: r.error.ratchetKey ? hex(r.error.ratchetKey) : null,
        counter: r.error.counter ?? null,
        droppedSessionIds: r.droppedSessionIds.map(hex),
      };
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      handled = { error: e.code };
    }
    return {
      about: c.about,
      reporter: c.reporter.name,
      recipient: recipient.name,
      mutation: c.mutation,
      failedMessage: hex(c.failed),
      timestamp,
      body: hex(body),
      signatureInput: hex(signatureInput),
      signature: hex(signature),
      bytes: hex(bytes),
      handled,
    };
  });
}

// ── safety-number.json ──────────────────────────────────────────────────────

function safetyNumberVector(): Json {
  const log = new DrawLog(seedFor('safety-number', 'both'));
  const aliceId = log.rng(16);
  const aliceKey = ed25519GenerateKeyPair(log.rng);
  const bobId = log.rng(16);
  const bobKey = ed25519GenerateKeyPair(log.rng);
  const devDh = x25519GenerateKeyPair(log.rng);
  const devSig = ed25519GenerateKeyPair(log.rng);
  log.name('alice.accountId', 'alice.accountKey', 'bob.accountId', 'bob.accountKey', 'device.identityDh', 'device.identitySigning');
  const alice = { accountId: aliceId, accountKey: aliceKey.publicKey };
  const bob = { accountId: bobId, accountKey: bobKey.publicKey };
  const fromAlice = safetyNumber(alice, bob);
  const fromBob = safetyNumber(bob, alice);
  if (fromAlice.digits !== fromBob.digits) throw new Error('safety numbers differ');
  const entry: DeviceEntry = { deviceId: 1, identityDhKey: devDh.publicKey, identitySigningKey: devSig.publicKey, capabilities: 1, addedAt: 0 };
  const other = safetyNumber(alice, { accountId: bobId, accountKey: aliceKey.publicKey });
  // hash₀ of §12.1 (not hashed itself), recomputed here to pin the layout.
  const side = (p: { accountId: Uint8Array; accountKey: Uint8Array }): Json => ({
    accountId: hex(p.accountId),
    accountPublicKey: hex(p.accountKey),
    fingerprintInput: hex(concatBytes(u16be(SAFETY_NUMBER_VERSION), encodeEd25519(p.accountKey), p.accountId)),
    fingerprint: hex(fingerprint(p)),
    digits: fingerprintDigits(fingerprint(p)),
  });
  return {
    description: 'Safety number of two accounts, its QR payloads, and a per-device fingerprint (docs/protocol.md §12).',
    rng: log.json(),
    outputs: {
      alice: side(alice),
      bob: side(bob),
      digits: fromAlice.digits,
      groups: formatSafetyNumber(fromAlice.digits),
      qrPayloadAlice: hex(fromAlice.qrPayload),
      qrPayloadBob: hex(fromBob.qrPayload),
      aliceScansBob: compareQrPayload(fromAlice, fromBob.qrPayload),
      aliceScansHerself: compareQrPayload(fromAlice, fromAlice.qrPayload),
      aliceScansChangedKey: compareQrPayload(fromAlice, other.qrPayload),
      device: {
        identityDhPublic: hex(devDh.publicKey),
        identitySigningPublic: hex(devSig.publicKey),
        fingerprint: deviceFingerprint(entry),
      },
    },
  };
}

// ── session-record-v1.json ──────────────────────────────────────────────────

function sessionRecordVector(): Json {
  const prekeys: PrekeySpec[] = [
    { kind: 'signed', keyId: 9, createdAt: VECTOR_TIME - DAY },
    { kind: 'oneTime', keyId: 101 },
    { kind: 'kem', keyId: 1000, createdAt: VECTOR_TIME - DAY, lastResort: true },
    { kind: 'kem', keyId: 2001, createdAt: VECTOR_TIME - DAY, lastResort: false },
  ];
  const sc = new Scenario('session-record-v1', 2, 5, prekeys);
  const { alice, bob } = sc;

  // S0: a session whose first message is lost; it stays archived with its pending prekey header.
  sc.initiate({ signedPrekeyId: 9, kemPrekeyId: 1000 });
  sc.send(alice, 'lost', 'lost');
  sc.advance(60_000);
  // S1: the live session, with a DH step each way and a previous chain on Alice's side.
  sc.initiate({ signedPrekeyId: 9, oneTimePrekeyId: 101, kemPrekeyId: 2001 });
  const exchange: [Side, string, string][] = [
    [alice, 'p1', 'one'],
    [bob, 'b1', 'two'],
    [alice, 'a2', 'three'],
    [bob, 'b2', 'four'],
    [alice, 'a3', 'five'],
  ];
  for (const [from, id, text] of exchange) {
    sc.send(from, id, text);
    sc.receive(sc.other(from), id);
  }
  sc.script.push({ op: 'snapshot', of: 'alice' });
  const recordBytes = alice.party.records.get(Party.peerKey(bob.dev))!.slice();
  const record = deserializeSessionRecord(recordBytes);
  const archived = record.archived[0]!;

  const skippedText = 'six (skipped, arrives last)';
  const nextText = 'seven: the stored next message';
  const skippedBytes = sc.send(bob, 'b3a', skippedText);
  const nextBytes = sc.send(bob, 'b3b', nextText);

  // What Alice does with the stored message: a DH step that skips counter 0 of Bob's new chain.
  const decryptLog = new DrawLog(seedFor('session-record-v1', 'decrypt'));
  const loaded = new Party(alice.dev, decryptLog.rng, sc.clock.now);
  loaded.records.set(Party.peerKey(bob.dev), recordBytes.slice());
  const result = loaded.decrypt(bob.dev, nextBytes);
  decryptLog.name('ratchetKey');
  if (fromUtf8(result.plaintext) !== nextText || result.skippedChanges.added.length !== 1) throw new Error('stored message');
  const skipped = result.skippedChanges.added[0]!;
  const late = loaded.decrypt(bob.dev, skippedBytes);
  if (fromUtf8(late.plaintext) !== skippedText) throw new Error('skipped message');

  const describe = (s: SessionState): Json => ({
    sessionId: hex(s.sessionId),
    mode: s.mode,
    role: s.role,
    pendingPrekey: s.pendingPrekey ? hex(encodePrekeyHeader(s.pendingPrekey)) : null,
    localAccountId: hex(s.localAccountId),
    localDeviceId: s.localDeviceId,
    localIdentityKey: hex(s.localIdentityKey),
    remoteAccountId: hex(s.remoteAccountId),
    remoteDeviceId: s.remoteDeviceId,
    remoteIdentityKey: hex(s.remoteIdentityKey),
    baseKey: hex(s.baseKey),
    createdAt: s.createdAt,
    ratchet: { ...ratchetSnapshot(s), sendingRatchetKeyPrivate: hex(s.ratchet.sendingRatchetKey.privateKey) },
  });

  return {
    description:
      'FROZEN. A serialized v1 session record — Alice\'s record of Bob\'s device: the current session after a DH step each way (one previous chain), one archived session with a pending prekey header — and the next message it must decrypt (a DH step that skips one key), then the skipped one. Every later version must load these bytes (docs/protocol.md §11, §15).',
    rng: { alice: alice.log.json(), bob: bob.log.json(), decrypt: decryptLog.json() },
    inputs: sc.inputsJson(),
    outputs: {
      devices: sc.devicesJson(),
      messages: sc.messages,
      receipts: sc.receipts,
      record: hex(recordBytes),
      current: describe(record.current!),
      archived: [describe(archived)],
      nextMessage: { id: 'b3b', bytes: hex(nextBytes), plaintext: nextText },
      skippedKey: { ratchetKey: hex(skipped.ratchetKey), counter: skipped.counter, messageSeed: hex(skipped.seed) },
      skippedMessage: { id: 'b3a', bytes: hex(skippedBytes), plaintext: skippedText },
    },
  };
}

// ── attachment.json ─────────────────────────────────────────────────────────

/** The vectors' plaintext rule (docs/protocol.md §17.8): byte i is i mod 251, so no two segments are equal. */
export function attachmentVectorPlaintext(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = i % 251;
  return out;
}

/** Ciphertexts up to this size are written out whole; larger ones by their SHA-256 and segment heads. */
const ATTACHMENT_FULL_HEX_LIMIT = 4096;

function attachmentCase(name: string, length: number): Json {
  const log = new DrawLog(seedFor('attachment', name));
  const plaintext = attachmentVectorPlaintext(length);
  const { descriptor, ciphertext } = sealAttachment(plaintext, { rng: log.rng });
  log.name('key', 'fileId');
  const header = parseAttachmentHeader(ciphertext.subarray(0, 53), descriptor.key);
  const segments: Json[] = [];
  for (let i = 0, offset = sealedSegmentOffset(0); offset < ciphertext.length; i++) {
    const size = Math.min(ATTACHMENT_SEGMENT_SIZE + ATTACHMENT_TAG_LENGTH, ciphertext.length - offset);
    const last = offset + size === ciphertext.length;
    const sealed = ciphertext.subarray(offset, offset + size);
    segments.push({
      index: i,
      last,
      nonce: hex(segmentNonce(i, last)),
      plaintextLength: size - ATTACHMENT_TAG_LENGTH,
      sealedHead: hex(sealed.subarray(0, Math.min(32, size - ATTACHMENT_TAG_LENGTH))),
      tag: hex(sealed.subarray(size - ATTACHMENT_TAG_LENGTH)),
    });
    offset += size;
  }
  return {
    name,
    rng: log.json(),
    plaintext: { length, sha256: hex(descriptor.plaintextSha256) },
    paddedLength: descriptor.paddedLength,
    keyCommitment: hex(fileKeyCommitment(descriptor.key)),
    header: hex(header.bytes),
    ad: hex(header.ad),
    segments,
    ciphertextLength: ciphertext.length,
    ciphertextSha256: hex(sha256(ciphertext)),
    ciphertextDigest: hex(descriptor.ciphertextDigest),
    ciphertext: ciphertext.length <= ATTACHMENT_FULL_HEX_LIMIT ? hex(ciphertext) : undefined,
  };
}

function attachmentVector(): Json {
  const S = ATTACHMENT_SEGMENT_SIZE;
  return {
    description:
      'Attachment cipher (docs/protocol.md §17): Padmé, header and key commitment, STREAM segments of AES-256-GCM, ciphertext digest. ' +
      'Plaintext byte i is i mod 251. Ciphertexts above 4096 bytes are given by their SHA-256 (ciphertextSha256, a check value, not the protocol digest), ' +
      'the first 32 sealed bytes and the tag of every segment.',
    cases: [
      attachmentCase('empty', 0),
      attachmentCase('one byte', 1),
      attachmentCase('one segment', S),
      attachmentCase('one segment plus one byte', S + 1),
      attachmentCase('several segments', 3 * S + 12_345),
    ],
  };
}

// ── attachment-pointer.json ─────────────────────────────────────────────────

/** The content type of an attachment message (docs/protocol.md §16). */
const ATTACHMENT_CONTENT_TYPE = 0x06;

function attachmentPointerVector(): Json {
  const log = new DrawLog(seedFor('attachment-pointer', 'sender'));
  const thumbnail = Uint8Array.from({ length: 200 }, (_, i) => i % 251);
  thumbnail.set([0xff, 0xd8, 0xff, 0xe0], 0);
  const specs = [
    { name: 'document', length: 12_345, mediaType: 'application/pdf', fileName: 'Quarterly report.pdf', dimensions: null, thumbnail: null, original: false, caption: '' },
    { name: 'photo', length: 2_345_678, mediaType: 'image/jpeg', fileName: 'IMG_0001.jpg', dimensions: { width: 4032, height: 3024 }, thumbnail, original: false, caption: 'Zürich, from the lake 🌅' },
    { name: 'empty-original', length: 0, mediaType: '', fileName: '', dimensions: null, thumbnail: null, original: true, caption: '' },
  ];
  const cases = specs.map((spec) => {
    const messageId = log.rng(16);
    const attachmentId = log.rng(16);
    const key = log.rng(32);
    const ciphertextDigest = log.rng(32);
    const plaintextSha256 = log.rng(32);
    log.name(`${spec.name}.messageId`, `${spec.name}.attachmentId`, `${spec.name}.key`, `${spec.name}.ciphertextDigest`, `${spec.name}.plaintextSha256`);
    const pointer: AttachmentPointer = {
      attachmentId,
      descriptor: { key, length: spec.length, paddedLength: padmeLength(spec.length), ciphertextDigest, plaintextSha256 },
      mediaType: spec.mediaType,
      fileName: spec.fileName,
      dimensions: spec.dimensions,
      thumbnail: spec.thumbnail,
      original: spec.original,
    };
    const pointerWriter = new Writer();
    writeAttachmentPointer(pointerWriter, pointer);
    const pointerBytes = pointerWriter.finish();
    const sentAt = VECTOR_TIME;
    const content = new Writer().u8(1).u8(ATTACHMENT_CONTENT_TYPE).bytes(messageId).u64(sentAt).bytes(pointerBytes).var32(utf8(spec.caption)).finish();
    return {
      name: spec.name,
      messageId: hex(messageId),
      sentAt,
      attachmentId: hex(attachmentId),
      key: hex(key),
      length: spec.length,
      paddedLength: padmeLength(spec.length),
      ciphertextDigest: hex(ciphertextDigest),
      plaintextSha256: hex(plaintextSha256),
      mediaType: spec.mediaType,
      fileName: spec.fileName,
      dimensions: spec.dimensions,
      thumbnail: spec.thumbnail && hex(spec.thumbnail),
      original: spec.original,
      caption: spec.caption,
      pointer: hex(pointerBytes),
      content: hex(content),
    };
  });
  return {
    description:
      'Attachment pointers (docs/protocol.md §17.9) and the attachment content that carries them (§16, type 0x06): ' +
      'pointer = the pointer bytes alone; content = ContentHeader ‖ pointer ‖ u32 length ‖ UTF-8 caption (unpadded: the session pads it).',
    rng: log.json(),
    cases,
  };
}

// ── profile.json ────────────────────────────────────────────────────────────

/** The vectors' avatar (docs/protocol.md §18.6): "RIFF" ‖ u32le(length − 8) ‖ "WEBP", then byte i = i mod 251. */
export function profileVectorAvatar(length: number): Uint8Array {
  const out = Uint8Array.from({ length }, (_, i) => i % 251);
  out.set(utf8('RIFF'), 0);
  out.set([(length - 8) & 0xff, ((length - 8) >>> 8) & 0xff, ((length - 8) >>> 16) & 0xff, (length - 8) >>> 24], 4);
  out.set(utf8('WEBP'), 8);
  return out;
}

function profileJson(p: Profile): Json {
  return {
    revision: p.revision,
    displayName: p.displayName,
    about: p.about,
    avatar: p.avatar && { format: p.avatar.format, bytes: hex(p.avatar.bytes) },
  };
}

function profileVector(): Json {
  const log = new DrawLog(seedFor('profile', 'owner'));
  const accountId = log.rng(16);
  const profileKey = newProfileKey({ rng: log.rng });
  log.name('accountId', 'profileKey');
  const keyId = profileKeyId(profileKey);
  const profiles: { name: string; profile: Profile }[] = [
    { name: 'name-only', profile: { revision: 1, displayName: 'Alice', about: '', avatar: null } },
    { name: 'name-and-about', profile: { revision: 2, displayName: 'Alíce Liddell 🐇', about: 'Curiouser and curiouser!', avatar: null } },
    { name: 'with-avatar', profile: { revision: 3, displayName: 'Alice', about: 'Down the rabbit hole', avatar: { format: 'webp', bytes: profileVectorAvatar(300) } } },
  ];
  const cases = profiles.map(({ name, profile }) => {
    const encrypted = encryptProfile(profile, profileKey, accountId, { rng: log.rng });
    log.name(`${name}.nonce`);
    const nonce = encrypted.subarray(1 + 16, 1 + 16 + 12);
    return {
      name,
      profile: profileJson(profile),
      plaintext: hex(encodeProfilePlaintext(profile)),
      nonce: hex(nonce),
      ad: hex(concatBytes(label('ProfileAd'), Uint8Array.of(1), accountId, keyId)),
      encrypted: hex(encrypted),
    };
  });
  // Checks on the last case, as a reader sees them.
  const last = fromHex(cases[cases.length - 1]!.encrypted);
  const rotatedKey = newProfileKey({ rng: log.rng });
  log.name('rotatedProfileKey');
  const outcome = (run: () => unknown): string => {
    try {
      run();
      return 'ok';
    } catch (e) {
      if (isProtocolError(e)) return e.code;
      throw e;
    }
  };
  const tampered = last.slice();
  tampered[tampered.length - 1]! ^= 0x01;
  const otherAccount = accountId.slice();
  otherAccount[0]! ^= 0x01;
  return {
    description:
      'Profiles (docs/protocol.md §18): key derivation from the profile key, the padded plaintext, AES-256-GCM under the cipher key with the account-bound AD. ' +
      'checks[] open the "with-avatar" profile after a mutation: ok, or the error code.',
    rng: log.json(),
    outputs: {
      accountId: hex(accountId),
      profileKey: hex(profileKey),
      cipherKey: hex(deriveFromProfileKey(profileKey, 'cipherKey')),
      keyId: hex(keyId),
      rotatedKeyId: hex(profileKeyId(rotatedKey)),
      cases,
      checks: [
        { name: 'valid', expect: outcome(() => decryptProfile(last, profileKey, accountId)) },
        { name: 'last-byte-flipped', expect: outcome(() => decryptProfile(tampered, profileKey, accountId)) },
        { name: 'other-account-id', expect: outcome(() => decryptProfile(last, profileKey, otherAccount)) },
        { name: 'rotated-key', expect: outcome(() => decryptProfile(last, rotatedKey, accountId)) },
      ],
    },
  };
}

/** Every vector file, keyed by name. */
export function generateParleyVectors(): Record<VectorFile, Json> {
  return {
    'rng.json': rngVector(),
    'padding.json': paddingVector(),
    'device-list.json': deviceListVector(),
    'prekey-bundle.json': prekeyBundleVector(),
    'key-agreement.json': keyAgreementVector(),
    'session.json': sessionVector(),
    'safety-number.json': safetyNumberVector(),
    'session-record-v1.json': sessionRecordVector(),
    'attachment.json': attachmentVector(),
    'profile.json': profileVector(),
    'attachment-pointer.json': attachmentPointerVector(),
    'linking.json': linkingVector(),
    'device-capabilities.json': deviceCapabilitiesVector(),
    'sealed-sender.json': sealedSenderVector(),
    'sender-key.json': senderKeyVector(),
    'group-membership.json': groupMembershipVector(),
    'history-archive.json': historyArchiveVector(),
  };
}

// ── sender-key.json, group-membership.json (docs/protocol.md §24.9) ─────────

const groupOutcome = (run: () => unknown): string => {
  try {
    run();
    return 'ok';
  } catch (e) {
    if (isProtocolError(e)) return e.code;
    throw e;
  }
};

/**
 * Sender keys (docs/protocol.md §24.9): one chain, three messages with every intermediate value,
 * messages at iterations 25,000 and 25,001, distributions at iterations 0 and 3, a request, the
 * serialized own state and a receiver's record, and ten checks.
 */
function senderKeyVector(): Json {
  const log = new DrawLog(seedFor('sender-key', 'all'));
  const clock = new ManualClock(VECTOR_TIME);
  const groupId = log.rng(16);
  const aliceAccount = log.rng(16);
  const headHash = log.rng(32);
  log.name('groupId', 'alice.accountId', 'headHash');
  const chain = createSenderKeyState(groupId, { rng: log.rng, now: clock.now });
  log.name('chain.distributionId', 'chain.chainKey', 'chain.signingKey');
  const mallory = ed25519GenerateKeyPair(log.rng);
  log.name('mallory.signingKey');
  const alice = { accountId: aliceAccount, deviceId: 1 };
  const context = { groupId, from: alice, now: clock.now };
  const skLabel = utf8('Parley_v1_SenderKeyMessage');

  let state = chain;
  const messages: Json[] = [];
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 3; i++) {
    const plaintext = utf8(`Parley_v1 test vector group message ${i}`);
    const seed = senderKeySeed(state.chainKey);
    const keys = hkdfSha256(seed, undefined, utf8('Parley_v1_SenderKeyMessageKeys'), 44);
    const out = senderKeyEncrypt(state, plaintext, headHash);
    const header = out.message.subarray(0, SENDER_KEY_HEADER_LENGTH);
    const ciphertext = out.message.subarray(SENDER_KEY_HEADER_LENGTH, out.message.length - 64);
    messages.push({
      iteration: state.iteration,
      plaintextHex: hex(plaintext),
      chainKey: hex(state.chainKey),
      messageSeed: hex(seed),
      messageKey: hex(keys.subarray(0, 32)),
      nonce: hex(keys.subarray(32)),
      header: hex(header),
      ad: hex(concatBytes(skLabel, header)),
      ciphertext: hex(ciphertext),
      signature: hex(out.message.subarray(out.message.length - 64)),
      bytes: hex(out.message),
    });
    sent.push(out.message);
    state = out.state;
  }
  const far = (iteration: number): Uint8Array =>
    senderKeyEncrypt({ ...chain, chainKey: advanceSenderChain(chain.chainKey, iteration), iteration }, utf8(`Parley_v1 test vector group message ${iteration}`), headHash).message;
  const jumpAtLimit = far(25_000);
  const jumpPastLimit = far(25_001);
  const forged = senderKeyEncrypt({ ...chain, signingPrivateKey: mallory.privateKey }, utf8('Parley_v1 test vector forged'), headHash).message;

  const distribution0 = createSenderKeyDistribution(chain, alice);
  const distribution3 = createSenderKeyDistribution(state, alice);
  const received = processSenderKeyDistribution(EMPTY_SENDER_KEY_RECORD, distribution0, context).record;
  const newcomer = processSenderKeyDistribution(EMPTY_SENDER_KEY_RECORD, distribution3, context).record;
  const after2 = senderKeyDecrypt(received, sent[2]!).record;
  const after20 = senderKeyDecrypt(after2, sent[0]!).record;
  const flip = (bytes: Uint8Array, at: number): Uint8Array => {
    const out = bytes.slice();
    out[at]! ^= 0x01;
    return out;
  };
  return {
    description:
      'Sender keys (docs/protocol.md §24.3–§24.7): a chain, three group messages with every intermediate value, distributions at iterations 0 and 2, ' +
      'a distribution request, the serialized own state after three sends and a receiver record after messages 2 then 0, and the checks of §24.5 and §24.6.',
    rng: log.json(),
    inputs: { time: VECTOR_TIME, senderDeviceId: 1, requestIteration: 1 },
    outputs: {
      groupId: hex(groupId),
      distributionId: hex(chain.distributionId),
      chainKey: hex(chain.chainKey),
      signingPublicKey: hex(chain.signingPublicKey),
      malloryPublicKey: hex(mallory.publicKey),
      headHash: hex(headHash),
      messages,
      jumpAtLimit: hex(jumpAtLimit),
      jumpPastLimit: hex(jumpPastLimit),
      forged: hex(forged),
      distribution0: hex(encodeSenderKeyDistribution(distribution0)),
      distribution3: hex(encodeSenderKeyDistribution(distribution3)),
      request: hex(encodeSenderKeyDistributionRequest({ groupId, distributionId: chain.distributionId, iteration: 1 })),
      ownState: hex(serializeSenderKeyState(state)),
      receiverRecord: hex(serializeSenderKeyRecord(after20)),
      checks: [
        { name: 'message-0', expect: groupOutcome(() => senderKeyDecrypt(received, sent[0]!)) },
        { name: 'message-0-twice', expect: groupOutcome(() => senderKeyDecrypt(senderKeyDecrypt(received, sent[0]!).record, sent[0]!)) },
        { name: 'message-1-after-2-and-0', expect: groupOutcome(() => senderKeyDecrypt(after20, sent[1]!)) },
        { name: 'newcomer-message-1', expect: groupOutcome(() => senderKeyDecrypt(newcomer, sent[1]!)) },
        { name: 'no-distribution', expect: groupOutcome(() => senderKeyDecrypt(EMPTY_SENDER_KEY_RECORD, sent[0]!)) },
        { name: 'signature-flipped', expect: groupOutcome(() => senderKeyDecrypt(received, flip(sent[0]!, sent[0]!.length - 1))) },
        { name: 'head-hash-flipped', expect: groupOutcome(() => senderKeyDecrypt(received, flip(sent[0]!, 38))) },
        { name: 'forged-by-mallory', expect: groupOutcome(() => senderKeyDecrypt(received, forged)) },
        { name: 'jump-at-limit', expect: groupOutcome(() => senderKeyDecrypt(received, jumpAtLimit)) },
        { name: 'jump-past-limit', expect: groupOutcome(() => senderKeyDecrypt(received, jumpPastLimit)) },
        { name: 'distribution-0-after-message-2', expect: groupOutcome(() => processSenderKeyDistribution(after2, distribution0, context)) },
        { name: 'distribution-from-device-2', expect: groupOutcome(() => processSenderKeyDistribution(EMPTY_SENDER_KEY_RECORD, distribution0, { ...context, from: { ...alice, deviceId: 2 } })) },
      ],
    },
  };
}

/**
 * Group membership (docs/protocol.md §24.9): a genesis, a promotion, an addition, a fork whose
 * losing record is a removal (kept, §24.2), a removal on the winner; every record's bytes and hash,
 * the head and its members, the update and serialized forms, and nine checks.
 */
function groupMembershipVector(): Json {
  const log = new DrawLog(seedFor('group-membership', 'all'));
  const groupId = log.rng(16);
  log.name('groupId');
  type P = { accountId: Uint8Array; accountKey: Ed25519KeyPair; device: Ed25519KeyPair };
  const draw = (name: string): P => {
    const p = { accountId: log.rng(16), accountKey: ed25519GenerateKeyPair(log.rng), device: ed25519GenerateKeyPair(log.rng) };
    log.name(`${name}.accountId`, `${name}.accountKey`, `${name}.deviceSigning`);
    return p;
  };
  const [alice, bob, carol, dave] = [draw('alice'), draw('bob'), draw('carol'), draw('dave')];
  const unknownHash = log.rng(32);
  log.name('unknownHash');
  const member = (p: P, admin: boolean): GroupMember => ({ accountId: p.accountId, accountPublicKey: p.accountKey.publicKey, admin });
  const author = (p: P) => ({ accountId: p.accountId, deviceId: 1, signingPublicKey: p.device.publicKey });
  const byAccount = (a: GroupMember, b: GroupMember) => compareBytes(a.accountId, b.accountId);
  const records: { name: string; signed: ReturnType<typeof signGroupRecord> }[] = [];
  const genesis = signGroupRecord(
    {
      groupId,
      epoch: 0,
      previousHash: new Uint8Array(32),
      time: VECTOR_TIME,
      author: author(alice),
      operation: { kind: 'create', name: 'Parley test group', description: 'vectors', members: [member(alice, true), member(bob, false), member(carol, false)].sort(byAccount) },
    },
    alice.device.privateKey,
  );
  records.push({ name: 'genesis', signed: genesis });
  let m = openMembership(genesis.bytes);
  const next = (name: string, by: P, op: Exclude<GroupOperation, { kind: 'create' }>, time: number): ReturnType<typeof signGroupRecord> => {
    const signed = proposeGroupRecord(m, author(by), op, time, by.device.privateKey);
    records.push({ name, signed });
    return signed;
  };
  m = applyGroupRecord(m, next('promote-bob', alice, { kind: 'setRole', accountId: bob.accountId, admin: true }, VECTOR_TIME + 1).bytes).membership;
  m = applyGroupRecord(m, next('add-dave', alice, { kind: 'add', members: [member(dave, false)] }, VECTOR_TIME + 2).bytes).membership;
  const forkBase = m;
  const removal = proposeGroupRecord(forkBase, author(alice), { kind: 'remove', accountId: carol.accountId }, VECTOR_TIME + 3, alice.device.privateKey);
  // Bob's rename, at the first millisecond from +3 on whose record hash is lower than the removal's: the removal loses the fork.
  let rename = proposeGroupRecord(forkBase, author(bob), { kind: 'rename', name: 'Renamed', description: '' }, VECTOR_TIME + 3, bob.device.privateKey);
  for (let t = 4; compareBytes(rename.hash, removal.hash) >= 0; t++) {
    rename = proposeGroupRecord(forkBase, author(bob), { kind: 'rename', name: 'Renamed', description: '' }, VECTOR_TIME + t, bob.device.privateKey);
  }
  records.push({ name: 'fork-remove-carol', signed: removal }, { name: 'fork-rename', signed: rename });
  m = applyGroupRecord(applyGroupRecord(m, removal.bytes).membership, rename.bytes).membership;
  m = applyGroupRecord(m, next('remove-bob', alice, { kind: 'remove', accountId: bob.accountId }, VECTOR_TIME + 100).bytes).membership;
  const onHead = (by: P, op: Exclude<GroupOperation, { kind: 'create' }>, fields: Partial<GroupRecord> = {}): Uint8Array =>
    signGroupRecord({ groupId, epoch: m.headEpoch + 1, previousHash: m.head, time: VECTOR_TIME + 200, author: author(by), operation: op, ...fields }, by.device.privateKey).bytes;
  const applyOutcome = (bytes: Uint8Array): string => {
    try {
      const out = applyGroupRecord(m, bytes);
      return out.rejected ? out.rejected.code : 'ok';
    } catch (e) {
      if (isProtocolError(e)) return e.code;
      throw e;
    }
  };
  const rename2 = { kind: 'rename', name: 'Again', description: '' } as const;
  const flipped = onHead(alice, rename2);
  flipped[flipped.length - 1]! ^= 0x01;
  const headMessage = (hash: Uint8Array, sender: P): string => {
    try {
      return checkGroupMessageHead(m, hash, sender.accountId).current ? 'current' : 'older';
    } catch (e) {
      if (isProtocolError(e)) return e.code;
      throw e;
    }
  };
  return {
    description:
      'Group membership (docs/protocol.md §24.1, §24.2, §24.5, §24.6): a genesis by Alice (Alice admin, Bob, Carol), Bob promoted, Dave added, a fork on that ' +
      'record (Alice removes Carol; Bob renames, with a lower hash), Alice removes Bob on the winner; each record, the head and its members, the membership update ' +
      'and the serialized membership, and checks of records and of message heads against that head.',
    rng: log.json(),
    inputs: { time: VECTOR_TIME },
    outputs: {
      groupId: hex(groupId),
      people: Object.fromEntries(
        ([['alice', alice], ['bob', bob], ['carol', carol], ['dave', dave]] as const).map(([name, p]) => [
          name,
          { accountId: hex(p.accountId), accountPublicKey: hex(p.accountKey.publicKey), deviceSigningPublic: hex(p.device.publicKey) },
        ]),
      ),
      records: records.map(({ name, signed }) => ({
        name,
        epoch: signed.record.epoch,
        previousHash: hex(signed.record.previousHash),
        time: signed.record.time,
        signatureInput: hex(groupRecordSignatureInput(signed.bytes.subarray(0, signed.bytes.length - 64))),
        bytes: hex(signed.bytes),
        hash: hex(signed.hash),
        onChain: isOnChain(m, signed.hash),
      })),
      head: hex(m.head),
      name: m.state.name,
      description: m.state.description,
      members: groupMembers(m.state).map((x) => ({ accountId: hex(x.accountId), admin: x.admin })),
      unknownHash: hex(unknownHash),
      update: hex(encodeMembershipUpdate({ groupId, records: membershipRecords(m) })),
      serialized: hex(serializeMembership(m)),
      checks: [
        { name: 'dave-renames', expect: applyOutcome(onHead(dave, rename2)) },
        { name: 'bob-renames-after-removal', expect: applyOutcome(onHead(bob, rename2)) },
        { name: 'alice-renames', expect: applyOutcome(onHead(alice, rename2)) },
        { name: 'alice-renames-on-unknown-record', expect: applyOutcome(onHead(alice, rename2, { previousHash: unknownHash })) },
        { name: 'alice-renames-with-wrong-epoch', expect: applyOutcome(onHead(alice, rename2, { epoch: m.headEpoch + 2 })) },
        { name: 'alice-renames-signature-flipped', expect: applyOutcome(flipped) },
        { name: 'message-dave-at-head', expect: headMessage(m.head, dave) },
        { name: 'message-carol-at-head', expect: headMessage(m.head, carol) },
        { name: 'message-carol-at-add-dave', expect: headMessage(records[2]!.signed.hash, carol) },
        { name: 'message-alice-at-unknown-head', expect: headMessage(unknownHash, alice) },
      ],
    },
  };
}

// ── linking.json ────────────────────────────────────────────────────────────

/** The account and both devices' identity keys of linking.json (one stream, drawn first). */
function linkingCase(method: 'offer' | 'code', account: { accountId: Uint8Array; key: Ed25519KeyPair; primary: DeviceEntry; device: LinkDeviceKeys }, relayId: Uint8Array, channelId: Uint8Array): Json {
  const newLog = new DrawLog(seedFor(`linking/${method}`, 'new'));
  const primaryLog = new DrawLog(seedFor(`linking/${method}`, 'primary'));
  const n = createLinkOffer({ relayId, channelId, rendezvous: '482913' }, { rng: newLog.rng });
  newLog.name('ephemeral', 'secret', ...Array.from({ length: newLog.pendingCount - 2 }, (_, i) => `codeDigits.${i}`));
  const linkAccount = { accountId: account.accountId, accountPublicKey: account.key.publicKey };
  const target: LinkTarget = method === 'offer' ? { method, offer: parseLinkOfferText(n.offerText) } : { method, code: parseLinkCode(n.code), channelId };
  const p = startPrimaryLink({ relayId, target, account: linkAccount }, { rng: primaryLog.rng });
  primaryLog.name('sid', 'ephemeral', 'cpaceScalar');
  const h = receiveHello(n.state, p.hello, account.device, { rng: newLog.rng });
  newLog.name('cpaceScalar');
  const r = receiveReply(p.state, h.reply);
  const a = receiveAccount(h.state, r.account);
  const c = receiveConfirm(r.state, a.confirm);
  // Copies: sealing the provisioning wipes the link keys.
  const keys = { toNew: c.state.keys.toNew.slice(), toPrimary: c.state.keys.toPrimary.slice(), macPrimary: c.state.keys.macPrimary.slice(), macNew: c.state.keys.macNew.slice() };
  const list: DeviceList = {
    accountId: account.accountId,
    version: 2,
    issuedAt: VECTOR_TIME,
    devices: [account.primary, { deviceId: 2, ...account.device, addedAt: VECTOR_TIME }],
  };
  const signedDeviceList = signDeviceList(list, account.key.privateKey);
  const accountState = utf8('Parley_v1 test vector account state');
  const provision = sealProvisioning(c.state, { deviceId: 2, signedDeviceList, accountState });
  openProvisioning(a.state, provision);

  const prs = method === 'offer' ? linkPassword('offer', n.offer.secret) : linkPassword('code', parseLinkCode(n.code).digits);
  const ci = linkChannelIdentifier(relayId, channelId);
  const sid = p.hello.slice(3, 19);
  const ya = p.hello.slice(19, 51);
  const yb = h.reply.slice(2, 34);
  const ekP = p.hello.slice(52, 84);
  const ekN = n.offer.ephemeralKey;
  const k = scalarMultVfy(sampleScalarFrom(fromHex(newLog.draws.find((d) => d.name === 'cpaceScalar')!.hex)), ya);
  const transcriptIrBytes = transcriptIr(ya, encodeX25519(ekP), yb, encodeX25519(ekN));
  const isk = cpaceIsk(sid, k, transcriptIrBytes);
  const primaryEphemeralPrivate = fromHex(primaryLog.draws.find((d) => d.name === 'ephemeral')!.hex);
  return {
    method,
    rng: { new: newLog.json(), primary: primaryLog.json() },
    offer: hex(encodeLinkOffer(n.offer)),
    offerText: n.offerText,
    code: n.code,
    prs: hex(prs),
    ci: hex(ci),
    generator: hex(calculateGenerator(prs, ci, sid)),
    hello: hex(p.hello),
    cpace: { sid: hex(sid), ya: hex(ya), yb: hex(yb), k: hex(k), transcriptIr: hex(transcriptIrBytes), isk: hex(isk) },
    dh: hex(x25519(primaryEphemeralPrivate, ekN)),
    transcriptHash: hex(r.state.transcript),
    keys: { toNew: hex(keys.toNew), toPrimary: hex(keys.toPrimary), macPrimary: hex(keys.macPrimary), macNew: hex(keys.macNew) },
    reply: hex(h.reply),
    account: hex(r.account),
    confirm: hex(a.confirm),
    signedDeviceList: hex(signedDeviceList),
    accountState: hex(accountState),
    provision: hex(provision),
  };
}

/** A CPace scalar as sampleScalar makes it from a 32-byte draw (the bits above 252 cleared). */
function sampleScalarFrom(draw: Uint8Array): Uint8Array {
  const y = draw.slice();
  y[31]! &= 0x0f;
  return y;
}

function linkingVector(): Json {
  const log = new DrawLog(seedFor('linking', 'account'));
  const relayId = log.rng(16);
  const channelId = log.rng(16);
  const accountId = log.rng(16);
  const key = ed25519GenerateKeyPair(log.rng);
  const primaryDh = x25519GenerateKeyPair(log.rng);
  const primarySigning = ed25519GenerateKeyPair(log.rng);
  const newDh = x25519GenerateKeyPair(log.rng);
  const newSigning = ed25519GenerateKeyPair(log.rng);
  log.name('relayId', 'channelId', 'accountId', 'accountKey', 'primary.identityDh', 'primary.identitySigning', 'new.identityDh', 'new.identitySigning');
  const primary: DeviceEntry = { deviceId: 1, identityDhKey: primaryDh.publicKey, identitySigningKey: primarySigning.publicKey, capabilities: Capability.pq, addedAt: VECTOR_TIME };
  const device: LinkDeviceKeys = { identityDhKey: newDh.publicKey, identitySigningKey: newSigning.publicKey, capabilities: Capability.pq };
  const account = { accountId, key, primary, device };
  return {
    description:
      'Device linking (docs/protocol.md §20): the offer and short code, CPace on ristretto255/SHA-512 (generator, shares, K, ISK), the key derivation, ' +
      'and every frame of a complete link by offer and by code. The new device is device 2 on a list of version 2.',
    rng: log.json(),
    outputs: {
      relayId: hex(relayId),
      channelId: hex(channelId),
      accountId: hex(accountId),
      accountPublicKey: hex(key.publicKey),
      primary: { deviceId: 1, identityDhPublic: hex(primaryDh.publicKey), identitySigningPublic: hex(primarySigning.publicKey), capabilities: Capability.pq },
      newDevice: { identityDhPublic: hex(newDh.publicKey), identitySigningPublic: hex(newSigning.publicKey), capabilities: Capability.pq },
      cases: [linkingCase('offer', account, relayId, channelId), linkingCase('code', account, relayId, channelId)],
    },
  };
}

// ── sealed-sender.json ──────────────────────────────────────────────────────

/**
 * Sealed sender (docs/protocol.md §21.7): a delivery token, a sender certificate, a sealed envelope
 * for one device and a multi-recipient send to three, every intermediate value, and seven checks on
 * opening.
 */
function sealedSenderVector(): Json {
  const log = new DrawLog(seedFor('sealed-sender', 'all'));
  const relay = ed25519GenerateKeyPair(log.rng);
  const otherRelay = ed25519GenerateKeyPair(log.rng);
  const aliceAccount = log.rng(16);
  const alice = x25519GenerateKeyPair(log.rng);
  const bobAccount = log.rng(16);
  const bobProfileKey = newProfileKey({ rng: log.rng });
  const bob1 = x25519GenerateKeyPair(log.rng);
  const bob2 = x25519GenerateKeyPair(log.rng);
  const alice2 = x25519GenerateKeyPair(log.rng);
  const mallory = x25519GenerateKeyPair(log.rng);
  log.name(
    'relay.certificateKey',
    'relay.otherCertificateKey',
    'alice.accountId',
    'alice.device1.identityDh',
    'bob.accountId',
    'bob.profileKey',
    'bob.device1.identityDh',
    'bob.device2.identityDh',
    'alice.device2.identityDh',
    'mallory.identityDh',
  );
  const keyId = 1;
  const expiresAt = VECTOR_TIME + 24 * 3600_000;
  const certificate = issueSenderCertificate({ accountId: aliceAccount, deviceId: 1, identityKey: alice.publicKey, expiresAt, keyId }, relay.privateKey);
  const body = certificate.subarray(0, 66);
  const token = deliveryToken(bobProfileKey);
  const relayTime = VECTOR_TIME + 3600_000;
  const trust = new Map([[keyId, relay.publicKey]]);
  const bobDevices: { name: string; accountId: Uint8Array; deviceId: number; keys: X25519KeyPair }[] = [
    { name: 'bob.device1', accountId: bobAccount, deviceId: 1, keys: bob1 },
    { name: 'bob.device2', accountId: bobAccount, deviceId: 2, keys: bob2 },
    { name: 'alice.device2', accountId: aliceAccount, deviceId: 2, keys: alice2 },
  ];
  const recipientOf = (d: (typeof bobDevices)[number]): SealedRecipient => ({ accountId: d.accountId, deviceId: d.deviceId, identityKey: d.keys.publicKey });

  const sealCase = (name: string, sender: X25519KeyPair, to: (typeof bobDevices)[number][], messages: Uint8Array[]): { json: Json; sealed: SealedMultiRecipient } => {
    const sealed = sealMessage({ certificate, senderIdentityPrivate: sender.privateKey, recipients: to.map(recipientOf), messages }, { rng: log.rng });
    log.name(`${name}.secret`);
    const secret = fromHex(log.draws[log.draws.length - 1]!.hex);
    const ephemeralPrivate = hkdfSha256(secret, undefined, label('SealedEphemeral'), 32);
    const contentKey = hkdfSha256(secret, undefined, label('SealedContentKey'), 32);
    const w = new Writer().bytes(certificate).bytes(encodeX25519(sender.publicKey)).u16(messages.length);
    for (const m of messages) w.u32(m.length).bytes(m);
    const payload = w.finish();
    const E = encodeX25519(sealed.ephemeralPublic);
    const json = {
      name,
      recipients: to.map((d) => d.name),
      messages: messages.map(hex),
      secret: hex(secret),
      ephemeralPrivate: hex(ephemeralPrivate),
      ephemeralPublic: hex(sealed.ephemeralPublic),
      contentKey: hex(contentKey),
      payload: hex(payload),
      sharedAd: hex(concatBytes(label('SealedAd'), Uint8Array.of(1), E)),
      sharedCiphertext: hex(sealed.sharedCiphertext),
      sharedDigest: hex(sha256(sealed.sharedCiphertext)),
      headers: sealed.recipients.map((r, i) => {
        const R = encodeX25519(to[i]!.keys.publicKey);
        const ephemeralDh = x25519(ephemeralPrivate, to[i]!.keys.publicKey);
        const staticDh = x25519(sender.privateKey, to[i]!.keys.publicKey);
        return {
          index: i,
          ephemeralDh: hex(ephemeralDh),
          wrapInfo: hex(concatBytes(label('SealedWrap'), E, R)),
          wrapKey: hex(hkdfSha256(ephemeralDh, undefined, concatBytes(label('SealedWrap'), E, R), 32)),
          wrappedSecret: hex(r.wrappedSecret),
          staticDh: hex(staticDh),
          authInfo: hex(concatBytes(label('SealedAuth'), E, encodeX25519(sender.publicKey), R, u16be(i), r.wrappedSecret, sha256(sealed.sharedCiphertext))),
          authTag: hex(r.authTag),
          envelope: hex(sealedEnvelopeFor(sealed, i)),
        };
      }),
      upload: hex(encodeSealedMultiRecipient(sealed)),
    };
    return { json, sealed };
  };

  const single = sealCase('single', alice, [bobDevices[0]!], [utf8('Parley_v1 test vector sealed inner message')]);
  const multi = sealCase('multi', alice, bobDevices, [utf8('to bob device 1'), utf8('to bob device 2'), utf8('to alice device 2')]);
  const mismatch = sealCase('mallory', mallory, [bobDevices[0]!], [utf8('not from alice')]);

  const outcome = (run: () => unknown): string => {
    try {
      run();
      return 'ok';
    } catch (e) {
      if (isProtocolError(e)) return e.code;
      throw e;
    }
  };
  const envelope = sealedEnvelopeFor(single.sealed, 0);
  const flip = (at: number): Uint8Array => {
    const t = envelope.slice();
    t[at]! ^= 0x01;
    return t;
  };
  const openAs = (bytes: Uint8Array, keys: X25519KeyPair, t = trust, time = relayTime) => () => openSealedEnvelope(bytes, { identityPrivate: keys.privateKey }, t, time);
  return {
    description:
      'Sealed sender (docs/protocol.md §21): the delivery token from a profile key, a sender certificate, a sealed envelope for one device, ' +
      'a multi-recipient send to three devices (one message each), a send by Mallory with Alice\'s certificate, and checks[] that open an envelope.',
    rng: log.json(),
    outputs: {
      relayCertificatePublicKey: hex(relay.publicKey),
      otherCertificatePublicKey: hex(otherRelay.publicKey),
      bobProfileKey: hex(bobProfileKey),
      deliveryToken: hex(token),
      deliveryTokenHash: hex(sha256(token)),
      certificate: {
        accountId: hex(aliceAccount),
        deviceId: 1,
        identityKey: hex(alice.publicKey),
        expiresAt,
        keyId,
        body: hex(body),
        signatureInput: hex(concatBytes(label('SenderCertificate'), body)),
        bytes: hex(certificate),
      },
      devices: Object.fromEntries(
        [['alice.device1', aliceAccount, 1, alice] as const, ...bobDevices.map((d) => [d.name, d.accountId, d.deviceId, d.keys] as const), ['mallory', aliceAccount, 1, mallory] as const].map(
          ([name, accountId, deviceId, keys]) => [name, { accountId: hex(accountId), deviceId, identityDhPublic: hex(keys.publicKey) }],
        ),
      ),
      relayTime,
      cases: [single.json, multi.json, mismatch.json],
      checks: [
        { name: 'valid', expect: outcome(openAs(envelope, bob1)) },
        { name: 'delivered-to-bob-device-2', expect: outcome(openAs(envelope, bob2)) },
        { name: 'shared-ciphertext-last-byte-flipped', expect: outcome(openAs(flip(envelope.length - 1), bob1)) },
        { name: 'auth-tag-flipped', expect: outcome(openAs(flip(83), bob1)) },
        { name: 'certificate-key-not-pinned', expect: outcome(openAs(envelope, bob1, new Map([[keyId, otherRelay.publicKey]]))) },
        { name: 'relay-time-at-expiry', expect: outcome(openAs(envelope, bob1, trust, expiresAt)) },
        { name: 'mallory-with-alice-certificate', expect: outcome(openAs(sealedEnvelopeFor(mismatch.sealed, 0), bob1)) },
      ],
    },
  };
}

// ── history-archive.json ────────────────────────────────────────────────────

/** A history archive (docs/protocol.md §22) of two conversations, and the archive sealed with the file cipher (§17). */
function historyArchiveVector(): Json {
  const log = new DrawLog(seedFor('history-archive', 'primary'));
  const accountId = log.rng(16);
  const bob = log.rng(16);
  const carol = log.rng(16);
  log.name('accountId', 'bob', 'carol');
  const ids = [1, 2, 3, 4, 5].map((i) => {
    const id = log.rng(16);
    log.name(`message${i}.messageId`);
    return id;
  });
  const attachmentId = log.rng(16);
  const fileKey = log.rng(32);
  const ciphertextDigest = log.rng(32);
  const plaintextSha256 = log.rng(32);
  log.name('photo.attachmentId', 'photo.key', 'photo.ciphertextDigest', 'photo.plaintextSha256');
  const t = VECTOR_TIME;
  const thumbnail = Uint8Array.from({ length: 20 }, (_, i) => i);
  thumbnail.set([0xff, 0xd8, 0xff, 0xe0], 0);
  const msg = (i: number, m: Omit<ArchivedMessage, 'messageId'>): ArchivedMessage => ({ ...m, messageId: ids[i]! });
  const archive: HistoryArchive = {
    scope: 'recent',
    accountId,
    createdAt: t,
    since: t - HISTORY_RECENT_MS,
    conversations: [
      {
        peerAccountId: bob,
        messages: [
          msg(0, { kind: 'text', direction: 'incoming', status: null, readAt: t - 3 * DAY + 60_000, senderDeviceId: 1, sentAt: t - 3 * DAY, receivedAt: t - 3 * DAY + 1_500, body: 'Lunch on Friday?', pointer: null }),
          msg(1, { kind: 'text', direction: 'outgoing', status: 'read', readAt: null, senderDeviceId: 1, sentAt: t - 3 * DAY + 120_000, receivedAt: t - 3 * DAY + 120_000, body: 'Gern — um zwölf 🍜', pointer: null }),
          msg(2, {
            kind: 'attachment',
            direction: 'incoming',
            status: null,
            readAt: null,
            senderDeviceId: 3,
            sentAt: t - DAY,
            receivedAt: t - DAY + 700,
            body: 'the menu',
            pointer: {
              attachmentId,
              descriptor: { key: fileKey, length: 48_213, paddedLength: padmeLength(48_213), ciphertextDigest, plaintextSha256 },
              mediaType: 'image/jpeg',
              fileName: 'menu.jpg',
              dimensions: { width: 1200, height: 1600 },
              thumbnail,
              original: false,
            },
          }),
        ],
      },
      {
        peerAccountId: carol,
        messages: [
          msg(3, { kind: 'text', direction: 'outgoing', status: 'delivered', readAt: null, senderDeviceId: 1, sentAt: t - 2 * 3600_000, receivedAt: t - 2 * 3600_000, body: 'Are you in the office today?', pointer: null }),
          msg(4, { kind: 'text', direction: 'outgoing', status: 'failed', readAt: null, senderDeviceId: 1, sentAt: t - 3600_000, receivedAt: t - 3600_000, body: 'Never mind.', pointer: null }),
        ],
      },
    ],
  };
  const bytes = encodeHistoryArchive(archive);
  if (JSON.stringify(parseHistoryArchive(bytes, accountId).conversations.length) !== '2') throw new Error('history archive does not parse back');
  const sealed = sealAttachment(bytes, { rng: log.rng });
  log.name('archive.key', 'archive.fileId');
  const messageJson = (m: ArchivedMessage): Json => ({
    kind: m.kind,
    direction: m.direction,
    status: m.status,
    readAt: m.readAt,
    senderDeviceId: m.senderDeviceId,
    messageId: hex(m.messageId),
    sentAt: m.sentAt,
    receivedAt: m.receivedAt,
    body: m.body,
    pointer: m.pointer && {
      flags: (m.pointer.dimensions ? 0x01 : 0) | (m.pointer.thumbnail ? 0x02 : 0) | (m.pointer.original ? 0x04 : 0),
      attachmentId: hex(m.pointer.attachmentId),
      key: hex(m.pointer.descriptor.key),
      length: m.pointer.descriptor.length,
      paddedLength: m.pointer.descriptor.paddedLength,
      ciphertextDigest: hex(m.pointer.descriptor.ciphertextDigest),
      plaintextSha256: hex(m.pointer.descriptor.plaintextSha256),
      mediaType: m.pointer.mediaType,
      fileName: m.pointer.fileName,
      dimensions: m.pointer.dimensions,
      thumbnail: m.pointer.thumbnail && hex(m.pointer.thumbnail),
    },
  });
  return {
    description:
      'History archive (docs/protocol.md §22): two conversations (Bob: an incoming read text, an outgoing read text, an incoming unread photo; ' +
      'Carol: an outgoing delivered and an outgoing failed text) of the last 30 days, the archive bytes, and the archive sealed as one file (§17) under a fresh key.',
    rng: log.json(),
    outputs: {
      scope: archive.scope,
      accountId: hex(accountId),
      createdAt: archive.createdAt,
      since: archive.since,
      conversations: archive.conversations.map((c) => ({ peerAccountId: hex(c.peerAccountId), messages: c.messages.map(messageJson) })),
      archive: hex(bytes),
      sealed: {
        key: hex(sealed.descriptor.key),
        length: sealed.descriptor.length,
        paddedLength: sealed.descriptor.paddedLength,
        ciphertextDigest: hex(sealed.descriptor.ciphertextDigest),
        plaintextSha256: hex(sealed.descriptor.plaintextSha256),
        ciphertext: hex(sealed.ciphertext),
      },
    },
  };
}
