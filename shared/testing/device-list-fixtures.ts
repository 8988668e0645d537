/**
 * Device-list fixtures for multi-device tests before device linking exists (a later issue): with an
 * account's private key (taken from a test profile's database), add a fresh protocol device to the
 * account's signed list, or take one off, as the primary would. The result is a real list, signed
 * by the real account key, one version above the given one — what linking will publish. Never
 * imported by product code.
 */
import type { Clock, Rng } from '../crypto/random.js';
import { ed25519PublicKey } from '../crypto/ed25519.js';
import { parseDeviceList, signDeviceList, type DeviceList } from '../protocol/device-list.js';
import { makeDevice, type TestDevice } from './protocol-fixtures.js';

export type SignedList = { readonly list: DeviceList; readonly signed: Uint8Array };

/** The next version of `current` with `devices` as its entries, re-signed with the account key. */
export function resignedList(current: Uint8Array, accountPrivateKey: Uint8Array, devices: DeviceList['devices'], issuedAt: number): SignedList {
  const { list } = parseDeviceList(current);
  const next: DeviceList = {
    accountId: list.accountId,
    version: list.version + 1,
    issuedAt,
    devices: [...devices].sort((a, b) => a.deviceId - b.deviceId),
  };
  return { list: next, signed: signDeviceList(next, accountPrivateKey) };
}

/**
 * A new device for the account of `current` (a signed list) with its own identity keys and
 * prekeys, and the account's next list naming it besides the existing devices.
 */
export function linkTestDevice(
  current: Uint8Array,
  accountPrivateKey: Uint8Array,
  deps: { readonly rng: Rng; readonly now: Clock },
  opts: { readonly deviceId?: number; readonly oneTimePrekeys?: number; readonly kemOneTimePrekeys?: number; readonly capabilities?: number } = {},
): { readonly device: TestDevice; readonly next: SignedList } {
  const { list } = parseDeviceList(current);
  const deviceId = opts.deviceId ?? Math.max(...list.devices.map((d) => d.deviceId)) + 1;
  const account = { accountId: list.accountId, accountKey: { privateKey: accountPrivateKey, publicKey: ed25519PublicKey(accountPrivateKey) } };
  const device = makeDevice(deps.rng, deps.now(), {
    account,
    deviceId,
    ...(opts.oneTimePrekeys !== undefined && { oneTimePrekeys: opts.oneTimePrekeys }),
    ...(opts.kemOneTimePrekeys !== undefined && { kemOneTimePrekeys: opts.kemOneTimePrekeys }),
    ...(opts.capabilities !== undefined && { capabilities: opts.capabilities }),
  });
  return { device, next: resignedList(current, accountPrivateKey, [...list.devices, device.entry], deps.now()) };
}

/** The account's next list without `deviceId` (the primary removed that device). */
export function unlinkTestDevice(current: Uint8Array, accountPrivateKey: Uint8Array, deviceId: number, now: number): SignedList {
  const { list } = parseDeviceList(current);
  return resignedList(current, accountPrivateKey, list.devices.filter((d) => d.deviceId !== deviceId), now);
}
