/**
 * Deniability (DESIGN §3.4): all message authentication is symmetric, so either party can produce
 * any transcript. Each test forges, from ONE side's private keys and the other side's PUBLIC keys
 * only, a PQXDH session and an N-message two-way transcript in the real wire format, and the
 * victim's unmodified receive path (Party.decrypt → session.decryptMessage) accepts all of it.
 */
import { describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from '../../shared/crypto/bytes.js';
import { mlKem768Encapsulate } from '../../shared/crypto/ml-kem-768.js';
import { x25519, x25519GenerateKeyPair, x25519PublicKey } from '../../shared/crypto/x25519.js';
import { initAsInitiator, kdfRootKey, nextChainKey } from '../../shared/protocol/double-ratchet.js';
import { deriveSharedSecret, type AgreementTranscript } from '../../shared/protocol/pqxdh.js';
import { decryptMessage, encryptMessage, FailureBudgets, initiateSession } from '../../shared/protocol/session.js';
import type { SessionRecord, SessionState } from '../../shared/protocol/session-record.js';
import { deterministicRng, ManualClock } from '../../shared/testing/deterministic-rng.js';
import { InMemorySkippedKeyStore, localDevice, makeDevice, Party, peerDevice, type TestDevice } from '../../shared/testing/protocol-fixtures.js';

const T0 = Date.UTC(2026, 10, 1);
const N = 12;

/** A forger holding a session record it built itself; it never touches the impersonated side's secrets. */
class Forger {
  readonly skipped = new InMemorySkippedKeyStore();
  readonly budgets = new FailureBudgets();
  constructor(
    public record: SessionRecord,
    readonly impersonated: TestDevice,
    readonly counterpart: TestDevice,
    readonly rng: ReturnType<typeof deterministicRng>,
  ) {}
  send(text: string): Uint8Array {
    const { record, message } = encryptMessage(this.record, utf8(text));
    this.record = record;
    return message.bytes;
  }
  receive(bytes: Uint8Array): string {
    const r = decryptMessage(this.record, bytes, {
      // The impersonated side's identity private key is unknown to the forger and is never used on
      // the ratchet path; a zero placeholder proves it.
      local: {
        accountId: this.impersonated.account.accountId,
        deviceId: this.impersonated.deviceId,
        identityDh: { publicKey: this.impersonated.identityDh.publicKey, privateKey: new Uint8Array(32) },
        pq: true,
      },
      peer: { accountId: this.counterpart.account.accountId, entry: this.counterpart.entry },
      prekeys: { signedPrekey: () => undefined, oneTimePrekey: () => undefined, kemPrekey: () => undefined, isBaseKeySeen: () => false },
      skipped: (id) => this.skipped.reader(id),
      budgets: this.budgets,
      rng: this.rng,
      now: () => T0,
    });
    this.record = r.record;
    this.skipped.apply(r.sessionId, r.skippedChanges);
    return fromUtf8(r.plaintext);
  }
}

function baseSession(fields: Omit<SessionState, 'sessionId' | 'createdAt'>): SessionState {
  return { ...fields, sessionId: new Uint8Array(16).fill(0xaa), createdAt: T0 };
}

/** Runs a two-way transcript of N messages with alternating runs; the victim must accept all. */
function converse(forger: Forger, victim: Party, victimSeesForgerAs: TestDevice, forgedFirst: Uint8Array[]): number {
  let accepted = 0;
  for (const m of forgedFirst) {
    expect(victim.decrypt(victimSeesForgerAs, m).plaintext.length).toBeGreaterThan(0);
    accepted++;
  }
  for (let i = 0; i < N; i++) {
    if (i % 3 === 2) {
      const reply = victim.encrypt(victimSeesForgerAs, utf8(`victim ${i}`));
      expect(forger.receive(reply)).toBe(`victim ${i}`);
    } else {
      const text = `forged ${i}`;
      expect(fromUtf8(victim.decrypt(victimSeesForgerAs, forger.send(text)).plaintext)).toBe(text);
      accepted++;
    }
  }
  return accepted;
}

describe('deniability', () => {
  it('Bob can forge a PQXDH first message and a two-way transcript from Alice that his own receive path accepts', () => {
    const rng = deterministicRng('deny-bob');
    const clock = new ManualClock(T0);
    const aliceDev = makeDevice(rng, T0); // Bob uses only aliceDev's PUBLIC values below
    const bobDev = makeDevice(rng, T0);
    const bob = new Party(bobDev, rng, clock.now);

    // Bob's own prekeys (he holds the private halves)
    const bundle = bobDev.prekeys.takeBundle(bobDev);
    const spk = bobDev.prekeys.signedPrekey(bundle.signedPrekey.keyId)!;
    const opk = bobDev.prekeys.oneTimePrekey(bundle.oneTimePrekey!.keyId)!;
    const kem = bundle.kemPrekey!;
    const ek = x25519GenerateKeyPair(rng); // "Alice's" ephemeral key, chosen by Bob
    const IK_A = aliceDev.identityDh.publicKey; // public
    const dh = [
      x25519(spk.privateKey, IK_A), // = DH(IK_A, SPK_B)
      x25519(bobDev.identityDh.privateKey, ek.publicKey), // = DH(EK_A, IK_B)
      x25519(spk.privateKey, ek.publicKey), // = DH(EK_A, SPK_B)
      x25519(opk.privateKey, ek.publicKey), // = DH(EK_A, OPK_B)
    ];
    const { ciphertext, sharedSecret: ss } = mlKem768Encapsulate(kem.publicKey, rng);
    const transcript: AgreementTranscript = {
      mode: 'pqxdh',
      initiatorIdentity: IK_A,
      responderIdentity: bobDev.identityDh.publicKey,
      signedPrekey: spk.publicKey,
      oneTimePrekey: opk.publicKey,
      kemPrekey: kem.publicKey,
      baseKey: ek.publicKey,
      kemCiphertext: ciphertext,
    };
    const sk = deriveSharedSecret(transcript, dh, ss);
    const forgedAlice = baseSession({
      mode: 'pqxdh',
      role: 'initiator',
      localAccountId: aliceDev.account.accountId,
      localDeviceId: aliceDev.deviceId,
      localIdentityKey: IK_A,
      remoteAccountId: bobDev.account.accountId,
      remoteDeviceId: bobDev.deviceId,
      remoteIdentityKey: bobDev.identityDh.publicKey,
      baseKey: ek.publicKey,
      pendingPrekey: {
        identityKey: IK_A,
        baseKey: ek.publicKey,
        signedPrekeyId: bundle.signedPrekey.keyId,
        oneTimePrekeyId: bundle.oneTimePrekey!.keyId,
        kem: { prekeyId: kem.keyId, ciphertext },
      },
      ratchet: initAsInitiator(sk, spk.publicKey, rng),
    });
    const forger = new Forger({ current: forgedAlice, archived: [] }, aliceDev, bobDev, rng);
    const first = forger.send('forged hello');
    expect(first[1]).toBe(0x02); // a real prekey message
    const accepted = converse(forger, bob, aliceDev, [first]);
    expect(accepted).toBe(1 + N - Math.floor(N / 3));
    expect(bob.record(aliceDev)!.current!.mode).toBe('pqxdh');
  });

  it('mirror: Alice can forge Bob\'s replies from her own secrets and Bob\'s public keys, and her receive path accepts them', () => {
    const rng = deterministicRng('deny-alice');
    const clock = new ManualClock(T0);
    const aliceDev = makeDevice(rng, T0);
    const bobDev = makeDevice(rng, T0); // Alice uses only bobDev's PUBLIC values (bundle, entry)
    const alice = new Party(aliceDev, rng, clock.now);
    const bundle = bobDev.prekeys.takeBundle(bobDev); // public

    // Alice's client starts the session normally; she remembers the randomness she drew (her own
    // secrets): EK_A, the ML-KEM message m, and her first ratchet key, in that order.
    const drawn: Uint8Array[] = [];
    const recording = (n: number) => {
      const b = rng(n);
      drawn.push(b.slice());
      return b;
    };
    const { record } = initiateSession(undefined, { local: localDevice(aliceDev), peer: peerDevice(bobDev), bundle }, { rng: recording, now: clock.now });
    alice.store(bobDev, record);
    const [ekPrivate, kemMessage, firstRatchetPrivate] = drawn as [Uint8Array, Uint8Array, Uint8Array];
    const first = alice.encrypt(bobDev, utf8('hello bob'));
    expect(first[1]).toBe(0x02);

    // SK from Alice's secrets and Bob's public keys only.
    const ek = { privateKey: ekPrivate, publicKey: x25519PublicKey(ekPrivate) };
    const { ciphertext, sharedSecret: ss } = mlKem768Encapsulate(bundle.kemPrekey!.publicKey, () => kemMessage.slice());
    const dh = [
      x25519(aliceDev.identityDh.privateKey, bundle.signedPrekey.publicKey),
      x25519(ek.privateKey, bundle.identityDhKey),
      x25519(ek.privateKey, bundle.signedPrekey.publicKey),
      x25519(ek.privateKey, bundle.oneTimePrekey!.publicKey),
    ];
    const transcript: AgreementTranscript = {
      mode: 'pqxdh',
      initiatorIdentity: aliceDev.identityDh.publicKey,
      responderIdentity: bundle.identityDhKey,
      signedPrekey: bundle.signedPrekey.publicKey,
      oneTimePrekey: bundle.oneTimePrekey!.publicKey,
      kemPrekey: bundle.kemPrekey!.publicKey,
      baseKey: ek.publicKey,
      kemCiphertext: ciphertext,
    };
    const sk = deriveSharedSecret(transcript, dh, ss);

    // Bob's state after receiving that message: DH(SPK_B, A1) = DH(A1, SPK_B), and Alice knows A1.
    const a1 = { privateKey: firstRatchetPrivate, publicKey: x25519PublicKey(firstRatchetPrivate) };
    const recv = kdfRootKey(sk, x25519(a1.privateKey, bundle.signedPrekey.publicKey));
    const bobNext = x25519GenerateKeyPair(rng);
    const send = kdfRootKey(recv.rootKey, x25519(bobNext.privateKey, a1.publicKey));
    const forgedBob = baseSession({
      mode: 'pqxdh',
      role: 'responder',
      localAccountId: bobDev.account.accountId,
      localDeviceId: bobDev.deviceId,
      localIdentityKey: bundle.identityDhKey,
      remoteAccountId: aliceDev.account.accountId,
      remoteDeviceId: aliceDev.deviceId,
      remoteIdentityKey: aliceDev.identityDh.publicKey,
      baseKey: ek.publicKey,
      pendingPrekey: null,
      ratchet: {
        rootKey: send.rootKey,
        sendingRatchetKey: bobNext,
        remoteRatchetKey: a1.publicKey,
        sendingChain: { key: send.chainKey, index: 0 },
        receivingChain: { key: nextChainKey(recv.chainKey), index: 1 }, // 'hello bob' consumed
        previousCounter: 0,
        previousChains: [],
      },
    });
    const forger = new Forger({ current: forgedBob, archived: [] }, bobDev, aliceDev, rng);
    const accepted = converse(forger, alice, bobDev, []);
    expect(accepted).toBe(N - Math.floor(N / 3));
    expect(alice.record(bobDev)!.current!.pendingPrekey).toBeNull(); // she treats "Bob" as having replied
  });
});

