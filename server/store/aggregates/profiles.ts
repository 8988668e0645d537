/**
 * The profile aggregate: each account's encrypted profile (docs/protocol.md §18), stored verbatim —
 * the relay holds no profile key and never sees a name — and the SHA-256 of the delivery token
 * derived from that key (sealed sender, §21.1). Owns the tables `profiles` and `delivery_tokens`;
 * deleting an account removes its rows (accounts.ts). Does not check sizes, versions or rates (server/core and
 * shared/wire do, before a call).
 */
import type { Transaction } from 'kysely';
import type { Database } from '../schema.js';
import type { ProfileStore } from '../store.js';
import { bytes, chunks, INSERT_CHUNK_ROWS, mapKey, num, type StoreContext } from './context.js';

export function profileStore({ db, durable, rowLocks }: StoreContext): ProfileStore {
  /**
   * One row of the account's, written in a transaction that first finds (and on PostgreSQL locks)
   * the account row, so a concurrent deletion cannot leave an orphan; durable before it answers.
   */
  async function putForAccount(accountId: Uint8Array, write: (trx: Transaction<Database>) => Promise<unknown>): Promise<'stored' | 'no-account'> {
    const status = await db.transaction().execute(async (trx) => {
      const account = await trx
        .selectFrom('accounts')
        .select('account_id')
        .where('account_id', '=', accountId)
        .$if(rowLocks, (qb) => qb.forUpdate())
        .executeTakeFirst();
      if (!account) return 'no-account' as const;
      await write(trx);
      return 'stored' as const;
    });
    if (status === 'stored') await durable();
    return status;
  }

  return {
    putProfile: (input) =>
      putForAccount(input.accountId, (trx) =>
        trx
          .insertInto('profiles')
          .values({ account_id: input.accountId, profile: input.profile, updated_at: input.now })
          .onConflict((oc) => oc.column('account_id').doUpdateSet({ profile: input.profile, updated_at: input.now }))
          .execute(),
      ),

    putDeliveryTokenHash: (input) =>
      putForAccount(input.accountId, (trx) =>
        trx
          .insertInto('delivery_tokens')
          .values({ account_id: input.accountId, token_hash: input.tokenHash, updated_at: input.now })
          .onConflict((oc) => oc.column('account_id').doUpdateSet({ token_hash: input.tokenHash, updated_at: input.now }))
          .execute(),
      ),

    async deliveryTokenHash(accountId) {
      const row = await db.selectFrom('delivery_tokens').select('token_hash').where('account_id', '=', accountId).executeTakeFirst();
      return row && bytes(row.token_hash);
    },

    async deliveryTokenHashes(accountIds) {
      const found = new Map<string, Uint8Array>();
      for (const part of chunks(accountIds, INSERT_CHUNK_ROWS)) {
        const rows = await db.selectFrom('delivery_tokens').select(['account_id', 'token_hash']).where('account_id', 'in', part).execute();
        for (const row of rows) found.set(mapKey(row.account_id), bytes(row.token_hash));
      }
      return accountIds.map((id) => found.get(mapKey(id)));
    },

    async getProfile(accountId) {
      const row = await db.selectFrom('profiles').select(['profile', 'updated_at']).where('account_id', '=', accountId).executeTakeFirst();
      return row && { profile: bytes(row.profile), updatedAt: num(row.updated_at) };
    },
  };
}
