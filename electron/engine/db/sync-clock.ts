/**
 * The last-writer-wins clock of sync between own devices (migration 0013, docs/adr/0026): for
 * each synced field, the (time, device id) of the change that set its current value. A change —
 * made here or arriving from another own device — is applied only when it is newer than the
 * stored one (a later time, or the same time from a higher device id), so every device ends with
 * the same value whatever order the changes reach it in. Does not own the fields themselves
 * (contacts.ts, settings.ts) or what a change does (messaging/sync.ts).
 */
import type { WriteDb } from './database.js';
import { sql } from './sql.js';

export type SyncScope = 'contact' | 'setting';

/** The key of the account-wide scope (settings). */
export const NO_KEY = new Uint8Array(0);

/**
 * Records a change of `field` at (`at`, `deviceId`) if it is newer than the stored one; returns
 * whether it was (the caller then applies it — in the same transaction).
 */
export function advanceSyncClock(db: WriteDb, scope: SyncScope, key: Uint8Array, field: string, at: number, deviceId: number): boolean {
  const stored = db.get<{ at: number; device_id: number }>(sql`SELECT at, device_id FROM sync_clock WHERE scope = ${scope} AND key = ${key} AND field = ${field}`);
  if (stored && (stored.at > at || (stored.at === at && stored.device_id >= deviceId))) return false;
  db.run(sql`
    INSERT INTO sync_clock (scope, key, field, at, device_id) VALUES (${scope}, ${key}, ${field}, ${at}, ${deviceId})
    ON CONFLICT (scope, key, field) DO UPDATE SET at = excluded.at, device_id = excluded.device_id`);
  return true;
}

/**
 * A change made here to `fields`: stamped with the later of `now` and one millisecond past the
 * newest change stored for any of them (a hybrid logical clock), so a change the person makes
 * after seeing another device's change wins everywhere even when this device's clock is behind.
 * Records the stamp for every field and returns it (the sync record's time).
 */
export function stampLocalChange(db: WriteDb, scope: SyncScope, key: Uint8Array, fields: readonly string[], now: number, deviceId: number): number {
  let at = now;
  for (const field of fields) {
    const stored = db.get<{ at: number }>(sql`SELECT at FROM sync_clock WHERE scope = ${scope} AND key = ${key} AND field = ${field}`);
    if (stored && stored.at + 1 > at) at = stored.at + 1;
  }
  for (const field of fields) {
    db.run(sql`
      INSERT INTO sync_clock (scope, key, field, at, device_id) VALUES (${scope}, ${key}, ${field}, ${at}, ${deviceId})
      ON CONFLICT (scope, key, field) DO UPDATE SET at = excluded.at, device_id = excluded.device_id`);
  }
  return at;
}

/** A contact's clock goes with the contact (a deleted message request). */
export function dropContactClock(db: WriteDb, accountId: Uint8Array): void {
  db.run(sql`DELETE FROM sync_clock WHERE scope = 'contact' AND key = ${accountId}`);
}
