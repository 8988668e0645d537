import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8 } from '../crypto/bytes.js';
import { ed25519GenerateKeyPair, ed25519Sign } from '../crypto/ed25519.js';
import { deterministicRng, ManualClock } from '../testing/deterministic-rng.js';
import { expectProtocolCode } from '../testing/group-fixtures.js';
import { MAX_SENDER_KEY_JUMP, MAX_SENDER_KEY_SKIPPED, MAX_SENDER_KEY_STATES, SENDER_KEY_ROTATION_MESSAGES, SENDER_KEY_ROTATION_MS, label } from './constants.js';
import { isProtocolError } from './errors.js';
import {
  addSenderKeyState,
  advanceSenderChain,
  createSenderKeyState,
  deserializeSenderKeyRecord,
  deserializeSenderKeyState,
  EMPTY_SENDER_KEY_RECORD,
  parseSenderKeyMessage,
  senderKeyDecrypt,
  senderKeyEncrypt,
  senderKeyNeedsRotation,
  serializeSenderKeyRecord,
  serializeSenderKeyState,
  SENDER_KEY_HEADER_LENGTH,
  type SenderKeyRecord,
  type SenderKeyState,
} from './sender-key.js';
import {
  createSenderKeyDistribution,
  encodeSenderKeyDistribution,
  encodeSenderKeyDistributionRequest,
  parseSenderKeyDistribution,
  parseSenderKeyDistributionRequest,
  processSenderKeyDistribution,
  SENDER_KEY_DISTRIBUTION_LENGTH,
  type SenderDevice,
} from './sender-key-distribution.js';

const T0 = Date.UTC(2026, 11, 8);
const HEAD = new Uint8Array(32).fill(0x4e);

function setup(seed = 'sender-key') {
  const rng = deterministicRng(seed);
  const clock = new ManualClock(T0);
  const groupId = rng(16);
  const alice: SenderDevice = { accountId: rng(16), deviceId: 1 };
  const own = createSenderKeyState(groupId, { rng, now: clock.now });
  const ctx = { groupId, from: alice, now: clock.now };
  const received = processSenderKeyDistribution(EMPTY_SENDER_KEY_RECORD, createSenderKeyDistribution(own, alice), ctx).record;
  return { rng, clock, groupId, alice, own, ctx, received };
}

/** Sends `n` messages "m<i>" and returns them with the advanced own state. */
function sendMany(state: SenderKeyState, n: number, head = HEAD): { state: SenderKeyState; messages: Uint8Array[] } {
  const messages: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const out = senderKeyEncrypt(state, utf8(`m${state.iteration}`), head);
    state = out.state;
    messages.push(out.message);
  }
  return { state, messages };
}

const expectCode = expectProtocolCode;

describe('sender keys: messages', () => {
  it('property: a member with the distribution decrypts any order of the messages once each; a second delivery is DUPLICATED_MESSAGE', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.infiniteStream(fc.nat()), (n, order) => {
        const { own, received } = setup('order');
        const { messages } = sendMany(own, n);
        const indices = messages.map((_, i) => i);
        const picks = order.take(n);
        for (const p of picks) indices.push(indices.splice(p % indices.length, 1)[0]!);
        let record = received;
        for (const i of indices) {
          const out = senderKeyDecrypt(record, messages[i]!);
          expect(new TextDecoder().decode(out.plaintext)).toBe(`m${i}`);
          expect(out.header.headHash).toEqual(HEAD);
          record = out.record;
          expectCode(() => senderKeyDecrypt(record, messages[i]!), 'DUPLICATED_MESSAGE');
        }
        expect(record.states[0]!.skipped).toHaveLength(0);
      }),
      { numRuns: 40 },
    );
  });

  it('the message is header ‖ padded ciphertext ‖ signature, and the padding hides the length within 160 bytes', () => {
    const { own } = setup();
    const short = senderKeyEncrypt(own, utf8('hi'), HEAD).message;
    const longer = senderKeyEncrypt(own, new Uint8Array(159), HEAD).message;
    expect(short.length).toBe(SENDER_KEY_HEADER_LENGTH + 160 + 16 + 64);
    expect(longer.length).toBe(short.length);
    const parsed = parseSenderKeyMessage(short);
    expect(parsed.iteration).toBe(0);
    expect(parsed.groupId).toEqual(own.groupId);
    expect(parsed.distributionId).toEqual(own.distributionId);
  });

  it('a flipped byte anywhere is refused and leaves the record unchanged', () => {
    const { own, received } = setup();
    const { message } = senderKeyEncrypt(own, utf8('hello group'), HEAD);
    const before = serializeSenderKeyRecord(received);
    for (const at of [1, 5, 20, 40, 70, 100, message.length - 70, message.length - 1]) {
      const bad = message.slice();
      bad[at]! ^= 0x01;
      expect(() => senderKeyDecrypt(received, bad)).toThrow();
      expect(serializeSenderKeyRecord(received)).toEqual(before);
    }
    // A changed head hash (bytes 38..70) is caught by the signature: the head is inside what is signed.
    const otherHead = message.slice();
    otherHead[50]! ^= 0x80;
    expectCode(() => senderKeyDecrypt(received, otherHead), 'BAD_SIGNATURE');
  });

  it('a message signed by another key than the chain\'s is BAD_SIGNATURE, even with the right chain key', () => {
    const { own, received, rng } = setup();
    const mallory = ed25519GenerateKeyPair(rng);
    const forger: SenderKeyState = { ...own, signingPrivateKey: mallory.privateKey };
    const { message } = senderKeyEncrypt(forger, utf8('forged'), HEAD);
    expectCode(() => senderKeyDecrypt(received, message), 'BAD_SIGNATURE');
  });

  it('a validly signed message whose ciphertext is not the chain key\'s is INVALID_MESSAGE', () => {
    const { own, received, rng } = setup();
    const wrongChain: SenderKeyState = { ...own, chainKey: rng(32) };
    const { message } = senderKeyEncrypt(wrongChain, utf8('x'), HEAD);
    expectCode(() => senderKeyDecrypt(received, message), 'INVALID_MESSAGE');
  });

  it('a message without a state for its distribution is NO_SENDER_KEY', () => {
    const { own } = setup();
    const { message } = senderKeyEncrypt(own, utf8('early'), HEAD);
    expectCode(() => senderKeyDecrypt(EMPTY_SENDER_KEY_RECORD, message), 'NO_SENDER_KEY');
  });

  it(`a jump of exactly ${MAX_SENDER_KEY_JUMP} decrypts; one more is JUMP_TOO_LARGE and changes nothing`, () => {
    const { own, received } = setup();
    const atLimit = senderKeyEncrypt({ ...own, chainKey: advanceSenderChain(own.chainKey, MAX_SENDER_KEY_JUMP), iteration: MAX_SENDER_KEY_JUMP }, utf8('far'), HEAD);
    const past = senderKeyEncrypt(atLimit.state, utf8('too far'), HEAD);
    const before = serializeSenderKeyRecord(received);
    expectCode(() => senderKeyDecrypt(received, past.message), 'JUMP_TOO_LARGE');
    expect(serializeSenderKeyRecord(received)).toEqual(before);
    const out = senderKeyDecrypt(received, atLimit.message);
    expect(new TextDecoder().decode(out.plaintext)).toBe('far');
    // Only the newest MAX_SENDER_KEY_SKIPPED seeds are kept.
    expect(out.record.states[0]!.skipped).toHaveLength(MAX_SENDER_KEY_SKIPPED);
    expect(out.record.states[0]!.skipped[0]!.iteration).toBe(MAX_SENDER_KEY_JUMP - MAX_SENDER_KEY_SKIPPED);
  });

  it('the skipped-seed cache is bounded: a message older than the kept seeds is DUPLICATED_MESSAGE, never decrypted twice', () => {
    const { own, received } = setup();
    const { state, messages } = sendMany(own, 3);
    const far = senderKeyEncrypt({ ...state, chainKey: advanceSenderChain(state.chainKey, MAX_SENDER_KEY_SKIPPED + 5), iteration: state.iteration + MAX_SENDER_KEY_SKIPPED + 5 }, utf8('far'), HEAD);
    const record = senderKeyDecrypt(received, far.message).record;
    expect(record.states[0]!.skipped).toHaveLength(MAX_SENDER_KEY_SKIPPED);
    expectCode(() => senderKeyDecrypt(record, messages[0]!), 'DUPLICATED_MESSAGE');
  });

  it('iterations never roll back: after a later message the chain is past it, and old messages come only from kept seeds', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 15 }), (deliveries) => {
        const { own, received } = setup('rollback');
        const { messages } = sendMany(own, 31);
        let record: SenderKeyRecord = received;
        let highest = 0;
        for (const i of deliveries) {
          try {
            record = senderKeyDecrypt(record, messages[i]!).record;
          } catch (e) {
            if (!isProtocolError(e, 'DUPLICATED_MESSAGE')) throw e;
          }
          const iteration = record.states[0]!.iteration;
          expect(iteration).toBeGreaterThanOrEqual(highest);
          highest = iteration;
        }
      }),
      { numRuns: 50 },
    );
  });

  it('rotation is due after 100 messages or 24 h, not before', () => {
    const { own, clock } = setup();
    expect(senderKeyNeedsRotation(own, clock.now())).toBe(false);
    const { state } = sendMany(own, SENDER_KEY_ROTATION_MESSAGES - 1);
    expect(senderKeyNeedsRotation(state, clock.now())).toBe(false);
    expect(senderKeyNeedsRotation(senderKeyEncrypt(state, utf8('x'), HEAD).state, clock.now())).toBe(true);
    expect(senderKeyNeedsRotation(own, T0 + SENDER_KEY_ROTATION_MS - 1)).toBe(false);
    expect(senderKeyNeedsRotation(own, T0 + SENDER_KEY_ROTATION_MS)).toBe(true);
  });

  it('a chain at its last iteration refuses to send (SENDER_KEY_EXHAUSTED)', () => {
    const { own } = setup();
    expectCode(() => senderKeyEncrypt({ ...own, iteration: 0xffffffff }, utf8('x'), HEAD), 'SENDER_KEY_EXHAUSTED');
  });

  it('parsing is strict: wrong version, type, ciphertext size or trailing bytes are MALFORMED', () => {
    const { own } = setup();
    const { message } = senderKeyEncrypt(own, utf8('x'), HEAD);
    const cases: Uint8Array[] = [
      Uint8Array.of(2, ...message.subarray(1)),
      Uint8Array.of(1, 0x01, ...message.subarray(2)),
      message.subarray(0, message.length - 1),
      Uint8Array.of(...message, 0),
      message.subarray(0, 100),
    ];
    for (const bad of cases) expectCode(() => parseSenderKeyMessage(bad), 'MALFORMED');
  });

  it('the signature covers the label: the same bytes signed without it are refused', () => {
    const { own, received } = setup();
    const { message } = senderKeyEncrypt(own, utf8('x'), HEAD);
    const unlabelled = message.slice();
    const signedPart = message.subarray(0, message.length - 64);
    unlabelled.set(ed25519Sign(own.signingPrivateKey!, signedPart), message.length - 64);
    expectCode(() => senderKeyDecrypt(received, unlabelled), 'BAD_SIGNATURE');
    expect(label('SenderKeyMessage').length).toBe(26);
  });
});

describe('sender keys: distribution', () => {
  it('a newcomer given the distribution now cannot read what was sent before, and reads what follows', () => {
    const { own, alice, ctx } = setup();
    const before = sendMany(own, 5);
    const late = processSenderKeyDistribution(EMPTY_SENDER_KEY_RECORD, createSenderKeyDistribution(before.state, alice), ctx).record;
    for (const m of before.messages) expectCode(() => senderKeyDecrypt(late, m), 'DUPLICATED_MESSAGE');
    const after = senderKeyEncrypt(before.state, utf8('after'), HEAD);
    expect(new TextDecoder().decode(senderKeyDecrypt(late, after.message).plaintext)).toBe('after');
  });

  it('an earlier point is given only when asked for, derived from the chain\'s first point', () => {
    const { own, alice, ctx } = setup();
    const { state, messages } = sendMany(own, 4);
    const again = createSenderKeyDistribution(state, alice, 1);
    expect(again.iteration).toBe(1);
    const record = processSenderKeyDistribution(EMPTY_SENDER_KEY_RECORD, again, ctx).record;
    expect(new TextDecoder().decode(senderKeyDecrypt(record, messages[2]!).plaintext)).toBe('m2');
    expect(() => createSenderKeyDistribution(state, alice, 5)).toThrow();
  });

  it('round-trips the 121-byte body and the 36-byte request; bad lengths are MALFORMED', () => {
    const { own, alice } = setup();
    const d = createSenderKeyDistribution(own, alice);
    const bytes = encodeSenderKeyDistribution(d);
    expect(bytes.length).toBe(SENDER_KEY_DISTRIBUTION_LENGTH);
    expect(parseSenderKeyDistribution(bytes)).toEqual(d);
    expectCode(() => parseSenderKeyDistribution(bytes.subarray(1)), 'MALFORMED');
    expectCode(() => parseSenderKeyDistribution(Uint8Array.of(...bytes, 0)), 'MALFORMED');
    const zeroDevice = bytes.slice();
    zeroDevice.fill(0, 48, 52);
    expectCode(() => parseSenderKeyDistribution(zeroDevice), 'MALFORMED');
    const q = { groupId: own.groupId, distributionId: own.distributionId, iteration: 7 };
    expect(parseSenderKeyDistributionRequest(encodeSenderKeyDistributionRequest(q))).toEqual(q);
    expectCode(() => parseSenderKeyDistributionRequest(new Uint8Array(35)), 'MALFORMED');
  });

  it('a distribution naming another sender device or group than its session is SENDER_KEY_MISMATCH (a forged or forwarded one)', () => {
    const { own, alice, ctx, rng } = setup();
    const mallory: SenderDevice = { accountId: rng(16), deviceId: 1 };
    const d = createSenderKeyDistribution(own, alice);
    expectCode(() => processSenderKeyDistribution(EMPTY_SENDER_KEY_RECORD, d, { ...ctx, from: mallory }), 'SENDER_KEY_MISMATCH');
    expectCode(() => processSenderKeyDistribution(EMPTY_SENDER_KEY_RECORD, d, { ...ctx, from: { ...alice, deviceId: 2 } }), 'SENDER_KEY_MISMATCH');
    expectCode(() => processSenderKeyDistribution(EMPTY_SENDER_KEY_RECORD, d, { ...ctx, groupId: rng(16) }), 'SENDER_KEY_MISMATCH');
  });

  it('a replayed older distribution is SENDER_KEY_ROLLBACK; the same one again changes nothing; other keys are SENDER_KEY_CONFLICT', () => {
    const { own, alice, ctx, received, rng } = setup();
    const first = createSenderKeyDistribution(own, alice);
    expect(processSenderKeyDistribution(received, first, ctx)).toEqual({ record: received, changed: false });
    const { state, messages } = sendMany(own, 3);
    const record = senderKeyDecrypt(received, messages[2]!).record;
    expectCode(() => processSenderKeyDistribution(record, first, ctx), 'SENDER_KEY_ROLLBACK');
    // A later point of the same chain is consistent: nothing changes, the skipped seeds stay.
    const later = processSenderKeyDistribution(record, createSenderKeyDistribution(state, alice), ctx);
    expect(later.changed).toBe(false);
    expect(senderKeyDecrypt(later.record, messages[0]!).plaintext).toEqual(utf8('m0'));
    expectCode(() => processSenderKeyDistribution(record, { ...createSenderKeyDistribution(state, alice), chainKey: rng(32) }, ctx), 'SENDER_KEY_CONFLICT');
    expectCode(() => processSenderKeyDistribution(record, { ...first, signingPublicKey: ed25519GenerateKeyPair(rng).publicKey }, ctx), 'SENDER_KEY_CONFLICT');
  });

  it(`at most ${MAX_SENDER_KEY_STATES} states per sender device; a dropped chain's distribution is refused when replayed`, () => {
    const { alice, ctx, rng, clock, groupId } = setup();
    let record = EMPTY_SENDER_KEY_RECORD;
    const chains: SenderKeyState[] = [];
    for (let i = 0; i < MAX_SENDER_KEY_STATES + 2; i++) {
      const chain = createSenderKeyState(groupId, { rng, now: clock.now });
      chains.push(chain);
      record = processSenderKeyDistribution(record, createSenderKeyDistribution(chain, alice), ctx).record;
    }
    expect(record.states).toHaveLength(MAX_SENDER_KEY_STATES);
    expect(record.states[0]!.distributionId).toEqual(chains.at(-1)!.distributionId);
    expectCode(() => processSenderKeyDistribution(record, createSenderKeyDistribution(chains[0]!, alice), ctx), 'SENDER_KEY_ROLLBACK');
    expectCode(() => senderKeyDecrypt(record, senderKeyEncrypt(chains[0]!, utf8('old'), HEAD).message), 'NO_SENDER_KEY');
    expect(addSenderKeyState(record, chains[0]!).states).toHaveLength(MAX_SENDER_KEY_STATES);
  });
});

describe('sender keys: serialization', () => {
  it('own state and receiver record round-trip and keep working after a restore', () => {
    const { own, received } = setup();
    const { state, messages } = sendMany(own, 6);
    const record = senderKeyDecrypt(received, messages[4]!).record;
    const restoredOwn = deserializeSenderKeyState(serializeSenderKeyState(state));
    expect(restoredOwn).toEqual(state);
    const restored = deserializeSenderKeyRecord(serializeSenderKeyRecord(record));
    expect(restored).toEqual(record);
    expect(senderKeyDecrypt(restored, messages[1]!).plaintext).toEqual(utf8('m1'));
    const next = senderKeyEncrypt(restoredOwn, utf8('next'), HEAD);
    expect(senderKeyDecrypt(restored, next.message).plaintext).toEqual(utf8('next'));
  });

  it('an unknown version is UNSUPPORTED_VERSION; bad flags, trailing bytes and unordered seeds are MALFORMED', () => {
    const { own, received } = setup();
    const bytes = serializeSenderKeyRecord(received);
    expectCode(() => deserializeSenderKeyRecord(Uint8Array.of(2, ...bytes.subarray(1))), 'UNSUPPORTED_VERSION');
    expectCode(() => deserializeSenderKeyRecord(Uint8Array.of(...bytes, 0)), 'MALFORMED');
    const stateBytes = serializeSenderKeyState(own);
    const badFlags = stateBytes.slice();
    badFlags[33] = 0x80;
    expectCode(() => deserializeSenderKeyState(badFlags), 'MALFORMED');
    const withSkipped: SenderKeyRecord = {
      states: [{ ...received.states[0]!, iteration: 10, skipped: [{ iteration: 5, seed: new Uint8Array(32) }, { iteration: 3, seed: new Uint8Array(32) }] }],
      retired: [],
    };
    expectCode(() => deserializeSenderKeyRecord(serializeSenderKeyRecord(withSkipped)), 'MALFORMED');
  });
});
