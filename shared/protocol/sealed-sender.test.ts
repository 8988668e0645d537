import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aesGcmSeal } from '../crypto/aead.js';
import { utf8 } from '../crypto/bytes.js';
import { sha256 } from '../crypto/sha256.js';
import { x25519, x25519PrivateHandle, x25519PublicKey } from '../crypto/x25519.js';
import { KeyType } from '../crypto/encoding.js';
import { Writer } from './codec.js';
import { label } from './constants.js';
import { pad } from './padding.js';
import { ed25519GenerateKeyPair } from '../crypto/ed25519.js';
import { hkdfSha256 } from '../crypto/hkdf.js';
import { x25519GenerateKeyPair } from '../crypto/x25519.js';
import { deterministicRng, ManualClock, pseudoRandomBytes } from '../testing/deterministic-rng.js';
import { makeAccount, makeDevice, Party, signedListFor, type TestDevice } from '../testing/protocol-fixtures.js';
import {
  MAX_SENDER_CERTIFICATE_LIFETIME_MS,
  SEALED_ENVELOPE_HEADER_LENGTH,
  SENDER_CERTIFICATE_LENGTH,
} from './constants.js';
import { isProtocolError, type ProtocolErrorCode } from './errors.js';
import {
  acceptSealedSender,
  deliveryToken,
  encodeSealedMultiRecipient,
  issueSenderCertificate,
  openSealedEnvelope,
  parseSealedMultiRecipient,
  parseSenderCertificate,
  sealedEnvelopeFor,
  sealMessage,
  verifySenderCertificate,
  VerifiedCertificates,
  type CertificateTrust,
  type SealedRecipient,
} from './sealed-sender.js';

function codeOf(fn: () => unknown): ProtocolErrorCode | 'no error' | unknown {
  try {
    fn();
  } catch (e) {
    return isProtocolError(e) ? e.code : e;
  }
  return 'no error';
}

const T0 = Date.UTC(2026, 0, 15, 12);
const HOUR = 3600_000;
const rng = deterministicRng('sealed-sender.test');
const clock = new ManualClock(T0);
const relayKey = ed25519GenerateKeyPair(rng);
const otherRelayKey = ed25519GenerateKeyPair(rng);
const KEY_ID = 7;
const trust: CertificateTrust = new Map([[KEY_ID, relayKey.publicKey]]);

const alice = makeDevice(rng, T0);
const bobAccount = makeAccount(rng);
const bob1 = makeDevice(rng, T0, { account: bobAccount, deviceId: 1 });
const bob2 = makeDevice(rng, T0, { account: bobAccount, deviceId: 2 });

function certificateFor(d: TestDevice, opts: { expiresAt?: number; keyId?: number; key?: Uint8Array; identityKey?: Uint8Array } = {}): Uint8Array {
  return issueSenderCertificate(
    {
      accountId: d.account.accountId,
      deviceId: d.deviceId,
      identityKey: opts.identityKey ?? d.identityDh.publicKey,
      expiresAt: opts.expiresAt ?? T0 + 24 * HOUR,
      keyId: opts.keyId ?? KEY_ID,
    },
    opts.key ?? relayKey.privateKey,
  );
}

const recipient = (d: TestDevice): SealedRecipient => ({ accountId: d.account.accountId, deviceId: d.deviceId, identityKey: d.identityDh.publicKey });
const open = (envelope: Uint8Array, to: TestDevice, time = T0 + HOUR) => openSealedEnvelope(envelope, { identityPrivate: to.identityDh.privateKey }, trust, time);

function sealOne(to: TestDevice, message: Uint8Array, from = alice, certificate = certificateFor(from)): Uint8Array {
  const m = sealMessage({ certificate, senderIdentityPrivate: from.identityDh.privateKey, recipients: [recipient(to)], messages: [message] }, { rng });
  return sealedEnvelopeFor(m, 0);
}

describe('delivery token', () => {
  it('is HKDF(profile key, Parley_v1_DeliveryToken, 16) and changes with a rotated key', () => {
    const key = pseudoRandomBytes('sealed/profile-key', 32);
    expect(deliveryToken(key)).toEqual(hkdfSha256(key, undefined, utf8('Parley_v1_DeliveryToken'), 16));
    expect(deliveryToken(pseudoRandomBytes('sealed/rotated', 32))).not.toEqual(deliveryToken(key));
    expect(codeOf(() => deliveryToken(new Uint8Array(31)))).toBe('MALFORMED');
  });
});

describe('sender certificate', () => {
  it('round-trips and verifies under the pinned key until it expires', () => {
    const c = certificateFor(alice);
    expect(c).toHaveLength(SENDER_CERTIFICATE_LENGTH);
    const v = verifySenderCertificate(c, trust, T0);
    expect(v.accountId).toEqual(alice.account.accountId);
    expect(v.deviceId).toBe(1);
    expect(v.identityKey).toEqual(alice.identityDh.publicKey);
    expect(codeOf(() => verifySenderCertificate(c, trust, T0 + 24 * HOUR - 1))).toBe('no error');
    expect(codeOf(() => verifySenderCertificate(c, trust, T0 + 24 * HOUR))).toBe('SENDER_CERTIFICATE_EXPIRED');
  });
  it('a certificate signed by another key, under an unknown key id, tampered or living over 24 h is refused', () => {
    expect(codeOf(() => verifySenderCertificate(certificateFor(alice, { key: otherRelayKey.privateKey }), trust, T0))).toBe('SENDER_CERTIFICATE_INVALID');
    expect(codeOf(() => verifySenderCertificate(certificateFor(alice, { keyId: 8 }), trust, T0))).toBe('SENDER_CERTIFICATE_INVALID');
    const tampered = certificateFor(alice);
    tampered[5]! ^= 1;
    expect(codeOf(() => verifySenderCertificate(tampered, trust, T0))).toBe('SENDER_CERTIFICATE_INVALID');
    const long = certificateFor(alice, { expiresAt: T0 + MAX_SENDER_CERTIFICATE_LIFETIME_MS + 1 });
    expect(codeOf(() => verifySenderCertificate(long, trust, T0))).toBe('SENDER_CERTIFICATE_INVALID');
    expect(codeOf(() => verifySenderCertificate(long, trust, T0 + 1))).toBe('no error');
  });
  it('a verified-certificate cache skips only the signature: other bytes, another key under the id, or an expired time still fail', () => {
    const verified = new VerifiedCertificates(2);
    const c = certificateFor(alice);
    expect(verified.has(c, relayKey.publicKey)).toBe(false);
    expect(codeOf(() => verifySenderCertificate(c, trust, T0, verified))).toBe('no error');
    expect(verified.has(c, relayKey.publicKey)).toBe(true);
    expect(codeOf(() => verifySenderCertificate(c, trust, T0 + HOUR, verified))).toBe('no error');
    expect(verified.size).toBe(1);
    // Expiry is checked at every use, cached or not.
    expect(codeOf(() => verifySenderCertificate(c, trust, T0 + 24 * HOUR, verified))).toBe('SENDER_CERTIFICATE_EXPIRED');
    // The same key id pinned to another key: the cached entry does not vouch for it.
    const repinned: CertificateTrust = new Map([[KEY_ID, otherRelayKey.publicKey]]);
    expect(verified.has(c, otherRelayKey.publicKey)).toBe(false);
    expect(codeOf(() => verifySenderCertificate(c, repinned, T0, verified))).toBe('SENDER_CERTIFICATE_INVALID');
    // One flipped bit of the signature or of the body is another entry, verified again, and refused.
    for (const at of [5, SENDER_CERTIFICATE_LENGTH - 1]) {
      const tampered = c.slice();
      tampered[at]! ^= 1;
      expect(codeOf(() => verifySenderCertificate(tampered, trust, T0, verified))).toBe('SENDER_CERTIFICATE_INVALID');
      expect(verified.has(tampered, relayKey.publicKey)).toBe(false);
    }
    // Bounded: least recently used first out.
    const c2 = certificateFor(alice, { expiresAt: T0 + 23 * HOUR });
    const c3 = certificateFor(alice, { expiresAt: T0 + 22 * HOUR });
    verifySenderCertificate(c2, trust, T0, verified);
    verifySenderCertificate(c3, trust, T0, verified);
    expect(verified.size).toBe(2);
    expect(verified.has(c, relayKey.publicKey)).toBe(false);
    expect(verified.has(c3, relayKey.publicKey)).toBe(true);
  });
  it('opening with a cache and an imported identity handle gives what opening without them gives', () => {
    const verified = new VerifiedCertificates();
    const envelope = sealOne(bob1, utf8('cached'));
    const plain = open(envelope, bob1);
    const handle = x25519PrivateHandle(bob1.identityDh.privateKey);
    for (let i = 0; i < 2; i++) {
      const cached = openSealedEnvelope(envelope, { identityPrivate: bob1.identityDh.privateKey, identityHandle: handle }, trust, T0 + HOUR, verified);
      expect(cached).toEqual(plain);
    }
    expect(verified.size).toBe(1);
    expect(codeOf(() => openSealedEnvelope(envelope, { identityPrivate: bob1.identityDh.privateKey }, trust, T0 + 24 * HOUR, verified))).toBe('SENDER_CERTIFICATE_EXPIRED');
  });
  it('sealing with an imported sender handle gives the same bytes as sealing with the raw key', () => {
    const input = { certificate: certificateFor(alice), senderIdentityPrivate: alice.identityDh.privateKey, recipients: [recipient(bob1), recipient(bob2)], messages: [utf8('one')] };
    const raw = encodeSealedMultiRecipient(sealMessage(input, { rng: deterministicRng('seal-handle') }));
    const handled = encodeSealedMultiRecipient(
      sealMessage({ ...input, senderIdentityHandle: x25519PrivateHandle(alice.identityDh.privateKey) }, { rng: deterministicRng('seal-handle') }),
    );
    expect(handled).toEqual(raw);
  });
  it('strict parsing: wrong length, version or key type is MALFORMED', () => {
    const c = certificateFor(alice);
    expect(codeOf(() => parseSenderCertificate(c.subarray(1)))).toBe('MALFORMED');
    const v = c.slice();
    v[0] = 2;
    expect(codeOf(() => parseSenderCertificate(v))).toBe('MALFORMED');
    const k = c.slice();
    k[21] = 0x06;
    expect(codeOf(() => parseSenderCertificate(k))).toBe('MALFORMED');
  });
});

describe('sealed envelope', () => {
  it('opens for its recipient with the sender, its certificate and the message', () => {
    const message = utf8('an inner ratchet message');
    const envelope = sealOne(bob1, message);
    const opened = open(envelope, bob1);
    expect(opened.message).toEqual(message);
    expect(opened.senderIdentityKey).toEqual(alice.identityDh.publicKey);
    expect(opened.certificate.accountId).toEqual(alice.account.accountId);
  });
  it('hides the sender: neither account id nor identity key appears in the envelope, and two seals differ', () => {
    const envelope = sealOne(bob1, utf8('x'));
    const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
    expect(hexOf(envelope)).not.toContain(hexOf(alice.account.accountId));
    expect(hexOf(envelope)).not.toContain(hexOf(alice.identityDh.publicKey));
    expect(hexOf(sealOne(bob1, utf8('x')))).not.toBe(hexOf(envelope));
  });
  it('is padded: inner messages of 0, 1, 100 and 150 bytes give envelopes of one length', () => {
    const lengths = new Set([0, 1, 100, 150].map((n) => sealOne(bob1, new Uint8Array(n)).length));
    expect(lengths.size).toBe(1);
    const [length] = lengths;
    expect((length! - SEALED_ENVELOPE_HEADER_LENGTH - 16) % 160).toBe(0);
  });
  it('an envelope delivered to another device (a swapped recipient) is SEALED_INVALID', () => {
    const envelope = sealOne(bob1, utf8('for bob 1'));
    expect(codeOf(() => open(envelope, bob2))).toBe('SEALED_INVALID');
    expect(codeOf(() => open(envelope, alice))).toBe('SEALED_INVALID');
  });
  it('every flipped byte is refused with a typed error, never opened', () => {
    const envelope = sealOne(bob1, utf8('tamper with me'));
    let checked = 0;
    for (let i = 0; i < envelope.length; i += 7) {
      const t = envelope.slice();
      t[i]! ^= 0x01;
      const code = codeOf(() => open(t, bob1));
      expect(['SEALED_INVALID', 'MALFORMED'], `byte ${i}`).toContain(code);
      checked++;
    }
    expect(checked).toBeGreaterThan(40);
  });
  it('a forged certificate (another signing key) is refused even when everything else is genuine', () => {
    const forged = certificateFor(alice, { key: otherRelayKey.privateKey });
    expect(codeOf(() => open(sealOne(bob1, utf8('x'), alice, forged), bob1))).toBe('SENDER_CERTIFICATE_INVALID');
  });
  it('a certificate expired at the envelope\'s relay time is refused', () => {
    const envelope = sealOne(bob1, utf8('x'), alice, certificateFor(alice, { expiresAt: T0 + 2 * HOUR }));
    expect(codeOf(() => open(envelope, bob1, T0 + HOUR))).toBe('no error');
    expect(codeOf(() => open(envelope, bob1, T0 + 2 * HOUR))).toBe('SENDER_CERTIFICATE_EXPIRED');
  });
  it('a certificate for another identity key than the envelope static key is SEALED_SENDER_MISMATCH', () => {
    // Mallory seals with her own key and Alice's genuine certificate.
    const mallory = makeDevice(rng, T0);
    const envelope = sealOne(bob1, utf8('x'), mallory, certificateFor(alice));
    expect(codeOf(() => open(envelope, bob1))).toBe('SEALED_SENDER_MISMATCH');
  });
  it('a tag made with another static key than the one inside is SEALED_INVALID (the recipient cannot be fooled by a swapped key)', () => {
    // A recipient of a multi-recipient send knows M: it re-encrypts the shared part naming Alice's
    // static key, but cannot make the tag without Alice's or Bob's private key.
    const carol = makeDevice(rng, T0);
    const m = sealMessage(
      { certificate: certificateFor(carol), senderIdentityPrivate: carol.identityDh.privateKey, recipients: [recipient(bob1)], messages: [utf8('x')] },
      { rng },
    );
    const envelope = sealedEnvelopeFor(m, 0);
    // Flip the tag: the shared part is untouched.
    envelope[SEALED_ENVELOPE_HEADER_LENGTH - 1]! ^= 0x80;
    expect(codeOf(() => open(envelope, bob1))).toBe('SEALED_INVALID');
  });
  it('property: any message round-trips for any recipient', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (message, toSecond) => {
        const to = toSecond ? bob2 : bob1;
        expect(open(sealOne(to, message), to).message).toEqual(message);
      }),
      { numRuns: 40 },
    );
  });
});

describe('multi-recipient', () => {
  it('one shared ciphertext, one wrapped key and tag per device; each device opens its own message', () => {
    const messages = [utf8('to bob 1'), utf8('to bob 2'), utf8('to alice 2')];
    const alice2 = makeDevice(rng, T0, { account: alice.account, deviceId: 2 });
    const m = sealMessage(
      { certificate: certificateFor(alice), senderIdentityPrivate: alice.identityDh.privateKey, recipients: [recipient(bob1), recipient(bob2), recipient(alice2)], messages },
      { rng },
    );
    const upload = encodeSealedMultiRecipient(m);
    const parsed = parseSealedMultiRecipient(upload);
    expect(parsed.recipients.map((r) => r.deviceId)).toEqual([1, 2, 2]);
    expect(upload.length).toBe(1 + 33 + 2 + 3 * (16 + 4 + 32 + 16) + m.sharedCiphertext.length);
    [bob1, bob2, alice2].forEach((d, i) => expect(open(sealedEnvelopeFor(parsed, i), d).message).toEqual(messages[i]));
    // Envelope i given to device j (the relay swaps recipients): refused.
    expect(codeOf(() => open(sealedEnvelopeFor(parsed, 0), bob2))).toBe('SEALED_INVALID');
    // The index is bound in the tag: recipient 1's header relabelled as index 0 does not authenticate.
    const relabelled = sealedEnvelopeFor(parsed, 1);
    relabelled[35] = 0;
    expect(codeOf(() => open(relabelled, bob2))).toBe('SEALED_INVALID');
  });
  it('one message for every device is carried once', () => {
    const m = sealMessage(
      { certificate: certificateFor(alice), senderIdentityPrivate: alice.identityDh.privateKey, recipients: [recipient(bob1), recipient(bob2)], messages: [utf8('everyone')] },
      { rng },
    );
    expect(open(sealedEnvelopeFor(m, 1), bob2).message).toEqual(utf8('everyone'));
  });
  it('parsing an upload is strict', () => {
    const m = sealMessage({ certificate: certificateFor(alice), senderIdentityPrivate: alice.identityDh.privateKey, recipients: [recipient(bob1)], messages: [utf8('x')] }, { rng });
    const upload = encodeSealedMultiRecipient(m);
    expect(codeOf(() => parseSealedMultiRecipient(upload.subarray(0, upload.length - 1)))).toBe('MALFORMED');
    const zero = upload.slice();
    zero[35] = 0;
    zero[36] = 0;
    expect(codeOf(() => parseSealedMultiRecipient(zero))).toBe('MALFORMED');
    const v2 = upload.slice();
    v2[0] = 2;
    expect(codeOf(() => parseSealedMultiRecipient(v2))).toBe('MALFORMED');
    expect(codeOf(() => parseSealedMultiRecipient(upload, 100))).toBe('MALFORMED');
  });
});

describe('acceptance with a real session (DESIGN §3.6)', () => {
  function conversation() {
    const a = new Party(alice, rng, clock.now);
    const b = new Party(bob1, rng, clock.now);
    a.initiate(bob1);
    return { a, b };
  }
  const bobList = signedListFor(bobAccount, [bob1, bob2], 1, T0).list;
  const aliceList = signedListFor(alice.account, [alice], 1, T0).list;

  it('a genuine sealed message passes every rule', () => {
    const { a, b } = conversation();
    const opened = open(sealOne(bob1, a.encrypt(bob1, utf8('hi'))), bob1);
    const result = b.decrypt(alice, opened.message);
    expect(codeOf(() => acceptSealedSender(opened, aliceList, result.record.current!.remoteIdentityKey))).toBe('no error');
  });
  it('a device not on the sender\'s current list is UNKNOWN_DEVICE (the relay certified a removed device)', () => {
    const { a } = conversation();
    const removed = makeDevice(rng, T0, { account: alice.account, deviceId: 5 });
    const opened = open(sealOne(bob1, a.encrypt(bob1, utf8('hi')), removed), bob1);
    expect(codeOf(() => acceptSealedSender(opened, aliceList, removed.identityDh.publicKey))).toBe('UNKNOWN_DEVICE');
  });
  it('a listed device id with another key, another account\'s list, or a session with another identity is SEALED_SENDER_MISMATCH', () => {
    const { a } = conversation();
    const impostor = makeDevice(rng, T0, { account: alice.account, deviceId: 1 });
    const opened = open(sealOne(bob1, a.encrypt(bob1, utf8('hi')), impostor), bob1);
    expect(codeOf(() => acceptSealedSender(opened, aliceList, impostor.identityDh.publicKey))).toBe('SEALED_SENDER_MISMATCH');
    const genuine = open(sealOne(bob1, utf8('m')), bob1);
    expect(codeOf(() => acceptSealedSender(genuine, bobList, alice.identityDh.publicKey))).toBe('SEALED_SENDER_MISMATCH');
    expect(codeOf(() => acceptSealedSender(genuine, aliceList, x25519GenerateKeyPair(rng).publicKey))).toBe('SEALED_SENDER_MISMATCH');
  });
  it('a replayed sealed envelope opens again but its inner message is a duplicate, and nothing changes', () => {
    const { a, b } = conversation();
    const envelope = sealOne(bob1, a.encrypt(bob1, utf8('once')));
    b.decrypt(alice, open(envelope, bob1).message);
    const before = b.snapshot();
    expect(codeOf(() => b.decrypt(alice, open(envelope, bob1).message))).toBe('DUPLICATED_MESSAGE');
    expect(b.snapshot()).toBe(before);
  });
});

describe('deniability of the sealed layer (DESIGN §3.4)', () => {
  it('Bob forges a sealed envelope "from" Alice with only his private key, her public key and a certificate of hers he received: his open path accepts it', () => {
    // A genuine certificate of Alice's, as Bob finds it inside any sealed envelope she sent him.
    const aliceCertificate = open(sealOne(bob1, utf8('genuine')), bob1).certificate;
    const certificateBytes = certificateFor(alice); // the same fields and signature the relay gave her
    expect(parseSenderCertificate(certificateBytes).accountId).toEqual(aliceCertificate.accountId);
    // Bob's forgery: §21.3 with the static DH computed from HIS side, DH(IK_B, IK_A) = DH(IK_A, IK_B).
    const secret = rng(32);
    const e = hkdfSha256(secret, undefined, label('SealedEphemeral'), 32);
    const K = hkdfSha256(secret, undefined, label('SealedContentKey'), 32);
    const E = x25519PublicKey(e);
    const enc = (k: Uint8Array) => new Writer().key(KeyType.X25519, k).finish();
    const inner = utf8('words Alice never wrote');
    const payload = new Writer().bytes(certificateBytes).key(KeyType.X25519, alice.identityDh.publicKey).u16(1).var32(inner).finish();
    const shared = aesGcmSeal(K, new Uint8Array(12), pad(payload), new Writer().bytes(label('SealedAd')).u8(1).key(KeyType.X25519, E).finish());
    const R = bob1.identityDh.publicKey;
    const W = hkdfSha256(x25519(e, R), undefined, new Writer().bytes(label('SealedWrap')).bytes(enc(E)).bytes(enc(R)).finish(), 32);
    const C = secret.map((b, i) => b ^ W[i]!);
    const staticDh = x25519(bob1.identityDh.privateKey, alice.identityDh.publicKey); // Bob's key, not Alice's
    const authInfo = new Writer().bytes(label('SealedAuth')).bytes(enc(E)).bytes(enc(alice.identityDh.publicKey)).bytes(enc(R)).u16(0).bytes(C).bytes(sha256(shared)).finish();
    const A = hkdfSha256(staticDh, undefined, authInfo, 16);
    const forged = new Writer().u8(1).key(KeyType.X25519, E).u16(0).bytes(C).bytes(A).bytes(shared).finish();
    const opened = open(forged, bob1);
    expect(opened.message).toEqual(inner);
    expect(opened.certificate.accountId).toEqual(alice.account.accountId);
    const aliceList = signedListFor(alice.account, [alice], 1, T0).list;
    expect(codeOf(() => acceptSealedSender(opened, aliceList, alice.identityDh.publicKey))).toBe('no error');
    // So the sealed layer proves nothing to a third party about who sent it; the certificate only
    // proves the relay vouched for Alice's device at a time (threat-model.md).
  });
});

