/**
 * Fuzzing in CI (issue 21): every decoder that takes bytes or JSON from a peer or from the network
 * gets generated inputs — random bytes and mutations (bit flips, cuts, insertions, splices) of a
 * valid sample — and must return or throw its layer's typed error, never anything else, and never
 * hang (the run is bounded by the test timeout). 116,500 inputs per run in total; each test asserts
 * its own count.
 *
 * Decoders: the protocol's message parsers (ratchet, prekey, decryption error), the session-record
 * and device-list decoders, the attachment cipher's header and segment reader (through
 * openAttachment), the group decoders (group message, membership record, distribution, membership
 * update, stored sender-key record and membership), and the relay's wire schemas for client frames and REST request bodies (what the
 * relay runs on every frame and body after JSON.parse). The relay's own frame handling around the
 * schemas is fuzzed against the running relay in test/integration/relay/hostile.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../shared/crypto/bytes.js';
import { isProtocolError } from '../../shared/protocol/errors.js';
import {
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
  deserializeSessionRecord,
  openAttachment,
  parseDecryptionError,
  parseDeviceList,
  parsePrekeyMessage,
  parseRatchetMessage,
  sealAttachment,
} from '../../shared/protocol/index.js';
import { deterministicRng, ManualClock } from '../../shared/testing/deterministic-rng.js';
import { asGroupMember, groupPerson, proposeBy, sortedMembers } from '../../shared/testing/group-fixtures.js';
import { makeDevice, Party, signedListFor } from '../../shared/testing/protocol-fixtures.js';
import { ClientFrameSchema } from '../../shared/wire/frames.js';
import { MessagesSchema, PrekeyUploadSchema, RegisterRequestSchema, SendRequestSchema } from '../../shared/wire/rest.js';

const T0 = Date.UTC(2026, 10, 1);

/** Valid samples to mutate, made once with the real protocol code. */
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
  return { prekeyMessage, ratchetMessage, decryptionError, record, deviceList, attachment };
}
const S = samples();

/** Random bytes, or a valid sample with bit flips, a cut, an insertion or a splice. */
function mutated(sample: Uint8Array): fc.Arbitrary<Uint8Array> {
  const at = fc.nat({ max: Math.max(0, sample.length) });
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

/** Runs `decode` on `runs` generated inputs; anything thrown must be a ProtocolError. */
function fuzzBytes(sample: Uint8Array, runs: number, decode: (bytes: Uint8Array) => unknown): number {
  let count = 0;
  fc.assert(
    fc.property(mutated(sample), (bytes) => {
      count++;
      try {
        decode(bytes);
      } catch (e) {
        if (!isProtocolError(e)) throw new Error(`untyped error: ${e instanceof Error ? e.name : typeof e}`);
      }
    }),
    { numRuns: runs, seed: 21 },
  );
  return count;
}

describe('fuzzing: decoders of untrusted bytes fail only with typed errors', () => {
  it('ratchet-message parser: 20,000 inputs', () => {
    expect(fuzzBytes(S.ratchetMessage, 20_000, parseRatchetMessage)).toBe(20_000);
  });

  it('prekey-message parser: 20,000 inputs', () => {
    expect(fuzzBytes(S.prekeyMessage, 20_000, (b) => parsePrekeyMessage(b))).toBe(20_000);
  });

  it('decryption-error parser: 10,000 inputs', () => {
    expect(fuzzBytes(S.decryptionError, 10_000, parseDecryptionError)).toBe(10_000);
  });

  it('session-record decoder: 10,000 inputs', () => {
    expect(fuzzBytes(S.record, 10_000, deserializeSessionRecord)).toBe(10_000);
  });

  it('device-list parser: 5,000 inputs', () => {
    expect(fuzzBytes(S.deviceList, 5_000, parseDeviceList)).toBe(5_000);
  });

  it('attachment header and segment reader: 5,000 inputs, and only the untouched ciphertext opens', () => {
    let opened = 0;
    const count = fuzzBytes(S.attachment.ciphertext, 5_000, (bytes) => {
      openAttachment(S.attachment.descriptor, bytes);
      opened++;
      expect(bytes).toEqual(S.attachment.ciphertext);
    });
    expect(count).toBe(5_000);
    expect(opened).toBeLessThan(count);
  });
});

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

describe('fuzzing: group decoders fail only with typed errors', () => {
  const G = groupSamples();

  it('group message through senderKeyDecrypt: 5,000 inputs, and only the untouched message opens', () => {
    let opened = 0;
    expect(fuzzBytes(G.message, 5_000, (bytes) => {
      senderKeyDecrypt(G.record, bytes);
      opened++;
      expect(bytes).toEqual(G.message);
    })).toBe(5_000);
    expect(opened).toBeLessThan(5_000);
  });

  it('membership record through applyGroupRecord: 3,000 inputs', () => {
    expect(fuzzBytes(G.rename, 3_000, (b) => applyGroupRecord(G.membership, b))).toBe(3_000);
  });

  it('distribution, membership update, sender-key record and stored membership decoders: 8,000 inputs', () => {
    let total = fuzzBytes(G.distribution, 3_000, parseSenderKeyDistribution);
    total += fuzzBytes(G.update, 2_000, parseMembershipUpdate);
    total += fuzzBytes(G.recordBytes, 2_000, deserializeSenderKeyRecord);
    total += fuzzBytes(G.serialized, 1_000, deserializeMembership);
    expect(total).toBe(8_000);
  });
});

describe('fuzzing: the relay wire schemas never throw on any JSON value', () => {
  /** Any JSON value, or a valid-looking object of the right shape with arbitrary field values. */
  function jsonish(type: string | undefined): fc.Arbitrary<unknown> {
    return fc.oneof(
      fc.jsonValue(),
      fc.dictionary(fc.constantFrom('type', 'id', 'to', 'messages', 'token', 'state', 'accounts', 'deviceId', 'content'), fc.jsonValue()).map((o) =>
        type === undefined ? o : { ...o, type },
      ),
    );
  }

  function fuzzSchema(schema: { safeParse(v: unknown): { success: boolean } }, runs: number, input: fc.Arbitrary<unknown>): number {
    let count = 0;
    fc.assert(
      fc.property(input, (value) => {
        count++;
        expect(typeof schema.safeParse(value).success).toBe('boolean');
      }),
      { numRuns: runs, seed: 21 },
    );
    return count;
  }

  it('client frames: 20,000 inputs', () => {
    const types = fc.constantFrom(undefined, 'auth', 'send', 'ack', 'typing', 'presence-query', 'ping', 'nope');
    expect(fuzzSchema(ClientFrameSchema, 20_000, types.chain(jsonish))).toBe(20_000);
  });

  it('REST request bodies (send, messages, register, prekey upload): 10,500 inputs', () => {
    let total = 0;
    for (const schema of [SendRequestSchema, MessagesSchema, RegisterRequestSchema]) total += fuzzSchema(schema, 3_000, jsonish(undefined));
    total += fuzzSchema(PrekeyUploadSchema, 1_500, jsonish(undefined));
    expect(total).toBe(10_500);
  });
});
