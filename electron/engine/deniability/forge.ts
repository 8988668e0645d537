/**
 * Deniability shown with a forging tool (issue 17, DESIGN §3.4, docs/deniability.md): from ONE
 * party's own profile — her private keys, in her own database — and only PUBLIC data of the other
 * party (the account id and the signed device list her device already holds, which is what the
 * relay serves to anyone), it makes envelopes "from" the other party, in the exact wire format the
 * relay delivers, that Parley's own receive path accepts like real ones.
 *
 * How: PQXDH's shared secret mixes DH(IK_A, SPK_B), DH(EK_A, IK_B), DH(EK_A, SPK_B),
 * DH(EK_A, OPK_B) and an ML-KEM secret encapsulated to KEM_B. Every DH has a private half on
 * Bob's side (SPK_B, IK_B, OPK_B are his) and Alice's "ephemeral" EK_A is chosen by the forger;
 * the ML-KEM encapsulation needs only Bob's public KEM key. So Bob computes the same secret Alice
 * would, builds Alice's initiator session, and encrypts any content with the shared session code.
 * No signature of Alice is needed anywhere: 1:1 content is authenticated only by keys both sides
 * derive.
 *
 * Owns the transcript format (`parley-transcript-v1`: the envelopes one device received, as the
 * relay delivered them) and the forging. Does not own verification (the engine's inbound path is
 * the verifier: transcript.ts replays a transcript through it) or anything not deniable (signed
 * prekeys, device lists, decryption errors, sender-key signatures: docs/deniability.md).
 */
import { z } from 'zod';
import { fromBase64Url, toBase64Url, toHex } from '../../../shared/crypto/bytes.js';
import { mlKem768Encapsulate } from '../../../shared/crypto/ml-kem-768.js';
import type { Rng } from '../../../shared/crypto/random.js';
import { x25519, x25519GenerateKeyPair } from '../../../shared/crypto/x25519.js';
import { parseDeviceList } from '../../../shared/protocol/device-list.js';
import { initAsInitiator } from '../../../shared/protocol/double-ratchet.js';
import { deriveSharedSecret, type AgreementTranscript } from '../../../shared/protocol/pqxdh.js';
import { computeSessionId, encryptMessage } from '../../../shared/protocol/session.js';
import type { SessionRecord, SessionState } from '../../../shared/protocol/session-record.js';
import type { Envelope } from '../../../shared/wire/frames.js';
import type { LocalAccount } from '../db/account.js';
import { getContact } from '../db/contacts.js';
import type { ReadDb } from '../db/database.js';
import { currentLastResortKemPrekey, currentSignedPrekey, SqlitePrekeyStore } from '../db/prekeys.js';
import { sql } from '../db/sql.js';
import { encodeContent, MESSAGE_ID_LENGTH } from '../messaging/content.js';

export const TRANSCRIPT_FORMAT = 'parley-transcript-v1';

/**
 * What one device received, envelope by envelope, as the relay delivered them (source, relay time,
 * the wire message). Real and forged transcripts have exactly this form.
 */
export type Transcript = {
  readonly format: typeof TRANSCRIPT_FORMAT;
  /** The receiving device. */
  readonly recipient: { readonly accountId: string; readonly deviceId: number };
  readonly envelopes: readonly { readonly source: { readonly accountId: string; readonly deviceId: number }; readonly serverTimestamp: number; readonly content: string }[];
};

const TranscriptSchema = z.strictObject({
  format: z.literal(TRANSCRIPT_FORMAT),
  recipient: z.strictObject({ accountId: z.string().regex(/^[0-9a-f]{32}$/), deviceId: z.number().int().min(1) }),
  envelopes: z
    .array(
      z.strictObject({
        source: z.strictObject({ accountId: z.string().regex(/^[0-9a-f]{32}$/), deviceId: z.number().int().min(1) }),
        serverTimestamp: z.number().int().min(0),
        content: z.string().regex(/^[A-Za-z0-9_-]+$/).max(200_000),
      }),
    )
    .max(10_000),
});

export class ForgeError extends Error {
  override readonly name = 'ForgeError';
  constructor(
    readonly code: 'NOT_A_CONTACT' | 'NO_PREKEYS' | 'BAD_TRANSCRIPT',
    message: string,
  ) {
    super(message);
  }
}

/** Parses a transcript file's JSON (throws ForgeError BAD_TRANSCRIPT). */
export function parseTranscript(json: string): Transcript {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new ForgeError('BAD_TRANSCRIPT', 'not JSON');
  }
  const parsed = TranscriptSchema.safeParse(value);
  if (!parsed.success) throw new ForgeError('BAD_TRANSCRIPT', `not a ${TRANSCRIPT_FORMAT} transcript`);
  return parsed.data as Transcript;
}

/** The transcript of envelopes `recipient` received (a recording of real traffic, or a forgery). */
export function transcriptOf(recipient: { readonly accountId: Uint8Array; readonly deviceId: number }, envelopes: readonly Envelope[]): Transcript {
  return {
    format: TRANSCRIPT_FORMAT,
    recipient: { accountId: toHex(recipient.accountId), deviceId: recipient.deviceId },
    envelopes: envelopes.map((e) => {
      if (!e.source) throw new RangeError('a transcript holds envelopes with a sender');
      return { source: { accountId: toHex(e.source.accountId), deviceId: e.source.deviceId }, serverTimestamp: e.serverTimestamp, content: toBase64Url(e.content) };
    }),
  };
}

/** The envelopes of a transcript, as the relay client hands them to the inbound path. */
export function envelopesOf(t: Transcript): Envelope[] {
  return t.envelopes.map((e, i) => ({
    seq: i + 1,
    source: { accountId: Buffer.from(e.source.accountId, 'hex'), deviceId: e.source.deviceId },
    serverTimestamp: e.serverTimestamp,
    content: fromBase64Url(e.content),
  }));
}

/**
 * Forges `texts` from the contact `peerAccountId`'s first listed device to this device, using
 * this device's own secrets (identity key, signed prekey, a one-time prekey, its ML-KEM prekey) and
 * the peer's public signed device list only. Reads the database; changes nothing.
 */
export function forgeFromPeer(
  db: ReadDb,
  account: LocalAccount,
  peerAccountId: Uint8Array,
  texts: readonly string[],
  deps: { readonly rng: Rng; readonly now: () => number },
): Transcript {
  const contact = getContact(db, peerAccountId);
  if (!contact) throw new ForgeError('NOT_A_CONTACT', 'the peer is not a contact of this profile (its public device list is not here)');
  // Public data only: the peer's signed list (what the relay serves) names its device and keys.
  const peerDevice = parseDeviceList(contact.deviceList.signed).list.devices[0]!;
  const spk = currentSignedPrekey(db);
  const kem = currentLastResortKemPrekey(db);
  const opkRow = db.get<{ key_id: number }>(sql`SELECT key_id FROM one_time_prekeys ORDER BY key_id DESC LIMIT 1`);
  if (!spk || !kem) throw new ForgeError('NO_PREKEYS', 'this profile has no signed or ML-KEM prekey');
  const opk = opkRow ? new SqlitePrekeyStore(db).oneTimePrekey(opkRow.key_id)! : null;
  const kemOneTime = db.get<{ key_id: number; public_key: Uint8Array }>(sql`SELECT key_id, public_key FROM kem_prekeys WHERE last_resort = 0 ORDER BY key_id DESC LIMIT 1`);
  const kemKey = kemOneTime ? { keyId: kemOneTime.key_id, publicKey: new Uint8Array(kemOneTime.public_key) } : { keyId: kem.keyId, publicKey: kem.publicKey };

  const IK_A = peerDevice.identityDhKey; // public
  const ek = x25519GenerateKeyPair(deps.rng); // "Alice's" ephemeral key, chosen by the forger
  const dh = [
    x25519(spk.privateKey, IK_A), // = DH(IK_A, SPK_B)
    x25519(account.identityDh.privateKey, ek.publicKey), // = DH(EK_A, IK_B)
    x25519(spk.privateKey, ek.publicKey), // = DH(EK_A, SPK_B)
    ...(opk ? [x25519(opk.privateKey, ek.publicKey)] : []), // = DH(EK_A, OPK_B)
  ];
  const { ciphertext, sharedSecret } = mlKem768Encapsulate(kemKey.publicKey, deps.rng);
  const agreement: AgreementTranscript = {
    mode: 'pqxdh',
    initiatorIdentity: IK_A,
    responderIdentity: account.identityDh.publicKey,
    signedPrekey: spk.publicKey,
    ...(opk && { oneTimePrekey: opk.publicKey }),
    kemPrekey: kemKey.publicKey,
    baseKey: ek.publicKey,
    kemCiphertext: ciphertext,
  };
  const sk = deriveSharedSecret(agreement, dh, sharedSecret);
  const now = deps.now();
  const partial: Omit<SessionState, 'sessionId'> = {
    mode: 'pqxdh',
    role: 'initiator',
    localAccountId: peerAccountId,
    localDeviceId: peerDevice.deviceId,
    localIdentityKey: IK_A,
    remoteAccountId: account.accountId,
    remoteDeviceId: account.deviceId,
    remoteIdentityKey: account.identityDh.publicKey,
    baseKey: ek.publicKey,
    pendingPrekey: {
      identityKey: IK_A,
      baseKey: ek.publicKey,
      signedPrekeyId: spk.keyId,
      oneTimePrekeyId: opkRow?.key_id,
      kem: { prekeyId: kemKey.keyId, ciphertext },
    },
    createdAt: now,
    ratchet: initAsInitiator(sk, spk.publicKey, deps.rng),
  };
  sk.fill(0);
  let record: SessionRecord = { current: { ...partial, sessionId: computeSessionId(partial) }, archived: [] };
  const envelopes: Envelope[] = texts.map((text, i) => {
    const sentAt = now + i;
    const content = encodeContent({ type: 'text', messageId: deps.rng(MESSAGE_ID_LENGTH), sentAt, text, expireTimerSeconds: null });
    const out = encryptMessage(record, content);
    record = out.record;
    return { seq: i + 1, source: { accountId: peerAccountId, deviceId: peerDevice.deviceId }, serverTimestamp: sentAt + 5, content: out.message.bytes };
  });
  return transcriptOf({ accountId: account.accountId, deviceId: account.deviceId }, envelopes);
}
