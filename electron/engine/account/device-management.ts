/**
 * Device management (issue 14, DESIGN §3.2, ADR 0027): Settings → Linked devices. Lists this
 * account's devices from its own signed list with the names this device knows and the coarse
 * "last active" day the relay reports for the account's own devices; renames a device (the primary
 * any device, another device only itself) and tells the other devices (device-names content,
 * docs/protocol.md §20.12); removes a device (primary only): the list is re-signed without it
 * (version + 1) and published — the relay then drops the device's sessions, tokens, prekeys and
 * mailbox and closes its channel — and stored here, the sessions with it dropped, and the remaining
 * devices told (its names content makes them fetch the new list at once).
 *
 * Does not own: the removed device's side (messaging/own-devices.ts proves the removal, engine.ts
 * wipes), linking (linking/), peers' reaction (their next send gets MISMATCHED_DEVICES and refetches
 * the list: messaging/outbox.ts).
 */
import type { OwnDeviceView } from '../../../shared/api/view-models.js';
import { parseDeviceList, signDeviceList } from '../../../shared/protocol/device-list.js';
import { updateOwnDeviceList, type LocalAccount, type StoredDeviceList } from '../db/account.js';
import type { ReadDb } from '../db/database.js';
import { deleteDeviceName, deviceNames, setDeviceName } from '../db/device-names.js';
import { EngineError } from '../errors.js';
import { announceOwnList } from '../transparency/key-transparency.js';
import { deviceNameProblem } from '../messaging/content.js';
import { dropRemovedDevices } from '../messaging/contacts.js';
import type { MessagingCore } from '../messaging/fan-out.js';
import { queueDeviceNames } from '../messaging/own-devices.js';
import { PRIMARY_DEVICE_ID } from './bootstrap.js';

/** The relay keeps activity by UTC day (relay migration 0005). */
export const ACTIVITY_DAY_MS = 86_400_000;

/** How long Linked devices waits for the relay's activity days before it shows the list without them. */
export const ACTIVITY_TIMEOUT_MS = 3_000;

/** The devices of this account's own signed list, with names and (when known) last active days. */
export function ownDeviceViews(db: ReadDb, account: LocalAccount, lastActiveDays: ReadonlyMap<number, number | null> = new Map()): OwnDeviceView[] {
  const names = deviceNames(db);
  return parseDeviceList(account.deviceList.signed).list.devices.map((d) => {
    const day = lastActiveDays.get(d.deviceId) ?? null;
    return {
      deviceId: d.deviceId,
      name: names.get(d.deviceId) ?? null,
      addedAt: d.addedAt,
      lastActiveAt: day === null ? null : day * ACTIVITY_DAY_MS,
      thisDevice: d.deviceId === account.deviceId,
      primary: d.deviceId === PRIMARY_DEVICE_ID,
    };
  });
}

/** The relay's last active day per own device; empty when it does not answer in time (the list still shows). */
export async function lastActiveDays(core: MessagingCore): Promise<Map<number, number | null>> {
  try {
    const answer = await Promise.race([
      core.relay.ownDevices(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ACTIVITY_TIMEOUT_MS).unref()),
    ]);
    return new Map(answer.devices.map((d) => [d.deviceId, d.lastActiveDay]));
  } catch {
    return new Map();
  }
}

/** A name as typed, trimmed; INVALID_DEVICE_NAME with the reason otherwise. */
export function checkDeviceName(input: string): string {
  const name = input.trim();
  switch (deviceNameProblem(name)) {
    case null:
      return name;
    case 'empty':
      throw new EngineError('INVALID_DEVICE_NAME', 'a device name cannot be empty');
    case 'too-long':
      throw new EngineError('INVALID_DEVICE_NAME', 'a device name is at most 128 bytes');
    case 'control-characters':
      throw new EngineError('INVALID_DEVICE_NAME', 'a device name cannot contain line breaks or control characters');
    case 'markup':
      throw new EngineError('INVALID_DEVICE_NAME', 'a device name cannot contain < or >');
  }
}

function listedDevice(account: LocalAccount, deviceId: number) {
  const list = parseDeviceList(account.deviceList.signed).list;
  const device = list.devices.find((d) => d.deviceId === deviceId);
  if (!device) throw new EngineError('NOT_FOUND', 'this account has no such device');
  return { list, device };
}

/** devices:rename — stored here, then the account's other devices are told. */
export function renameDevice(core: MessagingCore, deviceId: number, input: string, kick: () => void): void {
  const account = core.account;
  const name = checkDeviceName(input);
  listedDevice(account, deviceId);
  if (account.accountPrivateKey === null && deviceId !== account.deviceId) {
    throw new EngineError('NOT_PRIMARY_DEVICE', 'only the primary device can rename other devices');
  }
  const db = core.db.writer;
  db.transaction(() => {
    setDeviceName(db, deviceId, name, core.clock());
    queueDeviceNames(core, db);
  });
  core.emit('devices:changed', {});
  kick();
}

/**
 * devices:remove — primary only, never itself. Publishing comes first: until the relay holds the
 * new list nothing changes here (a failure leaves everything as it was, RELAY_UNAVAILABLE).
 */
export async function removeDevice(core: MessagingCore, deviceId: number, kick: () => void): Promise<void> {
  const account = core.account;
  const accountPrivateKey = account.accountPrivateKey;
  if (accountPrivateKey === null) throw new EngineError('NOT_PRIMARY_DEVICE', 'only the primary device can remove devices');
  if (deviceId === account.deviceId) throw new EngineError('CANNOT_REMOVE_THIS_DEVICE', 'the primary device cannot remove itself');
  const { list } = listedDevice(account, deviceId);
  const now = core.clock();
  const next = { ...list, version: list.version + 1, issuedAt: now, devices: list.devices.filter((d) => d.deviceId !== deviceId) };
  const stored: StoredDeviceList = { signed: signDeviceList(next, accountPrivateKey), version: next.version, issuedAt: now };
  announceOwnList(core, stored.signed);
  await core.relay.putDeviceList(stored.signed);
  core.checkApi();
  const db = core.db.writer;
  db.transaction(() => {
    updateOwnDeviceList(db, stored);
    dropRemovedDevices(db, account.accountId, list, next);
    deleteDeviceName(db, deviceId);
  });
  core.account = { ...core.account, deviceList: stored };
  // The remaining devices learn of it at once: the names content makes them fetch the new list.
  db.transaction(() => queueDeviceNames(core, db, true));
  core.emit('devices:changed', {});
  kick();
}
