/**
 * Expiry: deletes what has outlived its lifetime across the aggregates — mailbox envelopes past the
 * 30-day retention, expired challenges and session tokens, username holds that have ended. Runs in
 * bounded transactions so that the writer lock is never held long. Does not schedule itself
 * (server/relay.ts runs it every 10 minutes).
 */
import type { SweepStore } from '../store.js';
import { chunks, INSERT_CHUNK_ROWS, num, type StoreContext } from './context.js';

export function sweepStore({ db }: StoreContext): SweepStore {
  return {
    async sweep(input) {
      let envelopes = 0;
      for (;;) {
        // Bounded batches keep each transaction (and the writer lock) short.
        const deleted = await db.transaction().execute(async (trx) => {
          const victims = await trx
            .selectFrom('mailbox')
            .select(['device_key', 'seq'])
            .where('server_ts', '<', input.mailboxCutoff)
            .limit(input.batchSize)
            .execute();
          const byDevice = new Map<number, number[]>();
          for (const v of victims) {
            const list = byDevice.get(num(v.device_key)) ?? [];
            list.push(num(v.seq));
            byDevice.set(num(v.device_key), list);
          }
          let n = 0;
          for (const [deviceKey, seqs] of byDevice) {
            for (const part of chunks(seqs, INSERT_CHUNK_ROWS)) {
              const r = await trx.deleteFrom('mailbox').where('device_key', '=', deviceKey).where('seq', 'in', part).executeTakeFirst();
              n += num(r.numDeletedRows);
            }
          }
          return n;
        });
        envelopes += deleted;
        if (deleted < input.batchSize) break;
      }
      const challenges = await db.deleteFrom('challenges').where('expires_at', '<=', input.now).executeTakeFirst();
      const sessions = await db.deleteFrom('sessions').where('expires_at', '<=', input.now).executeTakeFirst();
      const usernames = await db.deleteFrom('held_usernames').where('available_at', '<=', input.now).executeTakeFirst();
      return {
        envelopes,
        challenges: num(challenges.numDeletedRows),
        sessions: num(sessions.numDeletedRows),
        usernames: num(usernames.numDeletedRows),
      };
    },
  };
}
