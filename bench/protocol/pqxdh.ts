/**
 * Session setup benchmarks (issue #2, "Benchmarks"), through the production session API with
 * systemRng and systemClock:
 *
 *  - initiator: initiateSession = bundle verification (Ed25519 signatures, age, KEM presence),
 *    PQXDH agreement (4 DH with a one-time prekey, ML-KEM-768 encapsulation, HKDF), ratchet init
 *    (a key pair, 1 DH, KDF_RK) and session creation — against a fresh peer device every op, so no
 *    public key was ever seen before;
 *  - initiator, classical part: the same call for a peer whose signed entry lacks `pq` (X3DH:
 *    one signature, no KEM key, no KEM) — the initiator's work with everything post-quantum taken
 *    out, measured on its own production path;
 *  - responder: decryptMessage of a first prekey message (prekey lookups, base-key hash, 4 DH,
 *    ML-KEM-768 decapsulation, HKDF, session creation, the first DH ratchet step and AEAD open),
 *    from a fresh initiator every op.
 *
 * Each has its floor: the same primitive calls (shared/crypto adapters, same keys and sizes),
 * timed alone. ML-KEM alone is measured in the same run to give its share.
 */
import { aesGcmOpen, aesGcmSeal } from '../../shared/crypto/aead.js';
import { ed25519GenerateKeyPair, ed25519Verify } from '../../shared/crypto/ed25519.js';
import { encodeMlKem768, encodeX25519 } from '../../shared/crypto/encoding.js';
import { hkdfSha256 } from '../../shared/crypto/hkdf.js';
import { hmacSha256 } from '../../shared/crypto/hmac.js';
import {
  mlKem768Decapsulate,
  mlKem768Encapsulate,
  MLKEM768_CIPHERTEXT_LENGTH,
} from '../../shared/crypto/ml-kem-768.js';
import { systemClock, systemRng } from '../../shared/crypto/random.js';
import { sha256 } from '../../shared/crypto/sha256.js';
import { x25519, x25519GenerateKeyPair, x25519PrivateHandle } from '../../shared/crypto/x25519.js';
import { Capability, label, PADDING_BLOCK } from '../../shared/protocol/constants.js';
import { EMPTY_SKIPPED } from '../../shared/protocol/double-ratchet.js';
import { RATCHET_HEADER_LENGTH } from '../../shared/protocol/messages.js';
import {
  kemPrekeySignatureInput,
  signedPrekeySignatureInput,
  type PrekeyBundle,
} from '../../shared/protocol/prekeys.js';
import {
  decryptMessage,
  encryptMessage,
  FailureBudgets,
  initiateSession,
  sessionAd,
  type LocalDevice,
  type PeerDevice,
} from '../../shared/protocol/session.js';
import { localDevice, makeDevice, peerDevice, type TestDevice } from '../../shared/testing/protocol-fixtures.js';
import type { Case } from './harness.js';

const ZERO_SALT = new Uint8Array(32);
const ONE = Uint8Array.of(0x01);
const TWO = Uint8Array.of(0x02);
const X25519_ENCODED = 33;

/** A peer device nobody has talked to yet, with one one-time prekey of each kind. */
function freshPeer(pq: boolean): { device: TestDevice; bundle: PrekeyBundle } {
  const device = makeDevice(systemRng, systemClock(), { pq, oneTimePrekeys: 1, kemOneTimePrekeys: 1 });
  return { device, bundle: device.prekeys.takeBundle(device) };
}

/** Session AD length for these fixtures: label ‖ 2 encoded keys ‖ 2 × (account id ‖ u32 device id). */
function sessionAdLength(): number {
  return label('SessionAd').length + 2 * X25519_ENCODED + 2 * (16 + 4);
}

/** The primitive calls initiateSession makes for `bundle`, in order, as one op. */
function initiatorFloor(alice: TestDevice, bundle: PrekeyBundle): () => void {
  const pq = bundle.kemPrekey !== undefined;
  const spk = bundle.signedPrekey.publicKey;
  const opk = bundle.oneTimePrekey?.publicKey;
  const kem = bundle.kemPrekey;
  const spkInput = signedPrekeySignatureInput(bundle.signedPrekey.keyId, spk, bundle.signedPrekey.createdAt);
  const kemInput = kem && kemPrekeySignatureInput(kem.keyId, kem.publicKey, kem.createdAt, kem.lastResort);
  // The transcript hashed into HKDF's info, with the per-op values (EK_A, CT) as placeholders of their size.
  const transcript = [
    encodeX25519(alice.identityDh.publicKey),
    encodeX25519(bundle.identityDhKey),
    encodeX25519(spk),
    ...(opk ? [encodeX25519(opk)] : []),
    ...(kem ? [encodeMlKem768(kem.publicKey)] : []),
    new Uint8Array(X25519_ENCODED),
    ...(pq ? [new Uint8Array(MLKEM768_CIPHERTEXT_LENGTH)] : []),
  ];
  const ikm = new Uint8Array(32 * (1 + (opk ? 4 : 3) + (pq ? 1 : 0)));
  const info = new Uint8Array(label(pq ? 'Pqxdh' : 'X3dh').length + 32);
  const ad = new Uint8Array(sessionAdLength());
  const encodedBaseKey = new Uint8Array(X25519_ENCODED);
  const ratchetInfo = label('Ratchet');
  return () => {
    // verifyBundle
    let ok = ed25519Verify(bundle.identitySigningKey, spkInput, bundle.signedPrekey.signature);
    if (kem && kemInput) ok = ed25519Verify(bundle.identitySigningKey, kemInput, kem.signature) && ok;
    if (!ok) throw new Error('bench: floor signature did not verify');
    // pqxdhInitiate
    const ik = x25519PrivateHandle(alice.identityDh.privateKey);
    const ek = x25519PrivateHandle(systemRng(32));
    x25519(ik, spk);
    x25519(ek, bundle.identityDhKey);
    x25519(ek, spk);
    if (opk) x25519(ek, opk);
    if (kem) mlKem768Encapsulate(kem.publicKey, systemRng);
    sha256(...transcript);
    const sk = hkdfSha256(ikm, ZERO_SALT, info, 32);
    // initAsInitiator: the first sending ratchet key against SPK_B
    const rk = x25519PrivateHandle(systemRng(32));
    hkdfSha256(x25519(rk, spk), sk, ratchetInfo, 64);
    // computeSessionId
    sha256(label('SessionId'), ad, encodedBaseKey);
  };
}

export function initiatorCases(pq: boolean): { bench: Case; floor: Case } {
  const alice = makeDevice(systemRng, systemClock());
  const local = localDevice(alice);
  const kind = pq ? 'pqxdh-initiator' : 'pqxdh-initiator-classical';
  let lastMode = '';
  return {
    bench: {
      name: kind,
      prepare: (n) =>
        Array.from({ length: n }, () => {
          const peer = freshPeer(pq);
          const args = { local, peer: peerDevice(peer.device), bundle: peer.bundle };
          return () => {
            lastMode = initiateSession(undefined, args, { rng: systemRng, now: systemClock }).session.mode;
          };
        }),
      check: () => {
        if (lastMode !== (pq ? 'pqxdh' : 'x3dh')) throw new Error(`bench: ${kind} made a ${lastMode} session`);
      },
    },
    floor: {
      name: `${kind}:floor`,
      prepare: (n) => Array.from({ length: n }, () => initiatorFloor(alice, freshPeer(pq).bundle)),
    },
  };
}

/** A fresh initiator device (never seen by the responder) and its first prekey message to `bob`. */
function freshPrekeyMessage(bob: TestDevice, bundle: PrekeyBundle, plaintext: Uint8Array): { peer: PeerDevice; message: Uint8Array } {
  const accountId = systemRng(16);
  const identityDh = x25519GenerateKeyPair(systemRng);
  const local: LocalDevice = { accountId, deviceId: 1, identityDh, pq: true };
  const peer: PeerDevice = {
    accountId,
    entry: {
      deviceId: 1,
      identityDhKey: identityDh.publicKey,
      identitySigningKey: ed25519GenerateKeyPair(systemRng).publicKey,
      capabilities: Capability.pq,
      addedAt: systemClock(),
    },
  };
  const { record } = initiateSession(undefined, { local, peer: peerDevice(bob), bundle }, { rng: systemRng, now: systemClock });
  return { peer, message: encryptMessage(record, plaintext).message.bytes };
}

/** The primitive calls decryptMessage makes for a first prekey message (with OPK and KEM). */
function responderFloor(bob: TestDevice, bundle: PrekeyBundle): () => void {
  const signed = bob.prekeys.signed.get(bundle.signedPrekey.keyId)!;
  const oneTime = bob.prekeys.oneTime.get(bundle.oneTimePrekey!.keyId)!;
  const kem = bob.prekeys.kem.get(bundle.kemPrekey!.keyId)!;
  // Per-op public values of the initiator: identity, base key, first ratchet key, KEM ciphertext.
  const initiatorIdentity = x25519GenerateKeyPair(systemRng).publicKey;
  const baseKey = x25519GenerateKeyPair(systemRng).publicKey;
  const ratchetKey = x25519GenerateKeyPair(systemRng).publicKey;
  const { ciphertext } = mlKem768Encapsulate(kem.publicKey, systemRng);
  const transcript = [
    encodeX25519(initiatorIdentity),
    encodeX25519(bob.identityDh.publicKey),
    encodeX25519(signed.publicKey),
    encodeX25519(oneTime.publicKey),
    encodeMlKem768(kem.publicKey),
    encodeX25519(baseKey),
    ciphertext,
  ];
  const encodedBaseKey = encodeX25519(baseKey);
  const ikm = new Uint8Array(32 * 6);
  const info = new Uint8Array(label('Pqxdh').length + 32);
  const ad = new Uint8Array(sessionAdLength());
  const ratchetInfo = label('Ratchet');
  const messageInfo = label('MessageKeys');
  const chainKey = systemRng(32);
  const messageAd = new Uint8Array(sessionAdLength() + RATCHET_HEADER_LENGTH);
  const keys = hkdfSha256(hmacSha256(chainKey, ONE), ZERO_SALT, messageInfo, 44);
  const sealed = aesGcmSeal(keys.subarray(0, 32), keys.subarray(32), new Uint8Array(PADDING_BLOCK), messageAd);
  return () => {
    // baseKeyHash (the seen-set key, computed for every new prekey message)
    sha256(label('BaseKeySeen'), encodedBaseKey);
    // pqxdhRespond
    const spk = x25519PrivateHandle(signed.privateKey);
    x25519(spk, initiatorIdentity);
    x25519(bob.identityDh.privateKey, baseKey);
    x25519(spk, baseKey);
    x25519(oneTime.privateKey, baseKey);
    mlKem768Decapsulate(kem.seed, ciphertext);
    sha256(...transcript);
    const sk = hkdfSha256(ikm, ZERO_SALT, info, 32);
    // computeSessionId
    sha256(label('SessionId'), ad, encodedBaseKey);
    // ratchetDecrypt: DH ratchet step on the initiator's first ratchet key, then the message
    const receiving = hkdfSha256(x25519(signed.privateKey, ratchetKey), sk, ratchetInfo, 64);
    const fresh = x25519PrivateHandle(systemRng(32));
    hkdfSha256(x25519(fresh, ratchetKey), receiving.subarray(0, 32), ratchetInfo, 64);
    const k = hkdfSha256(hmacSha256(chainKey, ONE), ZERO_SALT, messageInfo, 44);
    aesGcmOpen(k.subarray(0, 32), k.subarray(32), sealed, messageAd);
    hmacSha256(chainKey, TWO);
  };
}

export function responderCases(): { bench: Case; floor: Case } {
  const bob = makeDevice(systemRng, systemClock());
  // The decrypt path reads Bob's stores and returns changes; nothing is applied, so every op
  // finds the same one-time prekeys.
  const bundle = bob.prekeys.takeBundle(bob);
  const budgets = new FailureBudgets();
  const plaintext = systemRng(100);
  let fresh = true;
  return {
    bench: {
      name: 'pqxdh-responder',
      prepare: (n) =>
        Array.from({ length: n }, () => {
          const { peer, message } = freshPrekeyMessage(bob, bundle, plaintext);
          const ctx = {
            local: localDevice(bob),
            peer,
            prekeys: bob.prekeys,
            skipped: () => EMPTY_SKIPPED,
            budgets,
            rng: systemRng,
            now: systemClock,
          };
          return () => {
            const r = decryptMessage(undefined, message, ctx);
            fresh = fresh && r.newSession && r.plaintext.length === plaintext.length;
          };
        }),
      check: () => {
        if (!fresh) throw new Error('bench: responder did not create a new session');
      },
    },
    floor: {
      name: 'pqxdh-responder:floor',
      prepare: (n) => Array.from({ length: n }, () => responderFloor(bob, bundle)),
    },
  };
}

/** ML-KEM-768 alone, same run: encapsulation (initiator) and seed-expanding decapsulation (responder). */
export function kemCases(): { encaps: Case; decaps: Case } {
  const bob = makeDevice(systemRng, systemClock());
  const kem = [...bob.prekeys.kem.values()][0]!;
  const { ciphertext } = mlKem768Encapsulate(kem.publicKey, systemRng);
  return {
    encaps: {
      name: 'ml-kem-768-encapsulate',
      prepare: (n) => Array.from({ length: n }, () => () => void mlKem768Encapsulate(kem.publicKey, systemRng)),
    },
    decaps: {
      name: 'ml-kem-768-decapsulate',
      prepare: (n) => Array.from({ length: n }, () => () => void mlKem768Decapsulate(kem.seed, ciphertext)),
    },
  };
}

/** Fails if sessionAdLength() no longer matches what sessionAd() builds (the floors use it). */
export function checkSessionAdLength(): void {
  const now = systemClock();
  const a = makeDevice(systemRng, now, { kemOneTimePrekeys: 0 });
  const b = makeDevice(systemRng, now, { kemOneTimePrekeys: 0 });
  const { session } = initiateSession(
    undefined,
    { local: localDevice(a), peer: peerDevice(b), bundle: b.prekeys.takeBundle(b) },
    { rng: systemRng, now: systemClock },
  );
  if (sessionAd(session).length !== sessionAdLength()) throw new Error('bench: session AD length drifted');
}
