/**
 * Settings rows: one JSON value per setting name, validated against shared/api's SettingsSchema on
 * every read, so a damaged or foreign value falls back to its default instead of reaching the UI.
 */
import { DEFAULT_SETTINGS, SettingsSchema, type Settings } from '../../../shared/api/view-models.js';
import type { ReadDb, WriteDb } from './database.js';
import { sql } from './sql.js';

const NAMES = Object.keys(DEFAULT_SETTINGS) as (keyof Settings)[];

export function readSettings(db: ReadDb): Settings {
  const stored: Record<string, unknown> = {};
  for (const r of db.all<{ name: string; value: string }>(sql`SELECT name, value FROM settings`)) {
    if (!(NAMES as string[]).includes(r.name)) continue;
    try {
      stored[r.name] = JSON.parse(r.value);
    } catch {
      // a damaged value: the default applies
    }
  }
  const merged: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  for (const name of NAMES) {
    if (!(name in stored)) continue;
    const one = SettingsSchema.shape[name].safeParse(stored[name]);
    if (one.success) merged[name] = one.data;
  }
  return SettingsSchema.parse(merged);
}

/** Writes the given settings (already validated by the caller's request schema). */
export function writeSettings(db: WriteDb, patch: Partial<Settings>): void {
  for (const name of NAMES) {
    if (!(name in patch)) continue;
    const value = JSON.stringify(patch[name] ?? null);
    db.run(sql`INSERT INTO settings (name, value) VALUES (${name}, ${value}) ON CONFLICT (name) DO UPDATE SET value = excluded.value`);
  }
}
