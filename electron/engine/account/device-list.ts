/**
 * This account's own device list over time (DESIGN §3.2): the owner re-signs it at least every
 * DEVICE_LIST_RESIGN_MS (7 days) while online — same devices, a new issued-at and the next version
 * (a re-signature under the same version would be equivocation to every peer). Only the primary
 * device holds the account key and can do it. Uploading the new list belongs to the relay client.
 */
import { needsResign, parseDeviceList, signDeviceList } from '../../../shared/protocol/device-list.js';
import { updateOwnDeviceList, type LocalAccount, type StoredDeviceList } from '../db/account.js';
import type { WriteDb } from '../db/database.js';

/** Re-signs and stores the list when due (primary device only); returns the new signed list, or null. */
export function resignDeviceListIfDue(db: WriteDb, account: LocalAccount, now: number): StoredDeviceList | null {
  if (account.accountPrivateKey === null) return null;
  const { list } = parseDeviceList(account.deviceList.signed);
  if (!needsResign(list, now)) return null;
  const next = { ...list, version: list.version + 1, issuedAt: now };
  const stored: StoredDeviceList = { signed: signDeviceList(next, account.accountPrivateKey), version: next.version, issuedAt: now };
  db.transaction(() => updateOwnDeviceList(db, stored));
  return stored;
}
