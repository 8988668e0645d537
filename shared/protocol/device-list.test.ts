import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deterministicRng } from '../testing/deterministic-rng.js';
import { makeAccount, makeDevice, signedListFor } from '../testing/protocol-fixtures.js';
import { DEVICE_LIST_STALE_MS, MAX_DEVICES_PER_ACCOUNT } from './constants.js';
import {
  acceptDeviceList,
  deviceListFreshness,
  encodeDeviceListBody,
  parseDeviceList,
  requireDevice,
  signDeviceList,
  verifyDeviceList,
} from './device-list.js';
import { isProtocolError } from './errors.js';

const T0 = Date.UTC(2026, 10, 1);

function fixture(seed: string, devices = 2) {
  const rng = deterministicRng(seed);
  const account = makeAccount(rng);
  const devs = Array.from({ length: devices }, (_, i) => makeDevice(rng, T0, { account, deviceId: i + 1 }));
  return { rng, account, devs };
}

describe('device lists', () => {
  it('property: a signed list verifies under the account key and parses back to the same list', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_DEVICES_PER_ACCOUNT }), fc.nat({ max: 1_000_000 }), fc.string({ maxLength: 5 }), (n, version, seed) => {
        const { account, devs } = fixture(`prop-${seed}`, n);
        const { list, signed } = signedListFor(account, devs, version, T0);
        expect(verifyDeviceList(signed, account.accountKey.publicKey, account.accountId)).toEqual(list);
      }),
      { numRuns: 30 },
    );
  });

  it('rejects a list signed by another key, for another account, or with a flipped bit', () => {
    const { rng, account, devs } = fixture('reject');
    const other = makeAccount(rng);
    const { signed } = signedListFor(account, devs, 1, T0);
    expect(() => verifyDeviceList(signed, other.accountKey.publicKey)).toThrowError(expect.objectContaining({ code: 'BAD_SIGNATURE' }));
    expect(() => verifyDeviceList(signed, account.accountKey.publicKey, other.accountId)).toThrowError(expect.objectContaining({ code: 'UNTRUSTED_IDENTITY' }));
    for (let i = 0; i < signed.length; i += 7) {
      const bad = signed.slice();
      bad[i]! ^= 0x10;
      let error: unknown;
      try {
        verifyDeviceList(bad, account.accountKey.publicKey);
      } catch (e) {
        error = e;
      }
      expect(isProtocolError(error)).toBe(true);
    }
  });

  it('newer versions replace older ones; a rollback is STALE_VERSION; the same version with other devices is CONFLICTING_VERSION', () => {
    const { account, devs } = fixture('versions', 3);
    const v1 = signedListFor(account, devs.slice(0, 1), 1, T0);
    const v2 = signedListFor(account, devs.slice(0, 2), 2, T0);
    const v2b = signedListFor(account, [devs[0]!, devs[2]!], 2, T0);
    const key = account.accountKey.publicKey;
    const held = acceptDeviceList(undefined, v1.signed, key);
    const newer = acceptDeviceList(held, v2.signed, key);
    expect(newer.changed).toBe(true);
    expect(newer.list.devices.length).toBe(2);
    expect(acceptDeviceList(newer, v2.signed, key).changed).toBe(false);
    expect(() => acceptDeviceList(newer, v1.signed, key)).toThrowError(expect.objectContaining({ code: 'STALE_VERSION' }));
    expect(() => acceptDeviceList(newer, v2b.signed, key)).toThrowError(expect.objectContaining({ code: 'CONFLICTING_VERSION' }));
  });

  it('refuses more than 6 devices, unsorted or duplicate ids, and trailing bytes', () => {
    const { account, devs } = fixture('shape', 7);
    const base = { accountId: account.accountId, version: 1, issuedAt: T0 };
    expect(() => encodeDeviceListBody({ ...base, devices: devs.map((d) => d.entry) })).toThrowError(expect.objectContaining({ code: 'MALFORMED' }));
    expect(() => encodeDeviceListBody({ ...base, devices: [devs[1]!.entry, devs[0]!.entry] })).toThrowError(expect.objectContaining({ code: 'MALFORMED' }));
    expect(() => encodeDeviceListBody({ ...base, devices: [devs[0]!.entry, devs[0]!.entry] })).toThrowError(expect.objectContaining({ code: 'MALFORMED' }));
    const signed = signDeviceList({ ...base, devices: [devs[0]!.entry] }, account.accountKey.privateKey);
    expect(() => parseDeviceList(new Uint8Array([...signed, 0]))).toThrowError(expect.objectContaining({ code: 'MALFORMED' }));
  });

  it('refuses an entry with a small-order Ed25519 identity key at import', () => {
    const { account, devs } = fixture('small-order', 1);
    const identity = Uint8Array.of(1, ...new Uint8Array(31));
    const list = { accountId: account.accountId, version: 1, issuedAt: T0, devices: [{ ...devs[0]!.entry, identitySigningKey: identity }] };
    const signed = signDeviceList(list, account.accountKey.privateKey);
    expect(() => verifyDeviceList(signed, account.accountKey.publicKey)).toThrowError(expect.objectContaining({ code: 'INVALID_KEY' }));
  });

  it('a list not re-signed for 30 days is stale but its devices stay usable; unlisted devices are UNKNOWN_DEVICE', () => {
    const { account, devs } = fixture('fresh');
    const { list } = signedListFor(account, devs, 1, T0);
    expect(deviceListFreshness(list, T0 + DEVICE_LIST_STALE_MS)).toBe('fresh');
    expect(deviceListFreshness(list, T0 + DEVICE_LIST_STALE_MS + 1)).toBe('stale');
    expect(requireDevice(list, 2).deviceId).toBe(2);
    expect(() => requireDevice(list, 3)).toThrowError(expect.objectContaining({ code: 'UNKNOWN_DEVICE' }));
  });
});
