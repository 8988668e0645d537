/**
 * The attachment aggregate (issue 13, docs/adr/0015-attachment-blobs.md): which account uploaded
 * which attachment, its declared size, its state (uploading, complete, expired) and when it expires —
 * what the relay needs for ownership, quotas and expiry. Owns the table `attachments`. The bytes
 * live in files (server/blobs, @tus/file-store): this aggregate never touches them, and tells the
 * caller which files an expiry makes obsolete. Limits are passed in by server/blobs (policy), and
 * checked here only where they must be atomic with the insert.
 */
import { sql } from 'kysely';
import type { AttachmentRecord, AttachmentState, AttachmentStore } from '../store.js';
import { bytes, chunks, INSERT_CHUNK_ROWS, num, type StoreContext } from './context.js';

const STATE_CODES: Readonly<Record<AttachmentState, number>> = { uploading: 0, complete: 1, expired: 2 };
const STATES: readonly AttachmentState[] = ['uploading', 'complete', 'expired'];

export function attachmentStore({ db, durable, rowLocks }: StoreContext): AttachmentStore {
  return {
    async createAttachment(input) {
      const outcome = await db.transaction().execute(async (trx) => {
        // Two uploads of one account created at once must not both pass the checks (PostgreSQL runs
        // them concurrently; SQLite's single writer makes them serial already).
        if (rowLocks) await trx.selectFrom('accounts').select('account_id').where('account_id', '=', input.accountId).forUpdate().execute();
        const usage = await trx
          .selectFrom('attachments')
          .select([
            sql<number>`count(case when state = ${STATE_CODES.uploading} then 1 end)`.as('uploading'),
            sql<number>`coalesce(sum(length), 0)`.as('bytes'),
          ])
          .where('account_id', '=', input.accountId)
          .where('state', 'in', [STATE_CODES.uploading, STATE_CODES.complete])
          .executeTakeFirstOrThrow();
        if (num(usage.uploading) >= input.maxUploading) return { status: 'too-many-uploads' } as const;
        if (num(usage.bytes) + input.length > input.quotaBytes) return { status: 'quota-exceeded' } as const;
        await trx
          .insertInto('attachments')
          .values({
            attachment_id: input.attachmentId,
            account_id: input.accountId,
            length: input.length,
            state: STATE_CODES.uploading,
            created_at: input.now,
            expires_at: input.expiresAt,
          })
          .execute();
        return { status: 'created' } as const;
      });
      if (outcome.status === 'created') await durable();
      return outcome;
    },

    async getAttachment(attachmentId) {
      const row = await db.selectFrom('attachments').selectAll().where('attachment_id', '=', attachmentId).executeTakeFirst();
      if (!row) return undefined;
      const record: AttachmentRecord = {
        attachmentId: bytes(row.attachment_id),
        accountId: bytes(row.account_id),
        length: num(row.length),
        state: STATES[num(row.state)]!,
        createdAt: num(row.created_at),
        expiresAt: num(row.expires_at),
      };
      return record;
    },

    async completeAttachment(attachmentId, expiresAt) {
      const r = await db
        .updateTable('attachments')
        .set({ state: STATE_CODES.complete, expires_at: expiresAt })
        .where('attachment_id', '=', attachmentId)
        .where('state', '=', STATE_CODES.uploading)
        .executeTakeFirst();
      // A finished attachment is about to be announced to recipients: its row must survive a crash.
      await durable();
      return num(r.numUpdatedRows) === 1;
    },

    async deleteAttachment(attachmentId) {
      const r = await db.deleteFrom('attachments').where('attachment_id', '=', attachmentId).executeTakeFirst();
      await durable();
      return num(r.numDeletedRows) === 1;
    },

    async expireAttachments(input) {
      const files: Uint8Array[] = [];
      let partial = 0;
      let expired = 0;
      // Unfinished uploads past their deadline disappear; finished ones past retention become
      // tombstones (state expired), so a late download learns ATTACHMENT_EXPIRED rather than NOT_FOUND.
      for (const [state, action] of [
        [STATE_CODES.uploading, 'delete'],
        [STATE_CODES.complete, 'expire'],
      ] as const) {
        for (;;) {
          const done = await db.transaction().execute(async (trx) => {
            const victims = await trx
              .selectFrom('attachments')
              .select('attachment_id')
              .where('state', '=', state)
              .where('expires_at', '<=', input.now)
              .limit(input.batchSize)
              .execute();
            const ids = victims.map((v) => bytes(v.attachment_id));
            for (const part of chunks(ids, INSERT_CHUNK_ROWS)) {
              if (action === 'delete') await trx.deleteFrom('attachments').where('attachment_id', 'in', part).execute();
              else await trx.updateTable('attachments').set({ state: STATE_CODES.expired }).where('attachment_id', 'in', part).execute();
            }
            return ids;
          });
          files.push(...done);
          if (action === 'delete') partial += done.length;
          else expired += done.length;
          if (done.length < input.batchSize) break;
        }
      }
      const tombstones = await db
        .deleteFrom('attachments')
        .where('state', '=', STATE_CODES.expired)
        .where('expires_at', '<=', input.tombstoneCutoff)
        .executeTakeFirst();
      if (files.length > 0) await durable();
      return { files, partial, expired, tombstones: num(tombstones.numDeletedRows) };
    },

    async liveAttachments(attachmentIds) {
      const out: Uint8Array[] = [];
      for (const part of chunks(attachmentIds, INSERT_CHUNK_ROWS)) {
        const rows = await db
          .selectFrom('attachments')
          .select('attachment_id')
          .where('attachment_id', 'in', part)
          .where('state', 'in', [STATE_CODES.uploading, STATE_CODES.complete])
          .execute();
        for (const row of rows) out.push(bytes(row.attachment_id));
      }
      return out;
    },

    async attachmentTotals() {
      const row = await db
        .selectFrom('attachments')
        .select([
          sql<number>`coalesce(sum(case when state = ${STATE_CODES.complete} then length else 0 end), 0)`.as('stored'),
          sql<number>`count(case when state = ${STATE_CODES.uploading} then 1 end)`.as('uploading'),
        ])
        .executeTakeFirstOrThrow();
      return { storedBytes: num(row.stored), uploadsInProgress: num(row.uploading) };
    },
  };
}
