/**
 * device_names: what this account's devices are called (Settings → Linked devices), by device id.
 * Only names this device knows: its own (given at linking) for now. Does not own the device list
 * (the account row) or sync of names between devices (issue 14, later).
 */
import type { ReadDb, WriteDb } from './database.js';
import { sql } from './sql.js';

export function setDeviceName(db: WriteDb, deviceId: number, name: string, now: number): void {
  db.run(sql`INSERT INTO device_names (device_id, name, updated_at) VALUES (${deviceId}, ${name}, ${now})
    ON CONFLICT (device_id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at`);
}

export function deviceNames(db: ReadDb): Map<number, string> {
  return new Map(db.all<{ device_id: number; name: string }>(sql`SELECT device_id, name FROM device_names`).map((r) => [r.device_id, r.name]));
}
