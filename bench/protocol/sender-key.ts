/**
 * Sender-key benchmarks (issue #16, "Benchmark"): 100-byte group messages through the production
 * functions of shared/protocol/sender-key.ts, with the state serialized as the engine stores it
 * around each message row:
 *
 *  - encrypt: the sender's own state deserialized, `senderKeyEncrypt` (chain step, HKDF, AES-GCM,
 *    Ed25519 signature), the state serialized;
 *  - decrypt: the receiver's record deserialized, `senderKeyDecrypt` (Ed25519 verification, chain
 *    step, HKDF, AES-GCM), the record serialized; in order, so no skipped seeds.
 *
 * Each comes with its floor: the primitive calls that message makes (shared/crypto adapters, the
 * same sizes), timed alone in the same run.
 */
import { aesGcmOpen, aesGcmSeal } from '../../shared/crypto/aead.js';
import { bytesEqual, concatBytes } from '../../shared/crypto/bytes.js';
import { ed25519GenerateKeyPair, ed25519Sign, ed25519Verify } from '../../shared/crypto/ed25519.js';
import { hkdfSha256 } from '../../shared/crypto/hkdf.js';
import { hmacSha256 } from '../../shared/crypto/hmac.js';
import { systemClock, systemRng } from '../../shared/crypto/random.js';
import { label, PADDING_BLOCK } from '../../shared/protocol/constants.js';
import {
  createSenderKeyState,
  deserializeSenderKeyRecord,
  deserializeSenderKeyState,
  EMPTY_SENDER_KEY_RECORD,
  SENDER_KEY_HEADER_LENGTH,
  senderKeyDecrypt,
  senderKeyEncrypt,
  serializeSenderKeyRecord,
  serializeSenderKeyState,
} from '../../shared/protocol/sender-key.js';
import { createSenderKeyDistribution, processSenderKeyDistribution } from '../../shared/protocol/sender-key-distribution.js';
import type { Case } from './harness.js';
import { MESSAGE_LENGTH } from './ratchet.js';

const ONE = Uint8Array.of(1);
const TWO = Uint8Array.of(2);
const ZERO_SALT = new Uint8Array(32);

/** A chain and a receiver holding its distribution, both as stored bytes. */
function setup(): { own: Uint8Array; record: Uint8Array; head: Uint8Array } {
  const groupId = systemRng(16);
  const sender = { accountId: systemRng(16), deviceId: 1 };
  const state = createSenderKeyState(groupId, { rng: systemRng, now: systemClock });
  const { record } = processSenderKeyDistribution(EMPTY_SENDER_KEY_RECORD, createSenderKeyDistribution(state, sender), {
    groupId,
    from: sender,
    now: systemClock,
  });
  return { own: serializeSenderKeyState(state), record: serializeSenderKeyRecord(record), head: systemRng(32) };
}

function repeat(count: number, op: () => void): Array<() => void> {
  return Array.from({ length: count }, () => op);
}

/** The primitives of one message: chain step, message keys, the AES-GCM call, and the signature input's size. */
function primitives() {
  const chainKey = systemRng(32);
  const signing = ed25519GenerateKeyPair(systemRng);
  const info = label('SenderKeyMessageKeys');
  const ad = concatBytes(label('SenderKeyMessage'), new Uint8Array(SENDER_KEY_HEADER_LENGTH));
  const padded = new Uint8Array(PADDING_BLOCK); // 100 bytes pad to one 160-byte block
  const keys = hkdfSha256(hmacSha256(chainKey, ONE), ZERO_SALT, info, 44);
  const sealed = aesGcmSeal(keys.subarray(0, 32), keys.subarray(32), padded, ad);
  const signatureInput = concatBytes(ad, sealed);
  const signature = ed25519Sign(signing.privateKey, signatureInput);
  return { chainKey, signing, info, ad, padded, sealed, signatureInput, signature };
}

export function senderKeyCases(): { encrypt: Case; encryptFloor: Case; decrypt: Case; decryptFloor: Case } {
  const plaintext = systemRng(MESSAGE_LENGTH);

  // Encrypt: a fresh chain per rep (it rotates every 100 messages anyway; the cost does not depend on the iteration).
  let own = setup().own;
  let head: Uint8Array = new Uint8Array(32);
  let sentCount = 0;
  const encryptOp = (): void => {
    const out = senderKeyEncrypt(deserializeSenderKeyState(own), plaintext, head);
    own = serializeSenderKeyState(out.state);
    sentCount++;
  };

  // Decrypt: a stream of messages prepared outside the timing, received in order.
  let receiver = setup();
  let queue: Uint8Array[] = [];
  let last: Uint8Array = new Uint8Array(0);
  const decryptOp = (): void => {
    const out = senderKeyDecrypt(deserializeSenderKeyRecord(receiver.record), queue.shift()!);
    receiver.record = serializeSenderKeyRecord(out.record);
    last = out.plaintext;
  };

  const p = primitives();
  const encryptFloor = (): void => {
    const seed = hmacSha256(p.chainKey, ONE);
    const keys = hkdfSha256(seed, ZERO_SALT, p.info, 44);
    aesGcmSeal(keys.subarray(0, 32), keys.subarray(32), p.padded, p.ad);
    hmacSha256(p.chainKey, TWO);
    ed25519Sign(p.signing.privateKey, p.signatureInput);
  };
  const decryptFloor = (): void => {
    if (!ed25519Verify(p.signing.publicKey, p.signatureInput, p.signature)) throw new Error('bench: floor signature');
    const seed = hmacSha256(p.chainKey, ONE);
    const keys = hkdfSha256(seed, ZERO_SALT, p.info, 44);
    aesGcmOpen(keys.subarray(0, 32), keys.subarray(32), p.sealed, p.ad);
    hmacSha256(p.chainKey, TWO);
  };

  return {
    encrypt: {
      name: 'sender-key-encrypt',
      prepare: (n) => {
        const fresh = setup();
        own = fresh.own;
        head = fresh.head;
        sentCount = 0;
        return repeat(n, encryptOp);
      },
      check: () => {
        if (deserializeSenderKeyState(own).iteration !== sentCount) throw new Error('bench: encrypt did not advance the chain');
      },
    },
    encryptFloor: { name: 'sender-key-encrypt:floor', prepare: (n) => repeat(n, encryptFloor) },
    decrypt: {
      name: 'sender-key-decrypt',
      prepare: (n) => {
        receiver = setup();
        let state = deserializeSenderKeyState(receiver.own);
        queue = [];
        for (let i = 0; i < n; i++) {
          const out = senderKeyEncrypt(state, plaintext, receiver.head);
          state = out.state;
          queue.push(out.message);
        }
        return repeat(n, decryptOp);
      },
      check: () => {
        if (queue.length !== 0 || !bytesEqual(last, plaintext)) throw new Error('bench: decrypt lost a message');
      },
    },
    decryptFloor: { name: 'sender-key-decrypt:floor', prepare: (n) => repeat(n, decryptFloor) },
  };
}
