/**
 * The last-writer-wins clock of sync between own devices (db/sync-clock.ts, docs/adr/0026) on the
 * real SQLCipher store: a change applies only when newer than the stored one (time, then device
 * id), whatever order changes arrive in; a change made here is stamped past everything it has
 * seen, so it wins everywhere even from a device whose clock is behind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { temporaryDatabase, type TemporaryDatabase } from '../../../test/support/database.js';
import { advanceSyncClock, dropContactClock, NO_KEY, stampLocalChange } from './sync-clock.js';

let temp: TemporaryDatabase | undefined;
afterEach(() => {
  temp?.dispose();
  temp = undefined;
});

function writer() {
  temp = temporaryDatabase();
  return temp.db.writer;
}

const bob = new Uint8Array(16).fill(0xbb);

describe('sync clock', () => {
  it('applies a change only when it is newer: later time, or the same time from a higher device id', () => {
    const db = writer();
    db.transaction(() => {
      expect(advanceSyncClock(db, 'contact', bob, 'blocked', 100, 2)).toBe(true);
      expect(advanceSyncClock(db, 'contact', bob, 'blocked', 99, 3)).toBe(false); // older: a late record
      expect(advanceSyncClock(db, 'contact', bob, 'blocked', 100, 2)).toBe(false); // the same change again
      expect(advanceSyncClock(db, 'contact', bob, 'blocked', 100, 1)).toBe(false); // a tie goes to the higher device
      expect(advanceSyncClock(db, 'contact', bob, 'blocked', 100, 3)).toBe(true);
      expect(advanceSyncClock(db, 'contact', bob, 'blocked', 101, 1)).toBe(true);
      // Fields and scopes are independent.
      expect(advanceSyncClock(db, 'contact', bob, 'verified', 1, 1)).toBe(true);
      expect(advanceSyncClock(db, 'setting', NO_KEY, 'blocked', 1, 1)).toBe(true);
    });
  });

  it('two orders of the same changes end in the same winner', () => {
    const changes = [
      { at: 5, device: 1 },
      { at: 7, device: 2 },
      { at: 7, device: 1 },
      { at: 6, device: 3 },
    ];
    const winner = (order: typeof changes) => {
      const db = writer();
      let last: (typeof changes)[number] | undefined;
      db.transaction(() => {
        for (const c of order) if (advanceSyncClock(db, 'setting', NO_KEY, 'readReceipts', c.at, c.device)) last = c;
      });
      temp!.dispose();
      temp = undefined;
      return last;
    };
    expect(winner(changes)).toEqual({ at: 7, device: 2 });
    expect(winner([...changes].reverse())).toEqual({ at: 7, device: 2 });
  });

  it('a change made here is stamped past the newest change seen, so a device whose clock is behind still wins', () => {
    const db = writer();
    db.transaction(() => {
      advanceSyncClock(db, 'contact', bob, 'blocked', 10_000, 1); // from another device, clock ahead
      const at = stampLocalChange(db, 'contact', bob, ['blocked', 'verified'], 4_000, 2);
      expect(at).toBe(10_001);
      // The other device receives this change and applies it; the record it sent before loses here.
      expect(advanceSyncClock(db, 'contact', bob, 'blocked', 10_000, 1)).toBe(false);
      expect(stampLocalChange(db, 'setting', NO_KEY, ['notifications'], 4_000, 2)).toBe(4_000);
      dropContactClock(db, bob);
      expect(advanceSyncClock(db, 'contact', bob, 'blocked', 1, 1)).toBe(true);
    });
  });
});
