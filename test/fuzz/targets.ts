/**
 * The fuzz targets of test/fuzz/decoders.test.ts (issue 21): every decoder that reads bytes, text
 * or JSON from a peer, the relay, the network or the disk, each with the inputs it gets (random
 * values and mutations of a valid sample made with the real code), how many per run, and the only
 * error type it may throw. Loaded inside the fuzz worker (test/fuzz/fuzz-worker.ts).
 */
import fc from 'fast-check';
import { utf8 } from '../../shared/crypto/bytes.js';
import { ed25519GenerateKeyPair } from '../../shared/crypto/ed25519.js';
import { isProtocolError } from '../../shared/protocol/errors.js';
import { Reader, Writer } from '../../shared/protocol/codec.js';
import { sealSegment } from '../../shared/protocol/attachment-cipher.js';
import {
  BACKUP_HEADER_LENGTH,
  BackupReader,
  newRecoveryKey,
  openBackup,
  openBackupContentKey,
  openBackupSegment,
  parseBackupHeader,
  sealBackup,
  applyGroupRecord,
  createSenderKeyDistribution,
  createSenderKeyState,
  deserializeMembership,
  deserializeSenderKeyRecord,
  EMPTY_SENDER_KEY_RECORD,
  encodeMembershipUpdate,
  encodeSenderKeyDistribution,
  openMembership,
  parseMembershipUpdate,
  parseSenderKeyDistribution,
  processSenderKeyDistribution,
  senderKeyDecrypt,
  senderKeyEncrypt,
  serializeMembership,
  serializeSenderKeyRecord,
  signGroupRecord,
  decodeProfilePlaintext,
  decryptProfile,
  deserializeSessionRecord,
  encodeHistoryArchive,
  encodeLinkOffer,
  encodeProfilePlaintext,
  encodeSealedMultiRecipient,
  encryptProfile,
  issueSenderCertificate,
  openAttachment,
  openSealedEnvelope,
  parseDecryptionError,
  parseDeviceList,
  parseHistoryArchive,
  parseLinkCode,
  parseLinkOffer,
  parseLinkOfferText,
  parsePrekeyMessage,
  parseRatchetMessage,
  parseSealedMultiRecipient,
  parseSenderCertificate,
  readAttachmentPointer,
  sealAttachment,
  sealedEnvelopeFor,
  sealMessage,
  verifySenderCertificate,
  writeAttachmentPointer,
  createLinkOffer,
  HISTORY_RECENT_MS,
  type AttachmentPointer,
  type HistoryArchive,
  type Profile,
} from '../../shared/protocol/index.js';
import { deterministicRng, ManualClock } from '../../shared/testing/deterministic-rng.js';
import { asGroupMember, groupPerson, proposeBy, sortedMembers } from '../../shared/testing/group-fixtures.js';
import { makeAccount, makeDevice, Party, signedListFor } from '../../shared/testing/protocol-fixtures.js';
import * as frames from '../../shared/wire/frames.js';
import * as provisioning from '../../shared/wire/provisioning.js';
import * as rest from '../../shared/wire/rest.js';
import * as sealed from '../../shared/wire/sealed.js';
import { RelayError } from '../../server/core/errors.js';
import { parseOrThrow } from '../../server/core/validation.js';
import { decodeClientFrame } from '../../server/ws/connection.js';

export type FuzzTarget = {
  /** Generated inputs per CI run. */
  readonly runs: number;
  /** Where the decoder is (file:symbol), for the test's name. */
  readonly decoder: string;
  /** The inputs. */
  input(): fc.Arbitrary<unknown>;
  /** Decodes one input; throws only when the decoder threw something other than its typed error. */
  run(input: unknown): void;
};

const T0 = Date.UTC(2026, 10, 1);
const HOUR = 3_600_000;

/** Valid samples, made once per worker with the real protocol code. */
function samples() {
  const rng = deterministicRng('fuzz-samples');
  const clock = new ManualClock(T0);
  const aliceDev = makeDevice(rng, T0);
  const bobDev = makeDevice(rng, T0, { oneTimePrekeys: 2 });
  const alice = new Party(aliceDev, rng, clock.now);
  const bob = new Party(bobDev, rng, clock.now);
  alice.initiate(bobDev);
  const prekeyMessage = alice.encrypt(bobDev, utf8('first'));
  bob.decrypt(aliceDev, prekeyMessage);
  const ratchetMessage = bob.encrypt(aliceDev, utf8('reply'));
  const decryptionError = bob.reportDecryptionError(aliceDev, ratchetMessage, T0);
  const record = alice.records.values().next().value!;
  const deviceList = signedListFor(aliceDev.account, [aliceDev], 1, T0).signed;
  const attachment = sealAttachment(rng(3000), { rng });
  const pointer: AttachmentPointer = {
    attachmentId: rng(16),
    descriptor: attachment.descriptor,
    mediaType: 'image/jpeg',
    fileName: 'holiday.jpg',
    dimensions: { width: 640, height: 480 },
    thumbnail: rng(40),
    original: false,
  };
  const pointerWriter = new Writer();
  writeAttachmentPointer(pointerWriter, pointer);
  const relayKey = ed25519GenerateKeyPair(rng);
  const trust = new Map([[1, relayKey.publicKey]]);
  const certificate = issueSenderCertificate(
    { accountId: aliceDev.account.accountId, deviceId: aliceDev.deviceId, identityKey: aliceDev.identityDh.publicKey, expiresAt: T0 + 24 * HOUR, keyId: 1 },
    relayKey.privateKey,
  );
  const bob2 = makeDevice(rng, T0, { account: bobDev.account, deviceId: 2 });
  const upload = sealMessage(
    {
      certificate,
      senderIdentityPrivate: aliceDev.identityDh.privateKey,
      recipients: [bobDev, bob2].map((d) => ({ accountId: d.account.accountId, deviceId: d.deviceId, identityKey: d.identityDh.publicKey })),
      messages: [ratchetMessage],
    },
    { rng },
  );
  const me = aliceDev.account.accountId;
  const archive: HistoryArchive = {
    scope: 'recent',
    accountId: me,
    createdAt: T0,
    since: T0 - HISTORY_RECENT_MS,
    conversations: [
      {
        peerAccountId: bobDev.account.accountId,
        messages: [
          { kind: 'text', direction: 'incoming', status: null, readAt: T0 - 800, senderDeviceId: 1, messageId: rng(16), sentAt: T0 - 1000, receivedAt: T0 - 900, body: 'grüße 👋', pointer: null },
          { kind: 'attachment', direction: 'outgoing', status: 'delivered', readAt: null, senderDeviceId: 2, messageId: rng(16), sentAt: T0 - 500, receivedAt: T0 - 500, body: '', pointer },
        ],
      },
      {
        peerAccountId: makeAccount(rng).accountId,
        messages: [{ kind: 'text', direction: 'outgoing', status: 'failed', readAt: null, senderDeviceId: 1, messageId: rng(16), sentAt: T0 - 300, receivedAt: T0 - 300, body: 'hi', pointer: null }],
      },
    ],
  };
  const profileKey = rng(32);
  const profile: Profile = { revision: 3, displayName: 'Alice Liddell', about: 'Down the rabbit hole', avatar: null };
  const offer = createLinkOffer({ relayId: rng(16), channelId: rng(16), rendezvous: '482913' }, { rng });
  return {
    prekeyMessage,
    ratchetMessage,
    decryptionError,
    record,
    deviceList,
    attachment,
    pointer: pointerWriter.finish(),
    trust,
    certificate,
    upload: encodeSealedMultiRecipient(upload),
    envelope: sealedEnvelopeFor(upload, 0),
    bobIdentityPrivate: bobDev.identityDh.privateKey,
    archive: encodeHistoryArchive(archive),
    archiveOwner: me,
    profileKey,
    profilePlaintext: encodeProfilePlaintext(profile),
    encryptedProfile: encryptProfile(profile, profileKey, me, { rng }),
    offerBytes: encodeLinkOffer(offer.offer),
    offerText: offer.offerText,
    code: offer.code,
  };
}

/** A backup (docs/protocol.md §25) without a passphrase, small enough to be one segment. */
function backupSamples() {
  const rng = deterministicRng('fuzz-backup-samples');
  const recoveryKey = newRecoveryKey({ rng });
  const content = {
    account: utf8('{"v":1,"profile":{"name":"Alice"}}'),
    messages: [rng(300), rng(40)],
    attachments: [{ attachmentId: rng(16), bytes: rng(500) }],
  };
  const { header, blob } = sealBackup({ recoveryKey, kdf: { kind: 'recovery-key' }, backupSalt: rng(32), contentSalt: rng(32), createdAt: T0, stretched: null }, content);
  const contentKey = openBackupContentKey(header, recoveryKey, null);
  const plaintext = openBackupSegment(contentKey, header.ad, 0, true, blob.subarray(BACKUP_HEADER_LENGTH));
  return { recoveryKey, header, blob, contentKey, plaintext };
}

let cachedBackup: ReturnType<typeof backupSamples> | undefined;
const B = (): ReturnType<typeof backupSamples> => (cachedBackup ??= backupSamples());
/** Group samples (docs/protocol.md §24): a group message and its receiver's record, a distribution, records, an update. */
function groupSamples() {
  const rng = deterministicRng('fuzz-group-samples');
  const clock = new ManualClock(T0);
  const [alice, bob] = [groupPerson(rng), groupPerson(rng)] as const;
  const groupId = rng(16);
  const genesis = signGroupRecord(
    {
      groupId,
      epoch: 0,
      previousHash: new Uint8Array(32),
      time: T0,
      author: { accountId: alice.accountId, deviceId: 1, signingPublicKey: alice.device.publicKey },
      operation: { kind: 'create', name: 'fuzz', description: '', members: sortedMembers([asGroupMember(alice, true), asGroupMember(bob)]) },
    },
    alice.device.privateKey,
  );
  const membership = openMembership(genesis.bytes);
  const rename = proposeBy(membership, alice, { kind: 'rename', name: 'fuzzed', description: 'x' }, T0 + 1).bytes;
  const chain = createSenderKeyState(groupId, { rng, now: clock.now });
  const from = { accountId: alice.accountId, deviceId: 1 };
  const distribution = createSenderKeyDistribution(chain, from);
  const { record } = processSenderKeyDistribution(EMPTY_SENDER_KEY_RECORD, distribution, { groupId, from, now: clock.now });
  const message = senderKeyEncrypt(chain, utf8('fuzz'), membership.head).message;
  return {
    membership,
    rename,
    record,
    message,
    recordBytes: serializeSenderKeyRecord(record),
    distribution: encodeSenderKeyDistribution(distribution),
    update: encodeMembershipUpdate({ groupId, records: [genesis.bytes, rename] }),
    serialized: serializeMembership(applyGroupRecord(membership, rename).membership),
  };
}

let cachedGroup: ReturnType<typeof groupSamples> | undefined;
const G = (): ReturnType<typeof groupSamples> => (cachedGroup ??= groupSamples());

let cached: ReturnType<typeof samples> | undefined;
const S = (): ReturnType<typeof samples> => (cached ??= samples());

/** Random bytes, or a valid sample with bit flips, a cut, an insertion or a splice. */
export function mutatedBytes(sample: Uint8Array): fc.Arbitrary<Uint8Array> {
  const at = fc.nat({ max: sample.length });
  return fc.oneof(
    fc.uint8Array({ maxLength: sample.length + 64 }),
    fc.array(fc.tuple(at, fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }).map((flips) => {
      const out = sample.slice();
      for (const [i, x] of flips) if (i < out.length) out[i]! ^= x;
      return out;
    }),
    at.map((n) => sample.slice(0, n)),
    fc.tuple(at, fc.uint8Array({ minLength: 1, maxLength: 40 })).map(([i, extra]) => {
      const out = new Uint8Array(sample.length + extra.length);
      out.set(sample.subarray(0, i));
      out.set(extra, i);
      out.set(sample.subarray(i), i + extra.length);
      return out;
    }),
    fc.tuple(at, at).map(([i, j]) => {
      const out = sample.slice();
      out.copyWithin(Math.min(i, j), Math.max(i, j));
      return out;
    }),
  );
}

/** Random text, or a valid text with characters replaced, cut or inserted. */
function mutatedText(sample: string): fc.Arbitrary<string> {
  const at = fc.nat({ max: sample.length });
  return fc.oneof(
    fc.string({ maxLength: sample.length + 16 }),
    fc.string({ unit: 'binary', maxLength: sample.length + 16 }),
    fc.tuple(at, fc.string({ minLength: 1, maxLength: 8, unit: 'binary' })).map(([i, s]) => sample.slice(0, i) + s + sample.slice(i + 1)),
    at.map((n) => sample.slice(0, n)),
    fc.tuple(at, fc.string({ minLength: 1, maxLength: 8 })).map(([i, s]) => sample.slice(0, i) + s + sample.slice(i)),
  );
}

/** Runs `decode`; anything it throws must be a ProtocolError. */
function typedOnly(decode: () => unknown): void {
  try {
    decode();
  } catch (e) {
    if (!isProtocolError(e)) throw untyped(e);
  }
}

function protocol(decode: (input: Uint8Array) => unknown): (input: unknown) => void {
  return (input) => typedOnly(() => decode(input as Uint8Array));
}

/** For a decoder that authenticates: a changed input that decoded anyway is a forgery. */
function onlyUntouched(input: Uint8Array, sample: Uint8Array): void {
  if (input.length !== sample.length || input.some((x, i) => x !== sample[i])) throw new Error('a changed input was accepted as authentic');
}

function untyped(e: unknown): Error {
  return new Error(`untyped error: ${e instanceof Error ? `${e.name}: ${e.message}` : typeof e}`);
}

/**
 * String values of at least 8 characters in a JSON value: what an error message must never repeat
 * (field names may appear: the message names the path of each issue).
 */
function longStrings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string' && value.length >= 8) out.push(value);
  else if (Array.isArray(value)) for (const v of value) longStrings(v, out);
  else if (typeof value === 'object' && value !== null) for (const v of Object.values(value)) longStrings(v, out);
  return out;
}

/**
 * Runs the relay's `parseOrThrow` (server/core/validation.ts, what `body()` in server/http/app.ts
 * and the connection's frame schemas run): only RelayError MALFORMED, whose message repeats none
 * of the input's strings (they may be tokens or ciphertext).
 */
function relayParse(schema: Parameters<typeof parseOrThrow>[0], value: unknown): void {
  try {
    parseOrThrow(schema, value);
  } catch (e) {
    if (!(e instanceof RelayError) || e.code !== 'MALFORMED') throw untyped(e);
    for (const s of longStrings(value)) if (e.message.includes(s)) throw new Error(`the error message repeats an input string: ${e.message}`);
  }
}

/** Every request body the relay parses (server/http/app.ts `body(schema, req)`). */
const REQUEST_SCHEMAS = [
  rest.ChallengeRequestSchema,
  rest.SessionRequestSchema,
  rest.RegisterRequestSchema,
  rest.PutDeviceListRequestSchema,
  rest.DeleteAccountRequestSchema,
  rest.PrekeyUploadSchema,
  rest.SendRequestSchema,
  rest.MessagesSchema,
  rest.ContactsRequestSchema,
  rest.SettingsRequestSchema,
  rest.PresenceQuerySchema,
  rest.PutProfileRequestSchema,
  sealed.PutDeliveryTokenRequestSchema,
  sealed.SealedSendRequestSchema,
  provisioning.CreateProvisioningChannelRequestSchema,
  provisioning.JoinProvisioningChannelRequestSchema,
  provisioning.ProvisioningMessageRequestSchema,
] as const;

const FIELD_NAMES = ['type', 'id', 'to', 'messages', 'token', 'state', 'accounts', 'deviceId', 'content', 'accountId', 'upload', 'profile', 'tokenHash', 'seqs', 'deviceList', 'body', 'rendezvous'];

/** Any JSON value, or an object with the wire's field names and arbitrary values. */
function jsonish(type?: string): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.jsonValue(),
    fc.dictionary(fc.constantFrom(...FIELD_NAMES), fc.jsonValue()).map((o) => (type === undefined ? o : { ...o, type })),
  );
}

const VALID_FRAMES = [
  '{"type":"auth","token":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}',
  '{"type":"send","id":"r1","to":"AAAAAAAAAAAAAAAAAAAAAA","messages":[{"deviceId":1,"content":"AAECAw"}]}',
  '{"type":"ack","id":"r2","seqs":[1,2,3]}',
  '{"type":"presence-query","id":"r3","accounts":["AAAAAAAAAAAAAAAAAAAAAA"]}',
  '{"type":"ping","id":"r4"}',
];

export const TARGETS = {
  'ratchet message': { runs: 12_000, decoder: 'shared/protocol/messages.ts:parseRatchetMessage', input: () => mutatedBytes(S().ratchetMessage), run: protocol(parseRatchetMessage) },
  'prekey message': { runs: 12_000, decoder: 'shared/protocol/messages.ts:parsePrekeyMessage', input: () => mutatedBytes(S().prekeyMessage), run: protocol((b) => parsePrekeyMessage(b)) },
  'decryption error': { runs: 5_000, decoder: 'shared/protocol/messages.ts:parseDecryptionError', input: () => mutatedBytes(S().decryptionError), run: protocol(parseDecryptionError) },
  'session record': { runs: 8_000, decoder: 'shared/protocol/session-record.ts:deserializeSessionRecord', input: () => mutatedBytes(S().record), run: protocol(deserializeSessionRecord) },
  'signed device list': { runs: 4_000, decoder: 'shared/protocol/device-list.ts:parseDeviceList', input: () => mutatedBytes(S().deviceList), run: protocol(parseDeviceList) },
  'file cipher header and segment reader': {
    runs: 4_000,
    decoder: 'shared/protocol/attachment-cipher.ts:openAttachment',
    input: () => mutatedBytes(S().attachment.ciphertext),
    run: protocol((b) => {
      openAttachment(S().attachment.descriptor, b);
      onlyUntouched(b, S().attachment.ciphertext);
    }),
  },
  'attachment pointer': {
    runs: 4_000,
    decoder: 'shared/protocol/attachment-pointer.ts:readAttachmentPointer',
    input: () => mutatedBytes(S().pointer),
    run: protocol((b) => {
      const r = new Reader(b, 'pointer');
      readAttachmentPointer(r);
      r.end();
    }),
  },
  'sender certificate': {
    runs: 4_000,
    decoder: 'shared/protocol/sealed-sender.ts:parseSenderCertificate, verifySenderCertificate',
    input: () => mutatedBytes(S().certificate),
    run: protocol((b) => {
      parseSenderCertificate(b);
      verifySenderCertificate(b, S().trust, T0 + HOUR);
    }),
  },
  'sealed upload (relay side)': {
    runs: 6_000,
    decoder: 'shared/protocol/sealed-sender.ts:parseSealedMultiRecipient',
    input: () => mutatedBytes(S().upload),
    run: protocol((b) => parseSealedMultiRecipient(b)),
  },
  'sealed envelope (recipient side)': {
    runs: 6_000,
    decoder: 'shared/protocol/sealed-sender.ts:openSealedEnvelope',
    input: () => mutatedBytes(S().envelope),
    run: protocol((b) => {
      openSealedEnvelope(b, { identityPrivate: S().bobIdentityPrivate }, S().trust, T0 + HOUR);
      onlyUntouched(b, S().envelope);
    }),
  },
  'history archive': {
    runs: 8_000,
    decoder: 'shared/protocol/history-archive.ts:parseHistoryArchive',
    input: () => mutatedBytes(S().archive),
    run: protocol((b) => parseHistoryArchive(b, S().archiveOwner)),
  },
  'profile (encrypted and plaintext)': {
    runs: 5_000,
    decoder: 'shared/protocol/profile.ts:decryptProfile, decodeProfilePlaintext',
    input: () => fc.tuple(fc.boolean(), fc.oneof(mutatedBytes(S().encryptedProfile), mutatedBytes(S().profilePlaintext))),
    run: (input) => {
      const [encrypted, bytes] = input as [boolean, Uint8Array];
      typedOnly(() => {
        if (!encrypted) return decodeProfilePlaintext(bytes);
        decryptProfile(bytes, S().profileKey, S().archiveOwner);
        onlyUntouched(bytes, S().encryptedProfile);
      });
    },
  },
  'device-link offer and short code': {
    runs: 4_000,
    decoder: 'shared/protocol/linking.ts:parseLinkOffer, parseLinkOfferText, parseLinkCode',
    input: () => fc.oneof(mutatedBytes(S().offerBytes), mutatedText(S().offerText), mutatedText(S().code)),
    run: (input) => {
      if (input instanceof Uint8Array) typedOnly(() => parseLinkOffer(input));
      else {
        typedOnly(() => parseLinkOfferText(input as string));
        typedOnly(() => parseLinkCode(input as string));
      }
    },
  },
  'backup blob (header, key commitment, segments, sections)': {
    runs: 5_000,
    decoder: 'shared/protocol/backup.ts:openBackup',
    input: () => mutatedBytes(B().blob),
    run: protocol((b) => {
      openBackup(b, B().recoveryKey, null);
      onlyUntouched(b, B().blob);
    }),
  },
  'backup sections (the reader behind the segment layer)': {
    runs: 5_000,
    decoder: 'shared/protocol/backup.ts:BackupReader',
    input: () => mutatedBytes(B().plaintext),
    run: protocol((plain) => {
      // What a holder of the recovery key could write: any content, sealed as one real segment.
      const sealed = sealSegment(B().contentKey, B().header.ad, 0, true, plain);
      const reader = new BackupReader(parseBackupHeader(B().header.bytes), B().contentKey, BACKUP_HEADER_LENGTH + sealed.length);
      reader.push(sealed);
      reader.finish();
    }),
  },
  'group message': {
    runs: 5_000,
    decoder: 'shared/protocol/sender-key.ts:senderKeyDecrypt',
    input: () => mutatedBytes(G().message),
    run: protocol((b) => {
      senderKeyDecrypt(G().record, b);
      onlyUntouched(b, G().message);
    }),
  },
  'group membership record': {
    runs: 3_000,
    decoder: 'shared/protocol/group-membership.ts:applyGroupRecord',
    input: () => mutatedBytes(G().rename),
    run: protocol((b) => applyGroupRecord(G().membership, b)),
  },
  'sender-key distribution': {
    runs: 3_000,
    decoder: 'shared/protocol/sender-key-distribution.ts:parseSenderKeyDistribution',
    input: () => mutatedBytes(G().distribution),
    run: protocol(parseSenderKeyDistribution),
  },
  'membership update, stored sender-key record and stored membership': {
    runs: 5_000,
    decoder: 'shared/protocol/group-membership.ts:parseMembershipUpdate, deserializeMembership; shared/protocol/sender-key.ts:deserializeSenderKeyRecord',
    input: () => fc.oneof(mutatedBytes(G().update).map((b) => ['update', b] as const), mutatedBytes(G().recordBytes).map((b) => ['record', b] as const), mutatedBytes(G().serialized).map((b) => ['membership', b] as const)),
    run: (input) => {
      const [kind, b] = input as readonly ['update' | 'record' | 'membership', Uint8Array];
      typedOnly(() => (kind === 'update' ? parseMembershipUpdate(b) : kind === 'record' ? deserializeSenderKeyRecord(b) : deserializeMembership(b)));
    },
  },
  'relay WebSocket frames': {
    runs: 15_000,
    decoder: 'server/ws/connection.ts:decodeClientFrame + the frame schemas',
    input: () =>
      fc.oneof(
        fc.constantFrom(...VALID_FRAMES).chain(mutatedText),
        fc.constantFrom(undefined, 'auth', 'send', 'ack', 'presence-query', 'ping', 'nope').chain(jsonish).map((v) => JSON.stringify(v) ?? ''),
        fc.uint8Array({ maxLength: 200 }),
      ),
    run: (input) => {
      const buffer = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input as Uint8Array);
      const decoded = decodeClientFrame(buffer);
      if (!decoded.ok) {
        if (!(decoded.error instanceof RelayError)) throw untyped(decoded.error);
        return;
      }
      relayParse(frames.ClientFrameSchema, decoded.value);
    },
  },
  'relay REST request bodies': {
    runs: 17_000,
    decoder: 'server/core/validation.ts:parseOrThrow with every request schema of server/http/app.ts',
    input: () => fc.tuple(fc.nat({ max: REQUEST_SCHEMAS.length - 1 }), jsonish()),
    run: (input) => {
      const [i, value] = input as [number, unknown];
      relayParse(REQUEST_SCHEMAS[i]!, value);
    },
  },
} satisfies Record<string, FuzzTarget>;

export type TargetName = keyof typeof TARGETS;
