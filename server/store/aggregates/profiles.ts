/**
 * The profile aggregate: each account's encrypted profile (docs/protocol.md §18), stored verbatim —
 * the relay holds no profile key and never sees a name. Owns the table `profiles`; deleting an
 * account removes its row (accounts.ts). Does not check sizes, versions or rates (server/core and
 * shared/wire do, before a call).
 */
import type { ProfileStore } from '../store.js';
import { bytes, num, type StoreContext } from './context.js';

export function profileStore({ db, durable, rowLocks }: StoreContext): ProfileStore {
  return {
    async putProfile(input) {
      const status = await db.transaction().execute(async (trx) => {
        // The account row is locked on PostgreSQL, so a concurrent deletion cannot leave an orphan.
        const account = await trx
          .selectFrom('accounts')
          .select('account_id')
          .where('account_id', '=', input.accountId)
          .$if(rowLocks, (qb) => qb.forUpdate())
          .executeTakeFirst();
        if (!account) return 'no-account' as const;
        await trx
          .insertInto('profiles')
          .values({ account_id: input.accountId, profile: input.profile, updated_at: input.now })
          .onConflict((oc) => oc.column('account_id').doUpdateSet({ profile: input.profile, updated_at: input.now }))
          .execute();
        return 'stored' as const;
      });
      if (status === 'stored') await durable();
      return status;
    },

    async getProfile(accountId) {
      const row = await db.selectFrom('profiles').select(['profile', 'updated_at']).where('account_id', '=', accountId).executeTakeFirst();
      return row && { profile: bytes(row.profile), updatedAt: num(row.updated_at) };
    },
  };
}
