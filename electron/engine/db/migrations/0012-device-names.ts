/**
 * Schema version 12: device names (issue 14, device linking, docs/adr/0025).
 *
 *  - device_names: what this account's devices are called ("Alice's desktop"), by device id. A
 *    linked device stores its own name when the person names it at the end of linking; names of
 *    the account's other devices arrive with sync between own devices (issue 14, later).
 */
import type { Migration } from '../migrate.js';

export const migration0012: Migration = {
  version: 12,
  name: 'device-names',
  up(db) {
    db.exec(`CREATE TABLE device_names (
      device_id INTEGER PRIMARY KEY CHECK (device_id >= 1),
      name TEXT NOT NULL,
      updated_at INTEGER NOT NULL
    ) STRICT;`);
  },
};
