/**
 * Schema version 13: the last-writer-wins clock of sync between own devices (issue 14,
 * docs/adr/0026, docs/protocol.md §16.1).
 *
 *  - sync_clock: per synced field (a contact's verified or blocked flag, a synced setting) the
 *    time and device of the change that set its current value — a change made here, or one
 *    applied from another own device. A sync record older than the stored one (by time, then
 *    device id) does not overwrite the field. `scope` is 'contact' (key: the contact's account id)
 *    or 'setting' (key: the empty blob).
 */
import type { Migration } from '../migrate.js';

export const migration0013: Migration = {
  version: 13,
  name: 'sync-clock',
  up(db) {
    db.exec(`CREATE TABLE sync_clock (
      scope TEXT NOT NULL CHECK (scope IN ('contact', 'setting')),
      key BLOB NOT NULL,
      field TEXT NOT NULL,
      at INTEGER NOT NULL,
      device_id INTEGER NOT NULL CHECK (device_id >= 1),
      PRIMARY KEY (scope, key, field)
    ) STRICT, WITHOUT ROWID;`);
  },
};
