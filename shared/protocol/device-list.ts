/**
 * Device lists (DESIGN §3.2, docs/protocol.md "Device lists"): the account-key-signed set of an
 * account's devices. Owns encoding, signing, strict parsing and verification, the version rule
 * (newer wins; same version with different bytes is equivocation) and the freshness rule (stale
 * after 30 days: flagged, still usable). Does not own storage, key transparency (a later issue
 * overrides stale lists with KT-proven entries) or the decision to alert the user.
 */
import { bytesEqual } from '../crypto/bytes.js';
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.js';
import { KeyType } from '../crypto/encoding.js';
import { Reader, Writer } from './codec.js';
import {
  ACCOUNT_ID_LENGTH,
  DEVICE_LIST_RESIGN_MS,
  DEVICE_LIST_STALE_MS,
  Capability,
  type CapabilityName,
  MAX_DEVICES_PER_ACCOUNT,
  label,
} from './constants.js';
import { ProtocolError } from './errors.js';

export type DeviceEntry = {
  readonly deviceId: number;
  /** X25519 identity key (raw 32 bytes), used in PQXDH. */
  readonly identityDhKey: Uint8Array;
  /** Ed25519 identity key (raw 32 bytes), signs this device's prekeys and relay challenges. */
  readonly identitySigningKey: Uint8Array;
  /** Capability bits (constants.ts Capability; docs/protocol.md §4.4). */
  readonly capabilities: number;
  readonly addedAt: number;
};

export type DeviceList = {
  readonly accountId: Uint8Array;
  readonly version: number;
  readonly issuedAt: number;
  /** Sorted by deviceId, unique, 1..MAX_DEVICES_PER_ACCOUNT entries. */
  readonly devices: readonly DeviceEntry[];
};

export const DEVICE_LIST_SIGNATURE_LENGTH = 64;

function checkShape(list: DeviceList): void {
  if (list.accountId.length !== ACCOUNT_ID_LENGTH) throw new ProtocolError('MALFORMED', 'device list: bad account id');
  if (list.devices.length < 1 || list.devices.length > MAX_DEVICES_PER_ACCOUNT) {
    throw new ProtocolError('MALFORMED', 'device list: device count out of range');
  }
  let previous = 0;
  for (const d of list.devices) {
    if (!Number.isInteger(d.deviceId) || d.deviceId < 1 || d.deviceId > 0xffffffff) {
      throw new ProtocolError('MALFORMED', 'device list: bad device id');
    }
    if (d.deviceId <= previous) throw new ProtocolError('MALFORMED', 'device list: entries not sorted and unique');
    previous = d.deviceId;
    // Unknown capability bits are kept (forward compatibility); only the range is checked.
    if (!Number.isInteger(d.capabilities) || d.capabilities < 0 || d.capabilities > 0xffffffff) {
      throw new ProtocolError('MALFORMED', 'device list: bad capabilities');
    }
  }
}

/** The signed body: label ‖ account id ‖ u64 version ‖ u64 issued-at ‖ u8 count ‖ entries. */
export function encodeDeviceListBody(list: DeviceList): Uint8Array {
  checkShape(list);
  const w = new Writer()
    .bytes(label('DeviceList'))
    .bytes(list.accountId)
    .u64(list.version)
    .u64(list.issuedAt)
    .u8(list.devices.length);
  for (const d of list.devices) {
    w.u32(d.deviceId)
      .key(KeyType.X25519, d.identityDhKey)
      .key(KeyType.Ed25519, d.identitySigningKey)
      .u32(d.capabilities)
      .u64(d.addedAt);
  }
  return w.finish();
}

/** Signs the list with the account key: returns body ‖ signature (the bytes the relay stores). */
export function signDeviceList(list: DeviceList, accountPrivateKey: Uint8Array): Uint8Array {
  const body = encodeDeviceListBody(list);
  return new Writer().bytes(body).bytes(ed25519Sign(accountPrivateKey, body)).finish();
}

/** Parses signed list bytes without checking the signature (for display of evidence only). */
export function parseDeviceList(signed: Uint8Array): { list: DeviceList; body: Uint8Array; signature: Uint8Array } {
  const r = new Reader(signed, 'device list');
  const tag = r.bytes(label('DeviceList').length);
  if (!bytesEqual(tag, label('DeviceList'))) throw new ProtocolError('MALFORMED', 'device list: wrong label');
  const accountId = r.bytes(ACCOUNT_ID_LENGTH);
  const version = r.u64();
  const issuedAt = r.u64();
  const count = r.u8();
  if (count < 1 || count > MAX_DEVICES_PER_ACCOUNT) throw new ProtocolError('MALFORMED', 'device list: device count out of range');
  const devices: DeviceEntry[] = [];
  for (let i = 0; i < count; i++) {
    devices.push({
      deviceId: r.u32(),
      identityDhKey: r.key(KeyType.X25519),
      identitySigningKey: r.key(KeyType.Ed25519),
      capabilities: r.u32(),
      addedAt: r.u64(),
    });
  }
  const bodyLength = r.position;
  const signature = r.bytes(DEVICE_LIST_SIGNATURE_LENGTH);
  r.end();
  const list: DeviceList = { accountId, version, issuedAt, devices };
  checkShape(list);
  return { list, body: signed.slice(0, bodyLength), signature };
}

/**
 * Parses and verifies signed list bytes under the account key. `expectedAccountId`, when given,
 * must match (a relay cannot serve one account's list for another).
 */
export function verifyDeviceList(
  signed: Uint8Array,
  accountPublicKey: Uint8Array,
  expectedAccountId?: Uint8Array,
): DeviceList {
  const { list, body, signature } = parseDeviceList(signed);
  if (!ed25519Verify(accountPublicKey, body, signature)) {
    throw new ProtocolError('BAD_SIGNATURE', 'device list: signature does not verify under the account key');
  }
  if (expectedAccountId && !bytesEqual(list.accountId, expectedAccountId)) {
    throw new ProtocolError('UNTRUSTED_IDENTITY', 'device list: for another account');
  }
  return list;
}

/**
 * The version rule: a candidate replaces `current` only with a higher version. The same version
 * with different content is proof that the account key signed two lists (CONFLICTING_VERSION);
 * the same bytes again are a harmless repeat (returns `current`).
 */
export function acceptDeviceList(
  current: { readonly list: DeviceList; readonly signed: Uint8Array } | undefined,
  candidateSigned: Uint8Array,
  accountPublicKey: Uint8Array,
): { readonly list: DeviceList; readonly signed: Uint8Array; readonly changed: boolean } {
  const list = verifyDeviceList(candidateSigned, accountPublicKey, current?.list.accountId);
  if (!current) return { list, signed: candidateSigned, changed: true };
  if (list.version > current.list.version) return { list, signed: candidateSigned, changed: true };
  if (list.version === current.list.version) {
    if (bytesEqual(candidateSigned, current.signed)) return { ...current, changed: false };
    throw new ProtocolError('CONFLICTING_VERSION', 'device list: two different lists with the same version');
  }
  throw new ProtocolError('STALE_VERSION', 'device list: older than the one already held (rollback)');
}

export type DeviceListFreshness = 'fresh' | 'stale';

/** The owner re-signs its list (new issued-at, same devices, version + 1) at least this often while online. */
export function needsResign(list: DeviceList, now: number): boolean {
  return now - list.issuedAt >= DEVICE_LIST_RESIGN_MS;
}

/** Stale after DEVICE_LIST_STALE_MS without a re-signature: shown, but its devices stay usable. */
export function deviceListFreshness(list: DeviceList, now: number): DeviceListFreshness {
  return now - list.issuedAt > DEVICE_LIST_STALE_MS ? 'stale' : 'fresh';
}

export function findDevice(list: DeviceList, deviceId: number): DeviceEntry | undefined {
  return list.devices.find((d) => d.deviceId === deviceId);
}

/** The entry for `deviceId`, or UNKNOWN_DEVICE: messages from unlisted devices are rejected. */
export function requireDevice(list: DeviceList, deviceId: number): DeviceEntry {
  const entry = findDevice(list, deviceId);
  if (!entry) throw new ProtocolError('UNKNOWN_DEVICE', 'device is not on the account\'s signed list');
  return entry;
}

export function hasPq(entry: DeviceEntry): boolean {
  return hasCapability(entry, 'pq');
}

/** Whether the account-signed entry advertises `capability` (docs/protocol.md §4.4). */
export function hasCapability(entry: DeviceEntry, capability: CapabilityName): boolean {
  return (entry.capabilities & Capability[capability]) !== 0;
}

/**
 * A capabilities value read as §4.4 names it: the named bits it sets (in bit order, reserved names
 * included) and the bits no name covers (kept, never an error: a newer version's capabilities).
 */
export function describeCapabilities(capabilities: number): { readonly names: CapabilityName[]; readonly unknownBits: number } {
  const names = (Object.keys(Capability) as CapabilityName[]).filter((name) => (capabilities & Capability[name]) !== 0);
  const named = Object.values(Capability).reduce((all, bit) => all | bit, 0);
  return { names, unknownBits: (capabilities & ~named) >>> 0 };
}
