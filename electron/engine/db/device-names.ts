/**
 * device_names: what this account's devices are called (Settings → Linked devices), by device id,
 * with when each name was given (`updated_at`, the namer's clock: the newest name wins on every
 * device, docs/protocol.md §20.12). A device stores its own name at linking; names of the other
 * devices arrive with the device-names content (messaging/own-devices.ts), and a rename on the
 * primary is stored here first. Does not own the device list (the account row) or who may name whom.
 */
import type { ReadDb, WriteDb } from './database.js';
import { sql } from './sql.js';

export type DeviceNameRecord = { readonly deviceId: number; readonly name: string; readonly namedAt: number };

export function setDeviceName(db: WriteDb, deviceId: number, name: string, now: number): void {
  db.run(sql`INSERT INTO device_names (device_id, name, updated_at) VALUES (${deviceId}, ${name}, ${now})
    ON CONFLICT (device_id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at`);
}

/**
 * Stores a received name only when it is newer than the one held (same time: the greater name, so
 * every device converges on one). Returns whether anything changed.
 */
export function mergeDeviceName(db: WriteDb, entry: DeviceNameRecord): boolean {
  const held = db.get<{ name: string; updated_at: number }>(sql`SELECT name, updated_at FROM device_names WHERE device_id = ${entry.deviceId}`);
  if (held && (held.updated_at > entry.namedAt || (held.updated_at === entry.namedAt && held.name >= entry.name))) return false;
  setDeviceName(db, entry.deviceId, entry.name, entry.namedAt);
  return true;
}

export function deleteDeviceName(db: WriteDb, deviceId: number): void {
  db.run(sql`DELETE FROM device_names WHERE device_id = ${deviceId}`);
}

export function deviceNames(db: ReadDb): Map<number, string> {
  return new Map(db.all<{ device_id: number; name: string }>(sql`SELECT device_id, name FROM device_names`).map((r) => [r.device_id, r.name]));
}

export function deviceNameRecords(db: ReadDb): DeviceNameRecord[] {
  return db
    .all<{ device_id: number; name: string; updated_at: number }>(sql`SELECT device_id, name, updated_at FROM device_names ORDER BY device_id`)
    .map((r) => ({ deviceId: r.device_id, name: r.name, namedAt: r.updated_at }));
}
