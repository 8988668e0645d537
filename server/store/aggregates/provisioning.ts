/**
 * The provisioning aggregate (issue 14, ADR 0024): device-link channels and their messages, stored
 * as opaque bytes — the relay never reads a linking frame. Owns the tables `provisioning_channels`
 * and `provisioning_messages`. Enforces the store-level invariants that must hold across instances:
 * one join per channel (a conditional UPDATE), message numbering and the per-channel cap (the
 * channel row is locked on PostgreSQL), expiry at the instant of each write. Does not own tokens,
 * rates, lifetimes or attempt limits (server/core/provisioning.ts).
 */
import type { ProvisioningSide, ProvisioningStore } from '../store.js';
import { bytes, num, type StoreContext } from './context.js';

const SENDER: Readonly<Record<ProvisioningSide, number>> = { new: 0, joined: 1 };

export function provisioningStore({ db, durable, rowLocks }: StoreContext): ProvisioningStore {
  return {
    async createProvisioningChannel(input) {
      const status = await db.transaction().execute(async (trx) => {
        const live = await trx
          .selectFrom('provisioning_channels')
          .select('channel_id')
          .where('rendezvous', '=', input.rendezvous)
          .where('expires_at', '>', input.now)
          .executeTakeFirst();
        if (live) return 'rendezvous-taken' as const;
        await trx
          .insertInto('provisioning_channels')
          .values({
            channel_id: input.channelId,
            rendezvous: input.rendezvous,
            token_hash: input.tokenHash,
            created_at: input.now,
            expires_at: input.expiresAt,
            joined_account: null,
            joined_device: null,
            next_seq: 1,
          })
          .execute();
        return 'created' as const;
      });
      if (status === 'created') await durable();
      return status;
    },

    async getProvisioningChannel(channelId) {
      const row = await db.selectFrom('provisioning_channels').selectAll().where('channel_id', '=', channelId).executeTakeFirst();
      if (!row) return undefined;
      return {
        channelId: bytes(row.channel_id),
        rendezvous: row.rendezvous,
        tokenHash: bytes(row.token_hash),
        createdAt: num(row.created_at),
        expiresAt: num(row.expires_at),
        joined: row.joined_account === null || row.joined_device === null ? null : { accountId: bytes(row.joined_account), deviceId: num(row.joined_device) },
      };
    },

    async findProvisioningChannels(rendezvous, now) {
      const rows = await db
        .selectFrom('provisioning_channels')
        .select('channel_id')
        .where('rendezvous', '=', rendezvous)
        .where('expires_at', '>', now)
        .execute();
      return rows.map((r) => bytes(r.channel_id));
    },

    async joinProvisioningChannel(input) {
      const status = await db.transaction().execute(async (trx) => {
        // One statement decides: only a live channel nobody joined takes the join.
        const updated = await trx
          .updateTable('provisioning_channels')
          .set({ joined_account: input.accountId, joined_device: input.deviceId })
          .where('channel_id', '=', input.channelId)
          .where('expires_at', '>', input.now)
          .where('joined_account', 'is', null)
          .executeTakeFirst();
        if (num(updated.numUpdatedRows) === 1) return 'joined' as const;
        const row = await trx.selectFrom('provisioning_channels').select(['expires_at']).where('channel_id', '=', input.channelId).executeTakeFirst();
        if (!row) return 'not-found' as const;
        return num(row.expires_at) <= input.now ? ('expired' as const) : ('full' as const);
      });
      if (status === 'joined') await durable();
      return status;
    },

    async appendProvisioningMessage(input) {
      const result = await db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('provisioning_channels')
          .select(['expires_at', 'next_seq'])
          .where('channel_id', '=', input.channelId)
          .$if(rowLocks, (qb) => qb.forUpdate())
          .executeTakeFirst();
        if (!row) return { status: 'not-found' as const };
        if (num(row.expires_at) <= input.now) return { status: 'expired' as const };
        const seq = num(row.next_seq);
        if (seq > input.maxMessages) return { status: 'full' as const };
        await trx.updateTable('provisioning_channels').set({ next_seq: seq + 1 }).where('channel_id', '=', input.channelId).execute();
        await trx.insertInto('provisioning_messages').values({ channel_id: input.channelId, seq, sender: SENDER[input.sender], body: input.body }).execute();
        return { status: 'stored' as const, seq };
      });
      if (result.status === 'stored') await durable();
      return result;
    },

    async provisioningMessages(channelId, from, after) {
      const rows = await db
        .selectFrom('provisioning_messages')
        .select(['seq', 'body'])
        .where('channel_id', '=', channelId)
        .where('sender', '=', SENDER[from])
        .where('seq', '>', after)
        .orderBy('seq')
        .execute();
      return rows.map((r) => ({ seq: num(r.seq), body: bytes(r.body) }));
    },

    async sweepProvisioning(input) {
      return db.transaction().execute(async (trx) => {
        const expired = trx.selectFrom('provisioning_channels').select('channel_id').where('expires_at', '<=', input.now);
        const messages = await trx.deleteFrom('provisioning_messages').where('channel_id', 'in', expired).executeTakeFirst();
        const channels = await trx.deleteFrom('provisioning_channels').where('expires_at', '<=', input.forgetBefore).executeTakeFirst();
        return { messages: num(messages.numDeletedRows), channels: num(channels.numDeletedRows) };
      });
    },
  };
}
