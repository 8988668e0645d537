/**
 * This account's own device list over time (DESIGN §3.2): the owner re-signs it at least every
 * DEVICE_LIST_RESIGN_MS (7 days) while online — same devices, a new issued-at and the next version
 * (a re-signature under the same version would be equivocation to every peer) — and at once when
 * this device's entry does not advertise exactly what this build can show (BUILD_CAPABILITIES,
 * docs/protocol.md §4.4, ADR 0023): after an upgrade, peers learn the new capabilities at the
 * next open. Only the primary device holds the account key and can do either. Uploading the new
 * list belongs to the relay client (Contacts.syncOwnList at every connection, or the caller).
 */
import { Capability } from '../../../shared/protocol/constants.js';
import { needsResign, parseDeviceList, signDeviceList } from '../../../shared/protocol/device-list.js';
import { updateOwnDeviceList, type LocalAccount, type StoredDeviceList } from '../db/account.js';
import type { WriteDb } from '../db/database.js';

/** What this build can handle and show: its own entry's capabilities (no reserved bit). */
export const BUILD_CAPABILITIES = Capability.pq | Capability.files | Capability.profiles | Capability.groups | Capability.timers | Capability.sealed;

/**
 * Re-signs and stores the list when due, or when this device's entry advertises other capabilities
 * than `capabilities` (primary device only); returns the new signed list, or null.
 */
export function resignDeviceListIfDue(db: WriteDb, account: LocalAccount, now: number, capabilities: number = BUILD_CAPABILITIES): StoredDeviceList | null {
  if (account.accountPrivateKey === null) return null;
  const { list } = parseDeviceList(account.deviceList.signed);
  const own = list.devices.find((d) => d.deviceId === account.deviceId);
  const advertise = own !== undefined && own.capabilities !== capabilities;
  if (!needsResign(list, now) && !advertise) return null;
  const devices = advertise ? list.devices.map((d) => (d.deviceId === account.deviceId ? { ...d, capabilities } : d)) : list.devices;
  const next = { ...list, devices, version: list.version + 1, issuedAt: now };
  const stored: StoredDeviceList = { signed: signDeviceList(next, account.accountPrivateKey), version: next.version, issuedAt: now };
  db.transaction(() => updateOwnDeviceList(db, stored));
  return stored;
}
