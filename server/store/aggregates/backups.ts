/**
 * The backup aggregate (issue 18, docs/protocol.md §25.8, ADR 0033): which blob is the current
 * backup of each backup id, the auth public key that id is bound to, and single-use challenges.
 * Owns the tables `backups` and `backup_challenges`. The bytes live in files (server/blobs/backups.ts);
 * this aggregate only says which file generation is current and which ones a change made obsolete.
 * Nothing here names an account. Does not verify signatures (server/blobs/backups.ts).
 */
import { bytesEqual } from '../../../shared/crypto/bytes.js';
import type { BackupStore } from '../store.js';
import { bytes, chunks, INSERT_CHUNK_ROWS, mapKey, num, type Db, type StoreContext } from './context.js';

export function backupStore({ db, durable, rowLocks }: StoreContext): BackupStore {
  const current = (trx: Db, backupId: Uint8Array) => {
    const q = trx.selectFrom('backups').select(['auth_key', 'generation']).where('backup_id', '=', backupId);
    return (rowLocks ? q.forUpdate() : q).executeTakeFirst();
  };

  return {
    async putBackupChallenge(c) {
      await db.insertInto('backup_challenges').values({ nonce: c.nonce, backup_id: c.backupId, expires_at: c.expiresAt }).execute();
    },

    async takeBackupChallenge(nonce) {
      const row = await db.deleteFrom('backup_challenges').where('nonce', '=', nonce).returning(['backup_id', 'expires_at']).executeTakeFirst();
      return row && { backupId: bytes(row.backup_id), expiresAt: num(row.expires_at) };
    },

    async getBackup(backupId) {
      const row = await db.selectFrom('backups').selectAll().where('backup_id', '=', backupId).executeTakeFirst();
      return (
        row && {
          backupId: bytes(row.backup_id),
          authKey: bytes(row.auth_key),
          generation: bytes(row.generation),
          length: num(row.length),
          storedAt: num(row.stored_at),
        }
      );
    },

    async commitBackup(input) {
      const outcome = await db.transaction().execute(async (trx) => {
        let row = await current(trx, input.backupId);
        if (!row) {
          const inserted = await trx
            .insertInto('backups')
            .values({ backup_id: input.backupId, auth_key: input.authKey, generation: input.generation, length: input.length, stored_at: input.now })
            .onConflict((oc) => oc.column('backup_id').doNothing())
            .executeTakeFirst();
          if (num(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return { status: 'stored', replaced: null } as const;
          // Another first upload of this id committed meanwhile: it bound the key; compare with it.
          row = await current(trx, input.backupId);
          if (!row) throw new Error('backup row vanished inside its transaction');
        }
        if (!bytesEqual(bytes(row.auth_key), input.authKey)) return { status: 'key-mismatch' } as const;
        await trx
          .updateTable('backups')
          .set({ generation: input.generation, length: input.length, stored_at: input.now })
          .where('backup_id', '=', input.backupId)
          .execute();
        return { status: 'stored', replaced: bytes(row.generation) } as const;
      });
      // The client is told its backup is stored only once the row survives a crash.
      if (outcome.status === 'stored') await durable();
      return outcome;
    },

    async deleteBackup(backupId, authKey) {
      const row = await db
        .deleteFrom('backups')
        .where('backup_id', '=', backupId)
        .where('auth_key', '=', authKey)
        .returning(['generation'])
        .executeTakeFirst();
      await durable();
      return row ? bytes(row.generation) : null;
    },

    async expireBackups(input) {
      const rows = await db
        .selectFrom('backups')
        .select(['backup_id', 'generation'])
        .where('stored_at', '<', input.storedBefore)
        .orderBy('stored_at')
        .limit(input.batchSize)
        .execute();
      const removed: { backupId: Uint8Array; generation: Uint8Array }[] = [];
      for (const part of chunks(rows, INSERT_CHUNK_ROWS)) {
        // Only rows still stored before the cutoff: one replaced meanwhile stays.
        const gone = await db
          .deleteFrom('backups')
          .where(
            'backup_id',
            'in',
            part.map((r) => r.backup_id),
          )
          .where('stored_at', '<', input.storedBefore)
          .returning(['backup_id', 'generation'])
          .execute();
        for (const r of gone) removed.push({ backupId: bytes(r.backup_id), generation: bytes(r.generation) });
      }
      const challenges = await db.deleteFrom('backup_challenges').where('expires_at', '<', input.now).executeTakeFirst();
      if (removed.length > 0) await durable();
      return { removed, challenges: num(challenges.numDeletedRows) };
    },

    async liveBackupGenerations(pairs) {
      const live = new Map<string, Uint8Array>();
      for (const part of chunks([...pairs], INSERT_CHUNK_ROWS)) {
        const rows = await db
          .selectFrom('backups')
          .select(['backup_id', 'generation'])
          .where(
            'backup_id',
            'in',
            part.map((p) => p.backupId),
          )
          .execute();
        for (const r of rows) live.set(mapKey(bytes(r.backup_id)), bytes(r.generation));
      }
      return pairs.map((p) => {
        const generation = live.get(mapKey(p.backupId));
        return generation !== undefined && bytesEqual(generation, p.generation);
      });
    },
  };
}
