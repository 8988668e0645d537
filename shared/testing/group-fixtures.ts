/**
 * Fixtures for group tests (sender keys, membership): people with an account key and one device
 * signing key, the device-list check the engine makes, proposing records, and a typed-error
 * assertion. Never imported by product code.
 */
import { compareBytes, toHex } from '../crypto/bytes.js';
import { ed25519GenerateKeyPair, type Ed25519KeyPair } from '../crypto/ed25519.js';
import type { Rng } from '../crypto/random.js';
import { isProtocolError, type ProtocolErrorCode } from '../protocol/errors.js';
import {
  proposeGroupRecord,
  type DeviceKeyCheck,
  type GroupMember,
  type GroupOperation,
  type Membership,
  type SignedGroupRecord,
} from '../protocol/group-membership.js';

/** An account (id and key) with one device (id and Ed25519 identity signing key). */
export type GroupPerson = {
  readonly accountId: Uint8Array;
  readonly accountKey: Ed25519KeyPair;
  readonly deviceId: number;
  readonly device: Ed25519KeyPair;
};

/** Draws: account id (16), account key seed (32), device signing seed (32). */
export function groupPerson(rng: Rng, deviceId = 1): GroupPerson {
  return { accountId: rng(16), accountKey: ed25519GenerateKeyPair(rng), deviceId, device: ed25519GenerateKeyPair(rng) };
}

export function asGroupMember(p: GroupPerson, admin = false): GroupMember {
  return { accountId: p.accountId, accountPublicKey: p.accountKey.publicKey, admin };
}

/** Members sorted by account id, as records carry them. */
export function sortedMembers(members: readonly GroupMember[]): GroupMember[] {
  return [...members].sort((a, b) => compareBytes(a.accountId, b.accountId));
}

/** The device-list check for these people's devices (what the engine answers from signed lists). */
export function listedDevices(people: readonly GroupPerson[]): DeviceKeyCheck {
  const listed = new Set(people.map((p) => `${toHex(p.accountId)}/${p.deviceId}/${toHex(p.device.publicKey)}`));
  return (accountId, deviceId, key) => listed.has(`${toHex(accountId)}/${deviceId}/${toHex(key)}`);
}

/** The next record on the head of `m`, authored and signed by `by`'s device. */
export function proposeBy(m: Membership, by: GroupPerson, op: Exclude<GroupOperation, { kind: 'create' }>, time: number): SignedGroupRecord {
  return proposeGroupRecord(m, { accountId: by.accountId, deviceId: by.deviceId, signingPublicKey: by.device.publicKey }, op, time, by.device.privateKey);
}

/** Runs `f` and throws unless it threw a ProtocolError with `code`. */
export function expectProtocolCode(f: () => unknown, code: ProtocolErrorCode): void {
  try {
    f();
  } catch (e) {
    if (isProtocolError(e) && e.code === code) return;
    throw new Error(`expected ProtocolError ${code}, got ${isProtocolError(e) ? e.code : String(e)}`);
  }
  throw new Error(`expected ProtocolError ${code}, nothing was thrown`);
}
