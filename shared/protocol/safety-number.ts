/**
 * Safety numbers (DESIGN §3.2, docs/protocol.md "Safety numbers"): a per-contact number over both
 * account keys and account ids. Each side's fingerprint follows Signal's construction: start from
 * (u16 version ‖ Enc(account key) ‖ account id), then 5,200 times hash ← SHA-512(hash ‖ Enc(account key));
 * its first 30 bytes give 30 digits (six 5-byte big-endian chunks, each mod 100000, zero-padded).
 * The displayed number is both 30-digit halves sorted and joined (60 digits), so both sides see
 * the same string. The QR payload is version ‖ local fingerprint(32) ‖ remote fingerprint(32);
 * scanning the peer's payload compares it crosswise. Per-device fingerprints are short hashes of
 * each device's identity keys, listed beside the number.
 */
import { bytesEqual, concatBytes, constantTimeEqual, u16be } from '../crypto/bytes.js';
import { encodeEd25519, encodeX25519 } from '../crypto/encoding.js';
import { sha256, sha512 } from '../crypto/sha256.js';
import { Reader } from './codec.js';
import { ACCOUNT_ID_LENGTH, label } from './constants.js';
import type { DeviceEntry } from './device-list.js';
import { ProtocolError } from './errors.js';

export const SAFETY_NUMBER_VERSION = 1;
export const SAFETY_NUMBER_ITERATIONS = 5200;
const FINGERPRINT_LENGTH = 32;

export type SafetyParty = { readonly accountId: Uint8Array; readonly accountKey: Uint8Array };

/** The 32-byte fingerprint of one side (the first 32 bytes of the iterated hash). */
export function fingerprint(party: SafetyParty): Uint8Array {
  if (party.accountId.length !== ACCOUNT_ID_LENGTH) throw new ProtocolError('MALFORMED', 'bad account id');
  const key = encodeEd25519(party.accountKey);
  let hash = concatBytes(u16be(SAFETY_NUMBER_VERSION), key, party.accountId);
  for (let i = 0; i < SAFETY_NUMBER_ITERATIONS; i++) hash = sha512(hash, key);
  return hash.slice(0, FINGERPRINT_LENGTH);
}

/** 30 digits from the first 30 bytes: six 5-byte chunks, each as a 5-digit number mod 100000. */
export function fingerprintDigits(fp: Uint8Array): string {
  let out = '';
  for (let chunk = 0; chunk < 6; chunk++) {
    let v = 0;
    for (let i = 0; i < 5; i++) v = v * 256 + fp[chunk * 5 + i]!;
    out += String(v % 100000).padStart(5, '0');
  }
  return out;
}

export type SafetyNumber = {
  /** 60 digits: both halves sorted ascending as strings, then joined. */
  readonly digits: string;
  /** version ‖ local fingerprint ‖ remote fingerprint (for the local user's QR code). */
  readonly qrPayload: Uint8Array;
};

export function safetyNumber(local: SafetyParty, remote: SafetyParty): SafetyNumber {
  const l = fingerprint(local);
  const r = fingerprint(remote);
  const halves = [fingerprintDigits(l), fingerprintDigits(r)].sort();
  return {
    digits: halves.join(''),
    qrPayload: concatBytes(u16be(SAFETY_NUMBER_VERSION), l, r),
  };
}

/** Formats 60 digits as twelve groups of five for display. */
export function formatSafetyNumber(digits: string): string[] {
  return digits.match(/.{5}/g) ?? [];
}

export type QrComparison = 'match' | 'mismatch';

/**
 * Compares a scanned peer QR payload with our own view: their "local" must be our remote and their
 * "remote" our local. A malformed or other-version payload is MALFORMED (shown as "not a Parley
 * safety-number code").
 */
export function compareQrPayload(ours: SafetyNumber, scanned: Uint8Array): QrComparison {
  const r = new Reader(scanned, 'safety number QR');
  if (r.u16() !== SAFETY_NUMBER_VERSION) throw new ProtocolError('MALFORMED', 'unsupported safety number version');
  const theirLocal = r.bytes(FINGERPRINT_LENGTH);
  const theirRemote = r.bytes(FINGERPRINT_LENGTH);
  r.end();
  const ourLocal = ours.qrPayload.subarray(2, 2 + FINGERPRINT_LENGTH);
  const ourRemote = ours.qrPayload.subarray(2 + FINGERPRINT_LENGTH);
  const ok = constantTimeEqual(theirLocal, ourRemote) && constantTimeEqual(theirRemote, ourLocal);
  return ok ? 'match' : 'mismatch';
}

/**
 * A short per-device fingerprint: first 10 bytes of SHA-256("Parley_v1_DeviceFingerprint" ‖ Enc(X25519 IK) ‖ Enc(Ed25519 IK)),
 * as 20 hex digits in groups of four.
 */
export function deviceFingerprint(entry: DeviceEntry): string {
  const h = sha256(label('DeviceFingerprint'), encodeX25519(entry.identityDhKey), encodeEd25519(entry.identitySigningKey));
  const hex = Array.from(h.subarray(0, 10), (b) => b.toString(16).padStart(2, '0')).join('');
  return hex.match(/.{4}/g)!.join(' ');
}

/** True when two parties are the same account key (verified status resets when it changes). */
export function sameAccountKey(a: SafetyParty, b: SafetyParty): boolean {
  return bytesEqual(a.accountKey, b.accountKey) && bytesEqual(a.accountId, b.accountId);
}
