/**
 * This account's devices as each of its devices sees them (issue 14 "Device management", ADR 0027,
 * docs/protocol.md §20.12–20.13):
 *
 *  - device names travel between the account's own devices as device-names content (0x0C): a
 *    device sends its own name (after linking, after a rename of itself), the primary sends every
 *    name it knows (after a link, a rename, a removal). A receiver takes a name only from an own,
 *    listed device — the primary for any listed device, any other device for itself — and only when
 *    newer than the one it holds; receiving one also makes it compare its own list with the relay's
 *    (a name after a link or removal is the hint that the list changed);
 *  - alerts: a change to this account's list that this device did not make (adopted from the
 *    relay, DESIGN §3.2) becomes a notice in the note to self for each device linked or removed;
 *    a contact's list that gains or loses a device becomes a notice in their conversation;
 *  - removal: a verified, newer list of this account that does not name this device (with its
 *    keys) is the proof that the primary removed it (`isRemovalProof`); the engine then wipes.
 *
 * Does not own signing or publishing lists (account/device-management.ts, linking/primary.ts),
 * nor the wipe (engine.ts).
 */
import { bytesEqual } from '../../../shared/crypto/bytes.js';
import { verifyDeviceList, type DeviceList } from '../../../shared/protocol/device-list.js';
import type { PeerDevice } from '../../../shared/protocol/session.js';
import { parsedDeviceList } from '../account/device-list-cache.js';
import type { LocalAccount } from '../db/account.js';
import { findDirectConversation } from '../db/conversations.js';
import type { WriteDb } from '../db/database.js';
import { deleteDeviceName, deviceNameRecords, deviceNames, mergeDeviceName } from '../db/device-names.js';
import { encodeContent, MESSAGE_ID_LENGTH, type Content, type DeviceNameEntry } from './content.js';
import type { MessagingCore } from './fan-out.js';
import { insertNotice } from './notices.js';

/** The device that created the account and holds its key (account/bootstrap.ts PRIMARY_DEVICE_ID). */
const PRIMARY_DEVICE_ID = 1;

type Entry = DeviceList['devices'][number];

const sameDevice = (a: Entry, b: Entry): boolean => a.deviceId === b.deviceId && bytesEqual(a.identityDhKey, b.identityDhKey) && bytesEqual(a.identitySigningKey, b.identitySigningKey);

/** Devices of `after` not in `before`, and of `before` not in `after` (a re-keyed id is both). */
export function deviceChanges(before: DeviceList, after: DeviceList): { readonly added: Entry[]; readonly removed: Entry[] } {
  return {
    added: after.devices.filter((d) => !before.devices.some((b) => sameDevice(b, d))),
    removed: before.devices.filter((d) => !after.devices.some((a) => sameDevice(a, d))),
  };
}

/**
 * Whether `signed` proves that this device was removed: a list of this account that verifies under
 * its account key, newer than the one this device holds, without this device (with its keys). A
 * relay cannot make one (it would need the account key), so only then does the device wipe itself.
 */
export function isRemovalProof(account: LocalAccount, signed: Uint8Array): boolean {
  let list: DeviceList;
  try {
    list = verifyDeviceList(signed, account.accountPublicKey, account.accountId);
  } catch {
    return false;
  }
  if (list.version <= account.deviceList.version) return false;
  return !list.devices.some((d) => d.deviceId === account.deviceId && bytesEqual(d.identityDhKey, account.identityDh.publicKey));
}

/** The names this device sends: the primary every listed one it knows, another device its own. */
function namesToSend(core: MessagingCore, db: WriteDb): DeviceNameEntry[] {
  const listed = new Set(parsedDeviceList(core.account.deviceList.signed).list.devices.map((d) => d.deviceId));
  const primary = core.account.accountPrivateKey !== null;
  return deviceNameRecords(db).filter((n) => listed.has(n.deviceId) && (primary || n.deviceId === core.account.deviceId));
}

/**
 * Queues the device-names content to this account's other devices (caller's transaction). Nothing
 * when there is no other device, or no name to tell unless `listChanged` (then it goes even empty:
 * the receivers fetch the list).
 */
export function queueDeviceNames(core: MessagingCore, db: WriteDb, listChanged = false): boolean {
  const self = core.account.accountId;
  if (core.targetDevices(db, self).length === 0) return false;
  const names = namesToSend(core, db);
  if (names.length === 0 && !listChanged) return false;
  const content = encodeContent({ type: 'device-names', messageId: core.rng(MESSAGE_ID_LENGTH), sentAt: core.clock(), names });
  core.queueSend(db, { kind: 'sync', recipient: self, content, messageRowId: null });
  return true;
}

/** Applies received names from an own device (the caller checked it is listed). Returns whether any changed. */
export function applyDeviceNames(core: MessagingCore, db: WriteDb, peer: PeerDevice, content: Extract<Content, { type: 'device-names' }>): boolean {
  if (!core.isSelf(peer.accountId)) return false;
  const listed = new Set(parsedDeviceList(core.account.deviceList.signed).list.devices.map((d) => d.deviceId));
  const fromPrimary = peer.entry.deviceId === PRIMARY_DEVICE_ID;
  let changed = false;
  for (const entry of content.names) {
    if (!fromPrimary && entry.deviceId !== peer.entry.deviceId) continue; // a linked device names only itself
    // A device this device does not list (yet): its name arrives again with the next names it is sent.
    if (!listed.has(entry.deviceId)) continue;
    changed = mergeDeviceName(db, entry) || changed;
  }
  return changed;
}

/**
 * Notices in the note to self for a change of this account's list this device did not make (caller's
 * transaction): one per device linked or removed. Removed devices' names go after their notice.
 * Returns the new rows.
 */
export function ownListChangeNotices(core: MessagingCore, db: WriteDb, before: DeviceList, after: DeviceList): number[] {
  const { added, removed } = deviceChanges(before, after);
  const names = deviceNames(db);
  const now = core.clock();
  const self = core.account.accountId;
  const rows: number[] = [];
  for (const d of added) rows.push(insertNotice(db, self, self, 'device-linked', now, names.get(d.deviceId) ?? null).rowId);
  for (const d of removed) {
    rows.push(insertNotice(db, self, self, 'device-removed', now, names.get(d.deviceId) ?? null).rowId);
    if (!after.devices.some((a) => a.deviceId === d.deviceId)) deleteDeviceName(db, d.deviceId);
  }
  return rows;
}

/**
 * A contact's list gained or lost a device (same account key): a notice in their conversation, when
 * there is one (caller's transaction). Returns the row, or null.
 */
export function contactListChangeNotice(core: MessagingCore, db: WriteDb, accountId: Uint8Array, before: DeviceList, after: DeviceList): { rowId: number; conversationId: number } | null {
  const { added, removed } = deviceChanges(before, after);
  if (added.length === 0 && removed.length === 0) return null;
  if (!findDirectConversation(db, accountId)) return null;
  return insertNotice(db, core.account.accountId, accountId, 'contact-devices-changed', core.clock());
}
