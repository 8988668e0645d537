/**
 * Double Ratchet benchmarks (issue #2, "Benchmarks"): 100-byte messages through the production
 * session API — encryptMessage / decryptMessage with systemRng and systemClock — with the sender's
 * and the receiver's session record deserialized before and serialized after every message, as
 * the engine does around each message row.
 *
 *  - one direction: Alice sends, Bob receives; no DH step (symmetric chain steps only);
 *  - ping-pong: Alice → Bob, Bob → Alice; every message carries a new ratchet key, so every
 *    decrypt makes a DH ratchet step.
 *
 * Each comes with its floor: the primitive calls that message makes (shared/crypto adapters, same
 * sizes, fresh peer keys where the real step has them), timed alone.
 */
import { aesGcmOpen, aesGcmSeal } from '../../shared/crypto/aead.js';
import { bytesEqual } from '../../shared/crypto/bytes.js';
import { hkdfSha256 } from '../../shared/crypto/hkdf.js';
import { hmacSha256 } from '../../shared/crypto/hmac.js';
import { systemClock, systemRng } from '../../shared/crypto/random.js';
import { x25519, x25519GenerateKeyPair, x25519PrivateHandle } from '../../shared/crypto/x25519.js';
import { label, PADDING_BLOCK } from '../../shared/protocol/constants.js';
import { EMPTY_SKIPPED } from '../../shared/protocol/double-ratchet.js';
import { RATCHET_HEADER_LENGTH } from '../../shared/protocol/messages.js';
import {
  decryptMessage,
  encryptMessage,
  FailureBudgets,
  initiateSession,
  sessionAd,
  type SessionDecryptContext,
} from '../../shared/protocol/session.js';
import { deserializeSessionRecord, serializeSessionRecord } from '../../shared/protocol/session-record.js';
import { localDevice, makeDevice, peerDevice, type TestDevice } from '../../shared/testing/protocol-fixtures.js';
import type { Case } from './harness.js';

export const MESSAGE_LENGTH = 100;

/** One side of a conversation, holding only its serialized session record between messages. */
class Endpoint {
  record: Uint8Array | undefined;
  readonly ctx: SessionDecryptContext;

  constructor(self: TestDevice, peer: TestDevice) {
    this.ctx = {
      local: localDevice(self),
      peer: peerDevice(peer),
      prekeys: self.prekeys,
      // In-order delivery: nothing is ever skipped, so the skipped-key store stays empty.
      skipped: () => EMPTY_SKIPPED,
      budgets: new FailureBudgets(),
      rng: systemRng,
      now: systemClock,
    };
  }

  send(plaintext: Uint8Array): Uint8Array {
    const { record, message } = encryptMessage(deserializeSessionRecord(this.record!), plaintext);
    this.record = serializeSessionRecord(record);
    return message.bytes;
  }

  receive(bytes: Uint8Array): Uint8Array {
    const result = decryptMessage(this.record && deserializeSessionRecord(this.record), bytes, this.ctx);
    if (result.skippedChanges.added.length !== 0) throw new Error('bench: unexpected skipped keys');
    this.record = serializeSessionRecord(result.record);
    return result.plaintext;
  }
}

/** A PQXDH session past its first round trip (no prekey header any more), both sides in bytes. */
function establish(): { alice: Endpoint; bob: Endpoint; ad: Uint8Array } {
  const now = systemClock();
  const aliceDevice = makeDevice(systemRng, now);
  const bobDevice = makeDevice(systemRng, now);
  const alice = new Endpoint(aliceDevice, bobDevice);
  const bob = new Endpoint(bobDevice, aliceDevice);
  alice.record = serializeSessionRecord(
    initiateSession(
      undefined,
      { local: alice.ctx.local, peer: alice.ctx.peer, bundle: bobDevice.prekeys.takeBundle(bobDevice) },
      { rng: systemRng, now: systemClock },
    ).record,
  );
  const hello = new Uint8Array(MESSAGE_LENGTH);
  bob.receive(alice.send(hello));
  alice.receive(bob.send(hello));
  const session = deserializeSessionRecord(alice.record).current!;
  return { alice, bob, ad: new Uint8Array(sessionAd(session).length + RATCHET_HEADER_LENGTH) };
}

function repeat(count: number, op: () => void): Array<() => void> {
  return Array.from({ length: count }, () => op);
}

/** The symmetric part of one message, sender and receiver: 4 HMAC, 2 HKDF, seal, open. */
function messageFloor(ad: Uint8Array): () => void {
  const chainKey = systemRng(32);
  const one = Uint8Array.of(1);
  const two = Uint8Array.of(2);
  const zeroSalt = new Uint8Array(32);
  const info = label('MessageKeys');
  const padded = new Uint8Array(PADDING_BLOCK); // 100 bytes pad to one 160-byte block
  const keys = hkdfSha256(hmacSha256(chainKey, one), zeroSalt, info, 44);
  const sealed = aesGcmSeal(keys.subarray(0, 32), keys.subarray(32), padded, ad);
  return () => {
    // sender: seed, message keys, seal, next chain key
    const k1 = hkdfSha256(hmacSha256(chainKey, one), zeroSalt, info, 44);
    aesGcmSeal(k1.subarray(0, 32), k1.subarray(32), padded, ad);
    hmacSha256(chainKey, two);
    // receiver: the same derivations, open
    const k2 = hkdfSha256(hmacSha256(chainKey, one), zeroSalt, info, 44);
    aesGcmOpen(k2.subarray(0, 32), k2.subarray(32), sealed, ad);
    hmacSha256(chainKey, two);
  };
}

/** A pool of distinct peer ratchet keys, larger than any cache, cycled across ops. */
function ratchetKeyPool(size: number): Uint8Array[] {
  return Array.from({ length: size }, () => x25519GenerateKeyPair(systemRng).publicKey);
}

/**
 * The receiver's DH ratchet step: DH with its stored (raw) ratchet private key, KDF_RK, a fresh
 * key pair, DH with it, KDF_RK — as ratchetDecrypt makes them.
 */
function dhStepFloor(): (peerRatchetKey: Uint8Array) => void {
  const ownPrivate = systemRng(32);
  const rootKey = systemRng(32);
  const info = label('Ratchet');
  return (peerRatchetKey) => {
    const receiving = hkdfSha256(x25519(ownPrivate, peerRatchetKey), rootKey, info, 64);
    const fresh = x25519PrivateHandle(systemRng(32));
    hkdfSha256(x25519(fresh, peerRatchetKey), receiving.subarray(0, 32), info, 64);
  };
}

export function oneDirectionCases(): { bench: Case; floor: Case } {
  const { alice, bob, ad } = establish();
  const plaintext = systemRng(MESSAGE_LENGTH);
  let last: Uint8Array = new Uint8Array(0);
  const op = (): void => {
    last = bob.receive(alice.send(plaintext));
  };
  return {
    bench: {
      name: 'ratchet-one-direction',
      prepare: (n) => repeat(n, op),
      check: () => {
        if (!bytesEqual(last, plaintext)) throw new Error('bench: one-direction round trip lost the plaintext');
      },
    },
    floor: { name: 'ratchet-one-direction:floor', prepare: (n) => repeat(n, messageFloor(ad)) },
  };
}

export function pingPongCases(): { bench: Case; floor: Case } {
  const { alice, bob, ad } = establish();
  const plaintext = systemRng(MESSAGE_LENGTH);
  let last: Uint8Array = new Uint8Array(0);
  const op = (): void => {
    bob.receive(alice.send(plaintext));
    last = alice.receive(bob.send(plaintext));
  };
  const message = messageFloor(ad);
  const step = dhStepFloor();
  const pool = ratchetKeyPool(1024);
  let next = 0;
  return {
    bench: {
      name: 'ratchet-ping-pong',
      prepare: (n) => repeat(n, op),
      check: () => {
        if (!bytesEqual(last, plaintext)) throw new Error('bench: ping-pong round trip lost the plaintext');
      },
    },
    floor: {
      name: 'ratchet-ping-pong:floor',
      prepare: (n) =>
        Array.from({ length: n }, () => {
          const a = pool[next++ % pool.length]!;
          const b = pool[next++ % pool.length]!;
          return () => {
            message();
            step(a);
            message();
            step(b);
          };
        }),
    },
  };
}
