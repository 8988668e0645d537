/**
 * PQXDH key agreement (DESIGN §3.3; Signal's PQXDH spec with Parley's labels; docs/protocol.md
 * "PQXDH"). Pure computation of the shared secret SK for the initiator and the responder:
 *
 *   DH1 = DH(IK_A, SPK_B)  DH2 = DH(EK_A, IK_B)  DH3 = DH(EK_A, SPK_B)  [DH4 = DH(EK_A, OPK_B)]
 *   (CT, SS) = ML-KEM-768.Encaps(PQPK_B)
 *   SK = HKDF-SHA-256(salt = 0³², ikm = 0xFF³² ‖ DH1 ‖ DH2 ‖ DH3 [‖ DH4] ‖ SS,
 *                     info = label ‖ SHA-256(Enc(IK_A) ‖ Enc(IK_B) ‖ Enc(SPK_B) [‖ Enc(OPK_B)] ‖ Enc(PQPK_B) ‖ Enc(EK_A) ‖ CT),
 *                     L = 32)
 *
 * Classical X3DH (own label, no KEM terms) only for devices whose signed entry lacks `pq`.
 * Bundle verification (signatures, age, MISSING_KEM_PREKEY) happens before this, in prekeys.ts;
 * message framing and prekey consumption belong to session.ts.
 */
import { concatBytes } from '../crypto/bytes.js';
import { encodeMlKem768, encodeX25519 } from '../crypto/encoding.js';
import { CryptoError } from '../crypto/errors.js';
import { hkdfSha256 } from '../crypto/hkdf.js';
import { mlKem768Decapsulate, mlKem768Encapsulate } from '../crypto/ml-kem-768.js';
import type { Rng } from '../crypto/random.js';
import { sha256 } from '../crypto/sha256.js';
import { x25519, x25519PrivateHandle, type X25519KeyPair } from '../crypto/x25519.js';
import { label } from './constants.js';
import { ProtocolError } from './errors.js';
import type { VerifiedBundle } from './prekeys.js';

export type KeyAgreementMode = 'pqxdh' | 'x3dh';

const FF32 = new Uint8Array(32).fill(0xff);
const ZERO_SALT = new Uint8Array(32);

/** The public transcript both sides hash into HKDF's info. */
export type AgreementTranscript = {
  readonly mode: KeyAgreementMode;
  readonly initiatorIdentity: Uint8Array;
  readonly responderIdentity: Uint8Array;
  readonly signedPrekey: Uint8Array;
  readonly oneTimePrekey?: Uint8Array | undefined;
  readonly kemPrekey?: Uint8Array | undefined;
  readonly baseKey: Uint8Array;
  readonly kemCiphertext?: Uint8Array | undefined;
};

export function agreementInfo(t: AgreementTranscript): Uint8Array {
  const parts: Uint8Array[] = [encodeX25519(t.initiatorIdentity), encodeX25519(t.responderIdentity), encodeX25519(t.signedPrekey)];
  if (t.oneTimePrekey) parts.push(encodeX25519(t.oneTimePrekey));
  if (t.mode === 'pqxdh') {
    if (!t.kemPrekey || !t.kemCiphertext) throw new ProtocolError('MISSING_KEM_PREKEY', 'PQXDH transcript without KEM terms');
    parts.push(encodeMlKem768(t.kemPrekey));
  }
  parts.push(encodeX25519(t.baseKey));
  if (t.mode === 'pqxdh') parts.push(t.kemCiphertext!);
  return concatBytes(label(t.mode === 'pqxdh' ? 'Pqxdh' : 'X3dh'), sha256(...parts));
}

/** SK from the DH outputs (and the KEM secret for PQXDH). */
export function deriveSharedSecret(
  t: AgreementTranscript,
  dh: readonly Uint8Array[],
  kemSharedSecret: Uint8Array | undefined,
): Uint8Array {
  const ikm = concatBytes(FF32, ...dh, ...(t.mode === 'pqxdh' ? [kemSharedSecret!] : []));
  try {
    return hkdfSha256(ikm, ZERO_SALT, agreementInfo(t), 32);
  } finally {
    ikm.fill(0);
  }
}

function dhOrInvalid<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CryptoError) throw new ProtocolError('INVALID_KEY', 'key agreement with an invalid public key');
    throw e;
  }
}

export type InitiatorAgreement = {
  readonly sharedSecret: Uint8Array;
  readonly transcript: AgreementTranscript;
  readonly signedPrekeyId: number;
  readonly oneTimePrekeyId?: number | undefined;
  readonly kemPrekeyId?: number | undefined;
};

/** Initiator side over an already verified bundle. */
export function pqxdhInitiate(
  identity: X25519KeyPair,
  bundle: VerifiedBundle,
  rng: Rng,
): InitiatorAgreement {
  const ik = x25519PrivateHandle(identity.privateKey);
  const ek = x25519PrivateHandle(rng(32));
  const spk = bundle.signedPrekey.publicKey;
  const opk = bundle.oneTimePrekey?.publicKey;
  const dh = dhOrInvalid(() => [
    x25519(ik, spk),
    x25519(ek, bundle.identityDhKey),
    x25519(ek, spk),
    ...(opk ? [x25519(ek, opk)] : []),
  ]);
  let kemCiphertext: Uint8Array | undefined;
  let kemSecret: Uint8Array | undefined;
  if (bundle.mode === 'pqxdh') {
    try {
      const enc = mlKem768Encapsulate(bundle.kemPrekey!.publicKey, rng);
      kemCiphertext = enc.ciphertext;
      kemSecret = enc.sharedSecret;
    } catch {
      throw new ProtocolError('MISSING_KEM_PREKEY', 'ML-KEM prekey is not a valid public key');
    }
  }
  const transcript: AgreementTranscript = {
    mode: bundle.mode,
    initiatorIdentity: identity.publicKey,
    responderIdentity: bundle.identityDhKey,
    signedPrekey: spk,
    oneTimePrekey: opk,
    kemPrekey: bundle.kemPrekey?.publicKey,
    baseKey: ek.publicKey,
    kemCiphertext,
  };
  const sharedSecret = deriveSharedSecret(transcript, dh, kemSecret);
  for (const d of dh) d.fill(0);
  kemSecret?.fill(0);
  return {
    sharedSecret,
    transcript,
    signedPrekeyId: bundle.signedPrekey.keyId,
    oneTimePrekeyId: bundle.oneTimePrekey?.keyId,
    kemPrekeyId: bundle.mode === 'pqxdh' ? bundle.kemPrekey!.keyId : undefined,
  };
}

export type ResponderKeys = {
  readonly identity: X25519KeyPair;
  readonly signedPrekey: X25519KeyPair;
  readonly oneTimePrekey?: X25519KeyPair | undefined;
  readonly kemPrekey?: { readonly seed: Uint8Array; readonly publicKey: Uint8Array } | undefined;
};

/** Responder side: the same SK from the private halves and the initiator's public values. */
export function pqxdhRespond(
  keys: ResponderKeys,
  input: {
    readonly mode: KeyAgreementMode;
    readonly initiatorIdentity: Uint8Array;
    readonly baseKey: Uint8Array;
    readonly kemCiphertext?: Uint8Array | undefined;
  },
): { readonly sharedSecret: Uint8Array; readonly transcript: AgreementTranscript } {
  const spk = x25519PrivateHandle(keys.signedPrekey.privateKey);
  const dh = dhOrInvalid(() => [
    x25519(spk, input.initiatorIdentity),
    x25519(keys.identity.privateKey, input.baseKey),
    x25519(spk, input.baseKey),
    ...(keys.oneTimePrekey ? [x25519(keys.oneTimePrekey.privateKey, input.baseKey)] : []),
  ]);
  let kemSecret: Uint8Array | undefined;
  if (input.mode === 'pqxdh') {
    if (!keys.kemPrekey || !input.kemCiphertext) throw new ProtocolError('MISSING_KEM_PREKEY', 'PQXDH message without KEM terms');
    // Implicit rejection: a bad ciphertext yields an unrelated secret; only the AEAD will tell.
    kemSecret = mlKem768Decapsulate(keys.kemPrekey.seed, input.kemCiphertext);
  }
  const transcript: AgreementTranscript = {
    mode: input.mode,
    initiatorIdentity: input.initiatorIdentity,
    responderIdentity: keys.identity.publicKey,
    signedPrekey: keys.signedPrekey.publicKey,
    oneTimePrekey: keys.oneTimePrekey?.publicKey,
    kemPrekey: keys.kemPrekey?.publicKey,
    baseKey: input.baseKey,
    kemCiphertext: input.kemCiphertext,
  };
  const sharedSecret = deriveSharedSecret(transcript, dh, kemSecret);
  for (const d of dh) d.fill(0);
  kemSecret?.fill(0);
  return { sharedSecret, transcript };
}
